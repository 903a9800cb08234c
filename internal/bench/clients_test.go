package bench

import (
	"context"
	"fmt"
	"runtime/pprof"
	"slices"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// The clients suite compares like with like only if every producer writes what every consumer reads
// back as the same frames: each producer's frames, read by each consumer (partition and group),
// decode to what was sent, in order.
func TestClientsRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := &benchRun{} // broker in this process
	for _, pk := range producerKinds {
		t.Run(pk, func(t *testing.T) {
			b, err := startBenchBroker(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			defer b.close()
			cfg, topic, err := clientsTopic(ctx, b, 1)
			if err != nil {
				t.Fatal(err)
			}
			p, err := newPublisher(pk, cfg, topic, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			sent := benchFrames(32, 306, "clients-000")
			for i, f := range sent {
				f.Samples[i] = float32(i) // each frame differs
			}
			if _, _, err := produceFor(ctx, p, sent, 0, 32); err != nil {
				t.Fatal(err)
			}
			if err := p.flush(ctx); err != nil {
				t.Fatal(err)
			}
			if got := p.acked(); got != 32 {
				t.Fatalf("%d frames acknowledged, want 32", got)
			}
			for _, ck := range consumerKinds {
				for _, group := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/group=%v", ck, group), func(t *testing.T) {
						rd, err := newReader(ck, cfg, topic, group)
						if err != nil {
							t.Fatal(err)
						}
						defer rd.close()
						var f streams.Frame
						for i, want := range sent {
							if err := rd.next(ctx, &f); err != nil {
								t.Fatalf("frame %d: %v", i, err)
							}
							if f.StreamID != want.StreamID || f.Seq != want.Seq || f.NumChannels != 306 || !slices.Equal(f.Samples, want.Samples) {
								t.Fatalf("frame %d: got %s#%d (%d ch), want %s#%d with the samples sent", i, f.StreamID, f.Seq, f.NumChannels, want.StreamID, want.Seq)
							}
						}
					})
				}
			}
		})
	}
}

// A fixed-rate run measures what it says: every frame published is read, its latency recorded.
func TestClientsLatencyRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, kind := range latencyKinds {
		t.Run(kind, func(t *testing.T) {
			res, err := clientsLatencyRun(ctx, &benchRun{}, 64, 4, kind, 300*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if res.endLag != 0 {
				t.Fatalf("%d frames not read", res.endLag)
			}
			// 4 streams at 31.25 frames/s for 0.3 s: 9 or 10 frames each.
			if res.published < 36 || int64(len(res.lat)) != res.published {
				t.Fatalf("%d frames published, %d latencies: want 36-40 and one per frame", res.published, len(res.lat))
			}
			if res.lat[0] <= 0 {
				t.Fatalf("latency %v: frames read before they were due", res.lat[0])
			}
		})
	}
}

// Benchmarks of the clients suite's cases, one frame an op, the broker in this process:
//
//	go test -run XXX -bench Clients -benchmem -benchtime 20000x ./internal/bench
//
// (a consume case holds b.N frames in the broker: bound b.N)
// Profiles split by pprof label: side=broker (kfake's goroutines), side=client (the measured
// client's, with the goroutines it starts), side=prefill (writing what a consumer then reads):
//
//	go test -run XXX -bench 'ClientsConsume/kafka-go' -benchtime 20000x -cpuprofile /tmp/cpu.out ./internal/bench
//	go tool pprof -tagfocus side=client -top /tmp/cpu.out
func BenchmarkClientsProduce(b *testing.B) {
	for _, ch := range []int{64, 1024} {
		for _, kind := range producerKinds {
			b.Run(fmt.Sprintf("%s/%dch", kind, ch), func(b *testing.B) {
				ctx, cfg, topic := benchClientsBroker(b, 0)
				frames := benchFrames(framesPerCall(ch), ch, "clients-000")
				labelled(ctx, "client", func(ctx context.Context) {
					p, err := newPublisher(kind, cfg, topic, 1)
					if err != nil {
						b.Fatal(err)
					}
					defer p.close()
					if _, _, err := produceFor(ctx, p, frames, 0, int64(len(frames))); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.SetBytes(int64(frameBytes(ch)))
					b.ResetTimer()
					if _, _, err := produceFor(ctx, p, frames, 0, int64(b.N)); err != nil {
						b.Fatal(err)
					}
					if err := p.flush(ctx); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}

func BenchmarkClientsConsume(b *testing.B) {
	for _, ch := range []int{64, 1024} {
		for _, kind := range consumerKinds {
			b.Run(fmt.Sprintf("%s/%dch", kind, ch), func(b *testing.B) {
				ctx, cfg, topic := benchClientsBroker(b, -1) // keeps every frame until it is read
				labelled(ctx, "prefill", func(ctx context.Context) {
					p, err := newPublisher(prodKgoAsync, cfg, topic, 1)
					if err != nil {
						b.Fatal(err)
					}
					defer p.close()
					if _, _, err := produceFor(ctx, p, benchFrames(framesPerCall(ch), ch, "clients-000"), 0, int64(b.N)+1); err != nil {
						b.Fatal(err)
					}
					if err := p.flush(ctx); err != nil {
						b.Fatal(err)
					}
				})
				labelled(ctx, "client", func(ctx context.Context) {
					rd, err := newReader(kind, cfg, topic, false)
					if err != nil {
						b.Fatal(err)
					}
					defer rd.close()
					var f streams.Frame
					if err := rd.next(ctx, &f); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.SetBytes(int64(frameBytes(ch)))
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := rd.next(ctx, &f); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

// benchClientsBroker starts kfake in this process with the given memory budget (0: the default).
func benchClientsBroker(b *testing.B, budget int64) (context.Context, streams.Config, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	var kb *broker.Broker
	var err error
	labelled(ctx, "broker", func(context.Context) {
		kb, err = broker.Start(broker.Config{Addr: "127.0.0.1:0", DefaultPartitions: 1, MemoryBudget: budget, RetentionBytes: 1 << 40})
	})
	if err != nil {
		b.Fatal(err)
	}
	br := &benchBroker{addr: kb.Addr(), inproc: kb}
	b.Cleanup(br.close)
	cfg, topic, err := clientsTopic(ctx, br, 1)
	if err != nil {
		b.Fatal(err)
	}
	return ctx, cfg, topic
}

// labelled runs fn with the pprof label side=side, which goroutines it starts inherit.
func labelled(ctx context.Context, side string, fn func(context.Context)) {
	pprof.Do(ctx, pprof.Labels("side", side), fn)
}
