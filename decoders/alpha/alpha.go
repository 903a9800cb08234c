// Package alpha decodes eyes open versus eyes closed from posterior alpha: with the eyes closed,
// 8-12 Hz power over the occipital cortex rises several-fold (Berger's effect), so the relative alpha
// power of O1/Oz/O2 in a sliding window, against a threshold calibrated on labelled data, separates
// the two states. It reads windows from the pipeline's decoder stage and returns a label with
// probabilities; models are small JSON files made by Calibrate (see `neurostream calibrate-alpha`).
package alpha

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/neurostream/neurostream/dsp/spectral"
	"github.com/neurostream/neurostream/streams"
)

// Labels, in score order.
const (
	LabelOpen   = "eyes-open"
	LabelClosed = "eyes-closed"
)

// FormatName identifies alpha model files.
const FormatName = "neurostream-alpha"

// Model is a calibrated eyes-open/closed decoder, stored as JSON.
type Model struct {
	Format      string     `json:"format"`
	Version     int        `json:"version"`
	Channels    []string   `json:"channels"`      // occipital channels averaged, matched ignoring case and trailing dots
	WindowSec   float64    `json:"window_sec"`    // window length
	AlphaBandHz [2]float64 `json:"alpha_band_hz"` // numerator band
	TotalBandHz [2]float64 `json:"total_band_hz"` // denominator band
	// Threshold on the feature log10(alpha power / total power); above it means eyes closed.
	Threshold float64 `json:"threshold"`
	// Scale of the logistic that turns the distance to the threshold into a probability.
	Scale float64 `json:"scale"`
	// Calibration summary, for the record.
	CalibratedOn string  `json:"calibrated_on,omitempty"`
	TrainAcc     float64 `json:"train_accuracy,omitempty"`
}

// DefaultModel returns an uncalibrated model with the usual settings.
func DefaultModel() Model {
	return Model{Format: FormatName, Version: 1, Channels: []string{"O1", "Oz", "O2"}, WindowSec: 2,
		AlphaBandHz: [2]float64{8, 12}, TotalBandHz: [2]float64{2, 30}, Scale: 0.1}
}

// Load reads a model file.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load alpha model: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load alpha model %s: %w", path, err)
	}
	return m, nil
}

