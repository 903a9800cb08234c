// Package learnt runs learnt tokenizers: a codebook of method learnt-vq names an ONNX encoder (trained
// in PyTorch by tools/models/train_tokenizer_vq.py) that maps one channel's normalised patch to a
// latent vector; package tokenizer then finds the nearest latent codeword and detokenizes with the
// decoder's output for it. The encoder runs through ONNX Runtime (decoders/onnx), with its input and
// output tensors allocated once.
//
// Data flow: codebook file + encoder model (configs/models) -> Open -> tokenizer.Quantizer, which the
// tokenizer stage, the detokenizer and `neurostream bench tokens` use like any other.
package learnt

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/neurostream/neurostream/decoders/onnx"
	"github.com/neurostream/neurostream/tokenizer"
)

// Encoder is a learnt tokenizer's ONNX encoder; it implements tokenizer.PatchEncoder. It is not safe
// for concurrent use (the Quantizer serialises its calls).
type Encoder struct {
	m *onnx.Model
	d int
}

// EncodePatch writes the latent vector of the normalised patch z.
func (e *Encoder) EncodePatch(z []float64, latent []float64) error {
	in := e.m.Input()
	if len(z) != len(in) || len(latent) != e.d {
		return fmt.Errorf("encoder %s: a %d-sample patch for %d inputs, %d latent values for %d", e.m.Contract().Name, len(z), len(in), len(latent), e.d)
	}
	for i, v := range z {
		in[i] = float32(v)
	}
	if err := e.m.Run(); err != nil {
		return err
	}
	for i, v := range e.m.Output()[:e.d] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("encoder %s: latent value %d is not finite", e.m.Contract().Name, i)
		}
		latent[i] = float64(v)
	}
	return nil
}

// LatentSize is the latent vector's length.
func (e *Encoder) LatentSize() int { return e.d }

// Close releases the ONNX session.
func (e *Encoder) Close() error { return e.m.Close() }

// Open loads a learnt-vq codebook file and its encoder (the file it names, beside it), checking the
// encoder's contract against the codebook: a tokenizer task, one channel, the codebook's patch length
// and rate, and as many latent values as the latent codewords have. Close the Encoder when done.
func Open(rt *onnx.Runtime, path string) (*tokenizer.Quantizer, *Encoder, error) {
	cb, err := tokenizer.Load(path)
	if err != nil {
		return nil, nil, err
	}
	if cb.Method != tokenizer.MethodLearntVQ {
		return nil, nil, fmt.Errorf("codebook %s: method %q is not a learnt tokenizer (use tokenizer.NewQuantizer)", path, cb.Method)
	}
	encPath := cb.Encoder
	if !filepath.IsAbs(encPath) {
		encPath = filepath.Join(filepath.Dir(path), encPath)
	}
	m, err := rt.OpenModel(encPath)
	if err != nil {
		return nil, nil, fmt.Errorf("codebook %s: %w", path, err)
	}
	c := m.Contract()
	d := len(cb.LatentCodewords[0])
	fail := func(format string, args ...any) (*tokenizer.Quantizer, *Encoder, error) {
		m.Close()
		return nil, nil, fmt.Errorf("codebook %s: encoder %s: "+format, append([]any{path, encPath}, args...)...)
	}
	switch {
	case c.Task != onnx.TaskTokenizer:
		return fail("task %q, want %q", c.Task, onnx.TaskTokenizer)
	case len(c.Channels) != 1:
		return fail("%d input channels, want 1 (a tokenizer encodes each channel's patch on its own)", len(c.Channels))
	case c.WindowSamples != cb.PatchSamples:
		return fail("window_samples %d, the codebook's patches have %d", c.WindowSamples, cb.PatchSamples)
	case math.Abs(c.SampleRateHz-cb.SampleRateHz) > 1e-9*cb.SampleRateHz:
		return fail("sample_rate_hz %g, the codebook's %g", c.SampleRateHz, cb.SampleRateHz)
	case c.Output.Kind != onnx.OutputEmbedding || c.Output.EmbeddingSize != d:
		return fail("output %s of %d values, the latent codewords have %d", c.Output.Kind, c.Output.EmbeddingSize, d)
	}
	if err := sameModality(contractChannelTypes(c), cb.ChannelTypes); err != nil {
		return fail("%v", err)
	}
	enc := &Encoder{m: m, d: d}
	q, err := tokenizer.NewLearntQuantizer(cb, enc)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return q, enc, nil
}

// contractChannelTypes reads the modality an encoder was trained on from its contract
// (preprocessing.channel_types, as tools/models/train_tokenizer_vq.py writes it).
func contractChannelTypes(c *onnx.Contract) []string {
	list, _ := c.Preprocessing["channel_types"].([]any)
	var types []string
	for _, v := range list {
		if t, ok := v.(string); ok {
			types = append(types, t)
		}
	}
	return types
}

// sameModality refuses an encoder whose channel types differ from its codebook's: an encoder learnt
// on EEG paired with an MEG codebook (or the other way round) would tokenize without complaint and
// produce nonsense.
func sameModality(encoder, codebook []string) error {
	if len(encoder) == 0 {
		return fmt.Errorf("the contract names no channel types (preprocessing.channel_types); re-export it with tools/models/train_tokenizer_vq.py")
	}
	a, b := slices.Sorted(slices.Values(encoder)), slices.Sorted(slices.Values(codebook))
	if !slices.Equal(a, b) {
		return fmt.Errorf("learnt on channel types %s, the codebook on %s: pair each codebook with the encoder trained with it",
			strings.Join(encoder, "+"), strings.Join(codebook, "+"))
	}
	return nil
}
