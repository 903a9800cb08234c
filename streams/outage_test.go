package streams_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

func TestTransient(t *testing.T) {
	refused := fmt.Errorf("failed to dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	for _, c := range []struct {
		err  error
		want bool
	}{
		{refused, true},
		{fmt.Errorf("write: %w", syscall.ECONNRESET), true},
		{kafka.NotLeaderForPartition, true},
		{kafka.UnknownTopicOrPartition, true},
		{fmt.Errorf("x: %w", kafka.SASLAuthenticationFailed), false},
		{kafka.MessageSizeTooLarge, false},
		{context.Canceled, false},
		{errors.New("bad frame"), false},
	} {
		if got := streams.Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// A producer and a consumer ride out a broker restart: a publish made while the broker is down
// returns once it is back, the consumer reads on, and the outage is reported once, begun and ended.
func TestReconnectAfterBrokerRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	downs, ups := make(chan string, 16), make(chan time.Duration, 16)
	o := streams.NewOutages(nil)
	o.MaxBackoff = 200 * time.Millisecond
	o.OnDown = func(op string) { downs <- op }
	o.OnUp = func(_ string, d time.Duration) { ups <- d }
	cfg := streams.Config{Brokers: []string{addr}, Namespace: "r", Outages: o}
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 2, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "g", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame := func(seq uint64) *streams.Frame {
		return &streams.Frame{StreamID: "s", Seq: seq, NumSamples: 1, NumChannels: 1, Samples: []float32{float32(seq)}}
	}
	if err := p.PublishFrames(ctx, topics.Raw, frame(0)); err != nil {
		t.Fatal(err)
	}
	var f streams.Frame
	if _, _, err := c.ReadFrame(ctx, &f); err != nil || f.Seq != 0 {
		t.Fatalf("first frame: seq %d, %v", f.Seq, err)
	}
	b.Close()

	published := make(chan error, 1)
	go func() { published <- p.PublishFrames(ctx, topics.Raw, frame(1)) }()
	select {
	case op := <-downs:
		t.Logf("outage seen by %q", op)
	case err := <-published:
		t.Fatalf("publish to a stopped broker returned %v instead of waiting", err)
	case <-ctx.Done():
		t.Fatal("no outage reported")
	}
	b2, err := broker.Start(broker.Config{Addr: addr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if err := <-published; err != nil {
		t.Fatalf("publish across the restart: %v", err)
	}
	if _, res, err := c.ReadFrame(ctx, &f); err != nil || f.Seq != 1 || res.Missing != 0 {
		t.Fatalf("after the restart: seq %d (%+v), %v", f.Seq, res, err)
	}
	select {
	case d := <-ups:
		t.Logf("outage ended after %v", d)
	case <-ctx.Done():
		t.Fatal("end of outage not reported")
	}
}

// A client with a wrong address that is refused keeps retrying until its context ends, and a
// configuration error (an unknown SASL mechanism) fails at once.
func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	cfg := streams.Config{Brokers: []string{addr}, Namespace: "x", Outages: streams.NewOutages(nil)}
	if err := streams.EnsureTopics(ctx, cfg, cfg.Topics(), 1, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EnsureTopics against a closed port: %v, want the context's deadline", err)
	}
	cfg.SASL.Mechanism = "KERBEROS"
	if _, err := streams.NewProducer(cfg, streams.LowLatency); err == nil {
		t.Fatal("unknown SASL mechanism accepted")
	}
}
