package streams_test

import (
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// A low-latency write bigger than the broker takes in one record batch (about 1 MB) goes out as
// several batches instead of being refused whole: a spool forwarding ~500 frames of 64 channels
// after an outage, or 32 frames of 1,024 channels, were "Message Size Too Large".
func TestLowLatencyWriteOverBatchLimit(t *testing.T) {
	ctx, cfg, topics := startTopics(t, 1)
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 600 // x ~2 KB: ~1.2 MB
	frames := make([]*streams.Frame, n)
	for i := range frames {
		frames[i] = &streams.Frame{StreamID: "big", Seq: uint64(i), NumSamples: 8, NumChannels: 64, Samples: make([]float32, 8*64)}
		frames[i].Samples[0] = float32(i)
	}
	if err := p.PublishFrames(ctx, topics.Raw, frames...); err != nil {
		t.Fatal(err)
	}
	keys, values := make([][]byte, n), make([][]byte, n)
	for i, f := range frames {
		f.Seq += n
		keys[i], values[i] = []byte(f.StreamID), streams.AppendFrame(nil, f)
	}
	if err := p.TryPublishEncoded(ctx, topics.Raw, keys, values); err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, Partition: 0, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	for i := 0; i < 2*n; i++ {
		if _, _, err := c.ReadFrame(ctx, &f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.Seq != uint64(i) || f.Samples[0] != float32(i%n) {
			t.Fatalf("frame %d: got seq %d sample %v", i, f.Seq, f.Samples[0])
		}
	}
}
