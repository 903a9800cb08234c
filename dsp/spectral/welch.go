package spectral

import (
	"fmt"
	"math"
	"slices"

	"github.com/neurostream/neurostream/dsp"
)

// WelchConfig configures Welch's averaged-periodogram estimate, with scipy.signal.welch's parameters.
type WelchConfig struct {
	FsHz     float64 `yaml:"fs_hz"`
	NPerSeg  int     `yaml:"nperseg"`  // segment length in samples
	NOverlap int     `yaml:"noverlap"` // overlap in samples; < 0 means NPerSeg/2 (scipy's default), 0 is no overlap
	NFFT     int     `yaml:"nfft"`     // FFT length >= NPerSeg (zero-padding); 0 means NPerSeg
	Window   string  `yaml:"window"`   // "hann" (periodic; the default when ""), "hamming", "blackman", "boxcar", ... (see GetWindow)
	Detrend  string  `yaml:"detrend"`  // "constant" (default when ""), "linear", "none"
	Scaling  string  `yaml:"scaling"`  // "density" (default when "", unit²/Hz) or "spectrum" (unit²)
	Average  string  `yaml:"average"`  // "mean" (default when "") or "median" (bias-corrected as scipy does)
}

// Welch computes one-sided Welch spectra (scipy.signal.welch / csd / coherence with
// return_onesided=True) into caller-owned slices. Build it once per configuration; PSD, CSD and
// Coherence then allocate nothing (median averaging allocates only when a longer input than any before
// needs more segments). A Welch is not safe for concurrent use: give each goroutine its own.
type Welch struct {
	cfg      WelchConfig
	nfft     int
	step     int
	win      []float64
	scale    float64
	freqs    []float64
	fft      *realFFT
	seg      []float64 // windowed, detrended, zero-padded segment (linear detrend and no-detrend paths)
	coefX    []complex128
	coefY    []complex128
	accRe    []float64 // running sum per frequency (mean) ...
	accIm    []float64
	perSegRe []float64 // ... or every segment's value, segment-major, for the median
	perSegIm []float64
	column   []float64
	pxx      []float64 // auto-spectra for Coherence
	pyy      []float64
	pxy      []complex128
}

