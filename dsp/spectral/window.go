package spectral

import (
	"fmt"
	"math"
)

// generalCosineCoeffs returns the cosine-sum coefficients of the windows scipy.signal.get_window builds
// with general_cosine, written as scipy computes them (hamming's second term is 1-0.54, not 0.46), so the
// windows equal scipy's to the last bit where the cosines do.
func generalCosineCoeffs(name string) ([]float64, bool) {
	switch name {
	case "hann", "hanning":
		return []float64{0.5, 1 - 0.5}, true
	case "hamming":
		alpha := 0.54
		return []float64{alpha, 1 - alpha}, true
	case "blackman":
		return []float64{0.42, 0.50, 0.08}, true
	case "nuttall":
		return []float64{0.3635819, 0.4891775, 0.1365995, 0.0106411}, true
	case "blackmanharris":
		return []float64{0.35875, 0.48829, 0.14128, 0.01168}, true
	case "flattop":
		return []float64{0.21557895, 0.41663158, 0.277263158, 0.083578947, 0.006947368}, true
	}
	return nil, false
}

// GetWindow returns the periodic ("DFT-even") window of n samples that scipy.signal.get_window(name, n)
// returns, which is what scipy's welch/csd/coherence use. Names: "hann" (also "" and "hanning"),
// "hamming", "blackman", "nuttall", "blackmanharris", "flattop", "boxcar" (also "rectangular" and
// "rect"), "bartlett" and "triang".
func GetWindow(name string, n int) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("window %q: length %d samples, want at least 1", name, n)
	}
	if name == "" {
		name = "hann"
	}
	w := make([]float64, n)
	if n == 1 {
		w[0] = 1
		return w, nil
	}
	// A periodic window is the symmetric window one sample longer with its last sample dropped.
	m := n + 1
	if a, ok := generalCosineCoeffs(name); ok {
		step := 2 * math.Pi / float64(m-1) // numpy.linspace(-pi, pi, m)
		for i := range w {
			fac := -math.Pi + float64(i)*step
			var v float64
			for k, ak := range a {
				v += ak * math.Cos(float64(k)*fac)
			}
			w[i] = v
		}
		return w, nil
	}
	switch name {
	case "boxcar", "rectangular", "rect", "ones":
		for i := range w {
			w[i] = 1
		}
	case "bartlett":
		half := float64(m-1) / 2
		for i := range w {
			if fi := float64(i); fi <= half {
				w[i] = 2 * fi / float64(m-1)
			} else {
				w[i] = 2 - 2*fi/float64(m-1)
			}
		}
	case "triang":
		// scipy's triang never reaches zero at the ends (unlike bartlett).
		for i := range w {
			k := i + 1
			if k > (m+1)/2 {
				k = m - i
			}
			if m%2 == 0 {
				w[i] = (2*float64(k) - 1) / float64(m)
			} else {
				w[i] = 2 * float64(k) / float64(m+1)
			}
		}
	default:
		return nil, fmt.Errorf("window %q is not supported; use hann, hamming, blackman, nuttall, blackmanharris, flattop, boxcar, bartlett or triang", name)
	}
	return w, nil
}
