package streams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// Predictions of several streams published without waiting: every one is acknowledged exactly once,
// each stream's arrive in order, and Barrier returns only once all queued before it are acknowledged.
func TestAsyncWriterOrderAndBarrier(t *testing.T) {
	ctx, cfg, topics := startTopics(t, 4)
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := streams.NewAsyncWriter(p, 64) // small: the publishers wait for room
	defer w.Close()
	const nStreams, n = 5, 300
	var mu sync.Mutex
	acked := map[string][]int64{}
	onAck := func(pr *streams.Prediction, err error) {
		if err != nil {
			t.Errorf("prediction %s#%d: %v", pr.StreamID, pr.WindowEndSample, err)
			return
		}
		mu.Lock()
		acked[pr.StreamID] = append(acked[pr.StreamID], pr.WindowEndSample)
		mu.Unlock()
	}
	pr := &streams.Prediction{Decoder: "d", Label: "x", Scores: []streams.Score{{Label: "x", Value: 1}}}
	for i := 0; i < n; i++ {
		for s := 0; s < nStreams; s++ {
			pr.StreamID, pr.WindowEndSample = fmt.Sprintf("s%d", s), int64(i)
			if err := w.PublishPrediction(ctx, topics.Predictions, pr, onAck); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for s := 0; s < nStreams; s++ {
		got := acked[fmt.Sprintf("s%d", s)]
		if len(got) != n {
			t.Fatalf("stream s%d: %d of %d predictions acknowledged when Barrier returned", s, len(got), n)
		}
		for i, v := range got {
			if v != int64(i) {
				t.Fatalf("stream s%d: acknowledgement %d is of window %d", s, i, v)
			}
		}
	}
	mu.Unlock()

	// What the broker holds, per stream in order.
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Predictions, GroupID: "g", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next := map[string]int64{}
	for got := 0; got < nStreams*n; got++ {
		m, err := c.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var rp streams.Prediction
		if err := json.Unmarshal(m.Value, &rp); err != nil {
			t.Fatal(err)
		}
		if rp.WindowEndSample != next[rp.StreamID] {
			t.Fatalf("stream %s: window %d where %d was next", rp.StreamID, rp.WindowEndSample, next[rp.StreamID])
		}
		next[rp.StreamID]++
	}
}

// A writer closed with messages it could not send (the broker is gone) fails every later Barrier:
// offsets must not be committed past results that were never acknowledged.
func TestAsyncWriterClosedUnacknowledged(t *testing.T) {
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := streams.Config{Brokers: []string{b.Addr()}, Namespace: "t"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 1, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := streams.NewAsyncWriter(p, 0)
	pr := &streams.Prediction{StreamID: "s", Decoder: "d"}
	if err := w.PublishPrediction(ctx, topics.Predictions, pr, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Barrier(ctx); err != nil { // acknowledged; the topic's partitions are known from now on
		t.Fatal(err)
	}
	b.Close()
	errs := make(chan error, 1)
	if err := w.PublishPrediction(ctx, topics.Predictions, pr, func(_ *streams.Prediction, err error) { errs <- err }); err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	if err := w.Barrier(short); err == nil {
		t.Fatal("Barrier passed a prediction the broker never took")
	}
	w.Close()
	if err := <-errs; err == nil {
		t.Fatal("the prediction given up at Close was reported acknowledged")
	}
	if err := w.Barrier(ctx); err == nil {
		t.Fatal("Barrier passed after the writer gave up an unacknowledged prediction")
	}
}