// NewWelch checks cfg and precomputes the window, scale and FFT plan.
func NewWelch(cfg WelchConfig) (*Welch, error) {
	if !(cfg.FsHz > 0) || math.IsInf(cfg.FsHz, 0) {
		return nil, fmt.Errorf("welch: sampling rate %v Hz is not a positive finite number", cfg.FsHz)
	}
	if cfg.NPerSeg < 1 {
		return nil, fmt.Errorf("welch: nperseg %d, want at least 1 sample (e.g. 2 s x fs)", cfg.NPerSeg)
	}
	if cfg.NOverlap < 0 {
		cfg.NOverlap = cfg.NPerSeg / 2
	}
	if cfg.NOverlap >= cfg.NPerSeg {
		return nil, fmt.Errorf("welch: noverlap %d must be less than nperseg %d", cfg.NOverlap, cfg.NPerSeg)
	}
	if cfg.NFFT == 0 {
		cfg.NFFT = cfg.NPerSeg
	}
	if cfg.NFFT < cfg.NPerSeg {
		return nil, fmt.Errorf("welch: nfft %d must be at least nperseg %d", cfg.NFFT, cfg.NPerSeg)
	}
	if cfg.Window == "" {
		cfg.Window = "hann"
	}
	switch cfg.Detrend {
	case "":
		cfg.Detrend = "constant"
	case "constant", "linear", "none":
	default:
		return nil, fmt.Errorf("welch: detrend %q, want constant, linear or none", cfg.Detrend)
	}
	switch cfg.Scaling {
	case "":
		cfg.Scaling = "density"
	case "density", "spectrum":
	default:
		return nil, fmt.Errorf("welch: scaling %q, want density or spectrum", cfg.Scaling)
	}
	switch cfg.Average {
	case "":
		cfg.Average = "mean"
	case "mean", "median":
	default:
		return nil, fmt.Errorf("welch: average %q, want mean or median", cfg.Average)
	}
	win, err := GetWindow(cfg.Window, cfg.NPerSeg)
	if err != nil {
		return nil, fmt.Errorf("welch: %w", err)
	}
	var scale float64
	if cfg.Scaling == "density" {
		var s2 float64
		for _, v := range win {
			s2 += v * v
		}
		scale = 1 / (cfg.FsHz * s2)
	} else {
		var s float64
		for _, v := range win {
			s += v
		}
		scale = 1 / (s * s)
	}
	nf := cfg.NFFT/2 + 1
	fft, err := newRealFFT(cfg.NFFT)
	if err != nil {
		return nil, fmt.Errorf("welch: %w", err)
	}
	w := &Welch{
		cfg: cfg, nfft: cfg.NFFT, step: cfg.NPerSeg - cfg.NOverlap, win: win, scale: scale,
		freqs: make([]float64, nf), fft: fft, seg: make([]float64, cfg.NFFT),
		coefX: make([]complex128, nf), coefY: make([]complex128, nf),
		accRe: make([]float64, nf), accIm: make([]float64, nf),
		pxx: make([]float64, nf), pyy: make([]float64, nf), pxy: make([]complex128, nf),
	}
	// numpy.fft.rfftfreq(nfft, 1/fs) computes k * (1/(nfft*(1/fs))); the same expression keeps the
	// frequencies bit-identical to scipy's.
	df := 1 / (float64(cfg.NFFT) * (1 / cfg.FsHz))
	for k := range w.freqs {
		w.freqs[k] = float64(k) * df
	}
	return w, nil
}

// Config returns the configuration with defaults filled in.
func (w *Welch) Config() WelchConfig { return w.cfg }

// Freqs returns the frequencies in Hz of the PSD bins (0 .. fs/2). The slice is shared: do not modify it.
func (w *Welch) Freqs() []float64 { return w.freqs }

// NumSegments returns how many segments an input of nSamples samples is split into.
func (w *Welch) NumSegments(nSamples int) int {
	if nSamples < w.cfg.NPerSeg {
		return 0
	}
	return (nSamples - w.cfg.NOverlap) / w.step
}

// PSD writes the Welch power spectral density of x into psd (len(psd) == len(Freqs())). x must hold at
// least NPerSeg samples; trailing samples that do not fill a whole segment are ignored, as in scipy.
func (w *Welch) PSD(x []float64, psd []float64) error {
	return w.spectrum(x, nil, psd, nil)
}

// CSD writes the one-sided cross-spectral density of x and y (scipy.signal.csd: conj(X)·Y, averaged)
// into csd. x and y must have the same length, at least NPerSeg.
func (w *Welch) CSD(x, y []float64, csd []complex128) error {
	if y == nil {
		return fmt.Errorf("csd: y is nil; pass the second signal (or use PSD)")
	}
	return w.spectrum(x, y, nil, csd)
}

// Coherence writes the magnitude-squared coherence |Pxy|²/(Pxx·Pyy) of x and y into coh, computed as
// scipy.signal.coherence does (Welch auto-spectra and CSD with this configuration).
func (w *Welch) Coherence(x, y []float64, coh []float64) error {
	if len(coh) != len(w.freqs) {
		return fmt.Errorf("coherence: output has %d bins, want %d (len(Freqs()))", len(coh), len(w.freqs))
	}
	if err := w.spectrum(x, nil, w.pxx, nil); err != nil {
		return fmt.Errorf("coherence: %w", err)
	}
	if err := w.spectrum(y, nil, w.pyy, nil); err != nil {
		return fmt.Errorf("coherence: %w", err)
	}
	if err := w.CSD(x, y, w.pxy); err != nil {
		return fmt.Errorf("coherence: %w", err)
	}
	for k, p := range w.pxy {
		m := real(p)*real(p) + imag(p)*imag(p)
		coh[k] = m / w.pxx[k] / w.pyy[k]
	}
	return nil
}

