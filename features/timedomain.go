package features

import (
	"fmt"
	"math"
	"slices"

	"github.com/neurostream/neurostream/streams"
)

// Variance computes each channel's population variance over the window (divided by n; numpy's var
// with ddof=0), in unit². Names: "var/<ch>".
type Variance struct {
	channelSet
	nOut int
}

// NewVariance returns a variance extractor.
func NewVariance(c ExtractorConfig) *Variance {
	return &Variance{channelSet: channelSet{want: c.Channels}}
}

// Configure implements Extractor.
func (e *Variance) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := e.configure("variance", info, windowSamples, 2); err != nil {
		return nil, err
	}
	names := perChannelNames([]string{"var"}, e.names)
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *Variance) Extract(window [][]float64, dst []float64) error {
	if err := e.check("variance", window, dst, e.nOut); err != nil {
		return err
	}
	for i, c := range e.idx {
		_, dst[i] = meanVar(window[c])
	}
	return nil
}

// Hjorth computes Hjorth's parameters per channel (Hjorth 1970, Electroencephalogr Clin Neurophysiol
// 29:306), with x' the first difference (numpy.diff) and var the population variance:
// activity = var(x), mobility = sqrt(var(x')/var(x)), complexity = mobility(x')/mobility(x).
// Mobility is per sample (multiply by fs for rad/s-like units). A constant channel gives NaN mobility
// and complexity. Names: "hjorth_activity/<ch>", "hjorth_mobility/<ch>", "hjorth_complexity/<ch>".
type Hjorth struct {
	channelSet
	d1, d2 []float64
	nOut   int
}

// NewHjorth returns a Hjorth-parameter extractor.
func NewHjorth(c ExtractorConfig) *Hjorth {
	return &Hjorth{channelSet: channelSet{want: c.Channels}}
}

// Configure implements Extractor.
func (e *Hjorth) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := e.configure("hjorth", info, windowSamples, 4); err != nil {
		return nil, err
	}
	e.d1, e.d2 = make([]float64, windowSamples-1), make([]float64, windowSamples-2)
	names := perChannelNames([]string{"hjorth_activity", "hjorth_mobility", "hjorth_complexity"}, e.names)
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *Hjorth) Extract(window [][]float64, dst []float64) error {
	if err := e.check("hjorth", window, dst, e.nOut); err != nil {
		return err
	}
	nc := len(e.idx)
	for i, c := range e.idx {
		x := window[c]
		for t := range e.d1 {
			e.d1[t] = x[t+1] - x[t]
		}
		for t := range e.d2 {
			e.d2[t] = e.d1[t+1] - e.d1[t]
		}
		_, v0 := meanVar(x)
		_, v1 := meanVar(e.d1)
		_, v2 := meanVar(e.d2)
		mob := math.Sqrt(v1 / v0)
		dst[i] = v0
		dst[nc+i] = mob
		dst[2*nc+i] = math.Sqrt(v2/v1) / mob
	}
	return nil
}

// LineLength computes each channel's line length: the mean absolute first difference
// (1/(n−1))·Σ|x[t+1] − x[t]| over the window (Esteller et al. 2001, Proc IEEE EMBS 2:1707, normalised
// per sample so windows of different lengths compare), in the channel's unit. Names: "line_length/<ch>".
type LineLength struct {
	channelSet
	nOut int
}

// NewLineLength returns a line-length extractor.
func NewLineLength(c ExtractorConfig) *LineLength {
	return &LineLength{channelSet: channelSet{want: c.Channels}}
}

// Configure implements Extractor.
func (e *LineLength) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := e.configure("line_length", info, windowSamples, 2); err != nil {
		return nil, err
	}
	names := perChannelNames([]string{"line_length"}, e.names)
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *LineLength) Extract(window [][]float64, dst []float64) error {
	if err := e.check("line_length", window, dst, e.nOut); err != nil {
		return err
	}
	for i, c := range e.idx {
		x := window[c]
		var s float64
		for t := 1; t < len(x); t++ {
			s += math.Abs(x[t] - x[t-1])
		}
		dst[i] = s / float64(len(x)-1)
	}
	return nil
}

// DFA computes the detrended fluctuation analysis exponent α per channel (Peng et al. 1994, Phys Rev E
// 49:1685): the profile y = cumsum(x − mean x) is cut at each scale s into ⌊n/s⌋ non-overlapping
// windows from the start; each window's least-squares line is removed; F(s) is the root mean square of
// all residuals; α is the least-squares slope of log10 F(s) against log10 s. Scales are NumScales
// (default 10) values log-spaced from MinScaleSamples (default 10) to MaxScaleSamples (default n/4),
// rounded half-to-even and deduplicated (numpy.round, numpy.unique). α ≈ 0.5 for white noise, 1 for
// 1/f noise. Names: "dfa_alpha/<ch>".
type DFA struct {
	channelSet
	minScale, maxScale, nScales int
	scales                      []int
	logS, logF                  []float64
	mask                        []bool
	profile                     []float64
	nOut                        int
}

// NewDFA returns a DFA extractor.
func NewDFA(c ExtractorConfig) *DFA {
	return &DFA{channelSet: channelSet{want: c.Channels}, minScale: c.MinScaleSamples, maxScale: c.MaxScaleSamples, nScales: c.NumScales}
}

