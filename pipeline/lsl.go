package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/neurostream/neurostream/acquisition/lsl"
	"github.com/neurostream/neurostream/streams"
)

// LSLOut re-publishes what pipelines produce over the Lab Streaming Layer, so LabRecorder,
// MNE-LSL or OpenViBE can read neurostream's results: every processed stream as a float32 outlet
// named "<name> <stream id>" (microvolts), every prediction as a JSON string on the marker outlet
// "<name> predictions". Outlets start when their stream's description (or first prediction) arrives.
// Publishing over LSL never fails a pipeline: errors are logged.
type LSLOut struct {
	name  string
	log   *slog.Logger
	mu    sync.Mutex
	outs  map[string]*lsl.FrameOutlet
	preds *lsl.PredictionOutlet
	warn  map[string]bool
}

// NewLSLOut prepares outlets named after name.
func NewLSLOut(name string, log *slog.Logger) *LSLOut {
	if log == nil {
		log = slog.Default()
	}
	return &LSLOut{name: name, log: log, outs: map[string]*lsl.FrameOutlet{}, warn: map[string]bool{}}
}

// Wrap returns a sink that passes everything to s and also to the LSL outlets.
func (o *LSLOut) Wrap(s Sink) Sink { return &lslSink{Sink: s, out: o} }

// Close stops every outlet.
func (o *LSLOut) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for _, fo := range o.outs {
		errs = append(errs, fo.Close())
	}
	if o.preds != nil {
		errs = append(errs, o.preds.Close())
	}
	o.outs, o.preds = map[string]*lsl.FrameOutlet{}, nil
	return errors.Join(errs...)
}

func (o *LSLOut) logOnce(key, msg string, err error) {
	if !o.warn[key] {
		o.warn[key] = true
		o.log.Warn(msg, "err", err)
	}
}

func (o *LSLOut) streamInfo(info *streams.StreamInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if old, ok := o.outs[info.StreamID]; ok {
		_ = old.Close()
		delete(o.outs, info.StreamID)
	}
	fo, err := lsl.NewFrameOutlet(info, o.name+" "+info.StreamID, lsl.OutletOptions{Log: o.log})
	if err != nil {
		o.logOnce("outlet "+info.StreamID, fmt.Sprintf("lsl out: cannot start an outlet for %s", info.StreamID), err)
		return
	}
	o.outs[info.StreamID] = fo
	o.log.Info("lsl out: publishing", "stream", info.StreamID, "lsl_name", o.name+" "+info.StreamID, "channels", len(info.Channels))
}

func (o *LSLOut) frame(f *streams.Frame) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if fo, ok := o.outs[f.StreamID]; ok {
		if err := fo.PushFrame(f); err != nil {
			o.logOnce("push "+f.StreamID, "lsl out: frame not published", err)
		}
	}
}

func (o *LSLOut) prediction(p *streams.Prediction) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.preds == nil {
		po, err := lsl.NewPredictionOutlet(o.name+" predictions", lsl.OutletOptions{Log: o.log})
		if err != nil {
			o.logOnce("predictions", "lsl out: cannot start the predictions outlet", err)
			return
		}
		o.preds = po
	}
	if err := o.preds.Push(p); err != nil {
		o.logOnce("push predictions", "lsl out: prediction not published", err)
	}
}

type lslSink struct {
	Sink
	out *LSLOut
}

func (s *lslSink) WriteStreamInfo(ctx context.Context, info *streams.StreamInfo) error {
	if err := s.Sink.WriteStreamInfo(ctx, info); err != nil {
		return err
	}
	s.out.streamInfo(info)
	return nil
}

func (s *lslSink) WriteFrame(ctx context.Context, f *streams.Frame) error {
	if err := s.Sink.WriteFrame(ctx, f); err != nil {
		return err
	}
	s.out.frame(f)
	return nil
}

func (s *lslSink) EmitPrediction(ctx context.Context, p *streams.Prediction) error {
	if err := s.Sink.EmitPrediction(ctx, p); err != nil {
		return err
	}
	s.out.prediction(p)
	return nil
}

// Barrier passes the inner sink's on: the wrapper must not hide what the committer waits for.
func (s *lslSink) Barrier(ctx context.Context) error {
	if b, ok := s.Sink.(barrierSink); ok {
		return b.Barrier(ctx)
	}
	return nil
}

// EmitTokens passes tokens on: the wrapper must not hide the inner sink's token output.
func (s *lslSink) EmitTokens(ctx context.Context, t *streams.Tokens) error {
	if te, ok := s.Sink.(TokenEmitter); ok {
		return te.EmitTokens(ctx, t)
	}
	return fmt.Errorf("sink %T takes no tokens", s.Sink)
}
