package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
	"github.com/neurostream/neurostream/streams/spool"
)

// KafkaSink publishes a processor's results: frames to FramesTopic (if set) with their description
// under FramesKind on the stream-info topic, predictions to the predictions topic, features to the
// features topic.
//
// With Async set, frames, predictions, features and tokens are queued and the stage goes on at once
// (see streams.AsyncWriter); Barrier then says when what was emitted has been acknowledged, and
// Consume commits offsets and snapshots stage state only after it. Without it every write waits
// for the broker.
type KafkaSink struct {
	Producer    *streams.Producer
	Async       *streams.AsyncWriter
	Topics      streams.Topics
	FramesTopic string // "" drops processed frames (a decoder-only pipeline)
	FramesKind  string // stream-info key kind of FramesTopic, e.g. "clean"
	Metrics     *metrics.Metrics
	// Log reports asynchronous writes the broker refused (default slog.Default()).
	Log *slog.Logger
	// OnPrediction, if set, sees every prediction after it was published (the demo prints them).
	OnPrediction func(p *streams.Prediction)

	bind                           sync.Once
	warn                           *rateLimitedLog
	predAck                        func(*streams.Prediction, error)
	frameAck, featureAck, tokenAck func(error)
}

// acks binds the asynchronous writes' callbacks once: a method value per write would allocate.
func (k *KafkaSink) acks() {
	k.bind.Do(func() {
		log := k.Log
		if log == nil {
			log = slog.Default()
		}
		k.warn = newRateLimitedLog(log, time.Minute)
		k.predAck = func(p *streams.Prediction, err error) {
			if err != nil {
				k.refused("publish-predictions", err)
				return
			}
			k.published(p)
		}
		k.frameAck = func(err error) { k.refused("publish-frames", err) }
		k.featureAck = func(err error) { k.refused("publish-features", err) }
		k.tokenAck = func(err error) { k.refused("publish-tokens", err) }
	})
}

// refused counts and logs an asynchronous write that failed (nil err: none).
func (k *KafkaSink) refused(op string, err error) {
	if err == nil {
		return
	}
	_ = k.count(op, err)
	k.warn.log(op, "result not published", "op", op, "err", err)
}

// Barrier returns once everything emitted before it was called has been acknowledged by the broker.
func (k *KafkaSink) Barrier(ctx context.Context) error {
	if k.Async == nil {
		return nil
	}
	return k.Async.Barrier(ctx)
}

func (k *KafkaSink) WriteStreamInfo(ctx context.Context, info *streams.StreamInfo) error {
	if k.FramesTopic == "" {
		return nil
	}
	return k.count("publish-stream-info", k.Producer.PublishStreamInfo(ctx, k.Topics, k.FramesKind, info))
}

func (k *KafkaSink) WriteFrame(ctx context.Context, f *streams.Frame) error {
	if k.FramesTopic == "" {
		return nil
	}
	if k.Async != nil {
		k.acks()
		return k.Async.PublishFrame(ctx, k.FramesTopic, f, k.frameAck)
	}
	return k.count("publish-frames", k.Producer.PublishFrames(ctx, k.FramesTopic, f))
}

func (k *KafkaSink) EmitPrediction(ctx context.Context, p *streams.Prediction) error {
	if k.Async != nil {
		k.acks()
		return k.Async.PublishPrediction(ctx, k.Topics.Predictions, p, k.predAck)
	}
	if err := k.count("publish-predictions", k.Producer.PublishPredictions(ctx, k.Topics.Predictions, p)); err != nil {
		return err
	}
	k.published(p)
	return nil
}

// published counts an acknowledged prediction and shows it to OnPrediction.
func (k *KafkaSink) published(p *streams.Prediction) {
	if k.Metrics != nil {
		k.Metrics.Predictions.WithLabelValues(p.Decoder).Inc()
		if p.LatencyNs > 0 {
			k.Metrics.Latency.WithLabelValues(p.Decoder).Observe(float64(p.LatencyNs) / 1e9)
		}
	}
	if k.OnPrediction != nil {
		k.OnPrediction(p)
	}
}

func (k *KafkaSink) EmitFeatures(ctx context.Context, v *streams.FeatureVector) error {
	if k.Async != nil {
		k.acks()
		return k.Async.PublishFeatures(ctx, k.Topics.Features, v, k.featureAck)
	}
	return k.count("publish-features", k.Producer.PublishFeatures(ctx, k.Topics.Features, v))
}

// EmitTokens publishes a tokenizer's patch tokens on the tokens topic.
func (k *KafkaSink) EmitTokens(ctx context.Context, t *streams.Tokens) error {
	if k.Async != nil {
		k.acks()
		return k.Async.PublishTokens(ctx, k.Topics.Tokens, t, k.tokenAck)
	}
	return k.count("publish-tokens", k.Producer.PublishTokens(ctx, k.Topics.Tokens, t))
}

