package features

import (
	"fmt"
	"math"
	"slices"

	"github.com/neurostream/neurostream/dsp/spectral"
	"github.com/neurostream/neurostream/streams"
)

// psdBank holds one Welch estimator and a PSD per used channel; spectral extractors embed it. Inside
// a Set it takes its spectra from the set's spectrumCache, so extractors asking for the same spectrum
// of the same channel share one computation per window.
type psdBank struct {
	channelSet
	params WelchParams
	welch  *spectral.Welch
	freqs  []float64
	dfHz   float64
	psd    [][]float64 // psd[i] for used channel i (shared with the cache's entry inside a Set)
	cache  *spectrumCache
	shared *sharedSpectrum
}

// useSpectrumCache makes the bank take its spectra from c; a Set calls it before Configure.
func (b *psdBank) useSpectrumCache(c *spectrumCache) { b.cache = c }

func (b *psdBank) configureWelch(kind string, info streams.StreamInfo, windowSamples int) error {
	if err := b.configure(kind, info, windowSamples, 8); err != nil {
		return err
	}
	fs := info.SampleRateHz
	segSec := orDefault(b.params.SegmentSec, 1)
	if !(segSec > 0) {
		return fmt.Errorf("%s: welch segment_sec %v, want > 0", kind, segSec)
	}
	nper := min(int(math.Round(segSec*fs)), windowSamples)
	frac := 0.5
	if b.params.OverlapFrac != nil {
		frac = *b.params.OverlapFrac
	}
	if !(frac >= 0 && frac < 1) {
		return fmt.Errorf("%s: welch overlap_frac %v, want 0 <= overlap_frac < 1", kind, frac)
	}
	wc := spectral.WelchConfig{
		FsHz: fs, NPerSeg: nper, NOverlap: int(math.Floor(frac * float64(nper))),
		Window: b.params.Window, Average: b.params.Average,
	}
	b.dfHz = fs / float64(nper)
	b.psd = make([][]float64, len(b.idx))
	if b.cache != nil {
		sh, err := b.cache.spectrum(wc, b.nStream)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		b.shared, b.welch, b.freqs = sh, sh.welch, sh.welch.Freqs()
		for i, c := range b.idx {
			if sh.psd[c] == nil {
				sh.psd[c] = make([]float64, len(b.freqs))
			}
			b.psd[i] = sh.psd[c]
		}
		return nil
	}
	w, err := spectral.NewWelch(wc)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	b.welch, b.freqs = w, w.Freqs()
	for i := range b.psd {
		b.psd[i] = make([]float64, len(b.freqs))
	}
	return nil
}

func (b *psdBank) computePSDs(window [][]float64) error {
	sh := b.shared
	for i, c := range b.idx {
		if sh != nil {
			if sh.window[c] == b.cache.window {
				continue // already computed for this window by another extractor of the set
			}
			sh.window[c] = b.cache.window
		}
		if err := b.welch.PSD(window[c], b.psd[i]); err != nil {
			if sh != nil {
				sh.window[c] = 0
			}
			return fmt.Errorf("channel %s: %w", b.names[i], err)
		}
	}
	return nil
}

// spectrumCache holds the Welch spectra of the current window for the extractors of one Set: one
// entry per distinct Welch configuration, each with a PSD per stream channel computed at most once
// per window.
type spectrumCache struct {
	window  uint64 // counts the set's windows; 0 means none yet
	entries []*sharedSpectrum
}

type sharedSpectrum struct {
	cfg    spectral.WelchConfig
	welch  *spectral.Welch
	psd    [][]float64 // per stream channel; nil for channels no extractor uses
	window []uint64    // per stream channel, the window its psd was computed for
}

// spectrum returns the entry for cfg, creating it on first use.
func (c *spectrumCache) spectrum(cfg spectral.WelchConfig, nStream int) (*sharedSpectrum, error) {
	for _, e := range c.entries {
		if e.cfg == cfg {
			return e, nil
		}
	}
	w, err := spectral.NewWelch(cfg)
	if err != nil {
		return nil, err
	}
	e := &sharedSpectrum{cfg: cfg, welch: w, psd: make([][]float64, nStream), window: make([]uint64, nStream)}
	c.entries = append(c.entries, e)
	return e, nil
}