// spectrum is the shared Welch loop: auto-spectrum of x into psd when y is nil, else cross-spectrum
// into csd.
func (w *Welch) spectrum(x, y []float64, psd []float64, csd []complex128) error {
	nper := w.cfg.NPerSeg
	if len(x) < nper {
		return fmt.Errorf("welch: input has %d samples, want at least nperseg = %d", len(x), nper)
	}
	cross := y != nil
	if cross {
		if len(y) != len(x) {
			return fmt.Errorf("csd: x has %d samples but y has %d; pass equal-length signals", len(x), len(y))
		}
		if len(csd) != len(w.freqs) {
			return fmt.Errorf("csd: output has %d bins, want %d (len(Freqs()))", len(csd), len(w.freqs))
		}
	} else if len(psd) != len(w.freqs) {
		return fmt.Errorf("welch: output has %d bins, want %d (len(Freqs()))", len(psd), len(w.freqs))
	}
	nseg := (len(x) - w.cfg.NOverlap) / w.step
	nf := len(w.freqs)
	median := w.cfg.Average == "median"
	if median && len(w.perSegRe) < nseg*nf {
		w.perSegRe = make([]float64, nseg*nf)
		w.perSegIm = make([]float64, nseg*nf)
		w.column = make([]float64, nseg)
	}
	clear(w.accRe)
	clear(w.accIm)
	// One-sided spectra double every bin but DC and (for even nfft) Nyquist, as scipy does.
	last := nf
	if w.nfft%2 == 0 {
		last = nf - 1
	}
	for s := 0; s < nseg; s++ {
		off := s * w.step
		w.prepare(x[off : off+nper])
		w.fft.transform(w.coefX)
		if cross {
			w.prepare(y[off : off+nper])
			w.fft.transform(w.coefY)
		}
		if !cross && !median {
			// The common case, without per-bin branches. Doubling is exact, so scaling by 2·scale
			// rounds exactly as scaling and then doubling does.
			acc, coef := w.accRe[:nf], w.coefX[:nf]
			z := coef[0]
			acc[0] += (real(z)*real(z) + imag(z)*imag(z)) * w.scale
			sc2 := 2 * w.scale
			for k := 1; k < last; k++ {
				z := coef[k]
				acc[k] += (real(z)*real(z) + imag(z)*imag(z)) * sc2
			}
			if last < nf {
				z := coef[last]
				acc[last] += (real(z)*real(z) + imag(z)*imag(z)) * w.scale
			}
			continue
		}
		for k := 0; k < nf; k++ {
			var re, im float64
			if cross {
				// conj(X)·Y
				a, b := real(w.coefX[k]), imag(w.coefX[k])
				c, d := real(w.coefY[k]), imag(w.coefY[k])
				re, im = a*c+b*d, a*d-b*c
			} else {
				a, b := real(w.coefX[k]), imag(w.coefX[k])
				re = a*a + b*b
			}
			re *= w.scale
			im *= w.scale
			if k > 0 && k < last {
				re *= 2
				im *= 2
			}
			if median {
				w.perSegRe[s*nf+k] = re
				w.perSegIm[s*nf+k] = im
			} else {
				w.accRe[k] += re
				w.accIm[k] += im
			}
		}
	}
	if median {
		bias := medianBias(nseg)
		col := w.column[:nseg]
		for k := 0; k < nf; k++ {
			for s := range col {
				col[s] = w.perSegRe[s*nf+k]
			}
			re := medianOf(col) / bias
			var im float64
			if cross {
				for s := range col {
					col[s] = w.perSegIm[s*nf+k]
				}
				im = medianOf(col) / bias
			}
			w.accRe[k], w.accIm[k] = re, im
		}
	} else {
		n := float64(nseg)
		for k := 0; k < nf; k++ {
			w.accRe[k] /= n
			w.accIm[k] /= n
		}
	}
	if cross {
		for k := range csd {
			csd[k] = complex(w.accRe[k], w.accIm[k])
		}
	} else {
		copy(psd, w.accRe)
	}
	return nil
}

