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

// TokenizerStage turns the stream into discrete tokens, one message per patch of every channel,
// with a learnt codebook (package tokenizer). Frames pass on unchanged.
type TokenizerStage struct {
	cb   *tokenizer.Codebook
	tk   *tokenizer.Tokenizer
	emit func(*streams.Tokens) error // bound once at Start: a closure per frame would allocate
	// set for the duration of one Process call
	ctx context.Context
	out TokenEmitter
}

// NewTokenizerStage wraps a codebook.
func NewTokenizerStage(cb *tokenizer.Codebook) *TokenizerStage { return &TokenizerStage{cb: cb} }

// Start checks the stream against the codebook.
func (s *TokenizerStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) {
	tk, err := tokenizer.New(s.cb, in)
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
		return fmt.Errorf("tokenizer %s: the pipeline's sink (%T) cannot publish tokens", s.cb.Name, out)
	}
	s.ctx, s.out = ctx, te
	err := s.tk.Push(f.Samples, f.NumSamples, f.AcquiredAtNs, s.emit)
	s.ctx, s.out = nil, nil
	return err
}

func (s *TokenizerStage) emitTokens(t *streams.Tokens) error { return s.out.EmitTokens(s.ctx, t) }
