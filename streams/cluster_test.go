package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// A 3-broker cluster loses the broker leading a stream's partition mid-stream: the producer and the
// consumer group follow the partition's new leader, and every frame arrives, in order.
func TestClientsFollowLeadersWhenABrokerStops(t *testing.T) {
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	o := streams.NewOutages(nil)
	o.MaxBackoff = 200 * time.Millisecond
	cfg := streams.Config{Brokers: b.Addrs(), Namespace: "cl", Outages: o}
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 3, 3); err != nil {
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
	const n = 200
	var f streams.Frame
	next := uint64(0)
	read := func(upTo uint64) {
		t.Helper()
		for next < upTo {
			_, res, err := c.ReadFrame(ctx, &f)
			if err != nil {
				t.Fatalf("reading frame %d: %v", next, err)
			}
			if res.Duplicate {
				t.Logf("duplicate of seq %d (a write retried after its acknowledgement was lost)", f.Seq)
				continue
			}
			if f.Seq != next || res.Missing != 0 {
				t.Fatalf("read seq %d (%+v), want %d", f.Seq, res, next)
			}
			next++
		}
	}
	for seq := uint64(0); seq < n; seq++ {
		if seq == n/2 {
			read(seq)
			part, err := cfg.PartitionOf(ctx, topics.Raw, "s")
			if err != nil {
				t.Fatal(err)
			}
			leader := b.LeaderOf(topics.Raw, part)
			if err := b.RemoveNode(leader); err != nil {
				t.Fatal(err)
			}
			t.Logf("stopped broker %d, leader of %s[%d]; new leader %d", leader, topics.Raw, part, b.LeaderOf(topics.Raw, part))
		}
		if err := p.PublishFrames(ctx, topics.Raw, &streams.Frame{StreamID: "s", Seq: seq, NumSamples: 1, NumChannels: 1, Samples: []float32{float32(seq)}}); err != nil {
			t.Fatalf("publish %d: %v", seq, err)
		}
	}
	read(n)
}
