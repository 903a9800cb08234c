package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

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
//
// It is also where a stream's trust boundary lies: every frame is checked (shape, finite samples,
// channel count against the stream's description, sequence number and epoch) before it can change
// anything, and a rejected frame is counted by reason and logged at most once a minute per stream.
// A stream whose description has not arrived yet waits on its own (its frames held, up to a bound),
// never holding up other streams.
type Processor struct {
	name      string
	topic     string
	factories []StageFactory
	sink      Sink
	lookup    func(ctx context.Context, streamID string) (streams.StreamInfo, error)
	known     func(streamID string) (streams.StreamInfo, bool)
	metrics   *metrics.Metrics
	log       *slog.Logger
	warn      *rateLimitedLog

	gaps, dups, restarts prometheus.Counter

	only   map[string]bool // the streams processed (nil: all)
	onFail func(error)     // called once per stream whose stages cannot start, if set

	// Stage state across restarts (see state.go); nil state keeps nothing.
	state           *StateStore
	stateKey        string // key prefix: the consumer group
	fingerprint     string
	checkpointEvery time.Duration

	mu      sync.Mutex
	chains  map[string]*chain
	waiting int // streams whose description is being waited for
}

type stageCounters struct{ framesIn, samplesIn, framesOut, samplesOut prometheus.Counter }

// chainState says whether a stream's stages run.
type chainState int

const (
	chainWaiting chainState = iota // for the stream's description; frames are held in pending
	chainReady
	chainFailed // its stages could not start, or its description never came (retried later)
)

type chain struct {
	mu      sync.Mutex
	state   chainState
	stages  []Stage
	names   []string
	counts  []stageCounters // resolved once: label lookups per frame would allocate
	outInfo streams.StreamInfo
	inInfo  streams.StreamInfo
	seq     streams.SeqTracker
	err     error     // why a failed chain rejects the stream's frames
	reason  string    // the rejection reason its frames are counted under
	retryAt time.Time // when a chain that failed for want of a description tries again

	pending      []*streams.Frame // frames that came before the description, in order
	pendingBytes int
	settled      chan struct{} // closed when a waiting chain is ready or failed

	// saved is the input position (epoch, seq) the last published snapshot covers. A chain
	// interrupted in the middle of a frame (the process is stopping) is tainted: its state is ahead
	// of what it published, so it is never snapshotted.
	saved                bool
	savedEpoch, savedSeq uint64
	tainted              bool
	coldWarned           bool
}

// Bounds on what a stream waiting for its description may hold, and how many may wait at once: frames
// with made-up stream ids must not fill the memory.
const (
	maxPendingFrames  = 512
	maxPendingBytes   = 8 << 20
	maxWaitingStreams = 256
	// infoRetry is how long a stream whose description never came is refused before looking again.
	infoRetry = time.Minute
)

// ProcessorConfig configures NewProcessor.
type ProcessorConfig struct {
	Name string // labels metrics and logs
	// Topic labels the sequence metrics (gaps, duplicates, restarts); default Name.
	Topic  string
	Stages []StageFactory
	Sink   Sink
	// Lookup returns the description of a stream the processor has not seen yet. It may block (a
	// description still to be published); with Known set it runs in its own goroutine.
	Lookup func(ctx context.Context, streamID string) (streams.StreamInfo, error)
	// Known, if set, answers at once whether a stream's description is at hand; a stream whose
	// description is not is started in the background, its frames held meanwhile, so that it never
	// delays the frames of other streams. Without it, Lookup is called in line.
	Known   func(streamID string) (streams.StreamInfo, bool)
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// State, if set, makes the stages' state survive restarts and rebalances: Consume snapshots it
	// every CheckpointEvery (default DefaultCheckpointEvery) under StateKey/<stream>, and a chain that starts or falls
	// behind resumes from the newest snapshot. Fingerprint names the stage configuration; a snapshot
	// taken under another is not restored.
	State           *StateStore
	StateKey        string
	Fingerprint     string
	CheckpointEvery time.Duration
	// Streams, if set, limits the processor to these stream ids (see Wants).
	Streams []string
}

