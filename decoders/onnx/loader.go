package onnx

import (
	"errors"
	"fmt"
	"sync"
)

// Loader opens decoders that share one Runtime, started by the first Load, so that a program that
// may run ONNX decoders (a pipeline config naming several ONNX stages, or none) loads the shared
// library only if one is asked for, once, and releases it with Close. Safe for concurrent use: the
// pipeline loads one decoder per stream as streams appear.
type Loader struct {
	cfg Config
	mu  sync.Mutex
	rt  *Runtime
}

// NewLoader returns a Loader whose Runtime will be created with cfg.
func NewLoader(cfg Config) *Loader { return &Loader{cfg: cfg} }

// Load opens modelPath as Load(rt, modelPath, opts...) does, starting the shared Runtime first if
// this is the first model. A missing runtime library fails here, with how to install it.
func (l *Loader) Load(modelPath string, opts ...Option) (*Decoder, error) {
	if modelPath == "" {
		return nil, errors.New("onnx decoder: no model file given")
	}
	l.mu.Lock()
	if l.rt == nil {
		rt, err := NewRuntime(l.cfg)
		if err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("onnx decoder %s: %w", modelPath, err)
		}
		l.rt = rt
	}
	rt := l.rt
	l.mu.Unlock()
	return Load(rt, modelPath, opts...)
}

// Runtime returns the shared Runtime, starting it if no model has yet (for models other than
// decoders, such as a learnt tokenizer's encoder). Close what was opened with it before Close.
func (l *Loader) Runtime() (*Runtime, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rt == nil {
		rt, err := NewRuntime(l.cfg)
		if err != nil {
			return nil, err
		}
		l.rt = rt
	}
	return l.rt, nil
}

// Close releases the shared Runtime, if one was started; close the decoders first. A later Load
// starts a new one.
func (l *Loader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rt == nil {
		return nil
	}
	err := l.rt.Close()
	l.rt = nil
	return err
}
