package pipeline

import (
	"fmt"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
)

// TokenModel is what makes a tokens topic and turns it back into signal: a codebook (every channel
// its own tokens, package tokenizer) or a joint codec (all channels of a montage coded together,
// tokenizer.JointCodec). Exactly one is set. Tokenizer and detokenize stages take either file as
// their model.
type TokenModel struct {
	Codebook *tokenizer.Codebook
	Joint    *tokenizer.JointCodec
}

// LoadTokenModel reads a codebook or a joint codec file.
func LoadTokenModel(path string) (TokenModel, error) {
	if tokenizer.IsJointCodecFile(path) {
		c, err := tokenizer.LoadJoint(path)
		return TokenModel{Joint: c}, err
	}
	cb, err := tokenizer.Load(path)
	return TokenModel{Codebook: cb}, err
}

// Name is the model's id, carried in every tokens message.
func (m TokenModel) Name() string {
	if m.Joint != nil {
		return m.Joint.Name
	}
	return m.Codebook.Name
}

// Version fingerprints the model's contents, carried in every tokens message.
func (m TokenModel) Version() uint32 {
	if m.Joint != nil {
		return m.Joint.Fingerprint()
	}
	return m.Codebook.Fingerprint()
}

func (m TokenModel) rateHz() float64 {
	if m.Joint != nil {
		return m.Joint.SampleRateHz
	}
	return m.Codebook.SampleRateHz
}

func (m TokenModel) bandHz() [2]float64 {
	if m.Joint != nil {
		return m.Joint.BandHz
	}
	return m.Codebook.BandHz
}

// reconstructor returns a function that turns one tokens message into interleaved samples, with
// scratch of its own (one per goroutine).
func (m TokenModel) reconstructor() (func(t *streams.Tokens, dst []float32) ([]float32, error), error) {
	if m.Joint != nil {
		return m.Joint.NewDetokenizer().Detokenize, nil
	}
	q, err := tokenizer.NewQuantizer(m.Codebook)
	if err != nil {
		return nil, fmt.Errorf("codebook %s: %w", m.Codebook.Name, err)
	}
	scratch := make([]float64, m.Codebook.PatchSamples)
	return func(t *streams.Tokens, dst []float32) ([]float32, error) { return q.Detokenize(t, dst, scratch) }, nil
}
