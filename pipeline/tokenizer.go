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
// channel the codebook's contract selects, with a learnt codebook (package tokenizer). Frames pass
// on unchanged.
type TokenizerStage struct {
	q    *tokenizer.Quantizer
	tk   *tokenizer.Tokenizer
	emit func(*streams.Tokens) error // bound once at Start: a closure per frame would allocate
	// set for the duration of one Process call
	ctx context.Context
	out TokenEmitter
}

// NewTokenizerStage wraps a codebook's quantizer, which every stream's stage shares.
func NewTokenizerStage(q *tokenizer.Quantizer) *TokenizerStage { return &TokenizerStage{q: q} }

// Start checks the stream against the codebook's contract (rate, channel types).
func (s *TokenizerStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) {
	tk, err := s.q.NewTokenizer(in)
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
		return fmt.Errorf("tokenizer %s: the pipeline's sink (%T) cannot publish tokens", s.q.Codebook().Name, out)
	}
	s.ctx, s.out = ctx, te
	err := s.tk.Push(f.Samples, f.NumSamples, f.AcquiredAtNs, s.emit)
	s.ctx, s.out = nil, nil
	return err
}

func (s *TokenizerStage) emitTokens(t *streams.Tokens) error { return s.out.EmitTokens(s.ctx, t) }

// checkTokenizerBand refuses a tokenizer whose codebook was learnt on a band other than the one the
// pipeline's last band-pass before it passes: its patches would not look like the codewords.
func checkTokenizerBand(cb *tokenizer.Codebook, band [2]float64, seen bool) error {
	if !seen || cb.BandHz == band {
		return nil
	}
	if cb.BandHz == [2]float64{} {
		return fmt.Errorf("codebook %s was learnt on signal without a band-pass, the pipeline band-passes %g-%g Hz before it: learn the codebook with that band", cb.Name, band[0], band[1])
	}
	return fmt.Errorf("codebook %s was learnt on %g-%g Hz band-passed signal, the pipeline band-passes %g-%g Hz before it: use {kind: bandpass, low_hz: %g, high_hz: %g} or learn a codebook with that band",
		cb.Name, cb.BandHz[0], cb.BandHz[1], band[0], band[1], cb.BandHz[0], cb.BandHz[1])
}
