package model

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/neurostream/neurostream/decoders"
	"github.com/neurostream/neurostream/decoders/riemann"
	"github.com/neurostream/neurostream/streams"
)

// Decoder runs a model file online. It implements decoders.WindowDecoder; all per-window buffers
// are allocated by New, so Decode does not allocate. A Decoder is not safe for concurrent use.
type Decoder struct {
	File *File

	proba   []float64
	feat    []float64 // CSP / FBCSP features, or tangent vector
	sel     []float64 // FBCSP selected features
	scratch []float64
	cov     *mat.SymDense
	ts      *riemann.TangentSpace
	mdm     *riemann.MDM
	xdBuf   [][]float64
	banks   []*bankFilter
	running *riemann.RunningMean // re-centering reference, when the model re-centres
	white   *mat.SymDense
}

var _ decoders.WindowDecoder = (*Decoder)(nil)

// Load reads a model file and builds its decoder; the pipeline's decoder stage calls it, then Bind.
func Load(path string) (decoders.WindowDecoder, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := New(f)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return d, nil
}

// New builds the decoder of a model file.
func New(f *File) (*Decoder, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	nCh, ns := len(f.Channels), f.WindowSamples
	d := &Decoder{File: f, proba: make([]float64, len(f.Classes)), scratch: make([]float64, ns)}
	sym := func(r [][]float64) (*mat.SymDense, error) {
		n := len(r)
		s := mat.NewSymDense(n, nil)
		for i := range r {
			if len(r[i]) != n {
				return nil, fmt.Errorf("matrix row %d has %d values, want %d", i, len(r[i]), n)
			}
			for j := i; j < n; j++ {
				s.SetSym(i, j, r[i][j])
			}
		}
		return s, nil
	}
	switch f.Decoder {
	case CSPLDA:
		if len(f.CSP.Filters[0]) != nCh {
			return nil, fmt.Errorf("csp filters for %d channels, model lists %d", len(f.CSP.Filters[0]), nCh)
		}
		d.feat = make([]float64, len(f.CSP.Filters))
	case FBCSP:
		total := 0
		for _, b := range f.Bands {
			bank, err := newBankFilter(b, nCh, f.SampleRateHz, ns)
			if err != nil {
				return nil, err
			}
			d.banks = append(d.banks, bank)
			total += len(b.CSP.Filters)
		}
		for _, j := range f.Selected {
			if j < 0 || j >= total {
				return nil, fmt.Errorf("selected feature %d outside the %d filter-bank features", j, total)
			}
		}
		d.feat, d.sel = make([]float64, total), make([]float64, len(f.Selected))
	case MDM:
		d.mdm = &riemann.MDM{}
		for k, m := range f.Means {
			s, err := sym(m)
			if err != nil {
				return nil, fmt.Errorf("class mean %d: %w", k, err)
			}
			d.mdm.Means = append(d.mdm.Means, s)
		}
		if err := d.mdm.Prepare(); err != nil {
			return nil, err
		}
		d.cov = mat.NewSymDense(nCh, nil)
	case TSLR, XdawnTS:
		if f.Decoder == XdawnTS && f.Recenter {
			return nil, fmt.Errorf("re-centering applies to mdm and ts-lr, not %s", f.Decoder)
		}
		ref, err := sym(f.Reference)
		if err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
		if d.ts, err = riemann.NewTangentSpace(ref); err != nil {
			return nil, err
		}
		d.feat = make([]float64, riemann.TangentDim(len(f.Reference)))
		d.cov = mat.NewSymDense(len(f.Reference), nil)
		if f.Decoder == XdawnTS {
			d.xdBuf = f.Xdawn.NewBuffer(ns)
		}
	}
	if f.Recenter {
		d.running = riemann.NewRunningMean(d.cov.SymmetricDim(), f.RecenterHorizon)
		d.white = mat.NewSymDense(d.cov.SymmetricDim(), nil)
	}
	return d, nil
}

// recenter updates the running reference with the window's covariance and returns the covariance
// re-centred on it (or the covariance itself when the model does not re-centre).
func (d *Decoder) recenter(c *mat.SymDense) (*mat.SymDense, error) {
	if d.running == nil {
		return c, nil
	}
	if err := d.running.Update(c); err != nil {
		return nil, err
	}
	if err := d.running.Whiten(d.white, c); err != nil {
		return nil, err
	}
	return d.white, nil
}

// Name is the decoder kind ("csp-lda", ...).
func (d *Decoder) Name() string { return string(d.File.Decoder) }