// Configure implements Extractor.
func (e *DFA) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := e.configure("dfa", info, windowSamples, 16); err != nil {
		return nil, err
	}
	lo, hi, n := e.minScale, e.maxScale, e.nScales
	if lo == 0 {
		lo = 10
	}
	if hi == 0 {
		hi = windowSamples / 4
	}
	if n == 0 {
		n = 10
	}
	if lo < 4 || hi <= lo || hi > windowSamples || n < 2 {
		return nil, fmt.Errorf("dfa: scales %d..%d samples (%d of them) for a %d-sample window; want 4 <= min < max <= window and at least 2 scales", lo, hi, n, windowSamples)
	}
	e.scales = e.scales[:0]
	a, b := math.Log(float64(lo)), math.Log(float64(hi))
	step := (b - a) / float64(n-1)
	for i := 0; i < n; i++ {
		v := a + float64(i)*step
		if i == n-1 {
			v = b
		}
		s := int(math.RoundToEven(math.Exp(v)))
		if len(e.scales) == 0 || s != e.scales[len(e.scales)-1] {
			e.scales = append(e.scales, s)
		}
	}
	if len(e.scales) < 2 {
		return nil, fmt.Errorf("dfa: scales %d..%d give fewer than 2 distinct integer scales", lo, hi)
	}
	e.logS, e.logF = make([]float64, len(e.scales)), make([]float64, len(e.scales))
	e.mask = make([]bool, len(e.scales))
	for i, s := range e.scales {
		e.logS[i] = math.Log10(float64(s))
		e.mask[i] = true
	}
	e.profile = make([]float64, windowSamples)
	names := perChannelNames([]string{"dfa_alpha"}, e.names)
	e.nOut = len(names)
	return names, nil
}

// Scales returns the window lengths in samples that the fit uses.
func (e *DFA) Scales() []int { return e.scales }

// Extract implements Extractor.
func (e *DFA) Extract(window [][]float64, dst []float64) error {
	if err := e.check("dfa", window, dst, e.nOut); err != nil {
		return err
	}
	for i, c := range e.idx {
		x := window[c]
		mean, _ := meanVar(x)
		var acc float64
		for t, v := range x {
			acc += v - mean
			e.profile[t] = acc
		}
		for si, s := range e.scales {
			nw := len(x) / s
			var rss float64
			tc := float64(s-1) / 2
			var stt float64
			for t := 0; t < s; t++ {
				d := float64(t) - tc
				stt += d * d
			}
			for w := 0; w < nw; w++ {
				seg := e.profile[w*s : (w+1)*s]
				m, v := meanVar(seg)
				var sty float64
				for t, y := range seg {
					sty += (float64(t) - tc) * (y - m)
				}
				rss += v*float64(s) - sty*sty/stt
			}
			e.logF[si] = 0.5 * math.Log10(rss/float64(nw*s))
		}
		_, slope := lineFit(e.logS, e.logF, e.mask)
		dst[i] = slope
	}
	return nil
}

// LZC computes the Lempel–Ziv complexity per channel (Lempel & Ziv 1976, IEEE Trans Inf Theory 22:75)
// of the window binarised at its median (1 where x > median, else 0), counted with the Kaspar–Schuster
// algorithm (Phys Rev A 36:842, 1987) and normalised as c·log2(n)/n, which is about 1 for a random
// binary sequence. Names: "lzc/<ch>".
type LZC struct {
	channelSet
	sorted []float64
	bits   []bool
	nOut   int
}

// NewLZC returns a Lempel–Ziv-complexity extractor.
func NewLZC(c ExtractorConfig) *LZC {
	return &LZC{channelSet: channelSet{want: c.Channels}}
}

// Configure implements Extractor.
func (e *LZC) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := e.configure("lzc", info, windowSamples, 2); err != nil {
		return nil, err
	}
	e.sorted, e.bits = make([]float64, windowSamples), make([]bool, windowSamples)
	names := perChannelNames([]string{"lzc"}, e.names)
	e.nOut = len(names)
	return names, nil
}

// Extract implements Extractor.
func (e *LZC) Extract(window [][]float64, dst []float64) error {
	if err := e.check("lzc", window, dst, e.nOut); err != nil {
		return err
	}
	n := e.nWindow
	for i, c := range e.idx {
		copy(e.sorted, window[c])
		slices.Sort(e.sorted)
		med := e.sorted[n/2]
		if n%2 == 0 {
			med = (e.sorted[n/2-1] + e.sorted[n/2]) / 2 // numpy.median
		}
		for t, v := range window[c] {
			e.bits[t] = v > med
		}
		dst[i] = float64(lempelZiv76(e.bits)) * math.Log2(float64(n)) / float64(n)
	}
	return nil
}

// lempelZiv76 counts the phrases of the LZ76 parsing of s (Kaspar & Schuster 1987).
func lempelZiv76(s []bool) int {
	n := len(s)
	i, k, l, kMax, c := 0, 1, 1, 1, 1
	for {
		if s[i+k-1] == s[l+k-1] {
			k++
			if l+k > n {
				c++
				break
			}
		} else {
			kMax = max(kMax, k)
			i++
			if i == l {
				c++
				l += kMax
				if l+1 > n {
					break
				}
				i, k, kMax = 0, 1, 1
			} else {
				k = 1
			}
		}
	}
	return c
}