func (k *KafkaSink) count(op string, err error) error {
	if err != nil && k.Metrics != nil {
		k.Metrics.KafkaErrors.WithLabelValues(op).Inc()
	}
	return err
}

// InfoRegistry follows the compacted stream-info topic and answers which stream is what.
type InfoRegistry struct {
	mu      sync.Mutex
	infos   map[string]streams.StreamInfo // by StreamInfoKey
	changed chan struct{}                 // closed and replaced on every update
	reader  *kafka.Reader
	log     *slog.Logger
	warn    *rateLimitedLog
	outages *streams.Outages
}

// NewInfoRegistry starts reading the stream-info topic from its beginning.
func NewInfoRegistry(ctx context.Context, cfg streams.Config, log *slog.Logger) (*InfoRegistry, error) {
	d, err := cfg.Dialer()
	if err != nil {
		return nil, err
	}
	r := &InfoRegistry{infos: make(map[string]streams.StreamInfo), changed: make(chan struct{}), log: log, warn: newRateLimitedLog(log, time.Minute), outages: cfg.Outages,
		reader: kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.Topics().StreamInfo, Partition: 0,
			Dialer: d, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: time.Second, StartOffset: kafka.FirstOffset,
			ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 200 * time.Millisecond})}
	go r.follow(ctx)
	return r, nil
}

func (r *InfoRegistry) follow(ctx context.Context) {
	for {
		var m kafka.Message
		err := r.outages.Retry(ctx, "fetch stream-info", func(ctx context.Context) error {
			var err error
			m, err = r.reader.ReadMessage(ctx)
			return err
		})
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				r.log.Error("stream-info topic unreadable", "err", err)
			}
			return
		}
		key := string(m.Key)
		if m.Value == nil { // a tombstone: the compacted topic forgets the stream
			r.mu.Lock()
			delete(r.infos, key)
			r.mu.Unlock()
			continue
		}
		info, err := streams.UnmarshalStreamInfo(m.Value)
		if err == nil {
			err = info.Validate()
		}
		if err == nil && !strings.HasSuffix(key, "/"+info.StreamID) {
			err = fmt.Errorf("the key names another stream than the description's %q", info.StreamID)
		}
		if err != nil {
			// An earlier, valid description under the key stays in force.
			r.warn.log(truncate(m.Key, 64), "skipping a stream description", "key", truncate(m.Key, 64), "offset", m.Offset, "err", err)
			continue
		}
		r.Put(key, *info)
	}
}

// Put records info under key (as published, or directly for in-process sources).
func (r *InfoRegistry) Put(key string, info streams.StreamInfo) {
	r.mu.Lock()
	r.infos[key] = info
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Get returns the info under key if it has been published.
func (r *InfoRegistry) Get(key string) (streams.StreamInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	info, ok := r.infos[key]
	return info, ok
}

// Wait returns the info under key, waiting up to timeout for it to be published.
func (r *InfoRegistry) Wait(ctx context.Context, key string, timeout time.Duration) (streams.StreamInfo, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		info, ok := r.infos[key]
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return info, nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return streams.StreamInfo{}, fmt.Errorf("no stream info under %q on the stream-info topic after %v: is the source publishing to this namespace?", key, timeout)
		case <-ctx.Done():
			return streams.StreamInfo{}, ctx.Err()
		}
	}
}

// Close stops following the topic.
func (r *InfoRegistry) Close() error { return r.reader.Close() }

// Publish runs a source: it publishes the stream description under kind "raw", then every frame to
// topic, stamping each with its wall-clock acquisition time. With batch > 1 frames are written batch
// at a time (bulk replay). It returns nil when the source ends, ctx.Err() when cancelled.
func Publish(ctx context.Context, src Source, p *streams.Producer, topics streams.Topics, topic string, batch int, m *metrics.Metrics) error {
	return publish(ctx, src, p, topics, topic, batch, m, nil, nil)
}

// SpoolOptions says where sources keep frames while the broker is unreachable (see streams/spool).
type SpoolOptions struct {
	// Dir holds one spool per topic and stream: Dir/<topic>/<stream id>.
	Dir string `yaml:"dir"`
	// MaxBytes bounds each stream's spool (default 1 GiB); beyond it new frames are dropped and
	// counted, and consumers see the gap.
	MaxBytes int64 `yaml:"max_bytes"`
}

