package dsp

import (
	"math/rand/v2"
	"testing"
)

// A filter and a windower restored from a snapshot taken mid-stream continue bit for bit as the
// ones that never stopped.
func TestStateRestoreContinuesExactly(t *testing.T) {
	const nc, n, cut = 3, 1000, 437
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, nc*n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	sos, err := Butter(4, []float64{1, 40}, Bandpass, 250)
	if err != nil {
		t.Fatal(err)
	}
	type win struct {
		end  int64
		vals []float64
	}
	run := func(f *SOSFilter, w *Windower, x []float32, out *[]win) {
		y := append([]float32(nil), x...)
		f.ProcessInterleaved32(y, y)
		w.Push(y, func(window [][]float64, end int64) {
			var v []float64
			for _, ch := range window {
				v = append(v, ch...)
			}
			*out = append(*out, win{end, v})
		})
	}
	newPair := func() (*SOSFilter, *Windower) {
		w, err := NewWindower(nc, 100, 30)
		if err != nil {
			t.Fatal(err)
		}
		return NewSOSFilter(sos, nc), w
	}
	var whole, split []win
	f, w := newPair()
	run(f, w, x, &whole)

	f1, w1 := newPair()
	run(f1, w1, x[:cut*nc], &split)
	snap := w1.AppendState(f1.AppendState(nil))
	f2, w2 := newPair()
	rest, err := f2.RestoreState(snap)
	if err != nil {
		t.Fatal(err)
	}
	if rest, err = w2.RestoreState(rest); err != nil || len(rest) != 0 {
		t.Fatalf("windower restore: %v, %d bytes left", err, len(rest))
	}
	run(f2, w2, x[cut*nc:], &split)

	if len(split) != len(whole) {
		t.Fatalf("%d windows after a restore, %d without", len(split), len(whole))
	}
	for i := range whole {
		if split[i].end != whole[i].end {
			t.Fatalf("window %d ends at %d, uninterrupted %d", i, split[i].end, whole[i].end)
		}
		for j, v := range whole[i].vals {
			if split[i].vals[j] != v {
				t.Fatalf("window %d value %d: %v, uninterrupted %v", i, j, split[i].vals[j], v)
			}
		}
	}

	// A snapshot of another shape or a truncated one is refused, leaving a clean state.
	g := NewSOSFilter(sos, nc+1)
	if _, err := g.RestoreState(snap); err == nil {
		t.Fatal("a 3-channel filter state restored into a 4-channel filter")
	}
	_, w3 := newPair()
	if _, err := w3.RestoreState(snap[:len(snap)/2]); err == nil {
		t.Fatal("a truncated snapshot restored")
	}
}
