package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
	"github.com/neurostream/neurostream/streams/metrics"
)

// gatedSink takes frames and refuses Barrier until it is opened: results in flight that the broker
// has not acknowledged.
type gatedSink struct {
	mu       sync.Mutex
	frames   int
	refusals int
	open     bool
}

func (s *gatedSink) EmitPrediction(context.Context, *streams.Prediction) error  { return nil }
func (s *gatedSink) EmitFeatures(context.Context, *streams.FeatureVector) error { return nil }
func (s *gatedSink) WriteStreamInfo(context.Context, *streams.StreamInfo) error { return nil }
func (s *gatedSink) WriteFrame(context.Context, *streams.Frame) error {
	s.mu.Lock()
	s.frames++
	s.mu.Unlock()
	return nil
}

func (s *gatedSink) Barrier(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		s.refusals++
		return errors.New("results still in flight")
	}
	return nil
}

func (s *gatedSink) get() (frames, refusals int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames, s.refusals
}

// A consumer whose results are not acknowledged commits nothing, however many frames it has
// processed; once they are, it commits them all.
func TestCommitWaitsForAcknowledgedResults(t *testing.T) {
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := streams.Config{Brokers: []string{b.Addr()}, Namespace: "t"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 1, 1); err != nil {
		t.Fatal(err)
	}
	prod, err := streams.NewProducer(cfg, streams.Bulk)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 50
	var frames []*streams.Frame
	for i := 0; i < n; i++ {
		frames = append(frames, &streams.Frame{StreamID: "s", Seq: uint64(i), NumSamples: 2, NumChannels: 2, Samples: []float32{1, 2, 3, 4}})
	}
	if err := prod.PublishFrames(ctx, topics.Raw, frames...); err != nil {
		t.Fatal(err)
	}
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: 250, Channels: []streams.Channel{{Name: "a"}, {Name: "b"}}}
	sink := &gatedSink{}
	m := metrics.New()
	proc, err := NewProcessor(ProcessorConfig{Name: "t", Sink: sink, Metrics: m, CheckpointEvery: 20 * time.Millisecond,
		Stages: []StageFactory{{Name: "bp", New: func() (Stage, error) { return NewBandpass(4, 1, 40), nil }}},
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	if err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "g", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Consume(cctx, c, topics.Raw, proc, m, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	committed := func() int64 {
		res, err := (&kafka.Client{Addr: kafka.TCP(cfg.Brokers...)}).OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: "g", Topics: map[string][]int{topics.Raw: {0}}})
		if err != nil || len(res.Topics[topics.Raw]) == 0 {
			return -1
		}
		return res.Topics[topics.Raw][0].CommittedOffset
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("every frame processed and several commits refused", func() bool { f, r := sink.get(); return f == n && r >= 3 })
	// kafka-go sends commits once a second: give a commit made by mistake time to land.
	time.Sleep(1500 * time.Millisecond)
	if off := committed(); off > 0 {
		t.Fatalf("offset %d committed while the results of its frames were not acknowledged", off)
	}
	sink.mu.Lock()
	sink.open = true
	sink.mu.Unlock()
	wait("the offsets committed", func() bool { return committed() == n })
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
