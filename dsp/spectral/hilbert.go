package spectral

import (
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Hilbert computes the analytic signal x + i·H[x] of whole blocks of a fixed length, as
// scipy.signal.hilbert(x) does: FFT, zero the negative frequencies, double the positive ones, inverse
// FFT. The block is treated as one period, so the ends of the block carry edge effects; for streams use
// StreamingHilbert. Build once per length; Analytic allocates nothing. Not safe for concurrent use.
type Hilbert struct {
	n    int
	rfft *fourier.FFT
	cfft *fourier.CmplxFFT
	half []complex128
	full []complex128
}

// NewHilbert prepares the transforms for blocks of nSamples samples.
func NewHilbert(nSamples int) (*Hilbert, error) {
	if nSamples < 1 {
		return nil, fmt.Errorf("hilbert: block length %d samples, want at least 1", nSamples)
	}
	return &Hilbert{
		n: nSamples, rfft: fourier.NewFFT(nSamples), cfft: fourier.NewCmplxFFT(nSamples),
		half: make([]complex128, nSamples/2+1), full: make([]complex128, nSamples),
	}, nil
}

// Analytic writes the analytic signal of x (len(x) == block length) into dst (same length).
// Its modulus is the envelope and its argument the instantaneous phase in radians.
func (h *Hilbert) Analytic(x []float64, dst []complex128) error {
	if len(x) != h.n || len(dst) != h.n {
		return fmt.Errorf("hilbert: got %d input and %d output samples, want %d each (the block length given to NewHilbert)", len(x), len(dst), h.n)
	}
	h.rfft.Coefficients(h.half, x)
	n := h.n
	full := h.full
	clear(full)
	full[0] = h.half[0]
	if n%2 == 0 {
		for k := 1; k < n/2; k++ {
			full[k] = 2 * h.half[k]
		}
		full[n/2] = h.half[n/2]
	} else {
		for k := 1; k <= (n-1)/2; k++ {
			full[k] = 2 * h.half[k]
		}
	}
	h.cfft.Sequence(dst, full)
	inv := complex(1/float64(n), 0)
	for i := range dst {
		dst[i] *= inv
	}
	return nil
}

// StreamingHilbert estimates the analytic signal causally, sample by sample, for several channels:
// the imaginary part is an FIR Hilbert transformer (ideal response 2/(πk) at odd lags k, tapered by a
// Hamming window), the real part is the input delayed by the filter's group delay. From it come the
// envelope |z|, the instantaneous phase arg z (radians, in (-π, π]) and the instantaneous frequency
// (the phase advance between successive samples, in Hz).
//
// Latency and approximation: every output describes the input Delay() samples earlier
// ((taps-1)/2 samples; 32 samples, 128 ms, for 65 taps at 250 Hz). A finite transformer is a band-pass:
// its gain is close to 1 only between roughly fsHz·3/taps and fsHz/2 − fsHz·3/taps (Gain reports it at
// any frequency), so band-pass the signal into that range first; a narrow band gives the cleanest
// phase. Outside that range the envelope ripples at twice the signal frequency. Not safe for concurrent use.
type StreamingHilbert struct {
	fsHz  float64
	taps  int
	delay int
	h     []float64 // h[j] multiplies x[n-j]
	ring  [][]float64
	pos   []int
	prev  []complex128
	nSeen []int
}

// NewStreamingHilbert builds a transformer for nChannels channels at fsHz with an odd number of taps
// (>= 3). More taps widen the accurate band and lengthen the delay.
func NewStreamingHilbert(nChannels int, fsHz float64, taps int) (*StreamingHilbert, error) {
	if nChannels < 1 {
		return nil, fmt.Errorf("streaming hilbert: %d channels, want at least 1", nChannels)
	}
	if !(fsHz > 0) || math.IsInf(fsHz, 0) {
		return nil, fmt.Errorf("streaming hilbert: sampling rate %v Hz is not a positive finite number", fsHz)
	}
	if taps < 3 || taps%2 == 0 {
		return nil, fmt.Errorf("streaming hilbert: %d taps, want an odd number >= 3 (e.g. 65 at 250 Hz)", taps)
	}
	m := (taps - 1) / 2
	h := make([]float64, taps)
	for j := range h {
		k := j - m // h[j] multiplies x[c-k] around the centre sample c = n-m: ideal coefficient 2/(πk) at odd k
		if k%2 == 0 {
			continue
		}
		win := 0.54 - 0.46*math.Cos(2*math.Pi*float64(j)/float64(taps-1))
		h[j] = 2 / (math.Pi * float64(k)) * win
	}
	s := &StreamingHilbert{fsHz: fsHz, taps: taps, delay: m, h: h,
		ring: make([][]float64, nChannels), pos: make([]int, nChannels),
		prev: make([]complex128, nChannels), nSeen: make([]int, nChannels)}
	for c := range s.ring {
		// Each sample is written twice, taps apart, so the last taps samples are always contiguous.
		s.ring[c] = make([]float64, 2*taps)
	}
	return s, nil
}

// Delay returns the latency in samples between an input sample and the output that describes it.
func (s *StreamingHilbert) Delay() int { return s.delay }

// Gain returns the magnitude of the transformer's frequency response at fHz (1 is ideal).
func (s *StreamingHilbert) Gain(fHz float64) float64 {
	var acc complex128
	w := 2 * math.Pi * fHz / s.fsHz
	for j, v := range s.h {
		acc += complex(v, 0) * cmplx.Exp(complex(0, -w*float64(j)))
	}
	return cmplx.Abs(acc)
}

// Reset forgets every channel's history (e.g. after a gap in the stream).
func (s *StreamingHilbert) Reset() {
	for c := range s.ring {
		clear(s.ring[c])
		s.pos[c] = 0
		s.prev[c] = 0
		s.nSeen[c] = 0
	}
}

// Process feeds the next samples x of channel ch and writes, for each, the envelope, the instantaneous
// phase in radians and the instantaneous frequency in Hz of the sample Delay() earlier. Any of the
// outputs may be nil; the others must have len(x). Until taps samples have been seen the outputs
// describe zero-padded history; the first instantaneous frequency of a stream is 0.
func (s *StreamingHilbert) Process(ch int, x, envelope, phaseRad, freqHz []float64) error {
	if ch < 0 || ch >= len(s.ring) {
		return fmt.Errorf("streaming hilbert: channel %d out of range [0, %d)", ch, len(s.ring))
	}
	for _, out := range [...][]float64{envelope, phaseRad, freqHz} {
		if out != nil && len(out) != len(x) {
			return fmt.Errorf("streaming hilbert: output of %d samples for %d input samples; pass equal lengths or nil", len(out), len(x))
		}
	}
	ring, taps := s.ring[ch], s.taps
	pos := s.pos[ch]
	for i, v := range x {
		ring[pos] = v
		ring[pos+taps] = v
		pos++
		if pos == taps {
			pos = 0
		}
		// ring[pos : pos+taps] now holds the last taps samples, oldest first: hist[taps-1-j] = x[n-j].
		hist := ring[pos : pos+taps]
		var im float64
		for j := 1 - s.delay%2; j < taps; j += 2 {
			im += s.h[j] * hist[taps-1-j]
		}
		z := complex(hist[taps-1-s.delay], im)
		if envelope != nil {
			envelope[i] = cmplx.Abs(z)
		}
		if phaseRad != nil {
			phaseRad[i] = cmplx.Phase(z)
		}
		if freqHz != nil {
			if s.nSeen[ch] == 0 {
				freqHz[i] = 0
			} else {
				freqHz[i] = cmplx.Phase(z*cmplx.Conj(s.prev[ch])) * s.fsHz / (2 * math.Pi)
			}
		}
		s.prev[ch] = z
		s.nSeen[ch]++
	}
	s.pos[ch] = pos
	return nil
}
