package bench

import (
	"math"
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
