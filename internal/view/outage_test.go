package view

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// syncBuffer is a log destination the test reads while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A broker that dies and comes back does not end the view's reading: it shows the frames published
// after the restart, and the outage is logged for the view, not once per partition.
func TestViewRidesOutBrokerRestart(t *testing.T) {
	dataDir := t.TempDir()
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	out := streams.NewOutages(log)
	out.MaxBackoff = 100 * time.Millisecond
	kc := streams.Config{Brokers: []string{addr}, Namespace: "restart", Outages: out}
	srv, err := New(Config{Kafka: kc, Addr: "127.0.0.1:0", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	topics := kc.Topics()
	info := &streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: "s", Device: "test", SampleRateHz: 250,
		Channels: []streams.Channel{{Name: "Cz", Type: streams.ChannelEEG, Unit: "V"}}}
	var seq uint64
	publish := func(n int) {
		p, err := streams.NewProducer(kc, streams.LowLatency)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.PublishStreamInfo(ctx, topics, "raw", info); err != nil {
			t.Fatal(err)
		}
		for range n {
			f := &streams.Frame{StreamID: "s", Seq: seq, NumSamples: 1, NumChannels: 1, Samples: []float32{1e-6}}
			if err := p.PublishFrames(ctx, topics.Raw, f); err != nil {
				t.Fatal(err)
			}
			seq++
		}
	}
	frames := func() uint64 {
		for _, e := range srv.List() {
			if e.ID == "s" {
				return e.Frames
			}
		}
		return 0
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("%s: not within the test's time; log:\n%s", what, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	publish(20)
	waitFor("the view counts the first 20 frames", func() bool { return frames() == 20 })
	b.Close()
	waitFor("the outage logged", func() bool { return strings.Contains(logs.String(), "unreachable") })
	b2, err := broker.Start(broker.Config{Addr: addr, DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	publish(20)
	waitFor("the view counts the 20 frames published after the restart", func() bool { return frames() == 40 })
	// Once, or a few times when a partition notices the dead broker only after others recovered; never
	// once per partition (the view reads 33).
	if n := strings.Count(logs.String(), "unreachable"); n > 8 {
		t.Errorf("the outage was logged %d times, not once for the view:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged for an outage the view rode out:\n%s", logs.String())
	}
}
