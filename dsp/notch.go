package dsp

import (
	"fmt"
	"math"
)

// IIRNotch designs a second-order notch at f0Hz with quality factor q (bandwidth f0Hz/q at -3 dB),
// as scipy.signal.iirnotch(f0Hz, q, fs=fsHz), returned as one section for SOSFilter.
func IIRNotch(f0Hz, q, fsHz float64) (SOS, error) {
	if !(fsHz > 0) || math.IsInf(fsHz, 0) {
		return nil, fmt.Errorf("iirnotch: sampling rate %v Hz must be positive and finite", fsHz)
	}
	if !(f0Hz > 0 && f0Hz < fsHz/2) {
		return nil, fmt.Errorf("iirnotch: notch frequency %v Hz must be inside (0, %v) Hz", f0Hz, fsHz/2)
	}
	if !(q > 0) || math.IsInf(q, 0) {
		return nil, fmt.Errorf("iirnotch: quality factor %v must be positive and finite", q)
	}
	w0 := 2 * f0Hz / fsHz
	bw := w0 / q * math.Pi
	w0 *= math.Pi
	gb := 1 / math.Sqrt(2)
	beta := math.Sqrt(1.0-math.Pow(gb, 2.0)) / gb * math.Tan(bw/2.0)
	gain := 1.0 / (1.0 + beta)
	c := math.Cos(w0)
	return SOS{{gain * 1.0, gain * (-2.0 * c), gain * 1.0, 1.0, -2.0 * gain * c, 2.0*gain - 1.0}}, nil
}

// IIRComb designs a comb notch filter removing f0Hz and all its harmonics, as
// scipy.signal.iircomb(f0Hz, q, ftype='notch', fs=fsHz, pass_zero=passZero). fsHz must be an
// integer multiple of f0Hz. b and a have fsHz/f0Hz+1 coefficients of which only the first and last
// are non-zero; run them with CombFilter.
func IIRComb(f0Hz, q, fsHz float64, passZero bool) (b, a []float64, err error) {
	if !(fsHz > 0) || math.IsInf(fsHz, 0) {
		return nil, nil, fmt.Errorf("iircomb: sampling rate %v Hz must be positive and finite", fsHz)
	}
	if !(f0Hz > 0 && f0Hz < fsHz/2) {
		return nil, nil, fmt.Errorf("iircomb: comb frequency %v Hz must be inside (0, %v) Hz", f0Hz, fsHz/2)
	}
	if !(q > 0) || math.IsInf(q, 0) {
		return nil, nil, fmt.Errorf("iircomb: quality factor %v must be positive and finite", q)
	}
	n := int(math.RoundToEven(fsHz / f0Hz))
	if math.Abs(f0Hz-fsHz/float64(n))/fsHz > 1e-14 {
		return nil, nil, fmt.Errorf("iircomb: sampling rate %v Hz is not a multiple of %v Hz: resample or pick a dividing frequency", fsHz, f0Hz)
	}
	w0 := 2 * math.Pi * f0Hz / fsHz
	wDelta := w0 / q
	const g0, g = 1.0, 0.0 // notch: unit gain away from the teeth, zero on them
	gb := 1 / math.Sqrt(2)
	beta := math.Sqrt((gb*gb-g0*g0)/(g*g-gb*gb)) * math.Tan(float64(n)*wDelta/4)
	ax := (1 - beta) / (1 + beta)
	bx := (g0 + g*beta) / (1 + beta)
	cx := (g0 - g*beta) / (1 + beta)
	b = make([]float64, n+1)
	a = make([]float64, n+1)
	b[0], a[0] = bx, 1
	if passZero {
		b[n], a[n] = cx, ax
	} else {
		b[n], a[n] = -cx, -ax
	}
	return b, a, nil
}

// CombFilter runs an IIRComb design on interleaved frames: y[n] = b0 x[n] + bN x[n-N] - aN y[n-N].
// It keeps the last N inputs and outputs of every channel, so each sample costs O(1) whatever N is.
type CombFilter struct {
	b0, bN, aN float64
	n          int
	nChannels  int
	xHist      []float64 // xHist[pos*nChannels+c], a ring of n frames
	yHist      []float64
	pos        int
}

// NewCombFilter prepares b, a from IIRComb for nChannels interleaved channels, from zero state.
func NewCombFilter(b, a []float64, nChannels int) (*CombFilter, error) {
	if len(b) < 2 || len(a) != len(b) {
		return nil, fmt.Errorf("comb filter: need b and a of equal length >= 2 from IIRComb, got %d and %d", len(b), len(a))
	}
	if a[0] != 1 {
		return nil, fmt.Errorf("comb filter: a[0] = %v, want 1", a[0])
	}
	for i := 1; i < len(b)-1; i++ {
		if b[i] != 0 || a[i] != 0 {
			return nil, fmt.Errorf("comb filter: coefficient %d is non-zero: only the first and last may be (use SOSFilter or FIRFilter for other shapes)", i)
		}
	}
	if nChannels < 1 {
		return nil, fmt.Errorf("comb filter: %d channels: need at least 1", nChannels)
	}
	n := len(b) - 1
	return &CombFilter{b0: b[0], bN: b[n], aN: a[n], n: n, nChannels: nChannels,
		xHist: make([]float64, n*nChannels), yHist: make([]float64, n*nChannels)}, nil
}

// Reset zeroes the state.
func (f *CombFilter) Reset() {
	clear(f.xHist)
	clear(f.yHist)
	f.pos = 0
}

// ProcessInterleaved filters x in place (sample-major frames; a trailing partial frame is left as is).
func (f *CombFilter) ProcessInterleaved(x []float64) {
	nc := f.nChannels
	for off := 0; off+nc <= len(x); off += nc {
		xh := f.xHist[f.pos*nc : f.pos*nc+nc]
		yh := f.yHist[f.pos*nc : f.pos*nc+nc]
		frame := x[off : off+nc]
		for c, v := range frame {
			y := f.b0*v + f.bN*xh[c] - f.aN*yh[c]
			xh[c], yh[c] = v, y
			frame[c] = y
		}
		f.pos++
		if f.pos == f.n {
			f.pos = 0
		}
	}
}