// DefaultCheckpointEvery is how often stage state is snapshotted and offsets committed unless a
// pipeline says otherwise. Each checkpoint is a burst (every advanced stream's state, ~17 KB each,
// through the broker and back to the state followers); at 1 s that burst held up the predictions of
// 100 streams often enough to set their p99 (1.5-9.9x the 5-ms goal in 5 of 5 runs, against 0.6-4.0x
// with 4 of 5 under the goal at 5 s, same machine and load). The price of a longer interval is
// paid only after a crash: up to that much input is processed again and its results published
// again, which consumers drop as repeats.
const DefaultCheckpointEvery = 5 * time.Second

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
	if cfg.Topic == "" {
		cfg.Topic = cfg.Name
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	var only map[string]bool
	if len(cfg.Streams) > 0 {
		only = make(map[string]bool, len(cfg.Streams))
		for _, id := range cfg.Streams {
			only[id] = true
		}
	}
	if cfg.StateKey == "" {
		cfg.StateKey = cfg.Name
	}
	m := cfg.Metrics
	return &Processor{name: cfg.Name, topic: cfg.Topic, factories: cfg.Stages, sink: cfg.Sink, lookup: cfg.Lookup, known: cfg.Known,
		metrics: m, log: cfg.Log, warn: newRateLimitedLog(cfg.Log, time.Minute),
		gaps: m.SeqGaps.WithLabelValues(cfg.Topic), dups: m.SeqDups.WithLabelValues(cfg.Topic), restarts: m.SeqRestarts.WithLabelValues(cfg.Topic),
		chains: make(map[string]*chain), only: only,
		state: cfg.State, stateKey: cfg.StateKey, fingerprint: cfg.Fingerprint, checkpointEvery: cfg.CheckpointEvery}, nil
}

// chainFor returns the stream's chain, locked, creating it on the stream's first frame: at once when
// its description is at hand (or there is no Known), else in the background.
func (p *Processor) chainFor(ctx context.Context, streamID string) *chain {
	p.mu.Lock()
	c, ok := p.chains[streamID]
	if ok {
		p.mu.Unlock()
		c.mu.Lock()
		if c.state == chainFailed && c.reason == "no-stream-info" && time.Now().After(c.retryAt) {
			p.mu.Lock()
			c.state, c.err = chainWaiting, nil
			p.startWaiting(ctx, c, streamID)
			p.mu.Unlock()
		}
		return c
	}
	c = &chain{}
	p.chains[streamID] = c
	c.mu.Lock() // started below, outside p.mu, so that a slow start does not block other streams
	if p.known != nil {
		if info, ok := p.known(streamID); ok {
			p.mu.Unlock()
			p.startWith(ctx, c, streamID, info)
			return c
		}
		p.startWaiting(ctx, c, streamID)
		p.mu.Unlock()
		return c
	}
	p.mu.Unlock()
	info, err := p.lookup(ctx, streamID)
	if err != nil {
		p.fail(c, streamID, "no-stream-info", fmt.Errorf("stream %s: %w", streamID, err))
		return c
	}
	p.startWith(ctx, c, streamID, info)
	return c
}

// startWaiting looks the stream's description up in the background (p.mu and c.mu held); frames
// that arrive meanwhile are held and run, in order, once it has started.
func (p *Processor) startWaiting(ctx context.Context, c *chain, streamID string) {
	if p.waiting >= maxWaitingStreams {
		c.state, c.reason, c.retryAt = chainFailed, "no-stream-info", time.Now().Add(infoRetry)
		c.err = fmt.Errorf("stream %s: no description, and %d other streams are already waiting for theirs", streamID, p.waiting)
		return
	}
	p.waiting++
	c.state = chainWaiting
	settled := make(chan struct{})
	c.settled = settled
	go func() {
		info, err := p.lookup(ctx, streamID)
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		defer close(settled)
		pending := c.pending
		c.pending, c.pendingBytes = nil, 0
		if err != nil {
			p.fail(c, streamID, "no-stream-info", fmt.Errorf("stream %s: %w", streamID, err))
			if len(pending) > 0 {
				p.metrics.Rejected.WithLabelValues(c.reason).Add(float64(len(pending)))
			}
			return
		}
		if p.startWith(ctx, c, streamID, info); c.state != chainReady {
			p.metrics.Rejected.WithLabelValues(c.reason).Add(float64(len(pending)))
			return
		}
		for _, f := range pending {
			if err := p.processReady(ctx, c, f); err != nil && ctx.Err() == nil {
				p.warn.log(f.StreamID, "frame rejected", "processor", p.name, "stream", f.StreamID, "seq", f.Seq, "err", err)
			}
		}
	}()
}

// startWith builds and starts the stream's stages from its description (c.mu held).
func (p *Processor) startWith(ctx context.Context, c *chain, streamID string, info streams.StreamInfo) {
	if err := p.start(ctx, c, streamID, info); err != nil {
		p.fail(c, streamID, "stream-not-started", err)
		return
	}
	c.state = chainReady
}

