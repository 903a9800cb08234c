package pipeline

import (
	"context"
	"fmt"
	"math"

	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/features"
	"github.com/neurostream/neurostream/streams"
)

// FeatureStage slides a window over the (cleaned) stream and, for every window, runs a list of
// feature extractors and emits one streams.FeatureVector holding all their values, in the order the
// extractors are listed. The extractors run as a features.Set, so spectral ones with the same Welch
// parameters share one spectrum per window. Frames pass through unchanged.
//
// The names are resolved once when the stream starts and shared by every vector; the values live in
// one buffer reused for each window, so a window costs no allocation in the stage (what the sink does
// to publish the vector is the sink's business). An emitted vector is valid only during the
// EmitFeatures call: an Emitter that keeps it must copy it.
type FeatureStage struct {
	windowSec, stepSec float64
	cfg                []features.ExtractorConfig

	fsHz     float64
	set      *features.Set
	windower *dsp.Windower
	vec      streams.FeatureVector

	// the frame being pushed, for stamping the windows it completes
	cur       *streams.Frame
	curStart  int64 // stream sample index of cur's first sample
	pushed    int64 // samples seen so far
	ctx       context.Context
	out       Emitter
	windowErr error
}

// NewFeatureStage returns a stage computing the extractors described by cfg (see
// features.ExtractorConfig) on windows of windowSec seconds every stepSec seconds.
func NewFeatureStage(windowSec, stepSec float64, cfg []features.ExtractorConfig) *FeatureStage {
	return &FeatureStage{windowSec: windowSec, stepSec: stepSec, cfg: cfg}
}

// checkFeatureTiming validates window and step lengths in seconds (used at config time too).
func checkFeatureTiming(windowSec, stepSec float64) error {
	if !(windowSec > 0) || math.IsInf(windowSec, 0) {
		return fmt.Errorf("window_sec %v: want a positive number of seconds", windowSec)
	}
	if !(stepSec > 0) || math.IsInf(stepSec, 0) {
		return fmt.Errorf("step_sec %v: want a positive number of seconds", stepSec)
	}
	return nil
}

// Start builds and configures the extractors for the stream and sizes the window buffer.
func (s *FeatureStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) {
	if err := checkFeatureTiming(s.windowSec, s.stepSec); err != nil {
		return in, fmt.Errorf("features: %w", err)
	}
	fs := in.SampleRateHz
	win := int(math.Round(s.windowSec * fs))
	step := int(math.Round(s.stepSec * fs))
	if win < 1 || step < 1 {
		return in, fmt.Errorf("features: window %g s / step %g s is under one sample at %g Hz", s.windowSec, s.stepSec, fs)
	}
	set, err := features.NewSet(s.cfg)
	if err != nil {
		return in, fmt.Errorf("features: %w", err)
	}
	names, err := set.Configure(in, win)
	if err != nil {
		return in, fmt.Errorf("features: %w", err)
	}
	w, err := dsp.NewWindower(len(in.Channels), win, step)
	if err != nil {
		return in, fmt.Errorf("features: %w", err)
	}
	s.fsHz, s.set, s.windower = fs, set, w
	s.vec = streams.FeatureVector{StreamID: in.StreamID, Names: names, Values: make([]float64, len(names))}
	return in, nil
}

// Names returns the feature names in the order of every emitted vector's values (after Start).
func (s *FeatureStage) Names() []string { return s.vec.Names }

// Process windows the frame; each window completed by it is turned into a feature vector, stamped
// with the frame's acquisition time and emitted. The frame itself is left as it is.
func (s *FeatureStage) Process(ctx context.Context, f *streams.Frame, out Emitter) error {
	s.cur, s.curStart, s.ctx, s.out, s.windowErr = f, s.pushed, ctx, out, nil
	s.windower.Push(f.Samples[:f.NumSamples*f.NumChannels], s.onWindow)
	s.pushed += int64(f.NumSamples)
	s.cur, s.ctx, s.out = nil, nil, nil
	return s.windowErr
}

func (s *FeatureStage) onWindow(window [][]float64, endSample int64) {
	if s.windowErr != nil {
		return
	}
	v := &s.vec
	if err := s.set.Extract(window, v.Values); err != nil {
		s.windowErr = fmt.Errorf("features of the window ending at sample %d: %w", endSample, err)
		return
	}
	f := s.cur
	v.StreamID = f.StreamID
	v.WindowEndSample = endSample
	v.WindowEndNs = f.SourceTimeNs + int64(float64(endSample-s.curStart)/s.fsHz*1e9)
	v.AcquiredAtNs = f.AcquiredAtNs
	if err := s.out.EmitFeatures(s.ctx, v); err != nil {
		s.windowErr = fmt.Errorf("emit features of window ending at sample %d: %w", endSample, err)
	}
}