// binRange returns the PSD bins [k0, k1) whose frequencies lie in [loHz, hiHz) — or [loHz, hiHz] when
// hiHz reaches the Nyquist frequency, so the top bin is not lost.
func binRange(freqs []float64, loHz, hiHz float64) (k0, k1 int) {
	nyq := freqs[len(freqs)-1]
	k0 = len(freqs)
	for k, f := range freqs {
		if f >= loHz {
			k0 = k
			break
		}
	}
	k1 = k0
	for k1 < len(freqs) && (freqs[k1] < hiHz || (hiHz >= nyq && freqs[k1] <= nyq)) {
		k1++
	}
	return k0, k1
}

// BandPower computes absolute band power (the PSD summed over the band's bins times the bin width,
// i.e. the rectangle-rule integral, in unit²) and relative band power (that divided by the power in
// TotalRangeHz) per channel, from a Welch PSD (Welch 1967). Names: "<band>_abs/<ch>", "<band>_rel/<ch>".
type BandPower struct {
	psdBank
	bands    []Band
	total    [2]float64
	binLo    []int
	binHi    []int
	totLo    int
	totHi    int
	nOut     int
	cfgBands []Band
}

// NewBandPower returns a band-power extractor; see ExtractorConfig for its fields.
func NewBandPower(c ExtractorConfig) *BandPower {
	return &BandPower{psdBank: psdBank{channelSet: channelSet{want: c.Channels}, params: c.Welch}, cfgBands: c.Bands, total: c.TotalRangeHz}
}

// Configure implements Extractor.
func (e *BandPower) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := e.configureWelch("bandpower", info, windowSamples); err != nil {
		return nil, err
	}
	bands := e.cfgBands
	if len(bands) == 0 {
		bands = DefaultBands()
	}
	nyq := e.freqs[len(e.freqs)-1]
	e.bands = e.bands[:0]
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range bands {
		if err := validRange("bandpower", "band "+b.Name, [2]float64{b.LoHz, b.HiHz}); err != nil {
			return nil, err
		}
		if b.LoHz >= nyq {
			return nil, fmt.Errorf("bandpower: band %s starts at %v Hz, at or above the Nyquist frequency %v Hz; drop it or lower it", b.Name, b.LoHz, nyq)
		}
		b.HiHz = math.Min(b.HiHz, nyq)
		e.bands = append(e.bands, b)
		lo, hi = math.Min(lo, b.LoHz), math.Max(hi, b.HiHz)
	}
	total := rangeOrDefault(e.total, [2]float64{lo, hi})
	if err := validRange("bandpower", "total_range_hz", total); err != nil {
		return nil, err
	}
	e.binLo, e.binHi = make([]int, len(e.bands)), make([]int, len(e.bands))
	for i, b := range e.bands {
		e.binLo[i], e.binHi[i] = binRange(e.freqs, b.LoHz, b.HiHz)
		if e.binHi[i] == e.binLo[i] {
			return nil, fmt.Errorf("bandpower: band %s (%v-%v Hz) holds no frequency bin at %v Hz resolution; widen it or lengthen welch segment_sec", b.Name, b.LoHz, b.HiHz, e.dfHz)
		}
	}
	e.totLo, e.totHi = binRange(e.freqs, total[0], total[1])
	var feats []string
	for _, b := range e.bands {
		feats = append(feats, b.Name+"_abs")
	}
	for _, b := range e.bands {
		feats = append(feats, b.Name+"_rel")
	}
	names := perChannelNames(feats, e.names)
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *BandPower) Extract(window [][]float64, dst []float64) error {
	if err := e.check("bandpower", window, dst, e.nOut); err != nil {
		return err
	}
	if err := e.computePSDs(window); err != nil {
		return fmt.Errorf("bandpower: %w", err)
	}
	nb, nc := len(e.bands), len(e.idx)
	for i, psd := range e.psd {
		var tot float64
		for _, p := range psd[e.totLo:e.totHi] {
			tot += p
		}
		tot *= e.dfHz
		for b := range e.bands {
			var s float64
			for _, p := range psd[e.binLo[b]:e.binHi[b]] {
				s += p
			}
			s *= e.dfHz
			dst[b*nc+i] = s
			dst[(nb+b)*nc+i] = s / tot
		}
	}
	return nil
}

// SpectralEdge computes the spectral edge frequency: the lowest frequency below which EdgeFraction
// (default 0.95) of the power in RangeHz (default 1–40 Hz) lies, from a Welch PSD, at the PSD's bin
// resolution (Rampil 1998, Anesthesiology 89:980). Names: "sef<percent>/<ch>", e.g. "sef95/O1".
type SpectralEdge struct {
	psdBank
	rng      [2]float64
	fraction float64
	k0, k1   int
	nOut     int
}

