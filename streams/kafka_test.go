package streams_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

func startBroker(t *testing.T) streams.Config {
	t.Helper()
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return streams.Config{Brokers: []string{b.Addr()}, Namespace: "t"}
}

// startTopics starts a broker, creates the namespace's topics with the given partitions, and
// returns a context that ends with the test (30 s at most).
func startTopics(t *testing.T, partitions int) (context.Context, streams.Config, streams.Topics) {
	t.Helper()
	cfg := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, partitions, 1); err != nil {
		t.Fatal(err)
	}
	return ctx, cfg, topics
}

func TestFramesThroughBrokerInOrder(t *testing.T) {
	ctx, cfg, topics := startTopics(t, 4)
	p, err := streams.NewProducer(cfg, streams.Bulk)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 200
	var frames []*streams.Frame
	for i := 0; i < n; i++ {
		frames = append(frames, &streams.Frame{StreamID: "s1", Seq: uint64(i), NumSamples: 2, NumChannels: 2,
			Samples: []float32{float32(i), 1, 2, 3}})
	}
	if err := p.PublishFrames(ctx, topics.Raw, frames...); err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "g", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	for i := 0; i < n; i++ {
		_, res, err := c.ReadFrame(ctx, &f)
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq != uint64(i) || f.Samples[0] != float32(i) || res.Missing != 0 || res.Duplicate {
			t.Fatalf("frame %d: got seq %d sample %v result %+v", i, f.Seq, f.Samples[0], res)
		}
	}
	if acc, miss, dup := c.Sequence().Counts(); acc != n || miss != 0 || dup != 0 {
		t.Fatalf("counts %d/%d/%d", acc, miss, dup)
	}
}

func TestUnknownBrokerFailsClearly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := streams.Config{Brokers: []string{"127.0.0.1:1"}}
	err := streams.EnsureTopics(ctx, cfg, cfg.Topics(), 1, 1)
	if err == nil {
		t.Fatal("EnsureTopics against a closed port succeeded")
	}
	if _, err := streams.NewProducer(streams.Config{}, streams.LowLatency); err == nil {
		t.Fatal("producer without brokers accepted")
	}
	if _, err := cfg.Topics().Resolve("nope"); err == nil {
		t.Fatal("unknown topic name resolved")
	}
	if _, err := streams.NewProducer(streams.Config{Brokers: []string{"x:1"}, SASL: streams.SASLConfig{Mechanism: "md5"}}, streams.LowLatency); err == nil ||
		errors.Is(err, context.Canceled) {
		t.Fatal("unknown SASL mechanism accepted")
	}
}

// Both producer modes put a stream in the same partition (kafka-go's CRC32 placement, as kcat's).
func TestProducerModesPlaceKeysAlike(t *testing.T) {
	ctx, kc, topics := startTopics(t, 8)
	ids := []string{"a", "S001R04", "synthetic-1", "meg-17", "x"}
	for _, mode := range []streams.Mode{streams.LowLatency, streams.Bulk} {
		p, err := streams.NewProducer(kc, mode)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			f := &streams.Frame{StreamID: id, Seq: uint64(mode), NumSamples: 1, NumChannels: 1, Samples: []float32{float32(i)}}
			if err := p.PublishFrames(ctx, topics.Raw, f); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
	}
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "placement", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	partition := map[string]int{}
	for range 2 * len(ids) {
		m, err := c.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := partition[string(m.Key)]; ok && p != m.Partition {
			t.Fatalf("stream %s in partition %d by one mode, %d by the other", m.Key, p, m.Partition)
		}
		partition[string(m.Key)] = m.Partition
	}
	if len(partition) != len(ids) {
		t.Fatalf("read %d streams, want %d", len(partition), len(ids))
	}
}

// A stream's partition read without a group starts at new messages (or the oldest with FromStart),
// at once: no group join to wait for.
func TestPartitionConsumerOfOneStream(t *testing.T) {
	ctx, kc, topics := startTopics(t, 8)
	p, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	frame := func(seq uint64) *streams.Frame {
		return &streams.Frame{StreamID: "rec-1", Seq: seq, NumSamples: 1, NumChannels: 1, Samples: []float32{float32(seq)}}
	}
	for seq := range uint64(3) {
		if err := p.PublishFrames(ctx, topics.Raw, frame(seq)); err != nil {
			t.Fatal(err)
		}
	}
	part, err := kc.PartitionOf(ctx, topics.Raw, "rec-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, fromStart := range []bool{false, true} {
		c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topics.Raw, Partition: part, FromStart: fromStart})
		if err != nil {
			t.Fatal(err)
		}
		var f streams.Frame
		read := make(chan error, 1)
		go func() { _, _, err := c.ReadFrame(ctx, &f); read <- err }()
		if !fromStart {
			// The reader resolves "the end" on its first fetch, started just above: wait for it.
			for c.Stats().Offset < 3 {
				if ctx.Err() != nil {
					t.Fatal("the reader never reached the end of the partition")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := p.PublishFrames(ctx, topics.Raw, frame(3)); err != nil {
				t.Fatal(err)
			}
		}
		if err := <-read; err != nil {
			t.Fatal(err)
		}
		want := map[bool]uint64{false: 3, true: 0}[fromStart]
		if f.StreamID != "rec-1" || f.Seq != want {
			t.Fatalf("fromStart=%v: first frame %s#%d, want rec-1#%d", fromStart, f.StreamID, f.Seq, want)
		}
		c.Close()
	}
}

// Writers publishing to one partition at once share batches (group commit); every frame arrives
// once, each stream's in order.
func TestConcurrentLowLatencyWritesShareBatches(t *testing.T) {
	ctx, cfg, topics := startTopics(t, 1)
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const writers, each = 20, 50
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			f := &streams.Frame{StreamID: fmt.Sprintf("s%02d", w), NumSamples: 1, NumChannels: 2, Samples: []float32{1, 2}}
			for i := 0; i < each; i++ {
				f.Seq = uint64(i)
				if err := p.PublishFrames(ctx, topics.Raw, f); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for w := 0; w < writers; w++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next := make(map[string]uint64)
	var f streams.Frame
	for n := 0; n < writers*each; n++ {
		if _, _, err := c.ReadFrame(ctx, &f); err != nil {
			t.Fatalf("after %d frames: %v", n, err)
		}
		if f.Seq != next[f.StreamID] {
			t.Fatalf("stream %s: frame %d arrived where %d was due", f.StreamID, f.Seq, next[f.StreamID])
		}
		next[f.StreamID]++
	}
	for w := 0; w < writers; w++ {
		if id := fmt.Sprintf("s%02d", w); next[id] != each {
			t.Errorf("stream %s: %d frames arrived, want %d", id, next[id], each)
		}
	}
}
