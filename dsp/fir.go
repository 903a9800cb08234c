package dsp

import (
	"fmt"
	"math"
)

// WindowKind names a window for FIR design.
type WindowKind int

const (
	Hamming WindowKind = iota
	Hann
	Blackman
	Boxcar
	Kaiser
)

var windowNames = [...]string{"hamming", "hann", "blackman", "boxcar", "kaiser"}

// String returns scipy's window name.
func (k WindowKind) String() string {
	if k >= 0 && int(k) < len(windowNames) {
		return windowNames[k]
	}
	return fmt.Sprintf("WindowKind(%d)", int(k))
}

// FIRWindow is a window for FIRWin: a kind, and Beta for Kaiser (scipy's ('kaiser', beta)).
type FIRWindow struct {
	Kind WindowKind
	Beta float64
}

// ParseWindow accepts scipy's names "hamming", "hann", "blackman", "boxcar" and "kaiser" (which uses beta).
func ParseWindow(name string, beta float64) (FIRWindow, error) {
	for i, n := range windowNames {
		if n == name {
			return FIRWindow{Kind: WindowKind(i), Beta: beta}, nil
		}
	}
	return FIRWindow{}, fmt.Errorf("unknown window %q (want one of %v)", name, windowNames)
}

// SymmetricWindow returns the n-point symmetric window (scipy.signal.get_window(..., fftbins=False)),
// the form FIR design uses.
func SymmetricWindow(w FIRWindow, n int) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("window of %d points: need at least 1", n)
	}
	out := make([]float64, n)
	if n == 1 {
		out[0] = 1
		return out, nil
	}
	switch w.Kind {
	case Hamming:
		generalCosine(out, []float64{0.54, 1 - 0.54})
	case Hann:
		generalCosine(out, []float64{0.5, 1 - 0.5})
	case Blackman:
		generalCosine(out, []float64{0.42, 0.50, 0.08})
	case Boxcar:
		for i := range out {
			out[i] = 1
		}
	case Kaiser:
		if w.Beta < 0 || math.IsNaN(w.Beta) || math.IsInf(w.Beta, 0) {
			return nil, fmt.Errorf("kaiser window beta %v must be finite and >= 0", w.Beta)
		}
		alpha := float64(n-1) / 2.0
		den := besselI0(w.Beta)
		for i := range out {
			r := (float64(i) - alpha) / alpha
			out[i] = besselI0(w.Beta*math.Sqrt(1-r*r)) / den
		}
	default:
		return nil, fmt.Errorf("unknown window kind %d", int(w.Kind))
	}
	return out, nil
}

// generalCosine fills w with sum_k a[k] cos(k*fac) over fac = linspace(-pi, pi, len(w)), scipy's
// general_cosine, keeping its evaluation order.
func generalCosine(w []float64, a []float64) {
	m := len(w)
	step := 2 * math.Pi / float64(m-1)
	for i := range w {
		fac := float64(i)*step - math.Pi
		if i == m-1 {
			fac = math.Pi
		}
		s := 0.0
		for k, ak := range a {
			s += ak * math.Cos(float64(k)*fac)
		}
		w[i] = s
	}
}

