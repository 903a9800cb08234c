package features

import (
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/neurostream/neurostream/streams"
)

// PAC computes phase–amplitude coupling per channel as Tort's modulation index (Tort et al. 2010,
// J Neurophysiol 104:1195): the phase of the PhaseBandHz component (default 4–8 Hz) is split into
// PhaseBins equal bins (default 18) over [−π, π); the mean amplitude of the AmplitudeBandHz component
// (default 30–45 Hz) in each bin, normalised to sum 1, forms a distribution P, and
// MI = (ln N − H(P)) / ln N with H the Shannon entropy (natural log). 0 means no coupling.
//
// Both band components are analytic signals taken by FFT over the window: the window's spectrum is kept
// only at bins with lo <= f <= hi (positive frequencies, doubled) and inverted — an ideal band-pass
// plus Hilbert transform in one step, treating the window as periodic. The amplitude band should be
// wider than twice the top of the phase band for the amplitude to carry the phase modulation
// (Aru et al. 2015). Names: "pac_mi/<ch>".
type PAC struct {
	channelSet
	phaseBand, ampBand [2]float64
	nBins              int
	rfft               *fourier.FFT
	cfft               *fourier.CmplxFFT
	spec               []complex128
	full               []complex128
	phase              []float64
	amp                []float64
	binSum             []float64
	binCount           []float64
	pLo, pHi, aLo, aHi int
	nOut               int
}

// NewPAC returns a phase–amplitude-coupling extractor.
func NewPAC(c ExtractorConfig) *PAC {
	nb := c.PhaseBins
	if nb == 0 {
		nb = 18
	}
	return &PAC{channelSet: channelSet{want: c.Channels},
		phaseBand: rangeOrDefault(c.PhaseBandHz, [2]float64{4, 8}),
		ampBand:   rangeOrDefault(c.AmplitudeBandHz, [2]float64{30, 45}), nBins: nb}
}

// Configure implements Extractor.
func (e *PAC) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := validRange("pac", "phase_band_hz", e.phaseBand); err != nil {
		return nil, err
	}
	if err := validRange("pac", "amplitude_band_hz", e.ampBand); err != nil {
		return nil, err
	}
	if e.nBins < 2 {
		return nil, fmt.Errorf("pac: phase_bins %d, want at least 2", e.nBins)
	}
	if err := e.configure("pac", info, windowSamples, 8); err != nil {
		return nil, err
	}
	n := windowSamples
	df := info.SampleRateHz / float64(n)
	band := func(r [2]float64, what string) (int, int, error) {
		lo := max(1, int(math.Ceil(r[0]/df)))
		hi := min((n-1)/2, int(math.Floor(r[1]/df))) // strictly below Nyquist
		if hi < lo {
			return 0, 0, fmt.Errorf("pac: %s %v Hz holds no frequency bin of a %d-sample window at %v Hz (resolution %v Hz)", what, r, n, info.SampleRateHz, df)
		}
		return lo, hi, nil
	}
	var err error
	if e.pLo, e.pHi, err = band(e.phaseBand, "phase_band_hz"); err != nil {
		return nil, err
	}
	if e.aLo, e.aHi, err = band(e.ampBand, "amplitude_band_hz"); err != nil {
		return nil, err
	}
	e.rfft, e.cfft = fourier.NewFFT(n), fourier.NewCmplxFFT(n)
	e.spec, e.full = make([]complex128, n/2+1), make([]complex128, n)
	e.phase, e.amp = make([]float64, n), make([]float64, n)
	e.binSum, e.binCount = make([]float64, e.nBins), make([]float64, e.nBins)
	names := perChannelNames([]string{"pac_mi"}, e.names)
	e.nOut = len(names)
	return names, nil
}

// analytic writes the band-limited analytic signal of the spectrum in e.spec (bins lo..hi) to e.full.
func (e *PAC) analytic(lo, hi int) {
	clear(e.full)
	for k := lo; k <= hi; k++ {
		e.full[k] = 2 * e.spec[k]
	}
	e.cfft.Sequence(e.full, e.full)
}

// Extract implements Extractor.
func (e *PAC) Extract(window [][]float64, dst []float64) error {
	if err := e.check("pac", window, dst, e.nOut); err != nil {
		return err
	}
	nb := float64(e.nBins)
	for i, c := range e.idx {
		e.rfft.Coefficients(e.spec, window[c])
		e.analytic(e.pLo, e.pHi)
		for t, z := range e.full {
			e.phase[t] = cmplx.Phase(z)
		}
		e.analytic(e.aLo, e.aHi)
		for t, z := range e.full {
			e.amp[t] = cmplx.Abs(z) // the 1/n normalisation cancels in P
		}
		clear(e.binSum)
		clear(e.binCount)
		for t, ph := range e.phase {
			b := int(math.Floor((ph + math.Pi) / (2 * math.Pi) * nb))
			b = min(max(b, 0), e.nBins-1)
			e.binSum[b] += e.amp[t]
			e.binCount[b]++
		}
		var total float64
		for b := range e.binSum {
			if e.binCount[b] > 0 {
				e.binSum[b] /= e.binCount[b]
			}
			total += e.binSum[b]
		}
		var h float64
		for _, m := range e.binSum {
			if m > 0 {
				p := m / total
				h -= p * math.Log(p)
			}
		}
		dst[i] = (math.Log(nb) - h) / math.Log(nb)
	}
	return nil
}
