package lsl

import (
	"context"
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