// prepare detrends one segment, applies the window and zero-pads it into the FFT's packed input.
// Constant detrending (the default) is fused into the packing; the other modes go through w.seg.
func (w *Welch) prepare(seg []float64) {
	n := len(seg)
	switch w.cfg.Detrend {
	case "constant":
		var sum float64
		for _, v := range seg {
			sum += v
		}
		mean := sum / float64(n)
		in := w.fft.input()
		win := w.win[:n]
		if w.nfft%2 == 1 || n != w.nfft {
			out := w.seg
			for i, v := range seg {
				out[i] = (v - mean) * win[i]
			}
			clear(out[n:])
			w.fft.pack(out)
			return
		}
		// Even length, no padding: pairs of samples straight into the complex input.
		for m := range in {
			i := 2 * m
			in[m] = complex((seg[i]-mean)*win[i], (seg[i+1]-mean)*win[i+1])
		}
		return
	case "linear":
		mean, slope, c := dsp.LinearTrend(seg)
		for i, v := range seg {
			w.seg[i] = (v - mean - slope*(float64(i)-c)) * w.win[i]
		}
	default:
		for i, v := range seg {
			w.seg[i] = v * w.win[i]
		}
	}
	clear(w.seg[n:])
	w.fft.pack(w.seg)
}

// medianBias is scipy's _median_bias: the expected ratio of the median to the mean of n chi-squared(2)
// periodograms, which scipy divides the median by.
func medianBias(n int) float64 {
	b := 1.0
	for i := 1; i <= (n-1)/2; i++ {
		ii2 := float64(2 * i)
		b += 1/(ii2+1) - 1/ii2
	}
	return b
}

// medianOf sorts xs in place and returns numpy's median (mean of the two middle values for even n).
func medianOf(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// WelchPSD is a convenience for one-off use: it builds a Welch from cfg and returns fresh frequency and
// PSD slices. Use NewWelch and PSD in loops.
func WelchPSD(x []float64, cfg WelchConfig) (freqsHz, psd []float64, err error) {
	w, err := NewWelch(cfg)
	if err != nil {
		return nil, nil, err
	}
	psd = make([]float64, len(w.freqs))
	if err := w.PSD(x, psd); err != nil {
		return nil, nil, err
	}
	return slices.Clone(w.freqs), psd, nil
}

// SegmentSpectra writes the unscaled one-sided FFT of every detrended, windowed segment of x into dst,
// segment-major (dst[s*len(Freqs())+k] is bin k of segment s), and returns the number of segments.
// dst must hold at least NumSegments(len(x))·len(Freqs()) values. Connectivity measures that need the
// per-segment phase (phase-locking value, weighted phase-lag index) build on this.
func (w *Welch) SegmentSpectra(x []float64, dst []complex128) (int, error) {
	nper := w.cfg.NPerSeg
	if len(x) < nper {
		return 0, fmt.Errorf("segment spectra: input has %d samples, want at least nperseg = %d", len(x), nper)
	}
	nseg := w.NumSegments(len(x))
	nf := len(w.freqs)
	if len(dst) < nseg*nf {
		return 0, fmt.Errorf("segment spectra: output holds %d values, want %d segments x %d bins = %d", len(dst), nseg, nf, nseg*nf)
	}
	for s := 0; s < nseg; s++ {
		off := s * w.step
		w.prepare(x[off : off+nper])
		w.fft.transform(dst[s*nf : (s+1)*nf])
	}
	return nseg, nil
}