// fail marks the chain failed (c.mu held) and reports it once.
func (p *Processor) fail(c *chain, streamID, reason string, err error) {
	c.close(p.log)
	c.state, c.err, c.reason = chainFailed, err, reason
	c.stages, c.names, c.counts = nil, nil, nil
	if reason == "no-stream-info" {
		c.retryAt = time.Now().Add(infoRetry)
	}
	if !errors.Is(err, context.Canceled) {
		p.log.Error("stream rejected: its stages could not start", "processor", p.name, "stream", streamID, "err", err)
		if p.onFail != nil {
			p.onFail(err)
		}
	}
}

// Wants reports whether the processor takes the stream's frames (ProcessorConfig.Streams).
func (p *Processor) Wants(streamID string) bool { return p.only == nil || p.only[streamID] }

func (p *Processor) start(ctx context.Context, c *chain, streamID string, info streams.StreamInfo) error {
	if err := info.Validate(); err != nil {
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

// ErrHeld is returned by Process for a frame held until its stream's description arrives.
var ErrHeld = errors.New("frame held until its stream's description arrives")

// Process runs f through its stream's chain. Invalid frames (no stream id, wrong shape for the
// stream, NaN or infinite samples, an implausible sequence number) are counted by reason and dropped
// with an error; the stream goes on. A frame of a stream whose description has not arrived is kept
// (a copy) and ErrHeld returned; it runs once the description is there.
func (p *Processor) Process(ctx context.Context, f *streams.Frame) error {
	if err := f.Validate(); err != nil {
		reason := "invalid-frame"
		if f.StreamID == "" {
			reason = "no-stream-id"
		}
		p.metrics.Rejected.WithLabelValues(reason).Inc()
		return err
	}
	c := p.chainFor(ctx, f.StreamID)
	defer c.mu.Unlock()
	for {
		switch c.state {
		case chainFailed:
			p.metrics.Rejected.WithLabelValues(c.reason).Inc()
			return c.err
		case chainWaiting:
			size := 4*len(f.Samples) + 64
			if len(c.pending) >= maxPendingFrames || c.pendingBytes+size > maxPendingBytes {
				// Held frames are bounded; beyond them the consumer waits for the description (or
				// for the wait to fail), as a backlog read faster than the descriptions must, rather
				// than drop frames it has taken.
				settled := c.settled
				c.mu.Unlock()
				select {
				case <-settled:
				case <-ctx.Done():
				}
				c.mu.Lock()
				if err := ctx.Err(); err != nil {
					return err
				}
				continue
			}
			held := new(streams.Frame)
			held.CopyFrom(f)
			c.pending = append(c.pending, held)
			c.pendingBytes += size
			return ErrHeld
		}
		return p.processReady(ctx, c, f)
	}
}

// processReady checks f against its started stream and runs the stages (c.mu held).
func (p *Processor) processReady(ctx context.Context, c *chain, f *streams.Frame) error {
	if f.NumChannels != len(c.inInfo.Channels) {
		p.metrics.Rejected.WithLabelValues("channel-count").Inc()
		return fmt.Errorf("frame %s#%d has %d channels, the stream info says %d", f.StreamID, f.Seq, f.NumChannels, len(c.inInfo.Channels))
	}
	if p.state != nil {
		if err := p.resume(ctx, c, f); err != nil {
			return err
		}
	}
	err := p.runStages(ctx, c, f)
	if err != nil && ctx.Err() != nil {
		c.tainted = true
	}
	return err
}

// runStages checks f's sequence number and takes it through the stages to the sink (c.mu held).
func (p *Processor) runStages(ctx context.Context, c *chain, f *streams.Frame) error {
	seq := c.seq.Check(f.Epoch, f.Seq)
	switch {
	case seq.Duplicate:
		p.dups.Inc()
		return fmt.Errorf("frame %s#%d: %w", f.StreamID, f.Seq, errDuplicate)
	case seq.Rejected != "":
		p.metrics.Rejected.WithLabelValues(seq.Rejected).Inc()
		epoch, last, _ := c.seq.Last()
		return fmt.Errorf("frame %s epoch %d #%d: implausible after epoch %d #%d (%s); dropped", f.StreamID, f.Epoch, f.Seq, epoch, last, seq.Rejected)
	case seq.Restart:
		p.restarts.Inc()
		p.log.Info("stream restarted: a new sequence begins", "processor", p.name, "stream", f.StreamID, "epoch", f.Epoch, "seq", f.Seq)
	case seq.Missing > 0:
		p.gaps.Add(float64(seq.Missing))
		p.warn.log(f.StreamID, "sequence gap", "processor", p.name, "stream", f.StreamID, "seq", f.Seq, "missing", seq.Missing)
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

// errDuplicate marks a frame dropped because its sequence number was already seen.
var errDuplicate = errors.New("duplicate sequence number; dropped")

// IsDuplicate reports whether err is Process's refusal of an already-seen frame.
func IsDuplicate(err error) bool { return errors.Is(err, errDuplicate) }

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
