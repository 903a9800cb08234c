package features

import (
	"fmt"
	"math"

	"github.com/neurostream/neurostream/streams"
)

// An Extractor computes named features from one window. Configure is called once per stream; Extract
// per window, 0 allocs.
type Extractor interface {
	// Configure prepares for windows of windowSamples samples of the described stream and returns the
	// names of the values Extract writes, e.g. "alpha_rel/O1".
	Configure(info streams.StreamInfo, windowSamples int) (names []string, err error)
	// Extract computes the features of window (channel-major: window[c] is channel c of the stream,
	// each windowSamples long) into dst, len(dst) == len(names).
	Extract(window [][]float64, dst []float64) error
}

// Band is a named frequency band [LoHz, HiHz).
type Band struct {
	Name string  `yaml:"name"`
	LoHz float64 `yaml:"lo_hz"`
	HiHz float64 `yaml:"hi_hz"`
}

// DefaultBands returns the canonical EEG bands. Gamma is split around the 50 and 60 Hz mains lines;
// a band reaching past the Nyquist frequency is cut at it.
func DefaultBands() []Band {
	return []Band{
		{"delta", 1, 4}, {"theta", 4, 8}, {"alpha", 8, 13}, {"beta", 13, 30},
		{"low_gamma", 30, 45}, {"high_gamma", 65, 100},
	}
}

// WelchParams sets the Welch spectrum the spectral extractors compute per window.
type WelchParams struct {
	SegmentSec  float64  `yaml:"segment_sec"`  // segment length; default 1 s (cut to the window)
	OverlapFrac *float64 `yaml:"overlap_frac"` // fraction of a segment shared with the next; default 0.5
	Window      string   `yaml:"window"`       // default "hann" (periodic)
	Average     string   `yaml:"average"`      // "mean" (default) or "median"
}

// ExtractorConfig configures one extractor; Kind picks it and the other fields apply to the kinds named
// in their comments (zero values mean the documented defaults).
type ExtractorConfig struct {
	Kind     string   `yaml:"kind"`     // bandpower, spectral_edge, peak_alpha, aperiodic, covariance, connectivity, pac, variance, hjorth, line_length, dfa, lzc, avalanches
	Channels []string `yaml:"channels"` // channel names to use; default all but stim channels

	Welch        WelchParams `yaml:"welch"`          // spectral kinds and connectivity
	Bands        []Band      `yaml:"bands"`          // bandpower, connectivity; default DefaultBands()
	TotalRangeHz [2]float64  `yaml:"total_range_hz"` // bandpower: relative power denominator; default lowest to highest band edge
	RangeHz      [2]float64  `yaml:"range_hz"`       // spectral_edge (default 1-40), peak_alpha (7-14), aperiodic (2-40)
	EdgeFraction float64     `yaml:"edge_fraction"`  // spectral_edge: default 0.95

	Estimator string   `yaml:"estimator"` // covariance: "ledoit_wolf" (default), "oas", "empirical"
	Measures  []string `yaml:"measures"`  // connectivity: any of "coh", "plv", "wpli" (default all three)

	PhaseBandHz     [2]float64 `yaml:"phase_band_hz"`     // pac: default 4-8 Hz
	AmplitudeBandHz [2]float64 `yaml:"amplitude_band_hz"` // pac: default 30-45 Hz
	PhaseBins       int        `yaml:"phase_bins"`        // pac: default 18

	MinScaleSamples int `yaml:"min_scale_samples"` // dfa: default 10
	MaxScaleSamples int `yaml:"max_scale_samples"` // dfa: default window/4
	NumScales       int `yaml:"num_scales"`        // dfa: default 10

	ThresholdSD float64 `yaml:"threshold_sd"` // avalanches: default 3
	BinSamples  int     `yaml:"bin_samples"`  // avalanches: default 1
}

