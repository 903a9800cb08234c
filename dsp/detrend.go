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
	switch kind {
	case DetrendConstant:
		mean := 0.0
		for _, v := range x {
			mean += v
		}
		mean /= float64(n)
		for i := range x {
			x[i] -= mean
		}
	case DetrendLinear:
		mean, slope, tMean := LinearTrend(x)
		for i := range x {
			x[i] -= mean + slope*(float64(i)-tMean)
		}
	default:
		return fmt.Errorf("detrend: unknown kind %d: use DetrendConstant or DetrendLinear", int(kind))
	}
	return nil
}

// LinearTrend fits the least-squares line x[i] ≈ mean + slope*(i - centre), centre = (n-1)/2, in
// closed form on the centred abscissa; scipy's detrend (lstsq on [(i+1)/n, 1]) fits the same line,
// only its rounding differs (~1e-16 of the signal's scale).
func LinearTrend(x []float64) (mean, slope, centre float64) {
	n := len(x)
	if n == 0 {
		return 0, 0, 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	centre = float64(n-1) / 2
	var sxy, sxx float64
	for i, v := range x {
		d := float64(i) - centre
		sxy += d * (v - mean)
		sxx += d * d
	}
	if sxx > 0 {
		slope = sxy / sxx
	}
	return mean, slope, centre
}
