package onnx

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/neurostream/neurostream/decoders"
	"github.com/neurostream/neurostream/decoders/retrieval"
	"github.com/neurostream/neurostream/streams"
)

// DefaultTopK is how many candidates a retrieval decoder publishes unless WithTopK says otherwise.
const DefaultTopK = 10

// Option configures Load.
type Option func(*options)

type options struct {
	bankPath string
	bank     *retrieval.Bank
	topK     int
	subject  string
	threads  int
}

// WithBank ranks the model's output embedding against the candidate bank in a file (speech segments for a
// speech model, the image gallery for a visual model; format in package retrieval).
func WithBank(path string) Option { return func(o *options) { o.bankPath = path } }

// WithBankValue is WithBank for a bank already in memory.
func WithBankValue(b *retrieval.Bank) Option { return func(o *options) { o.bank = b } }

// WithTopK sets how many ranked candidates go into Prediction.TopK (default DefaultTopK).
func WithTopK(k int) Option { return func(o *options) { o.topK = k } }

// WithSubject chooses the subject layer of a model trained on several subjects, overriding the stream's
// StreamInfo.Subject. Without it Bind uses the stream's subject, or the only subject of a
// single-subject model.
func WithSubject(name string) Option { return func(o *options) { o.subject = name } }

// WithThreads sets this decoder's ONNX Runtime intra-op threads, overriding the Runtime's
// Config.IntraOpThreads (0 keeps it), so that one Runtime can serve a light model on one thread and
// a heavy one on two.
func WithThreads(n int) Option { return func(o *options) { o.threads = n } }

// Decoder runs one ONNX model as a decoders.WindowDecoder. It is not safe for concurrent use: the
// pipeline gives each stream its own decoder.
type Decoder struct {
	model    *Model
	contract *Contract
	bank     *retrieval.Bank
	topK     int
	subject  string

	offset, scale []float64 // per channel
	probs         []float64
	bound         bool
}

var _ decoders.WindowDecoder = (*Decoder)(nil)

// Load opens an ONNX model with its contract and returns it as a WindowDecoder. Speech models need a
// candidate bank (WithBank); for visual models the gallery is optional (without one only the embedding
// is published).
func Load(rt *Runtime, modelPath string, opts ...Option) (*Decoder, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.topK == 0 {
		o.topK = DefaultTopK
	}
	if o.topK < 0 {
		return nil, fmt.Errorf("onnx decoder: top-k %d is negative", o.topK)
	}
	if o.threads < 0 {
		return nil, fmt.Errorf("onnx decoder: %d threads is negative; use 0 for the runtime's default", o.threads)
	}
	if o.bank == nil && o.bankPath != "" {
		b, err := retrieval.Load(o.bankPath)
		if err != nil {
			return nil, fmt.Errorf("onnx decoder %s: %w", modelPath, err)
		}
		o.bank = b
	}
	m, err := rt.openModel(modelPath, o.threads)
	if err != nil {
		return nil, err
	}
	c := m.Contract()
	d := &Decoder{model: m, contract: c, bank: o.bank, topK: o.topK, subject: o.subject}
	fail := func(err error) (*Decoder, error) {
		m.Close()
		return nil, fmt.Errorf("onnx decoder %s (%s): %w", c.Name, modelPath, err)
	}
	switch {
	case c.Task == TaskTokenizer:
		return fail(errors.New("a tokenizer's encoder is not a decoder: give its codebook to a tokenizer stage"))
	case c.Output.Kind == OutputEmbedding && c.Task == TaskMotorImagery:
		return fail(errors.New("a motor-imagery model must output logits or probabilities"))
	case c.Output.Kind != OutputEmbedding && c.Task != TaskMotorImagery:
		return fail(fmt.Errorf("a %s model must output an embedding, contract says %s", c.Task, c.Output.Kind))
	case c.Task == TaskSpeech && d.bank == nil:
		return fail(errors.New("a speech decoder ranks candidate segments: pass a candidate bank with WithBank(path)"))
	case d.bank != nil && c.Output.Kind != OutputEmbedding:
		return fail(errors.New("a candidate bank was given but the model outputs class scores, not an embedding"))
	case d.bank != nil && d.bank.Dim() != c.Output.EmbeddingSize:
		return fail(fmt.Errorf("candidate bank embeddings have %d values, the model outputs %d", d.bank.Dim(), c.Output.EmbeddingSize))
	}
	nCh := len(c.Channels)
	d.offset = make([]float64, nCh)
	d.scale = make([]float64, nCh)
	for i := range nCh {
		d.offset[i], d.scale[i] = 0, 1
		if n := len(c.Normalisation.Offset); n > 0 {
			d.offset[i] = c.Normalisation.Offset[min(i, n-1)]
		}
		if n := len(c.Normalisation.Scale); n > 0 {
			d.scale[i] = c.Normalisation.Scale[min(i, n-1)]
		}
	}
	d.probs = make([]float64, c.outputSize())
	return d, nil
}

// Name is the contract's model name.
func (d *Decoder) Name() string { return d.contract.Name }

// Contract returns the model's contract; do not modify it.
func (d *Decoder) Contract() *Contract { return d.contract }

// WindowSamples is the contract's window length.
func (d *Decoder) WindowSamples() int { return d.contract.WindowSamples }

