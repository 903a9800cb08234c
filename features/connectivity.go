package features

import (
	"fmt"
	"math"

	"github.com/neurostream/neurostream/dsp/spectral"
	"github.com/neurostream/neurostream/streams"
)

// Connectivity computes, per channel pair and band, spectral connectivity across the Welch segments of
// one window, the segments playing the role MNE's spectral_connectivity_epochs gives to epochs
// (detrended, Hann-windowed FFTs X_s, Y_s; S_s = X_s·conj(Y_s)), each measure computed per frequency bin
// and then averaged over the band's bins (MNE's faverage):
//
//   - "coh": magnitude-squared coherence |Σ S_s|² / (Σ|X_s|² · Σ|Y_s|²) (equal to scipy.signal.coherence
//     per bin).
//   - "plv": phase-locking value |mean_s S_s/|S_s|| (Lachaux et al. 1999, Hum Brain Mapp 8:194).
//   - "wpli": weighted phase-lag index |mean_s Im S_s| / mean_s |Im S_s| (Vinck et al. 2011,
//     NeuroImage 55:1548); 0 where every Im S_s is 0.
//
// With few segments per window these estimates are biased upwards (PLV of independent signals is about
// 1/√segments): compare them across conditions at equal window and segment length, or use shorter
// segments (welch.segment_sec). Names: "<measure>_<band>/<ch1>/<ch2>" for pairs ch1 < ch2 in
// configured order, measure-major.
type Connectivity struct {
	channelSet
	params   WelchParams
	cfgBands []Band
	measures []string
	bands    []Band
	binLo    []int
	binHi    []int
	welch    *spectral.Welch
	nf       int
	nseg     int
	spec     [][]complex128 // per used channel: nseg x nf segment spectra
	perBin   [3][]float64   // coh, plv, wpli per bin for the current pair
	nOut     int
}

// NewConnectivity returns a connectivity extractor.
func NewConnectivity(c ExtractorConfig) (*Connectivity, error) {
	ms := c.Measures
	if len(ms) == 0 {
		ms = []string{"coh", "plv", "wpli"}
	}
	for _, m := range ms {
		if m != "coh" && m != "plv" && m != "wpli" {
			return nil, fmt.Errorf("connectivity: measure %q, want coh, plv or wpli", m)
		}
	}
	return &Connectivity{channelSet: channelSet{want: c.Channels}, params: c.Welch, cfgBands: c.Bands, measures: ms}, nil
}

// Configure implements Extractor.
func (e *Connectivity) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	bank := psdBank{channelSet: channelSet{want: e.want}, params: e.params}
	if err := bank.configureWelch("connectivity", info, windowSamples); err != nil {
		return nil, err
	}
	e.channelSet = bank.channelSet
	if len(e.idx) < 2 {
		return nil, fmt.Errorf("connectivity: %d channel(s) selected, want at least 2", len(e.idx))
	}
	e.welch, e.nf = bank.welch, len(bank.freqs)
	e.nseg = e.welch.NumSegments(windowSamples)
	bands := e.cfgBands
	if len(bands) == 0 {
		bands = DefaultBands()
	}
	nyq := bank.freqs[e.nf-1]
	e.bands, e.binLo, e.binHi = e.bands[:0], e.binLo[:0], e.binHi[:0]
	for _, b := range bands {
		if err := validRange("connectivity", "band "+b.Name, [2]float64{b.LoHz, b.HiHz}); err != nil {
			return nil, err
		}
		if b.LoHz >= nyq {
			return nil, fmt.Errorf("connectivity: band %s starts at or above the Nyquist frequency %v Hz", b.Name, nyq)
		}
		lo, hi := binRange(bank.freqs, b.LoHz, math.Min(b.HiHz, nyq))
		if hi == lo {
			return nil, fmt.Errorf("connectivity: band %s holds no frequency bin at %v Hz resolution", b.Name, bank.dfHz)
		}
		e.bands, e.binLo, e.binHi = append(e.bands, b), append(e.binLo, lo), append(e.binHi, hi)
	}
	e.spec = make([][]complex128, len(e.idx))
	for i := range e.spec {
		e.spec[i] = make([]complex128, e.nseg*e.nf)
	}
	for m := range e.perBin {
		e.perBin[m] = make([]float64, e.nf)
	}
	var names []string
	for _, m := range e.measures {
		for _, b := range e.bands {
			for i := range e.names {
				for j := i + 1; j < len(e.names); j++ {
					names = append(names, m+"_"+b.Name+"/"+e.names[i]+"/"+e.names[j])
				}
			}
		}
	}
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *Connectivity) Extract(window [][]float64, dst []float64) error {
	if err := e.check("connectivity", window, dst, e.nOut); err != nil {
		return err
	}
	for i, c := range e.idx {
		if _, err := e.welch.SegmentSpectra(window[c], e.spec[i]); err != nil {
			return fmt.Errorf("connectivity: channel %s: %w", e.names[i], err)
		}
	}
	p := len(e.idx)
	nPairs := p * (p - 1) / 2
	nb := len(e.bands)
	pair := 0
	for i := 0; i < p; i++ {
		for j := i + 1; j < p; j++ {
			e.pairPerBin(e.spec[i], e.spec[j])
			for mi, m := range e.measures {
				src := e.perBin[measureIndex(m)]
				for b := range e.bands {
					var s float64
					for _, v := range src[e.binLo[b]:e.binHi[b]] {
						s += v
					}
					dst[(mi*nb+b)*nPairs+pair] = s / float64(e.binHi[b]-e.binLo[b])
				}
			}
			pair++
		}
	}
	return nil
}

func measureIndex(m string) int {
	switch m {
	case "coh":
		return 0
	case "plv":
		return 1
	}
	return 2
}

// pairPerBin fills perBin with coherence, PLV and wPLI of one pair for every frequency bin.
func (e *Connectivity) pairPerBin(x, y []complex128) {
	nf, ns := e.nf, float64(e.nseg)
	for k := 0; k < nf; k++ {
		var sxyRe, sxyIm, sxx, syy, plvRe, plvIm, imSum, imAbs float64
		for s := 0; s < e.nseg; s++ {
			a, b := real(x[s*nf+k]), imag(x[s*nf+k])
			c, d := real(y[s*nf+k]), imag(y[s*nf+k])
			re, im := a*c+b*d, b*c-a*d // X·conj(Y)
			sxyRe += re
			sxyIm += im
			sxx += a*a + b*b
			syy += c*c + d*d
			if m := math.Hypot(re, im); m > 0 {
				plvRe += re / m
				plvIm += im / m
			}
			imSum += im
			imAbs += math.Abs(im)
		}
		coh := 0.0
		if den := sxx * syy; den > 0 {
			coh = (sxyRe*sxyRe + sxyIm*sxyIm) / den
		}
		e.perBin[0][k] = coh
		e.perBin[1][k] = math.Hypot(plvRe, plvIm) / ns
		wpli := 0.0
		if imAbs > 0 {
			wpli = math.Abs(imSum) / imAbs
		}
		e.perBin[2][k] = wpli
	}
}