// NewSpectralEdge returns a spectral-edge extractor.
func NewSpectralEdge(c ExtractorConfig) *SpectralEdge {
	return &SpectralEdge{psdBank: psdBank{channelSet: channelSet{want: c.Channels}, params: c.Welch},
		rng: rangeOrDefault(c.RangeHz, [2]float64{1, 40}), fraction: orDefault(c.EdgeFraction, 0.95)}
}

// Configure implements Extractor.
func (e *SpectralEdge) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := validRange("spectral_edge", "range_hz", e.rng); err != nil {
		return nil, err
	}
	if !(e.fraction > 0 && e.fraction <= 1) {
		return nil, fmt.Errorf("spectral_edge: edge_fraction %v, want 0 < edge_fraction <= 1", e.fraction)
	}
	if err := e.configureWelch("spectral_edge", info, windowSamples); err != nil {
		return nil, err
	}
	e.k0, e.k1 = binRange(e.freqs, e.rng[0], e.rng[1])
	if e.k1 == e.k0 {
		return nil, fmt.Errorf("spectral_edge: range %v Hz holds no frequency bin", e.rng)
	}
	names := perChannelNames([]string{fmt.Sprintf("sef%g", e.fraction*100)}, e.names)
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *SpectralEdge) Extract(window [][]float64, dst []float64) error {
	if err := e.check("spectral_edge", window, dst, e.nOut); err != nil {
		return err
	}
	if err := e.computePSDs(window); err != nil {
		return fmt.Errorf("spectral_edge: %w", err)
	}
	for i, psd := range e.psd {
		var tot float64
		for _, p := range psd[e.k0:e.k1] {
			tot += p
		}
		target := e.fraction * tot
		var cum float64
		dst[i] = e.freqs[e.k1-1]
		for k := e.k0; k < e.k1; k++ {
			cum += psd[k]
			if cum >= target {
				dst[i] = e.freqs[k]
				break
			}
		}
	}
	return nil
}

// PeakAlpha computes the peak alpha frequency: the frequency of the largest Welch PSD value in RangeHz
// (default 7–14 Hz), refined by fitting a parabola through that bin and its two neighbours
// (Klimesch 1999, Brain Res Rev 29:169; parabolic interpolation as in Smith's spectral audio
// processing). A maximum at the range's edge is reported at that bin. Names: "paf/<ch>".
type PeakAlpha struct {
	psdBank
	rng    [2]float64
	k0, k1 int
	nOut   int
}

// NewPeakAlpha returns a peak-alpha-frequency extractor.
func NewPeakAlpha(c ExtractorConfig) *PeakAlpha {
	return &PeakAlpha{psdBank: psdBank{channelSet: channelSet{want: c.Channels}, params: c.Welch},
		rng: rangeOrDefault(c.RangeHz, [2]float64{7, 14})}
}

// Configure implements Extractor.
func (e *PeakAlpha) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := validRange("peak_alpha", "range_hz", e.rng); err != nil {
		return nil, err
	}
	if err := e.configureWelch("peak_alpha", info, windowSamples); err != nil {
		return nil, err
	}
	e.k0, e.k1 = binRange(e.freqs, e.rng[0], e.rng[1])
	if e.k1 == e.k0 {
		return nil, fmt.Errorf("peak_alpha: range %v Hz holds no frequency bin", e.rng)
	}
	names := perChannelNames([]string{"paf"}, e.names)
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *PeakAlpha) Extract(window [][]float64, dst []float64) error {
	if err := e.check("peak_alpha", window, dst, e.nOut); err != nil {
		return err
	}
	if err := e.computePSDs(window); err != nil {
		return fmt.Errorf("peak_alpha: %w", err)
	}
	for i, psd := range e.psd {
		best := e.k0
		for k := e.k0 + 1; k < e.k1; k++ {
			if psd[k] > psd[best] {
				best = k
			}
		}
		f := e.freqs[best]
		if best > e.k0 && best < e.k1-1 {
			a, b, c := psd[best-1], psd[best], psd[best+1]
			if den := a - 2*b + c; den != 0 {
				f += 0.5 * (a - c) / den * e.dfHz
			}
		}
		dst[i] = f
	}
	return nil
}

