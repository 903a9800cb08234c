package streams_test

import (
	"context"
	"errors"
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

func TestFramesThroughBrokerInOrder(t *testing.T) {
	cfg := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 4, 1); err != nil {
		t.Fatal(err)
	}
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
