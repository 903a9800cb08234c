package spool

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// While the broker answers, a frame published through the forwarder allocates no more than one
// published straight with the producer: the live source's publish path runs ~31 times a second per
// stream for hours, and what it allocates per frame showed up as a steadily growing resident size
// until the first garbage collection.
func TestForwarderDirectPublishAllocatesAsProducer(t *testing.T) {
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := streams.Config{Brokers: []string{b.Addr()}, Namespace: "alloc", Outages: streams.NewOutages(nil)}
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 1, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fw := NewForwarder(s, p, "s", nil, Options{})
	fctx, fcancel := context.WithCancel(ctx)
	fdone := make(chan error, 1)
	go func() { fdone <- fw.Run(fctx) }()
	defer func() { fcancel(); <-fdone }()
	if err := fw.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	fr := &streams.Frame{StreamID: "s", NumSamples: 8, NumChannels: 64, Samples: make([]float32, 8*64)}
	// AllocsPerRun counts the whole process's allocations, the in-process broker's goroutines too,
	// which only add: the fewest of a few alternating rounds is each path's own count.
	direct, viaSpool := math.Inf(1), math.Inf(1)
	for range 5 {
		direct = math.Min(direct, testing.AllocsPerRun(200, func() {
			fr.Seq++
			if err := p.TryPublishFrames(ctx, topics.Raw, fr); err != nil {
				t.Fatal(err)
			}
		}))
		viaSpool = math.Min(viaSpool, testing.AllocsPerRun(200, func() {
			fr.Seq++
			if err := fw.Publish(ctx, topics.Raw, fr); err != nil {
				t.Fatal(err)
			}
		}))
	}
	t.Logf("allocations per frame: producer %.1f, forwarder %.1f", direct, viaSpool)
	if n, _ := s.Pending(); n != 0 {
		t.Fatalf("%d frames went to the spool while the broker answered", n)
	}
	if viaSpool > direct {
		t.Errorf("a frame through the forwarder allocates %.1f times, straight through the producer %.1f", viaSpool, direct)
	}
}