// Aperiodic fits the aperiodic (1/f) component of the Welch PSD in RangeHz (default 2–40 Hz, both
// ends included) as in FOOOF/specparam's "fixed" mode without a knee (Donoghue et al. 2020, Nat
// Neurosci 23:1655): log10 P(f) = offset − exponent·log10 f. It is specparam's robust aperiodic fit:
// an ordinary least-squares line, then a refit on the bins whose residual, clipped at 0, is at or below
// its 0.025th percentile (specparam's ap_percentile_thresh, passed to numpy.percentile), which drops
// the bins that oscillatory peaks lift. Least squares is solved exactly here, where specparam iterates
// curve_fit. Specparam's later refit after modelling the peaks as Gaussians is not done. A channel with
// a non-positive PSD bin gives NaN. Names: "ap_offset/<ch>", "ap_exponent/<ch>".
type Aperiodic struct {
	psdBank
	rng    [2]float64
	k0, k1 int
	logF   []float64
	logP   []float64
	flat   []float64
	sorted []float64
	mask   []bool
	nOut   int
}

// NewAperiodic returns an aperiodic-fit extractor.
func NewAperiodic(c ExtractorConfig) *Aperiodic {
	return &Aperiodic{psdBank: psdBank{channelSet: channelSet{want: c.Channels}, params: c.Welch},
		rng: rangeOrDefault(c.RangeHz, [2]float64{2, 40})}
}

// Configure implements Extractor.
func (e *Aperiodic) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := validRange("aperiodic", "range_hz", e.rng); err != nil {
		return nil, err
	}
	if e.rng[0] <= 0 {
		return nil, fmt.Errorf("aperiodic: range_hz starts at %v Hz; log10 f needs f > 0", e.rng[0])
	}
	if err := e.configureWelch("aperiodic", info, windowSamples); err != nil {
		return nil, err
	}
	// Inclusive of the upper edge, as specparam trims its frequency range.
	e.k0, e.k1 = binRange(e.freqs, e.rng[0], math.Nextafter(e.rng[1], math.Inf(1)))
	n := e.k1 - e.k0
	if n < 3 {
		return nil, fmt.Errorf("aperiodic: range %v Hz holds %d frequency bins, want at least 3", e.rng, n)
	}
	e.logF = make([]float64, n)
	for i := range e.logF {
		e.logF[i] = math.Log10(e.freqs[e.k0+i])
	}
	e.logP, e.flat, e.sorted, e.mask = make([]float64, n), make([]float64, n), make([]float64, n), make([]bool, n)
	names := perChannelNames([]string{"ap_offset", "ap_exponent"}, e.names)
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *Aperiodic) Extract(window [][]float64, dst []float64) error {
	if err := e.check("aperiodic", window, dst, e.nOut); err != nil {
		return err
	}
	if err := e.computePSDs(window); err != nil {
		return fmt.Errorf("aperiodic: %w", err)
	}
	nc := len(e.idx)
	for i, psd := range e.psd {
		ok := true
		for j := range e.logP {
			p := psd[e.k0+j]
			if !(p > 0) {
				ok = false
				break
			}
			e.logP[j] = math.Log10(p)
		}
		if !ok {
			dst[i], dst[nc+i] = math.NaN(), math.NaN()
			continue
		}
		for j := range e.mask {
			e.mask[j] = true
		}
		off, slope := lineFit(e.logF, e.logP, e.mask)
		for j := range e.flat {
			r := e.logP[j] - (off + slope*e.logF[j])
			e.flat[j] = math.Max(r, 0)
		}
		copy(e.sorted, e.flat)
		thresh := percentileSorted(e.sorted, 0.025)
		for j, v := range e.flat {
			e.mask[j] = v <= thresh
		}
		off, slope = lineFit(e.logF, e.logP, e.mask)
		dst[i], dst[nc+i] = off, -slope
	}
	return nil
}

// lineFit returns the least-squares intercept and slope of y against x over the masked points.
func lineFit(x, y []float64, mask []bool) (intercept, slope float64) {
	var n, sx, sy float64
	for i, m := range mask {
		if m {
			n++
			sx += x[i]
			sy += y[i]
		}
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i, m := range mask {
		if m {
			dx := x[i] - mx
			sxx += dx * dx
			sxy += dx * (y[i] - my)
		}
	}
	if sxx == 0 {
		return my, 0
	}
	slope = sxy / sxx
	return my - slope*mx, slope
}

// percentileSorted sorts xs in place and returns numpy.percentile(xs, q) (q in percent, linear
// interpolation).
func percentileSorted(xs []float64, q float64) float64 {
	slices.Sort(xs)
	pos := q / 100 * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	if lo >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	frac := pos - float64(lo)
	return xs[lo] + frac*(xs[lo+1]-xs[lo])
}