// PublishSpooled is Publish for live sources: frames the broker cannot take now wait in a spool on
// disk and are published in order once it is back, so that a broker outage costs no sample (see
// streams/spool). Frames a previous run left in the stream's spool are published first. On
// cancellation, frames still spooled stay on disk for the next run.
func PublishSpooled(ctx context.Context, src Source, p *streams.Producer, topics streams.Topics, topic string, so SpoolOptions, m *metrics.Metrics, log *slog.Logger) error {
	info := src.Info()
	if err := info.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	s, err := spool.Open(filepath.Join(so.Dir, pathSafe(topic), pathSafe(info.StreamID)), so.MaxBytes)
	if err != nil {
		return err
	}
	defer s.Close()
	return publish(ctx, src, p, topics, topic, 1, m, s, log)
}

// pathSafe makes a topic or stream id usable as one path element.
func pathSafe(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." {
		name = "_" + name
	}
	return name
}

func publish(ctx context.Context, src Source, p *streams.Producer, topics streams.Topics, topic string, batch int, m *metrics.Metrics, s *spool.Spool, log *slog.Logger) error {
	info := src.Info()
	if err := info.Validate(); err != nil {
		return err
	}
	// A new epoch per run: consumers take a restarted source's sequence, which starts again at 0,
	// for a new one rather than for duplicates of the last run's frames.
	epoch := uint64(time.Now().UnixNano())
	info.Epoch = epoch
	send := func(frames []*streams.Frame) error { return p.PublishFrames(ctx, topic, frames...) }
	if s == nil {
		if err := p.PublishStreamInfo(ctx, topics, "raw", &info); err != nil {
			return err
		}
	} else {
		fw := spool.NewForwarder(s, p, info.StreamID, func(ctx context.Context) error {
			return p.PublishStreamInfo(ctx, topics, "raw", &info)
		}, spool.Options{Metrics: m, Log: log})
		fctx, stop := context.WithCancel(ctx)
		fdone := make(chan error, 1)
		go func() { fdone <- fw.Run(fctx) }()
		defer func() {
			stop()
			<-fdone
			if n, b := s.Pending(); n > 0 {
				log.Warn("frames left in the spool; the next run of this source publishes them", "stream", info.StreamID, "frames", n, "bytes", b, "dir", s.Dir())
			}
		}()
		send = func(frames []*streams.Frame) error {
			select {
			case err := <-fdone: // the forwarder met an error waiting cannot fix
				fdone <- err
				return err
			default:
			}
			return fw.Publish(ctx, topic, frames...)
		}
		drain := func() error {
			select {
			case err := <-fdone:
				fdone <- err
				return err
			default:
			}
			return fw.Drain(ctx)
		}
		return publishLoop(ctx, src, batch, epoch, m, info.StreamID, send, drain)
	}
	return publishLoop(ctx, src, batch, epoch, m, info.StreamID, send, func() error { return nil })
}

// publishLoop reads src and sends its frames until it ends (then drain waits for what is queued).
func publishLoop(ctx context.Context, src Source, batch int, epoch uint64, m *metrics.Metrics, streamID string, send func([]*streams.Frame) error, drain func() error) error {
	if batch < 1 {
		batch = 1
	}
	frames := make([]*streams.Frame, batch)
	for i := range frames {
		frames[i] = new(streams.Frame)
	}
	var framesOut, samplesOut = m.FramesOut.WithLabelValues("source"), m.SamplesOut.WithLabelValues("source")
	live := newLiveMetrics(src, streamID, m)
	for {
		n := 0
		var srcErr error
		for n < batch {
			if srcErr = src.Next(ctx, frames[n]); srcErr != nil {
				break
			}
			frames[n].AcquiredAtNs = time.Now().UnixNano()
			frames[n].Epoch = epoch
			n++
		}
		if n > 0 {
			if err := send(frames[:n]); err != nil {
				m.KafkaErrors.WithLabelValues("publish-frames").Inc()
				return err
			}
			for _, f := range frames[:n] {
				framesOut.Inc()
				samplesOut.Add(float64(f.NumSamples))
			}
			live.update()
		}
		switch {
		case srcErr == nil:
		case errors.Is(srcErr, io.EOF):
			return drain()
		default:
			return srcErr
		}
	}
}

// Consume reads frames from a topic as a member of consumer group cfg.GroupID and runs them through
// proc, committing each message once processed. Messages that are not frames, do not decode or are
// refused by proc are counted by reason and logged at most once a minute per stream (or partition,
// for what does not decode), and consumption goes on. The consumer-lag gauge is refreshed every
// second from the broker, also while a frame is being processed. With stage state, offsets are
// committed only once a snapshot covers them (see state.go). It returns when ctx ends, after a last
// snapshot and commit unless a frame was cut short.
func Consume(ctx context.Context, c *streams.Consumer, topic string, proc *Processor, m *metrics.Metrics, log *slog.Logger) (err error) {
	k := newCommitter(c, proc)
	if k.deferred() {
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			k.run(ctx, stop, func(err error) {
				m.KafkaErrors.WithLabelValues("checkpoint").Inc()
				log.Error("results not acknowledged or stage state not snapshotted; offsets stay uncommitted", "topic", topic, "err", err)
			})
		}()
		defer func() {
			close(stop)
			<-stopped
			if errors.Is(err, errInterrupted) {
				err = ctx.Err() // as after a crash, the next owner resumes from the last snapshot
				return
			}
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if ferr := k.flush(fctx); ferr != nil {
				log.Warn("last snapshot before stopping failed; the next owner resumes from the one before", "topic", topic, "err", ferr)
			}
		}()
	}
	return consume(ctx, c, topic, proc, k, m, log)
}