// Bind matches the contract's channels to the stream by name (exactly, or else ignoring case and the
// trailing dots EDF files pad names with), checks the sampling rate and picks the subject layer.
func (d *Decoder) Bind(info streams.StreamInfo) ([]int, error) {
	c := d.contract
	if math.Abs(info.SampleRateHz-c.SampleRateHz) > 1e-6*c.SampleRateHz {
		return nil, fmt.Errorf("onnx decoder %s: stream %q samples at %g Hz, the model was trained at %g Hz: resample the stream or retrain the model",
			c.Name, info.StreamID, info.SampleRateHz, c.SampleRateHz)
	}
	exact := make(map[string]int, len(info.Channels))
	loose := make(map[string]int, len(info.Channels))
	for i := len(info.Channels) - 1; i >= 0; i-- {
		exact[info.Channels[i].Name] = i
		loose[looseName(info.Channels[i].Name)] = i
	}
	idx := make([]int, len(c.Channels))
	var missing []string
	for i, name := range c.Channels {
		j, ok := exact[name]
		if !ok {
			j, ok = loose[looseName(name)]
		}
		if !ok {
			missing = append(missing, name)
			continue
		}
		idx[i] = j
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("onnx decoder %s: stream %q lacks %d of the model's %d channels: %s",
			c.Name, info.StreamID, len(missing), len(c.Channels), strings.Join(missing, ", "))
	}
	if len(c.Subjects) > 0 {
		want := d.subject
		if want == "" {
			want = info.Subject
		}
		s := -1
		for i, name := range c.Subjects {
			if name == want {
				s = i
			}
		}
		if s < 0 && d.subject == "" && len(c.Subjects) == 1 {
			// A single-subject model has only one subject layer to offer.
			s = 0
		}
		if s < 0 {
			return nil, fmt.Errorf("onnx decoder %s: subject %q is not one the model was trained on (%s); choose one with WithSubject",
				c.Name, want, strings.Join(c.Subjects, ", "))
		}
		if err := d.model.SetSubject(s); err != nil {
			return nil, err
		}
	}
	d.bound = true
	return idx, nil
}

func looseName(s string) string { return strings.ToLower(strings.TrimRight(s, ".")) }

// Decode normalises window into the model input, runs the model and fills out: Label and Scores for a
// classifier; Embedding (visual) and TopK (when a bank is loaded) for an embedding model.
func (d *Decoder) Decode(window [][]float64, out *streams.Prediction) error {
	c := d.contract
	if !d.bound {
		return fmt.Errorf("onnx decoder %s: Decode before Bind", c.Name)
	}
	if len(window) != len(c.Channels) {
		return fmt.Errorf("onnx decoder %s: window has %d channels, want %d", c.Name, len(window), len(c.Channels))
	}
	in := d.model.Input()
	n := c.WindowSamples
	for ch, row := range window {
		if len(row) != n {
			return fmt.Errorf("onnx decoder %s: channel %d of the window has %d samples, want %d", c.Name, ch, len(row), n)
		}
		dst := in[ch*n : (ch+1)*n]
		off, sc := d.offset[ch], d.scale[ch]
		for i, x := range row {
			v := (x - off) * sc
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("onnx decoder %s: sample %d of channel %q is %v after normalisation (input %v); the window must be finite",
					c.Name, i, c.Channels[ch], v, x)
			}
			dst[i] = float32(v)
		}
		if c.Normalisation.WindowZScore {
			zscore(dst)
		}
	}
	if err := d.model.Run(); err != nil {
		return err
	}
	y := d.model.Output()
	out.Decoder = c.Name
	switch c.Output.Kind {
	case OutputLogits, OutputProbabilities:
		if c.Output.Kind == OutputLogits {
			softmax(y, d.probs)
		} else {
			for i, v := range y {
				d.probs[i] = float64(v)
			}
		}
		best := 0
		out.Scores = out.Scores[:0]
		for i, p := range d.probs {
			out.Scores = append(out.Scores, streams.Score{Label: c.Output.Labels[i], Value: p})
			if p > d.probs[best] {
				best = i
			}
		}
		out.Label = c.Output.Labels[best]
	case OutputEmbedding:
		if c.Task == TaskVisual {
			out.Embedding = append(out.Embedding[:0], y...)
		}
		if d.bank != nil {
			var err error
			out.TopK, err = d.bank.TopK(y, d.topK, out.TopK)
			if err != nil {
				return fmt.Errorf("onnx decoder %s: ranking candidates: %w", c.Name, err)
			}
			if len(out.TopK) > 0 {
				out.Label = out.TopK[0].ID
			}
		}
	}
	return nil
}

// Close releases the model.
func (d *Decoder) Close() error { return d.model.Close() }

func softmax(logits []float32, dst []float64) {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var sum float64
	for i, v := range logits {
		dst[i] = math.Exp(float64(v) - m)
		sum += dst[i]
	}
	for i := range dst {
		dst[i] /= sum
	}
}

// zscore standardises one channel of the window in place; a flat channel becomes zeros rather than NaN.
func zscore(x []float32) {
	var mean float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	sd := math.Sqrt(ss / float64(len(x)))
	inv := 0.0
	if sd > 0 {
		inv = 1 / sd
	}
	for i, v := range x {
		x[i] = float32((float64(v) - mean) * inv)
	}
}
