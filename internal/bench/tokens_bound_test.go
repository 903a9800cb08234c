package bench

import (
	"math"
	"math/rand/v2"
	"testing"
)

// White noise of variance s2 over 0..fs/2 needs fs/2 * log2(1 / (1 - r^2)) bits/s for correlation r
// (half a bit per sample per halving of the error), whatever its level.
func TestGaussianRateOfWhiteNoise(t *testing.T) {
	const fs = 160.0
	for _, level := range []float64{1e-12, 1, 1e6} {
		psd := make([]float64, 129)
		for i := range psd {
			psd[i] = level
		}
		df := fs / 2 / float64(len(psd))
		for _, r := range []float64{0.5, 0.9, 0.99} {
			got, want := gaussianRate(psd, df, r), fs/2*math.Log2(1/(1-r*r))
			if math.Abs(got-want) > 1e-6*want {
				t.Errorf("level %g, r %g: %g bits/s, want %g", level, r, got, want)
			}
		}
	}
	// A spectrum with half its bins 100x weaker: those are given up first (reverse water-filling),
	// so r 0.9 costs fewer bits than for white noise of the same variance.
	psd := make([]float64, 128)
	for i := range psd {
		psd[i] = map[bool]float64{true: 1, false: 0.01}[i < 64]
	}
	if got, white := gaussianRate(psd, fs/2/128, 0.9), fs/2*math.Log2(1/(1-0.81)); got >= white {
		t.Errorf("coloured spectrum %g bits/s, not below white noise's %g", got, white)
	}
}

// The reference coder's transform inverts exactly: with a fine step it reconstructs held-out data
// almost perfectly, and coarser steps spend fewer bits for less correlation. Channels here mix
// three sources, so most of the bits go to three components.
func TestTransformCoderTradesBitsForCorrelation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const nch, n = 8, 4000
	mix := make([][3]float64, nch)
	for c := range mix {
		for s := range mix[c] {
			mix[c][s] = rng.NormFloat64()
		}
	}
	gen := func() [][]float64 {
		out := make([][]float64, nch)
		for c := range out {
			out[c] = make([]float64, n)
		}
		var src [3]float64
		for i := range n {
			for s := range src {
				src[s] = 0.95*src[s] + rng.NormFloat64() // low-pass sources, as EEG is
			}
			for c := range out {
				out[c][i] = 1e-5 * (mix[c][0]*src[0] + mix[c][1]*src[1] + mix[c][2]*src[2] + 0.05*rng.NormFloat64())
			}
		}
		return out
	}
	train, test := [][][]float64{gen(), gen()}, [][][]float64{gen()}
	tc, err := newTransformCoder(train, 32)
	if err != nil {
		t.Fatal(err)
	}
	fine, err := tc.score(test, 0.2, 160)
	if err != nil {
		t.Fatal(err)
	}
	if fine.r < 0.999 || fine.rMin < 0.99 {
		t.Fatalf("step 0.2: r %g (worst channel %g): the transform does not invert", fine.r, fine.rMin)
	}
	prev := fine
	for _, step := range []float64{0.5, 1, 3} {
		s, err := tc.score(test, step, 160)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("step %g: %.1f bits/s/ch in bytes, %.1f as entropy, r %.4f, NMSE %.4f", step, s.bits, s.entropyBits, s.r, s.nmse)
		if s.bits < s.entropyBits || s.bits > s.entropyBits+12*8*160/32/nch { // at most 12 bytes a block over
			t.Fatalf("step %g: coded %.2f bits/s/ch for an entropy of %.2f", step, s.bits, s.entropyBits)
		}
		if !(s.bits < prev.bits && s.r < prev.r) {
			t.Fatalf("step %g: %.1f bits/s, r %g; step %g: %.1f bits/s, r %g", step, s.bits, s.r, prev.step, prev.bits, prev.r)
		}
		prev = s
	}
	if _, err := newTransformCoder(nil, 32); err == nil {
		t.Fatal("no training data accepted")
	}
}