// errInterrupted ends a consumer whose last frame was cut short by cancellation.
var errInterrupted = errors.New("interrupted in the middle of a frame")

func consume(ctx context.Context, c *streams.Consumer, topic string, proc *Processor, k *committer, m *metrics.Metrics, log *slog.Logger) error {
	var f streams.Frame
	// The processor's limiter, not one of our own: a stream whose frames are refused both here and
	// when its held frames are released later must still be logged once a minute, not once per path.
	warn := proc.warn
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go followLag(lagCtx, c, m.ConsumerLag.WithLabelValues(topic))
	for {
		msg, err := c.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.KafkaErrors.WithLabelValues("fetch").Inc()
			return fmt.Errorf("consume %s: %w", topic, err)
		}
		if t := streams.MessageType(msg); t != streams.TypeFrame && t != "" {
			m.Rejected.WithLabelValues("not-a-frame").Inc()
			_ = k.done(ctx, msg, "")
			continue
		}
		if err := streams.DecodeFrame(msg.Value, &f); err != nil {
			m.Rejected.WithLabelValues("undecodable").Inc()
			warn.log(fmt.Sprintf("%s[%d]", msg.Topic, msg.Partition), "skipping undecodable message",
				"topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "key", truncate(msg.Key, 64), "err", err)
			_ = k.done(ctx, msg, "")
			continue
		}
		if !proc.Wants(f.StreamID) {
			_ = k.done(ctx, msg, "")
			continue
		}
		if err := proc.Process(ctx, &f); err != nil && !errors.Is(err, ErrHeld) && !IsDuplicate(err) {
			if ctx.Err() != nil {
				return errInterrupted
			}
			if errors.Is(err, errStateUnavailable) {
				return fmt.Errorf("consume %s: %w", topic, err)
			}
			warn.log(f.StreamID, "frame rejected", "topic", topic, "stream", f.StreamID, "seq", f.Seq, "err", err)
		}
		if err := k.done(ctx, msg, f.StreamID); err != nil && ctx.Err() == nil {
			m.KafkaErrors.WithLabelValues("commit").Inc()
		}
	}
}

// followLag sets the gauge to how far c is behind, every second until ctx ends.
func followLag(ctx context.Context, c *streams.Consumer, gauge prometheus.Gauge) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := c.Behind(ctx); err == nil {
			gauge.Set(float64(n))
		}
	}
}

// truncate returns at most n bytes of b as a string, for logging keys of unknown origin.
func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// liveMetrics publishes a live device's clock estimate and link losses (acquisition.LiveSource).
type liveMetrics struct {
	src                              acquisition.LiveSource
	offset, drift, jitter            prometheus.Gauge
	lost, rejected, late             prometheus.Counter
	lastLost, lastRejected, lastLate int64
}

func newLiveMetrics(src Source, stream string, m *metrics.Metrics) *liveMetrics {
	ls, ok := src.(acquisition.LiveSource)
	if !ok {
		return nil
	}
	return &liveMetrics{src: ls, offset: m.ClockOffset.WithLabelValues(stream), drift: m.ClockDrift.WithLabelValues(stream),
		jitter: m.ClockJitter.WithLabelValues(stream), lost: m.DeviceLost.WithLabelValues(stream), rejected: m.DeviceRejected.WithLabelValues(stream),
		late: m.LateMarkers.WithLabelValues(stream)}
}

func (l *liveMetrics) update() {
	if l == nil {
		return
	}
	s := l.src.LiveStats()
	if s.Clock.Samples > 0 {
		l.offset.Set(s.Clock.OffsetSec)
		l.drift.Set(s.Clock.DriftPPM)
		l.jitter.Set(s.Clock.JitterSec)
	}
	l.lost.Add(float64(s.LostSamples - l.lastLost))
	l.rejected.Add(float64(s.RejectedPackets - l.lastRejected))
	l.late.Add(float64(s.LateMarkers - l.lastLate))
	l.lastLost, l.lastRejected, l.lastLate = s.LostSamples, s.RejectedPackets, s.LateMarkers
}