// besselI0 is the modified Bessel function of the first kind, order 0, by its power series
// sum ((x/2)^k / k!)^2: every term is positive, so the sum is accurate to a few ulp for the
// arguments Kaiser windows use (|x| below a few hundred).
func besselI0(x float64) float64 {
	q := x * x / 4
	sum, term := 1.0, 1.0
	for k := 1; k < 1000; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// KaiserBeta returns the Kaiser window beta for a stop-band attenuation in dB (scipy.signal.kaiser_beta).
func KaiserBeta(attenDB float64) float64 {
	switch {
	case attenDB > 50:
		return 0.1102 * (attenDB - 8.7)
	case attenDB > 21:
		return 0.5842*math.Pow(attenDB-21, 0.4) + 0.07886*(attenDB-21)
	default:
		return 0
	}
}

// KaiserAtten returns the attenuation in dB a Kaiser FIR of numTaps reaches with a transition width
// given as a fraction of Nyquist (scipy.signal.kaiser_atten).
func KaiserAtten(numTaps int, width float64) float64 {
	return 2.285*float64(numTaps-1)*math.Pi*width + 7.95
}

// KaiserOrd returns the number of taps and the beta for a Kaiser-window FIR with rippleDB of
// attenuation and a transition width as a fraction of Nyquist (scipy.signal.kaiserord).
func KaiserOrd(rippleDB, width float64) (numTaps int, beta float64, err error) {
	a := math.Abs(rippleDB)
	if a < 8 {
		return 0, 0, fmt.Errorf("kaiserord: attenuation %v dB is too small for the Kaiser formula (need >= 8)", a)
	}
	if !(width > 0) || math.IsInf(width, 0) {
		return 0, 0, fmt.Errorf("kaiserord: transition width %v must be positive (fraction of Nyquist)", width)
	}
	n := (a-7.95)/2.285/(math.Pi*width) + 1
	return int(math.Ceil(n)), KaiserBeta(a), nil
}

func sinc(x float64) float64 {
	if x == 0 {
		x = 1e-20 // numpy's sinc guards 0 this way, which evaluates to exactly 1
	}
	y := math.Pi * x
	return math.Sin(y) / y
}

// FIRWin designs a linear-phase FIR by the window method, as scipy.signal.firwin(numTaps, cutoffHz,
// window=window, pass_zero=passZero, scale=True, fs=fsHz). With passZero the band from 0 to the first
// cutoff passes (low-pass, band-stop); without it, it is stopped (high-pass, band-pass).
func FIRWin(numTaps int, cutoffHz []float64, window FIRWindow, passZero bool, fsHz float64) ([]float64, error) {
	if numTaps < 1 {
		return nil, fmt.Errorf("firwin: %d taps: need at least 1", numTaps)
	}
	if !(fsHz > 0) || math.IsInf(fsHz, 0) {
		return nil, fmt.Errorf("firwin: sampling rate %v Hz must be positive and finite", fsHz)
	}
	if len(cutoffHz) == 0 {
		return nil, fmt.Errorf("firwin: at least one cutoff frequency is needed")
	}
	nyq := 0.5 * fsHz
	edges := make([]float64, 0, len(cutoffHz)+2)
	if passZero {
		edges = append(edges, 0)
	}
	for i, f := range cutoffHz {
		if !(f > 0 && f < nyq) {
			return nil, fmt.Errorf("firwin: cutoff %v Hz must be inside (0, %v) Hz", f, nyq)
		}
		if i > 0 && !(f > cutoffHz[i-1]) {
			return nil, fmt.Errorf("firwin: cutoffs %v Hz must be strictly increasing", cutoffHz)
		}
		edges = append(edges, f/nyq)
	}
	passNyquist := (len(cutoffHz)%2 == 1) != passZero
	if passNyquist {
		if numTaps%2 == 0 {
			return nil, fmt.Errorf("firwin: %d taps is even, so the response at Nyquist is zero, but this band passes Nyquist: use an odd number of taps", numTaps)
		}
		edges = append(edges, 1)
	}
	alpha := 0.5 * float64(numTaps-1)
	h := make([]float64, numTaps)
	for b := 0; b < len(edges); b += 2 {
		left, right := edges[b], edges[b+1]
		for i := range h {
			m := float64(i) - alpha
			h[i] += right * sinc(right*m)
			h[i] -= left * sinc(left*m)
		}
	}
	win, err := SymmetricWindow(window, numTaps)
	if err != nil {
		return nil, fmt.Errorf("firwin: %w", err)
	}
	for i := range h {
		h[i] *= win[i]
	}
	// Scale so that the centre of the first pass band has unit gain, as scipy does with scale=True.
	left, right := edges[0], edges[1]
	var f float64
	switch {
	case left == 0:
		f = 0
	case right == 1:
		f = 1
	default:
		f = 0.5 * (left + right)
	}
	s := 0.0
	for i := range h {
		s += h[i] * math.Cos(math.Pi*(float64(i)-alpha)*f)
	}
	for i := range h {
		h[i] /= s
	}
	return h, nil
}

// FIRFilter is a streaming FIR filter (lfilter with a = [1]) over interleaved frames, with the last
// len(taps)-1 samples of every channel as state.
//
// Each channel's history is a mirrored ring (every sample written at i and i+L), so the most recent L
// samples are always one contiguous slice and the dot product needs no wrap-around test.
type FIRFilter struct {
	rev       []float64 // taps reversed: rev[j] multiplies the j-th oldest sample of the window
	nChannels int
	hist      []float64 // channel c's ring is hist[c*2L : (c+1)*2L]
	pos       int
}

// NewFIRFilter prepares taps (e.g. from FIRWin) for nChannels interleaved channels, from zero state.
func NewFIRFilter(taps []float64, nChannels int) (*FIRFilter, error) {
	if len(taps) == 0 {
		return nil, fmt.Errorf("fir filter: no taps: design them with FIRWin")
	}
	for i, v := range taps {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("fir filter: tap %d is %v: taps must be finite", i, v)
		}
	}
	if nChannels < 1 {
		return nil, fmt.Errorf("fir filter: %d channels: need at least 1", nChannels)
	}
	l := len(taps)
	rev := make([]float64, l)
	for j := range rev {
		rev[j] = taps[l-1-j]
	}
	return &FIRFilter{rev: rev, nChannels: nChannels, hist: make([]float64, nChannels*2*l)}, nil
}

// Reset zeroes the history.
func (f *FIRFilter) Reset() {
	clear(f.hist)
	f.pos = 0
}

// DelaySamples is the group delay of a linear-phase design, (len(taps)-1)/2 samples.
func (f *FIRFilter) DelaySamples() float64 { return float64(len(f.rev)-1) / 2 }

// ProcessInterleaved filters x in place (sample-major frames; a trailing partial frame is left as is).
// The sum runs from the oldest sample to the newest, the order of scipy's transposed-form lfilter.
func (f *FIRFilter) ProcessInterleaved(x []float64) {
	nc, l := f.nChannels, len(f.rev)
	for off := 0; off+nc <= len(x); off += nc {
		frame := x[off : off+nc]
		// After writing, the window is ring[pos+1 : pos+1+l] (oldest first).
		for c, v := range frame {
			ring := f.hist[c*2*l : (c+1)*2*l]
			ring[f.pos] = v
			ring[f.pos+l] = v
			win := ring[f.pos+1 : f.pos+1+l]
			acc := 0.0
			for j, h := range f.rev {
				acc += h * win[j]
			}
			frame[c] = acc
		}
		f.pos++
		if f.pos == l {
			f.pos = 0
		}
	}
}
