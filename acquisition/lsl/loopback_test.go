package lsl

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

func newTestOutlet(t *testing.T, info StreamInfo) *Outlet {
	t.Helper()
	o, err := NewOutlet(info, OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func resolveOne(t *testing.T, ctx context.Context, query string) StreamInfo {
	t.Helper()
	for ctx.Err() == nil {
		found, err := Resolve(ctx, query, ResolveOptions{Wait: 2 * time.Second, Minimum: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > 0 {
			return found[0]
		}
	}
	t.Fatalf("no stream matches %s", query)
	return StreamInfo{}
}

func TestLoopbackEveryFormat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, f := range []Format{Float32, Double64, Int8, Int16, Int32, Int64, String} {
		t.Run(f.String(), func(t *testing.T) {
			info := StreamInfo{Name: "loop-" + f.String(), Type: "Test", ChannelCount: 3, NominalRateHz: 100, Format: f, SourceID: "loop-" + newUID()}
			info.SetChannels([]Channel{{Label: "C3", Unit: "microvolts", Type: "EEG", Location: [3]float64{-52, 0, 40}, HasLocation: true}, {Label: "Cz"}, {Label: "C4"}})
			o := newTestOutlet(t, info)
			found := resolveOne(t, ctx, "source_id='"+info.SourceID+"'")
			if found.UID != o.Info().UID {
				t.Fatalf("resolved uid %s, outlet %s", found.UID, o.Info().UID)
			}
			in, err := OpenInlet(ctx, found, InletOptions{NoRecover: true})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			full := in.Info()
			chs := full.Channels()
			if len(chs) != 3 || chs[0].Label != "C3" || chs[0].Unit != "microvolts" || !chs[0].HasLocation || chs[0].Location[0] != -52 {
				t.Fatalf("channels %+v", chs)
			}
			if err := o.WaitForConsumers(ctx, 1); err != nil {
				t.Fatal(err)
			}
			want := []float64{1, -2, 3, 4, -5, 6, 120, -7, 8}
			if f == String {
				for s := range 3 {
					if err := o.PushStrings([]string{"a", "", string(make([]byte, 300))}, 10+float64(s)); err != nil {
						t.Fatal(err)
					}
				}
			} else if err := o.PushFloat64(want, 10); err != nil {
				t.Fatal(err)
			}
			var c Chunk
			var got []float64
			var strs []string
			var ts []float64
			for len(ts) < 3 {
				if err := in.Pull(ctx, &c, 0); err != nil {
					t.Fatal(err)
				}
				got = append(got, c.Values...)
				strs = append(strs, c.Strings...)
				ts = append(ts, c.Timestamps...)
			}
			if f == String {
				if strs[0] != "a" || strs[1] != "" || len(strs[2]) != 300 || ts[2] != 12 {
					t.Fatalf("strings %q ts %v", strs[:2], ts)
				}
				return
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("value %d: %v, want %v", i, got[i], want[i])
				}
			}
			for s, w := range []float64{10, 10.01, 10.02} {
				if math.Abs(ts[s]-w) > 1e-9 {
					t.Fatalf("timestamps %v", ts)
				}
			}
			off, rtt, err := in.TimeCorrection(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(off) > rtt+1e-3 {
				t.Errorf("same-host time correction %v s (rtt %v s)", off, rtt)
			}
		})
	}
}

// TestOutletSeveralInletsAndRecovery: three inlets read the same samples from one outlet; when the
// outlet is closed and a new one with the same source id starts, the inlets recover onto it.
func TestOutletSeveralInletsAndRecovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	info := StreamInfo{Name: "multi", Type: "EEG", ChannelCount: 2, NominalRateHz: 100, Format: Float32, SourceID: "multi-" + newUID()}
	o, err := NewOutlet(info, OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		t.Fatal(err)
	}
	found := resolveOne(t, ctx, "source_id='"+info.SourceID+"'")
	var inlets []*Inlet
	for range 3 {
		in, err := OpenInlet(ctx, found, InletOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		inlets = append(inlets, in)
	}
	if err := o.WaitForConsumers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	pull := func(in *Inlet, n int) (vals []float64, recovered bool) {
		var c Chunk
		for len(vals) < 2*n {
			if err := in.Pull(ctx, &c, 0); err != nil {
				t.Fatal(err)
			}
			recovered = recovered || c.Recovered
			vals = append(vals, c.Values...)
		}
		return vals, recovered
	}
	if err := o.PushFloat32([]float32{1, 2, 3, 4, 5, 6}, Clock()); err != nil {
		t.Fatal(err)
	}
	for i, in := range inlets {
		if vals, _ := pull(in, 3); vals[4] != 5 || vals[5] != 6 {
			t.Fatalf("inlet %d got %v", i, vals)
		}
	}
	o.Close()
	o2, err := NewOutlet(info, OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := o2.WaitForConsumers(ctx, 3); err == nil {
			_ = o2.PushFloat32([]float32{7, 8}, Clock())
		}
	}()
	// The inlets recover concurrently: the new outlet pushes once all three are back.
	errs := make(chan error, 3)
	for i, in := range inlets {
		go func() {
			var c Chunk
			if err := in.Pull(ctx, &c, 0); err != nil {
				errs <- err
				return
			}
			if c.Values[0] != 7 || !c.Recovered || in.Info().UID != o2.Info().UID {
				errs <- fmt.Errorf("inlet %d after the restart: %v, recovered %v", i, c.Values, c.Recovered)
				return
			}
			errs <- nil
		}()
	}
	for range inlets {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-done
}

// BenchmarkInletPull: an outlet pushes 64 channels, 8 samples a push, and an inlet pulls them; in the
// steady state neither allocates.
func BenchmarkInletPull(b *testing.B) {
	ctx := context.Background()
	info := StreamInfo{Name: "bench-pull", Type: "EEG", ChannelCount: 64, NominalRateHz: 1000, Format: Float32, SourceID: "bench-" + newUID()}
	o, err := NewOutlet(info, OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	in, err := OpenInlet(ctx, o.Info(), InletOptions{NoRecover: true})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	_ = o.WaitForConsumers(ctx, 1)
	samples := make([]float32, 8*64)
	var c Chunk
	b.ReportAllocs()
	for b.Loop() {
		_ = o.PushFloat32(samples, Clock())
		for got := 0; got < 8; got += c.N {
			if err := in.Pull(ctx, &c, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}
