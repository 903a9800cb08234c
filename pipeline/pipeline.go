package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// Source produces the frames of one stream.
type Source interface {
	// Info describes the stream; it does not change while the source runs.
	Info() streams.StreamInfo
	// Next fills f (reusing its buffers) with the next frame, blocking as a live or paced source
	// must. It returns io.EOF when a finite source is exhausted.
	Next(ctx context.Context, f *streams.Frame) error
}

// Stage processes one stream's frames. A chain creates one Stage per stream, so a stage keeps that
// stream's state (filter memory, window buffers) in itself.
type Stage interface {
	// Start prepares the stage for the stream in and returns the description of the frames it
	// passes on (the same as in unless it changes channels or rate).
	Start(in streams.StreamInfo) (streams.StreamInfo, error)
	// Process handles one frame, modifying it in place; it may emit features or predictions.
	// Setting f.NumSamples to 0 stops the frame here (a resampler between output samples).
	Process(ctx context.Context, f *streams.Frame, out Emitter) error
}

// Emitter receives what stages produce besides frames.
type Emitter interface {
	EmitPrediction(ctx context.Context, p *streams.Prediction) error
	EmitFeatures(ctx context.Context, v *streams.FeatureVector) error
}

// Sink receives a processor's results: processed frames with their stream description, and
// everything stages emit.
type Sink interface {
	Emitter
	WriteStreamInfo(ctx context.Context, info *streams.StreamInfo) error
	WriteFrame(ctx context.Context, f *streams.Frame) error
}

// StageFactory builds a fresh stage for each stream.
type StageFactory struct {
	Name string
	New  func() (Stage, error)
}

// Processor runs a chain of stages over frames of any number of streams, creating each stream's
// stages when its first frame arrives, and hands results to a sink. It is safe for concurrent use
// by goroutines that handle different streams.
type Processor struct {
	name      string
	factories []StageFactory
	sink      Sink
	lookup    func(ctx context.Context, streamID string) (streams.StreamInfo, error)
	metrics   *metrics.Metrics
	log       *slog.Logger

	mu     sync.Mutex
	chains map[string]*chain
}

type stageCounters struct{ framesIn, samplesIn, framesOut, samplesOut prometheus.Counter }

type chain struct {
	mu      sync.Mutex
	stages  []Stage
	names   []string
	counts  []stageCounters // resolved once: label lookups per frame would allocate
	outInfo streams.StreamInfo
	inInfo  streams.StreamInfo
	err     error // a chain that failed to start rejects the stream's frames with this
}

// ProcessorConfig configures NewProcessor.
type ProcessorConfig struct {
	Name   string // labels metrics and logs
	Stages []StageFactory
	Sink   Sink
	// Lookup returns the description of a stream the processor has not seen yet.
	Lookup  func(ctx context.Context, streamID string) (streams.StreamInfo, error)
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// NewProcessor checks the config and returns a processor.
func NewProcessor(cfg ProcessorConfig) (*Processor, error) {
	if cfg.Sink == nil || cfg.Lookup == nil {
		return nil, fmt.Errorf("processor %q: needs a sink and a stream-info lookup", cfg.Name)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Processor{name: cfg.Name, factories: cfg.Stages, sink: cfg.Sink, lookup: cfg.Lookup,
		metrics: cfg.Metrics, log: cfg.Log, chains: make(map[string]*chain)}, nil
}

func (p *Processor) chainFor(ctx context.Context, streamID string) *chain {
	p.mu.Lock()
	c, ok := p.chains[streamID]
	if !ok {
		c = &chain{}
		p.chains[streamID] = c
		c.mu.Lock() // started below, outside p.mu, so slow lookups do not block other streams
	}
	p.mu.Unlock()
	if ok {
		c.mu.Lock()
		return c
	}
	c.err = p.start(ctx, c, streamID)
	if c.err != nil {
		c.close(p.log)
		p.log.Error("stream rejected: its stages could not start", "processor", p.name, "stream", streamID, "err", c.err)
	}
	return c
}

func (p *Processor) start(ctx context.Context, c *chain, streamID string) error {
	info, err := p.lookup(ctx, streamID)
	if err != nil {
		return fmt.Errorf("stream %s: %w", streamID, err)
	}
	c.inInfo = info
	cur := info
	for _, f := range p.factories {
		st, err := f.New()
		if err != nil {
			return fmt.Errorf("stream %s: build stage %s: %w", streamID, f.Name, err)
		}
		c.stages = append(c.stages, st)
		c.names = append(c.names, f.Name)
		if cur, err = st.Start(cur); err != nil {
			return fmt.Errorf("stream %s: start stage %s: %w", streamID, f.Name, err)
		}
		m := p.metrics
		c.counts = append(c.counts, stageCounters{m.FramesIn.WithLabelValues(f.Name), m.SamplesIn.WithLabelValues(f.Name),
			m.FramesOut.WithLabelValues(f.Name), m.SamplesOut.WithLabelValues(f.Name)})
	}
	c.outInfo = cur
	if err := p.sink.WriteStreamInfo(ctx, &c.outInfo); err != nil {
		return fmt.Errorf("stream %s: publish processed stream info: %w", streamID, err)
	}
	return nil
}

// Process runs f through its stream's chain. Invalid frames (wrong shape for the stream, NaN or
// infinite samples) are counted, logged and dropped with an error; the stream goes on.
func (p *Processor) Process(ctx context.Context, f *streams.Frame) error {
	c := p.chainFor(ctx, f.StreamID)
	defer c.mu.Unlock()
	if c.err != nil {
		p.metrics.Rejected.WithLabelValues("stream-not-started").Inc()
		return c.err
	}
	if err := f.Validate(); err != nil {
		p.metrics.Rejected.WithLabelValues("invalid-frame").Inc()
		return err
	}
	if f.NumChannels != len(c.inInfo.Channels) {
		p.metrics.Rejected.WithLabelValues("channel-count").Inc()
		return fmt.Errorf("frame %s#%d has %d channels, the stream info says %d", f.StreamID, f.Seq, f.NumChannels, len(c.inInfo.Channels))
	}
	for i, st := range c.stages {
		if f.NumSamples == 0 {
			return nil
		}
		cnt := &c.counts[i]
		cnt.framesIn.Inc()
		cnt.samplesIn.Add(float64(f.NumSamples))
		if err := st.Process(ctx, f, p.sink); err != nil {
			p.metrics.Rejected.WithLabelValues("stage-error").Inc()
			return fmt.Errorf("stage %s on %s#%d: %w", c.names[i], f.StreamID, f.Seq, err)
		}
		cnt.framesOut.Inc()
		cnt.samplesOut.Add(float64(f.NumSamples))
	}
	if f.NumSamples == 0 {
		return nil
	}
	return p.sink.WriteFrame(ctx, f)
}

// Close releases what the stages of every stream hold (decoder sessions); call it once the
// processor gets no more frames.
func (p *Processor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for id, c := range p.chains {
		c.mu.Lock()
		errs = append(errs, c.close(p.log))
		c.mu.Unlock()
		delete(p.chains, id)
	}
	return errors.Join(errs...)
}

// close closes the chain's stages that hold resources, logging and returning what failed.
func (c *chain) close(log *slog.Logger) error {
	var errs []error
	for i, st := range c.stages {
		if cl, ok := st.(io.Closer); ok {
			if err := cl.Close(); err != nil {
				log.Warn("closing a stage failed", "stage", c.names[i], "err", err)
				errs = append(errs, fmt.Errorf("close stage %s: %w", c.names[i], err))
			}
		}
	}
	c.stages = nil
	return errors.Join(errs...)
}