// Parse decodes and validates an alpha model's JSON.
func Parse(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not an alpha model file: %w", err)
	}
	if m.Format != FormatName || m.Version != 1 {
		return nil, fmt.Errorf("field format/version: %q version %d, want %q version 1", m.Format, m.Version, FormatName)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Bounds on a model file's numbers: a file is data, and a window of 1e9 s or a channel list of
// thousands would be allocated before anything else went wrong.
const (
	maxChannels  = 256
	maxWindowSec = 600
	maxBandHz    = 1e5
)

// Validate checks every field and names the first that is wrong.
func (m *Model) Validate() error {
	if len(m.Channels) == 0 || len(m.Channels) > maxChannels {
		return fmt.Errorf("field channels: %d channels, want 1..%d", len(m.Channels), maxChannels)
	}
	seen := map[string]int{}
	for i, c := range m.Channels {
		if NormalizeChannel(c) == "" {
			return fmt.Errorf("field channels[%d]: empty name", i)
		}
		if j, dup := seen[NormalizeChannel(c)]; dup {
			return fmt.Errorf("field channels[%d]: %q repeats channels[%d] %q", i, c, j, m.Channels[j])
		}
		seen[NormalizeChannel(c)] = i
	}
	if !(m.WindowSec > 0 && m.WindowSec <= maxWindowSec) {
		return fmt.Errorf("field window_sec: %v s, want a window in (0, %d] s", m.WindowSec, maxWindowSec)
	}
	for _, b := range []struct {
		name string
		v    [2]float64
	}{{"alpha_band_hz", m.AlphaBandHz}, {"total_band_hz", m.TotalBandHz}} {
		if !(b.v[0] >= 0 && b.v[1] > b.v[0] && b.v[1] <= maxBandHz) {
			return fmt.Errorf("field %s: %v Hz, want 0 <= low < high <= %g", b.name, b.v, maxBandHz)
		}
	}
	if math.IsNaN(m.Threshold) || math.Abs(m.Threshold) > 100 {
		return fmt.Errorf("field threshold: %v, want a finite log10 power ratio (|threshold| <= 100)", m.Threshold)
	}
	if !(m.Scale > 0 && m.Scale <= 100) {
		return fmt.Errorf("field scale: %v, want 0 < scale <= 100", m.Scale)
	}
	return nil
}

// Save writes the model as indented JSON.
func (m *Model) Save(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// NormalizeChannel folds the variations of a 10-20 name found in files ("O1..", "OZ", "o1") to one key.
func NormalizeChannel(name string) string {
	return strings.ToLower(strings.TrimRight(strings.TrimSpace(name), "."))
}

// Extractor computes the feature log10(alpha/total power), averaged over channels, for windows of
// a fixed length at a fixed rate. It does not allocate per window.
type Extractor struct {
	welch              *spectral.Welch
	psd                []float64
	alphaBins, allBins [2]int // [lo, hi) bin ranges
}

// NewExtractor prepares Welch's method with 1-s Hann segments (50% overlap) for the model's bands.
func NewExtractor(m *Model, fsHz float64) (*Extractor, error) {
	nper := int(math.Round(fsHz))
	if win := int(math.Round(m.WindowSec * fsHz)); win < nper {
		nper = win
	}
	w, err := spectral.NewWelch(spectral.WelchConfig{FsHz: fsHz, NPerSeg: nper, NOverlap: -1})
	if err != nil {
		return nil, fmt.Errorf("alpha features: %w", err)
	}
	e := &Extractor{welch: w, psd: make([]float64, len(w.Freqs()))}
	e.alphaBins = bins(w.Freqs(), m.AlphaBandHz)
	e.allBins = bins(w.Freqs(), m.TotalBandHz)
	if e.alphaBins[0] >= e.alphaBins[1] || e.allBins[0] >= e.allBins[1] {
		return nil, fmt.Errorf("alpha features: bands %v/%v hold no frequency bin at %g Hz", m.AlphaBandHz, m.TotalBandHz, fsHz)
	}
	return e, nil
}

func bins(freqs []float64, band [2]float64) [2]int {
	lo := sort.SearchFloat64s(freqs, band[0])
	hi := sort.SearchFloat64s(freqs, band[1]+1e-9)
	return [2]int{lo, hi}
}

// Feature returns log10 of the mean relative alpha power of the channels in window.
func (e *Extractor) Feature(window [][]float64) (float64, error) {
	sum := 0.0
	for _, x := range window {
		if err := e.welch.PSD(x, e.psd); err != nil {
			return 0, err
		}
		var a, t float64
		for _, p := range e.psd[e.alphaBins[0]:e.alphaBins[1]] {
			a += p
		}
		for _, p := range e.psd[e.allBins[0]:e.allBins[1]] {
			t += p
		}
		if t > 0 {
			sum += a / t
		}
	}
	rel := sum / float64(len(window))
	if !(rel > 0) {
		return 0, fmt.Errorf("alpha features: window has no power in %v Hz (flat channels?)", e.allBins)
	}
	return math.Log10(rel), nil
}

// Calibrate picks the threshold that best separates features of eyes-open and eyes-closed windows
// (the midpoint between neighbouring sorted values with the highest accuracy) and a logistic scale
// from the classes' spread. It returns the training accuracy.
func (m *Model) Calibrate(open, closed []float64) (float64, error) {
	if len(open) == 0 || len(closed) == 0 {
		return 0, fmt.Errorf("calibrate: need windows of both classes (got %d open, %d closed)", len(open), len(closed))
	}
	type pt struct {
		x      float64
		closed bool
	}
	pts := make([]pt, 0, len(open)+len(closed))
	for _, x := range open {
		pts = append(pts, pt{x, false})
	}
	for _, x := range closed {
		pts = append(pts, pt{x, true})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
	// Threshold below pts[i]: everything from i on is called closed.
	correct := len(closed) // threshold below all: all called closed
	best, bestAt := correct, pts[0].x-1e-6
	for i := 0; i < len(pts); i++ {
		if pts[i].closed {
			correct--
		} else {
			correct++
		}
		if correct > best && (i+1 == len(pts) || pts[i+1].x > pts[i].x) {
			best = correct
			if i+1 < len(pts) {
				bestAt = (pts[i].x + pts[i+1].x) / 2
			} else {
				bestAt = pts[i].x + 1e-6
			}
		}
	}
	m.Threshold = bestAt
	m.Scale = math.Max((stddev(open)+stddev(closed))/2, 1e-3)
	m.TrainAcc = float64(best) / float64(len(pts))
	return m.TrainAcc, nil
}

func stddev(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	ss := 0.0
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// ProbClosed maps a feature to P(eyes closed).
func (m *Model) ProbClosed(feature float64) float64 {
	return 1 / (1 + math.Exp(-(feature-m.Threshold)/m.Scale))
}

// Decoder runs a Model online; it implements decoders.WindowDecoder.
type Decoder struct {
	model   Model
	ext     *Extractor
	windowN int
}

// NewDecoder returns a decoder for m.
func NewDecoder(m *Model) *Decoder { return &Decoder{model: *m} }

func (d *Decoder) Name() string { return "alpha-eyes" }

// Bind finds the model's channels in the stream (ignoring case and trailing dots) and sets the
// window for its rate: the feature is a power ratio, so the model is not tied to one sampling rate.
func (d *Decoder) Bind(info streams.StreamInfo) ([]int, error) {
	var idx []int
	for _, want := range d.model.Channels {
		found := -1
		for i, c := range info.Channels {
			if NormalizeChannel(c.Name) == NormalizeChannel(want) {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, fmt.Errorf("stream %s has no channel %q (the alpha model needs %v; its channels are %v)",
				info.StreamID, want, d.model.Channels, info.ChannelNames())
		}
		idx = append(idx, found)
	}
	if !(info.SampleRateHz > 0) || info.SampleRateHz > 1e6 {
		return nil, fmt.Errorf("stream %s runs at %v Hz: the alpha model needs a rate in (0, 1e6] Hz", info.StreamID, info.SampleRateHz)
	}
	if hi := max(d.model.AlphaBandHz[1], d.model.TotalBandHz[1]); hi > info.SampleRateHz/2 {
		return nil, fmt.Errorf("alpha model bands reach %g Hz, above the stream's Nyquist frequency %g Hz", hi, info.SampleRateHz/2)
	}
	d.windowN = int(math.Round(d.model.WindowSec * info.SampleRateHz))
	if d.windowN < 2 || d.windowN > 1<<22 {
		return nil, fmt.Errorf("alpha model window of %g s is %d samples at %g Hz: want 2..%d", d.model.WindowSec, d.windowN, info.SampleRateHz, 1<<22)
	}
	ext, err := NewExtractor(&d.model, info.SampleRateHz)
	if err != nil {
		return nil, err
	}
	d.ext = ext
	return idx, nil
}

func (d *Decoder) WindowSamples() int { return d.windowN }

// Decode labels one window.
func (d *Decoder) Decode(window [][]float64, out *streams.Prediction) error {
	x, err := d.ext.Feature(window)
	if err != nil {
		return err
	}
	p := d.model.ProbClosed(x)
	out.Label = LabelOpen
	if x > d.model.Threshold {
		out.Label = LabelClosed
	}
	out.Scores = append(out.Scores, streams.Score{Label: LabelOpen, Value: 1 - p}, streams.Score{Label: LabelClosed, Value: p})
	return nil
}
