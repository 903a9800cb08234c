package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/neurostream/neurostream/decoders"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// FilterStage runs a causal IIR filter (second-order sections) over every channel, with state kept
// per channel, in place on the frame: no allocation per frame.
type FilterStage struct {
	design func(fsHz float64) (dsp.SOS, error)
	filter *dsp.SOSFilter
	// steady starts each channel's state at its first sample's steady state (scipy's sosfilt_zi),
	// avoiding the start-up transient a DC offset would cause.
	steady  bool
	started bool
	x0      []float64
}

// NewBandpass returns a Butterworth band-pass stage (order per edge, as scipy.signal.butter).
func NewBandpass(order int, lowHz, highHz float64) *FilterStage {
	return &FilterStage{steady: true, design: func(fs float64) (dsp.SOS, error) {
		return dsp.Butter(order, []float64{lowHz, highHz}, dsp.Bandpass, fs)
	}}
}

// NewNotch returns an IIR notch stage at freqHz with quality factor q (scipy.signal.iirnotch).
func NewNotch(freqHz, q float64) *FilterStage {
	return &FilterStage{design: func(fs float64) (dsp.SOS, error) { return dsp.IIRNotch(freqHz, q, fs) }}
}

// Start designs the filter for the stream's sampling rate.
func (s *FilterStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) {
	sos, err := s.design(in.SampleRateHz)
	if err != nil {
		return in, fmt.Errorf("design filter for %g Hz: %w", in.SampleRateHz, err)
	}
	s.filter = dsp.NewSOSFilter(sos, len(in.Channels))
	if err := s.filter.Err(); err != nil {
		return in, err
	}
	s.x0 = make([]float64, len(in.Channels))
	return in, nil
}

// Process filters f in place.
func (s *FilterStage) Process(_ context.Context, f *streams.Frame, _ Emitter) error {
	if s.steady && !s.started {
		for c := range s.x0 {
			s.x0[c] = float64(f.Samples[c])
		}
		s.filter.SteadyState(s.x0)
	}
	s.started = true
	s.filter.ProcessInterleaved32(f.Samples, f.Samples)
	return nil
}

// DecoderStage slides a window over the stream and asks a decoder for a prediction every step.
type DecoderStage struct {
	dec       decoders.WindowDecoder
	stepSec   float64
	metrics   *metrics.Metrics
	decodeObs prometheus.Observer

	info     streams.StreamInfo
	channels []int
	windower *dsp.Windower
	sel      []float32 // the frame's selected channels, interleaved
	pred     streams.Prediction
	// the frame being pushed, for timing the windows it completes
	cur       *streams.Frame
	curStart  int64 // stream sample index of cur's first sample
	pushed    int64
	ctx       context.Context
	out       Emitter
	decodeErr error
}

// NewDecoderStage wraps dec; stepSec is the hop between windows (e.g. 0.0625 for 62.5 ms).
func NewDecoderStage(dec decoders.WindowDecoder, stepSec float64, m *metrics.Metrics) *DecoderStage {
	return &DecoderStage{dec: dec, stepSec: stepSec, metrics: m}
}

// Start binds the decoder to the stream.
func (s *DecoderStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) {
	chans, err := s.dec.Bind(in)
	if err != nil {
		return in, fmt.Errorf("decoder %s: %w", s.dec.Name(), err)
	}
	step := int(s.stepSec*in.SampleRateHz + 0.5)
	if step < 1 {
		return in, fmt.Errorf("decoder %s: step %g s is under one sample at %g Hz", s.dec.Name(), s.stepSec, in.SampleRateHz)
	}
	w, err := dsp.NewWindower(len(chans), s.dec.WindowSamples(), step)
	if err != nil {
		return in, fmt.Errorf("decoder %s: %w", s.dec.Name(), err)
	}
	s.info, s.channels, s.windower = in, chans, w
	if s.metrics != nil {
		s.decodeObs = s.metrics.DecodeTime.WithLabelValues(s.dec.Name())
	}
	return in, nil
}

// Process pushes the frame's selected channels into the window buffer; each completed window is
// decoded and its prediction emitted, stamped with this frame's acquisition time.
func (s *DecoderStage) Process(ctx context.Context, f *streams.Frame, out Emitter) error {
	nsel := len(s.channels)
	need := f.NumSamples * nsel
	if cap(s.sel) < need {
		s.sel = make([]float32, need)
	}
	s.sel = s.sel[:need]
	for t := 0; t < f.NumSamples; t++ {
		row := f.Samples[t*f.NumChannels : (t+1)*f.NumChannels]
		dst := s.sel[t*nsel : (t+1)*nsel]
		for i, c := range s.channels {
			dst[i] = row[c]
		}
	}
	s.cur, s.curStart, s.ctx, s.out, s.decodeErr = f, s.pushed, ctx, out, nil
	s.windower.Push(s.sel, s.decodeWindow)
	s.pushed += int64(f.NumSamples)
	s.cur, s.ctx, s.out = nil, nil, nil
	return s.decodeErr
}

// Close releases the decoder's resources (an ONNX session) if it holds any.
func (s *DecoderStage) Close() error { return closeDecoder(s.dec) }

func (s *DecoderStage) decodeWindow(window [][]float64, endSample int64) {
	if s.decodeErr != nil {
		return
	}
	p := &s.pred
	p.Reset()
	t0 := time.Now()
	if err := s.dec.Decode(window, p); err != nil {
		s.decodeErr = fmt.Errorf("decoder %s: %w", s.dec.Name(), err)
		return
	}
	if s.decodeObs != nil {
		s.decodeObs.Observe(time.Since(t0).Seconds())
	}
	f := s.cur
	p.StreamID = f.StreamID
	p.Decoder = s.dec.Name()
	p.WindowEndSample = endSample
	p.WindowEndSourceNs = f.SourceTimeNs + int64(float64(endSample-s.curStart)/s.info.SampleRateHz*1e9)
	p.AcquiredAtNs = f.AcquiredAtNs
	if err := s.out.EmitPrediction(s.ctx, p); err != nil {
		s.decodeErr = err
	}
}
