package dsp

import "fmt"

// DetrendKind says what Detrend removes.
type DetrendKind int

const (
	DetrendConstant DetrendKind = iota // the mean
	DetrendLinear                      // the least-squares line
)

// ParseDetrend accepts scipy's names "constant" and "linear".
func ParseDetrend(s string) (DetrendKind, error) {
	switch s {
	case "constant":
		return DetrendConstant, nil
	case "linear":
		return DetrendLinear, nil
	}
	return 0, fmt.Errorf("unknown detrend type %q (want constant or linear)", s)
}

// Detrend returns x minus its mean or its least-squares line, as scipy.signal.detrend(x, type=...)
// without breakpoints.
func Detrend(x []float64, kind DetrendKind) ([]float64, error) {
	y := append([]float64(nil), x...)
	if err := DetrendInPlace(y, kind); err != nil {
		return nil, err
	}
	return y, nil
}

// DetrendInPlace is Detrend without the copy, for per-window use (no allocation).
func DetrendInPlace(x []float64, kind DetrendKind) error {
	n := len(x)
	if n == 0 {
		return nil
	}
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	switch kind {
	case DetrendConstant:
		for i := range x {
			x[i] -= mean
		}
	case DetrendLinear:
		// Closed-form least squares on the centred abscissa; scipy's lstsq on [(i+1)/n, 1] fits the
		// same line, only its rounding differs (~1e-16 of the signal's scale).
		tMean := float64(n-1) / 2
		var sxy, sxx float64
		for i, v := range x {
			d := float64(i) - tMean
			sxy += d * (v - mean)
			sxx += d * d
		}
		slope := 0.0
		if sxx > 0 {
			slope = sxy / sxx
		}
		for i := range x {
			x[i] -= mean + slope*(float64(i)-tMean)
		}
	default:
		return fmt.Errorf("detrend: unknown kind %d: use DetrendConstant or DetrendLinear", int(kind))
	}
	return nil
}