// WindowSamples is the trained window length.
func (d *Decoder) WindowSamples() int { return d.File.WindowSamples }

// Bind maps the model's channels to the stream's by name (exactly, or ignoring case, spaces and
// the trailing dots EDF files pad names with) and checks the sampling rate.
func (d *Decoder) Bind(info streams.StreamInfo) ([]int, error) {
	if math.Abs(info.SampleRateHz-d.File.SampleRateHz) > 1e-6*d.File.SampleRateHz {
		return nil, fmt.Errorf("model %s was trained at %g Hz, stream %q runs at %g Hz; resample the stream or retrain",
			d.File.Decoder, d.File.SampleRateHz, info.StreamID, info.SampleRateHz)
	}
	idx := make([]int, len(d.File.Channels))
	var missing []string
	for i, name := range d.File.Channels {
		idx[i] = info.ChannelIndex(name)
		if idx[i] < 0 {
			for j, c := range info.Channels {
				if normName(c.Name) == normName(name) {
					idx[i] = j
					break
				}
			}
		}
		if idx[i] < 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("model %s needs channels the stream %q lacks: %s (stream has %d channels: %s)",
			d.File.Decoder, info.StreamID, strings.Join(missing, ", "), len(info.Channels), strings.Join(info.ChannelNames(), ", "))
	}
	return idx, nil
}

func normName(s string) string { return strings.ToLower(strings.Trim(s, ". ")) }

// Classify returns the class index of one window (channel-major, model channel order) and fills
// the decoder's probability buffer, returned as proba (valid until the next call).
func (d *Decoder) Classify(window [][]float64) (class int, proba []float64, err error) {
	f := d.File
	if len(window) != len(f.Channels) {
		return 0, nil, fmt.Errorf("%s: window has %d channels, model needs %d", f.Decoder, len(window), len(f.Channels))
	}
	for c, row := range window {
		if len(row) != f.WindowSamples {
			return 0, nil, fmt.Errorf("%s: channel %d has %d samples, model needs %d", f.Decoder, c, len(row), f.WindowSamples)
		}
	}
	switch f.Decoder {
	case CSPLDA:
		if err := f.CSP.Transform(d.feat, window, d.scratch); err != nil {
			return 0, nil, err
		}
		class, err = f.LDA.PredictProba(d.proba, d.feat)
	case FBCSP:
		off := 0
		for b, bank := range d.banks {
			sub := bank.apply(window, bank.out)
			n := len(f.Bands[b].CSP.Filters)
			if err := f.Bands[b].CSP.Transform(d.feat[off:off+n], sub, d.scratch); err != nil {
				return 0, nil, fmt.Errorf("band %v Hz: %w", f.Bands[b].BandHz, err)
			}
			off += n
		}
		for i, j := range f.Selected {
			d.sel[i] = d.feat[j]
		}
		class, err = f.LDA.PredictProba(d.proba, d.sel)
	case MDM:
		if err := riemann.Cov(d.cov, window); err != nil {
			return 0, nil, err
		}
		c, err := d.recenter(d.cov)
		if err != nil {
			return 0, nil, err
		}
		if err := d.mdm.Distances(d.proba, c); err != nil {
			return 0, nil, err
		}
		class = riemann.Proba(d.proba)
	case TSLR, XdawnTS:
		if f.Decoder == XdawnTS {
			err = f.Xdawn.Covariance(d.cov, window, d.xdBuf)
		} else {
			err = riemann.Cov(d.cov, window)
		}
		if err != nil {
			return 0, nil, err
		}
		c, err := d.recenter(d.cov)
		if err != nil {
			return 0, nil, err
		}
		if err := d.ts.Transform(d.feat, c); err != nil {
			return 0, nil, err
		}
		if class, err = f.LogReg.PredictProba(d.proba, d.feat); err != nil {
			return 0, nil, err
		}
	}
	if err != nil {
		return 0, nil, err
	}
	return class, d.proba, nil
}

// Decode classifies the window and fills out's Decoder, Label and Scores (class probabilities),
// reusing out.Scores' capacity.
func (d *Decoder) Decode(window [][]float64, out *streams.Prediction) error {
	class, proba, err := d.Classify(window)
	if err != nil {
		return err
	}
	out.Decoder = string(d.File.Decoder)
	out.Label = d.File.Classes[class]
	out.Scores = out.Scores[:0]
	for k, p := range proba {
		out.Scores = append(out.Scores, streams.Score{Label: d.File.Classes[k], Value: p})
	}
	return nil
}
