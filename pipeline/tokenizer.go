package pipeline

import (
	"context"
	"fmt"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
)

// TokenEmitter is what a sink implements to carry tokens (KafkaSink publishes them on the tokens
// topic); a tokenizer stage refuses to run on a sink without it.
type TokenEmitter interface {
	EmitTokens(ctx context.Context, t *streams.Tokens) error
}

// TokenizerStage turns the stream into discrete tokens, one message per patch carrying every
// channel the codebook's contract selects, with a learnt codebook (package tokenizer), or one coded
// block of the montage's channels per message with a joint codec. Frames pass on unchanged.
type TokenizerStage struct {
	name  string
	start func(streams.StreamInfo) (streamTokenizer, error)
	tk    streamTokenizer
	emit  func(*streams.Tokens) error // bound once at Start: a closure per frame would allocate
	// set for the duration of one Process call
	ctx context.Context
	out TokenEmitter
}

// streamTokenizer is one stream's tokenizer state (tokenizer.Tokenizer, tokenizer.JointTokenizer).
type streamTokenizer interface {
	Push(samples []float32, numSamples int, acquiredAtNs int64, emit func(*streams.Tokens) error) error
	AppendState(b []byte) []byte
	RestoreState(b []byte) ([]byte, error)
}

// NewTokenizerStage wraps a codebook's quantizer, which every stream's stage shares. With sideBits
// > 0 each patch's mean and scale go quantised to that many bits each (Tokenizer.SetSideBits),
// else as float32.
func NewTokenizerStage(q *tokenizer.Quantizer, sideBits int) *TokenizerStage {
	return &TokenizerStage{name: q.Codebook().Name, start: func(in streams.StreamInfo) (streamTokenizer, error) {
		tk, err := q.NewTokenizer(in)
		if err != nil {
			return nil, err
		}
		return tk, tk.SetSideBits(sideBits)
	}}
}

// NewJointTokenizerStage codes every stream with a joint codec, which every stream's stage shares
// (each stream's tokenizer has scratch of its own).
func NewJointTokenizerStage(c *tokenizer.JointCodec) *TokenizerStage {
	return &TokenizerStage{name: c.Name, start: func(in streams.StreamInfo) (streamTokenizer, error) { return c.NewTokenizer(in) }}
}

// Start checks the stream against the codebook's contract (rate, channel types) or the joint
// codec's montage.
func (s *TokenizerStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) {
	tk, err := s.start(in)
	if err != nil {
		return in, err
	}
	s.tk = tk
	s.emit = s.emitTokens
	return in, nil
}

// Process feeds the frame to the tokenizer, which emits the patches it completes.
func (s *TokenizerStage) Process(ctx context.Context, f *streams.Frame, out Emitter) error {
	te, ok := out.(TokenEmitter)
	if !ok {
		return fmt.Errorf("tokenizer %s: the pipeline's sink (%T) cannot publish tokens", s.name, out)
	}
	s.ctx, s.out = ctx, te
	err := s.tk.Push(f.Samples, f.NumSamples, f.AcquiredAtNs, s.emit)
	s.ctx, s.out = nil, nil
	return err
}

func (s *TokenizerStage) emitTokens(t *streams.Tokens) error { return s.out.EmitTokens(s.ctx, t) }

// checkTokenizerBand refuses a tokenizer whose codebook (or joint codec) was learnt on a band other
// than the one the pipeline's last band-pass before it passes: its patches would not look like the
// codewords.
func checkTokenizerBand(m TokenModel, band [2]float64, seen bool) error {
	name, learnt := m.Name(), m.bandHz()
	if !seen || learnt == band {
		return nil
	}
	if learnt == [2]float64{} {
		return fmt.Errorf("codebook %s was learnt on signal without a band-pass, the pipeline band-passes %g-%g Hz before it: learn the codebook with that band", name, band[0], band[1])
	}
	return fmt.Errorf("codebook %s was learnt on %g-%g Hz band-passed signal, the pipeline band-passes %g-%g Hz before it: use {kind: bandpass, low_hz: %g, high_hz: %g} or learn a codebook with that band",
		name, learnt[0], learnt[1], band[0], band[1], learnt[0], learnt[1])
}
