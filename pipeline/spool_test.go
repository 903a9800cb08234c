package pipeline_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
	"github.com/neurostream/neurostream/streams/metrics"
)

// A real-time source run with a spool loses nothing while its broker is stopped and restarted: the
// raw topic holds every frame of the run once, in order, and Run returns when the source has ended
// and the spool is drained.
func TestSourceSpoolsThroughBrokerRestart(t *testing.T) {
	dataDir := t.TempDir()
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := &pipeline.Config{Kafka: streams.Config{Brokers: []string{addr}, Namespace: "spool"}}
	topics := cfg.Kafka.Topics()
	src, err := synthetic.New(synthetic.Config{StreamID: "sp", Channels: 8, SampleRateHz: 250, FrameSamples: 8, Seed: 1,
		Realtime: true, DurationSec: 6, BlockSec: 10, LineHz: 50, Alpha: synthetic.AlphaAlternate})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, cfg, pipeline.RunOptions{Only: "sources", Sources: []pipeline.Source{src}, Log: log, Metrics: m,
			Spool: &pipeline.SpoolOptions{Dir: t.TempDir()}})
	}()
	// Stop the broker once the stream is flowing, and restart it a second later.
	reader := streams.Config{Brokers: []string{addr}, Namespace: "spool"}
	c, err := streams.NewConsumer(reader, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "first", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	b.Close()
	time.Sleep(time.Second)
	b2, err := broker.Start(broker.Config{Addr: addr, DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var outages float64
	for _, mf := range families {
		if mf.GetName() == "neurostream_kafka_outages_total" {
			for _, x := range mf.GetMetric() {
				outages += x.GetCounter().GetValue()
			}
		}
	}
	if outages < 1 {
		t.Fatal("the source saw no outage: the broker stop did not reach it")
	}
	c, err = streams.NewConsumer(reader, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "check", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const frames = 6 * 250 / 8 // 187 whole frames in 6 s
	var f streams.Frame
	for want := uint64(0); want < frames; want++ {
		_, res, err := c.ReadFrame(ctx, &f)
		if err != nil {
			t.Fatalf("frame %d: %v", want, err)
		}
		if f.Seq != want || res.Missing != 0 || res.Duplicate {
			t.Fatalf("read seq %d (%+v), want %d", f.Seq, res, want)
		}
	}
}
