package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
	"github.com/neurostream/neurostream/streams/metrics"
)

func rec(i int) Record {
	return Record{Topic: "t", Key: []byte("k"), Value: []byte(fmt.Sprintf("value-%04d", i))}
}

// Records come back in order across segments and reopenings; acknowledged ones never come back.
func TestSpoolOrderAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 64<<10) // 16 KiB segments
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := 0; i < n; i++ {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(i, err)
		}
	}
	if p, _ := s.Pending(); p != n {
		t.Fatalf("pending %d, want %d", p, n)
	}
	recs, pos, err := s.Peek(700, 1<<20)
	if err != nil || len(recs) != 700 {
		t.Fatalf("peek: %d records, %v", len(recs), err)
	}
	if err := s.Ack(pos, len(recs)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, 0); err != nil {
		t.Fatal(err)
	}
	// The first Open's lock is gone with Close; a second concurrent Open is refused.
	_, err = Open(dir, 64<<10)
	if err == nil {
		t.Fatal("second Open of a locked spool succeeded")
	}
	t.Log(err)
}

func TestSpoolResumeAfterAck(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := 0; i < n; i++ {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(i, err)
		}
	}
	recs, pos, _ := s.Peek(700, 1<<20)
	if err := s.Ack(pos, len(recs)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p, _ := s.Pending(); p != n-700 {
		t.Fatalf("after reopening, pending %d, want %d", p, n-700)
	}
	next := 700
	for {
		recs, pos, err := s.Peek(333, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if want := rec(next); r.Topic != want.Topic || !bytes.Equal(r.Value, want.Value) || !bytes.Equal(r.Key, want.Key) {
				t.Fatalf("record %d: %q, want %q", next, r.Value, want.Value)
			}
			next++
		}
		if err := s.Ack(pos, len(recs)); err != nil {
			t.Fatal(err)
		}
	}
	if next != n {
		t.Fatalf("read up to %d, want %d", next, n)
	}
	if p, b := s.Pending(); p != 0 || b != 0 {
		t.Fatalf("empty spool reports %d records, %d bytes", p, b)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("empty spool keeps %d segment files", len(segs))
	}
}

// A record cut short by a crash is dropped at the next Open; the ones before it survive.
func TestSpoolTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	seg := s.segPath(s.segs[len(s.segs)-1])
	s.Close()
	fi, _ := os.Stat(seg)
	if err := os.Truncate(seg, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p, _ := s.Pending(); p != 9 {
		t.Fatalf("after a torn last record, %d pending, want 9", p)
	}
	if err := s.Append(rec(10)); err != nil {
		t.Fatal(err)
	}
	recs, _, _ := s.Peek(100, 1<<20)
	if len(recs) != 10 || string(recs[9].Value) != "value-0010" {
		t.Fatalf("after appending past the cut: %d records", len(recs))
	}
}

func TestSpoolFull(t *testing.T) {
	s, err := Open(t.TempDir(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stored int
	for i := 0; i < 100; i++ {
		err := s.Append(rec(i))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		stored++
	}
	if _, b := s.Pending(); stored == 0 || stored == 100 || b > 1000 {
		t.Fatalf("%d records stored, %d bytes, in a 1000-byte spool", stored, b)
	}
}

// Through the real embedded broker: frames published while the broker is down wait in the spool
// without blocking the source, and reach the topic in order, once each, when it is back; the spool
// then empties and frames go straight to the broker again.
func TestForwarderAcrossBrokerRestart(t *testing.T) {
	dataDir := t.TempDir()
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out := streams.NewOutages(nil)
	out.MaxBackoff = 100 * time.Millisecond
	cfg := streams.Config{Brokers: []string{addr}, Namespace: "sp", Outages: out}
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 2, 1); err != nil {
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
	m := metrics.New()
	info := &streams.StreamInfo{StreamID: "s"}
	fw := NewForwarder(s, p, "s", func(ctx context.Context) error {
		return p.PublishStreamInfo(ctx, topics, "raw", info)
	}, Options{Metrics: m, DirectTimeout: 500 * time.Millisecond})
	fctx, fcancel := context.WithCancel(ctx)
	fdone := make(chan error, 1)
	go func() { fdone <- fw.Run(fctx) }()
	frame := func(seq uint64) *streams.Frame {
		return &streams.Frame{StreamID: "s", Seq: seq, NumSamples: 1, NumChannels: 2, Samples: []float32{float32(seq), 1}}
	}
	var seq uint64
	publish := func(n int) {
		for range n {
			if err := fw.Publish(ctx, topics.Raw, frame(seq)); err != nil {
				t.Fatal(err)
			}
			seq++
		}
	}
	publish(50)
	if err := fw.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	b.Close()
	publish(200) // the broker is down: these go to the spool
	if n, _ := s.Pending(); n == 0 {
		t.Fatal("nothing spooled while the broker was down")
	}
	b2, err := broker.Start(broker.Config{Addr: addr, DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	publish(50)
	if err := fw.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, b := s.Pending(); n != 0 || b != 0 {
		t.Fatalf("drained spool holds %d frames, %d bytes", n, b)
	}
	publish(10) // straight to the broker again
	fcancel()
	if err := <-fdone; !errors.Is(err, context.Canceled) {
		t.Fatalf("forwarder: %v", err)
	}

	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "check", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	for want := uint64(0); want < seq; want++ {
		_, res, err := c.ReadFrame(ctx, &f)
		if err != nil {
			t.Fatalf("frame %d: %v", want, err)
		}
		if f.Seq != want || res.Missing != 0 || res.Duplicate {
			t.Fatalf("read seq %d (%+v), want %d: lost, duplicated or out of order", f.Seq, res, want)
		}
	}
	if fw.Dropped() != 0 {
		t.Fatalf("%d frames dropped", fw.Dropped())
	}
}
