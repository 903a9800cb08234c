package features

import (
	"fmt"
	"math"
	"math/bits"

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
	scratch []float64 // the window, reordered by the median selection
	bits    []uint64  // the binarised window, 64 samples per word, plus one zero word
	nOut    int
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
	e.scratch, e.bits = make([]float64, windowSamples), make([]uint64, windowSamples/64+2)
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
		med := median(e.scratch, window[c])
		clear(e.bits)
		for t, v := range window[c] {
			if v > med {
				e.bits[t>>6] |= 1 << (t & 63)
			}
		}
		dst[i] = float64(lempelZiv76(e.bits, n)) * math.Log2(float64(n)) / float64(n)
	}
	return nil
}

// median returns numpy.median of x (the mean of the two middle values for even len), selecting the
// middle order statistics in linear expected time instead of sorting; scratch (len(x)) is reordered.
// The result is the same value a sort would give.
func median(scratch, x []float64) float64 {
	copy(scratch, x)
	n := len(x)
	hi := selectKth(scratch, n/2)
	if n%2 == 1 {
		return hi
	}
	// After selecting index n/2, everything before it is <= it: the lower middle is their maximum.
	lo := scratch[0]
	for _, v := range scratch[1 : n/2] {
		lo = math.Max(lo, v)
	}
	return (lo + hi) / 2
}

// selectKth reorders xs so that xs[k] is the value a sort would put there, everything before it
// is <= it and everything after it >= it, and returns it (quickselect with a median-of-three pivot
// and a three-way partition, so runs of equal values cost no more than distinct ones).
func selectKth(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		a, b, c := xs[lo], xs[lo+(hi-lo)/2], xs[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		// Three-way partition: [lo, lt) < pivot, [lt, i) == pivot, (gt, hi] > pivot.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch v := xs[i]; {
			case v < pivot:
				xs[lt], xs[i] = v, xs[lt]
				lt++
				i++
			case v > pivot:
				xs[gt], xs[i] = v, xs[gt]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// lempelZiv76 counts the phrases of the LZ76 parsing of the n bits in s (bit t of the sequence is
// bit t%64 of s[t/64]; s has a zero word past the end), following Kaspar & Schuster (1987): a new
// phrase starting at l is as long as the longest match of s[l:] starting at any i < l, plus one.
// The match lengths are found 64 bits at a time (XOR, count trailing zeros), which makes the
// quadratic worst case of the bit-by-bit original about 64 times cheaper; the counts are the same.
func lempelZiv76(s []uint64, n int) int {
	c, l := 1, 1
	for l < n {
		kMax := 1
		limit := n - l       // bits that can still be matched
		head := bits64(s, l) // the first 64 bits of the new phrase, compared with every start i
		for i := 0; i < l; i++ {
			var m int
			if x := bits64(s, i) ^ head; x != 0 {
				m = min(bits.TrailingZeros64(x), limit) // most matches end within one word
			} else {
				m = matchLen(s, i, l, limit)
			}
			if m == limit {
				return c + 1 // the last phrase reaches the end
			}
			kMax = max(kMax, m+1)
		}
		c++
		l += kMax
	}
	return c
}

// matchLen returns how many bits of s starting at a and at b agree, up to limit.
func matchLen(s []uint64, a, b, limit int) int {
	m := 0
	for m < limit {
		x := bits64(s, a+m) ^ bits64(s, b+m)
		if x != 0 {
			return min(m+bits.TrailingZeros64(x), limit)
		}
		m += 64
	}
	return limit
}

// bits64 returns the 64 bits of s starting at bit p (bits past the sequence read as the zero word).
func bits64(s []uint64, p int) uint64 {
	w, off := p>>6, uint(p&63)
	if off == 0 {
		return s[w]
	}
	return s[w]>>off | s[w+1]<<(64-off)
}
