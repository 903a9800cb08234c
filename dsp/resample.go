package dsp

import (
	"fmt"
)

// resampleTaps designs resample_poly's anti-aliasing filter for up/down already reduced by their
// gcd: firwin(2*halfLen+1, 1/max(up, down), window=('kaiser', 5.0)) scaled by up.
func resampleTaps(up, down int) (h []float64, halfLen int, err error) {
	maxRate := max(up, down)
	halfLen = 10 * maxRate
	h, err = FIRWin(2*halfLen+1, []float64{1.0 / float64(maxRate)}, FIRWindow{Kind: Kaiser, Beta: 5.0}, true, 2)
	if err != nil {
		return nil, 0, err
	}
	for i := range h {
		h[i] *= float64(up)
	}
	return h, halfLen, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func checkRates(up, down int) (int, int, error) {
	if up < 1 || down < 1 {
		return 0, 0, fmt.Errorf("up %d and down %d must be >= 1", up, down)
	}
	if up > 1<<16 || down > 1<<16 {
		return 0, 0, fmt.Errorf("up %d and down %d too large: reduce the ratio (filter length grows with them)", up, down)
	}
	g := gcd(up, down)
	return up / g, down / g, nil
}

// polyphaseAt is output sample i of the upsample-filter-downsample chain: the sum over the taps k
// with i*down+halfLen-k divisible by up of h[k] * x[(i*down+halfLen-k)/up], where get returns input
// samples (zero outside the signal).
func polyphaseAt(h []float64, up, down, halfLen int, i int64, get func(j int64) float64) float64 {
	t := i*int64(down) + int64(halfLen)
	k := int(t % int64(up))
	j := (t - int64(k)) / int64(up)
	acc := 0.0
	for ; k < len(h); k += up {
		acc += h[k] * get(j)
		j--
	}
	return acc
}

// ResamplePoly changes the rate of x by up/down with a polyphase FIR, as
// scipy.signal.resample_poly(x, up, down) with its defaults (Kaiser window, beta 5, zero padding):
// ceil(len(x)*up/down) samples, the filter centred so that output sample i is at input time i*down/up.
func ResamplePoly(x []float64, up, down int) ([]float64, error) {
	up, down, err := checkRates(up, down)
	if err != nil {
		return nil, fmt.Errorf("resample_poly: %w", err)
	}
	if up == 1 && down == 1 {
		return append([]float64(nil), x...), nil
	}
	h, halfLen, err := resampleTaps(up, down)
	if err != nil {
		return nil, fmt.Errorf("resample_poly: %w", err)
	}
	n := int64(len(x))
	nOut := (n*int64(up) + int64(down) - 1) / int64(down)
	y := make([]float64, nOut)
	get := func(j int64) float64 {
		if j < 0 || j >= n {
			return 0
		}
		return x[j]
	}
	for i := range y {
		y[i] = polyphaseAt(h, up, down, halfLen, int64(i), get)
	}
	return y, nil
}

// Resampler is ResamplePoly on a stream of interleaved frames. It emits output sample i as soon as
// the input it needs has arrived, which delays it by halfLen/up input samples (10*max(up,down)/up;
// e.g. 160 -> 250 Hz: 250 taps, 8 input samples = 50 ms). Its outputs equal ResamplePoly's on the
// whole stream except the last few, which ResamplePoly computes against zero padding after the end.
type Resampler struct {
	up, down, halfLen int
	h                 []float64
	nChannels         int
	hist              []float64 // channel c's mirrored ring of m inputs: hist[c*2m : (c+1)*2m]
	m                 int
	nIn               int64 // input frames consumed
	nOut              int64 // output frames produced
}

// NewResampler returns a streaming resampler by up/down for nChannels interleaved channels.
func NewResampler(up, down, nChannels int) (*Resampler, error) {
	up, down, err := checkRates(up, down)
	if err != nil {
		return nil, fmt.Errorf("new resampler: %w", err)
	}
	if nChannels < 1 {
		return nil, fmt.Errorf("new resampler: %d channels: need at least 1", nChannels)
	}
	r := &Resampler{up: up, down: down, nChannels: nChannels}
	if up == 1 && down == 1 {
		r.h = []float64{1}
	} else if r.h, r.halfLen, err = resampleTaps(up, down); err != nil {
		return nil, fmt.Errorf("new resampler: %w", err)
	}
	r.m = (len(r.h)+up-1)/up + 1
	r.hist = make([]float64, nChannels*2*r.m)
	return r, nil
}

// MaxOutputFrames bounds how many frames ProcessInterleaved can emit for nInFrames input frames.
func (r *Resampler) MaxOutputFrames(nInFrames int) int {
	return (nInFrames*r.up)/r.down + 2
}

// DelaySamples is the output delay in input samples.
func (r *Resampler) DelaySamples() float64 { return float64(r.halfLen) / float64(r.up) }

// Reset forgets the history; the next input is the start of a new stream.
func (r *Resampler) Reset() {
	clear(r.hist)
	r.nIn, r.nOut = 0, 0
}

// ProcessInterleaved consumes the whole frames of src and writes the output frames now due to dst,
// returning how many it wrote. dst must hold MaxOutputFrames(len(src)/nChannels) frames, else nothing
// is consumed and an error says so.
func (r *Resampler) ProcessInterleaved(dst, src []float64) (int, error) {
	nc := r.nChannels
	nFrames := len(src) / nc
	if need := r.MaxOutputFrames(nFrames) * nc; len(dst) < need {
		return 0, fmt.Errorf("resampler: dst holds %d values, needs %d (MaxOutputFrames(%d) frames of %d channels)", len(dst), need, nFrames, nc)
	}
	written := 0
	m := int64(r.m)
	for f := 0; f < nFrames; f++ {
		pos := int(r.nIn % m)
		for c, v := range src[f*nc : f*nc+nc] {
			ring := r.hist[c*2*r.m : (c+1)*2*r.m]
			ring[pos] = v
			ring[pos+r.m] = v
		}
		r.nIn++
		// Output i needs input up to floor((i*down+halfLen)/up).
		for (r.nOut*int64(r.down)+int64(r.halfLen))/int64(r.up) < r.nIn {
			out := dst[written*nc : written*nc+nc]
			for c := range out {
				ring := r.hist[c*2*r.m : (c+1)*2*r.m]
				out[c] = polyphaseAt(r.h, r.up, r.down, r.halfLen, r.nOut, func(j int64) float64 {
					if j < 0 || j < r.nIn-m {
						return 0
					}
					return ring[j%m]
				})
			}
			r.nOut++
			written++
		}
	}
	return written, nil
}