// Build constructs the extractors described by cfg, in order.
func Build(cfg []ExtractorConfig) ([]Extractor, error) {
	out := make([]Extractor, 0, len(cfg))
	for i, c := range cfg {
		e, err := New(c)
		if err != nil {
			return nil, fmt.Errorf("features[%d]: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// New constructs one extractor from its configuration.
func New(c ExtractorConfig) (Extractor, error) {
	switch c.Kind {
	case "bandpower":
		return NewBandPower(c), nil
	case "spectral_edge":
		return NewSpectralEdge(c), nil
	case "peak_alpha":
		return NewPeakAlpha(c), nil
	case "aperiodic":
		return NewAperiodic(c), nil
	case "covariance":
		return NewCovariance(c)
	case "connectivity":
		return NewConnectivity(c)
	case "pac":
		return NewPAC(c), nil
	case "variance":
		return NewVariance(c), nil
	case "hjorth":
		return NewHjorth(c), nil
	case "line_length":
		return NewLineLength(c), nil
	case "dfa":
		return NewDFA(c), nil
	case "lzc":
		return NewLZC(c), nil
	case "avalanches":
		return NewAvalanches(c), nil
	case "":
		return nil, fmt.Errorf("extractor kind is empty; set kind to one of bandpower, spectral_edge, peak_alpha, aperiodic, covariance, connectivity, pac, variance, hjorth, line_length, dfa, lzc, avalanches")
	}
	return nil, fmt.Errorf("unknown extractor kind %q; want one of bandpower, spectral_edge, peak_alpha, aperiodic, covariance, connectivity, pac, variance, hjorth, line_length, dfa, lzc, avalanches", c.Kind)
}

// channelSet resolves configured channel names against a stream; it is embedded by every extractor.
type channelSet struct {
	want    []string
	idx     []int    // stream indices of the used channels
	names   []string // their names
	nWindow int      // samples per window
	nStream int      // channels in the stream
}

func (cs *channelSet) configure(kind string, info streams.StreamInfo, windowSamples, minSamples int) error {
	if err := info.Validate(); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	if windowSamples < minSamples {
		return fmt.Errorf("%s: window of %d samples is too short, want at least %d", kind, windowSamples, minSamples)
	}
	cs.idx, cs.names = cs.idx[:0], cs.names[:0]
	if len(cs.want) == 0 {
		for i, ch := range info.Channels {
			if ch.Type != streams.ChannelStim {
				cs.idx = append(cs.idx, i)
				cs.names = append(cs.names, ch.Name)
			}
		}
		if len(cs.idx) == 0 {
			return fmt.Errorf("%s: stream %q has no non-stim channels", kind, info.StreamID)
		}
	} else {
		for _, n := range cs.want {
			i := info.ChannelIndex(n)
			if i < 0 {
				return fmt.Errorf("%s: channel %q not in stream %q (channels: %v)", kind, n, info.StreamID, info.ChannelNames())
			}
			cs.idx = append(cs.idx, i)
			cs.names = append(cs.names, n)
		}
	}
	cs.nWindow, cs.nStream = windowSamples, len(info.Channels)
	return nil
}

// check validates a window and output against the configured shape.
func (cs *channelSet) check(kind string, window [][]float64, dst []float64, nOut int) error {
	if cs.nWindow == 0 {
		return fmt.Errorf("%s: Extract called before Configure", kind)
	}
	if len(window) != cs.nStream {
		return fmt.Errorf("%s: window has %d channels, the stream has %d", kind, len(window), cs.nStream)
	}
	for _, i := range cs.idx {
		if len(window[i]) != cs.nWindow {
			return fmt.Errorf("%s: channel %d has %d samples, want the configured window of %d", kind, i, len(window[i]), cs.nWindow)
		}
	}
	if len(dst) != nOut {
		return fmt.Errorf("%s: output has %d values, want %d (the names Configure returned)", kind, len(dst), nOut)
	}
	return nil
}

// perChannelNames returns "<feature>/<channel>" for each feature and channel, feature-major.
func perChannelNames(features, channels []string) []string {
	out := make([]string, 0, len(features)*len(channels))
	for _, f := range features {
		for _, c := range channels {
			out = append(out, f+"/"+c)
		}
	}
	return out
}

// meanVar returns the mean and the population variance (ddof 0, numpy's default) of x.
func meanVar(x []float64) (mean, variance float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		d := v - mean
		variance += d * d
	}
	return mean, variance / float64(len(x))
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func rangeOrDefault(r, def [2]float64) [2]float64 {
	if r == [2]float64{} {
		return def
	}
	return r
}

func validRange(kind, what string, r [2]float64) error {
	if !(r[0] >= 0) || !(r[1] > r[0]) || math.IsInf(r[1], 0) {
		return fmt.Errorf("%s: %s %v Hz, want 0 <= lo < hi", kind, what, r)
	}
	return nil
}

// Set runs several extractors on the same windows as one Extractor: its names and values are theirs
// concatenated in order. Spectral extractors in it that ask for the same Welch spectrum (segment
// length, overlap, window, averaging) of the same channel share one computation per window, so
// listing band power, aperiodic fit and peak alpha frequency costs one Welch pass, not three; the
// values are exactly those of the extractors run on their own.
type Set struct {
	cfg        []ExtractorConfig
	extractors []Extractor
	offsets    []int // extractor i writes dst[offsets[i]:offsets[i+1]]
	spectra    *spectrumCache
}

// spectrumSharer is implemented by the extractors that embed a psdBank.
type spectrumSharer interface{ useSpectrumCache(*spectrumCache) }

// NewSet builds the extractors described by cfg (as Build does).
func NewSet(cfg []ExtractorConfig) (*Set, error) {
	ex, err := Build(cfg)
	if err != nil {
		return nil, err
	}
	return &Set{cfg: cfg, extractors: ex}, nil
}

// Configure implements Extractor: it configures every extractor of the set for the stream.
func (s *Set) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	s.spectra = &spectrumCache{}
	s.offsets = s.offsets[:0]
	var names []string
	for i, e := range s.extractors {
		if sh, ok := e.(spectrumSharer); ok {
			sh.useSpectrumCache(s.spectra)
		}
		s.offsets = append(s.offsets, len(names))
		n, err := e.Configure(info, windowSamples)
		if err != nil {
			return nil, fmt.Errorf("features[%d] (%s): %w", i, s.cfg[i].Kind, err)
		}
		names = append(names, n...)
	}
	s.offsets = append(s.offsets, len(names))
	return names, nil
}

// Extract implements Extractor.
func (s *Set) Extract(window [][]float64, dst []float64) error {
	if s.spectra == nil {
		return fmt.Errorf("feature set: Extract called before Configure")
	}
	if n := s.offsets[len(s.offsets)-1]; len(dst) != n {
		return fmt.Errorf("feature set: output has %d values, want %d (the names Configure returned)", len(dst), n)
	}
	s.spectra.window++
	for i, e := range s.extractors {
		if err := e.Extract(window, dst[s.offsets[i]:s.offsets[i+1]]); err != nil {
			return fmt.Errorf("features[%d] (%s): %w", i, s.cfg[i].Kind, err)
		}
	}
	return nil
}
