package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
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
