package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// FrameSink receives frames with their stream description (KafkaSink is one).
type FrameSink interface {
	WriteStreamInfo(ctx context.Context, info *streams.StreamInfo) error
	WriteFrame(ctx context.Context, f *streams.Frame) error
}

// Detokenizer is the detokenize stage: it turns every stream's tokens back into signal with the
// codebook that made them, one frame per patch, so that a user can listen to (or measure) what the
// tokens keep. Each stream's description is written before its first frame: its channels are the
// tokens' channel keys (with unit and position from the source's description when Lookup finds it)
// at the codebook's rate. It allocates nothing per message once a stream has started.
type Detokenizer struct {
	name    string  // the model's
	rateHz  float64 // the model's
	undo    func(t *streams.Tokens, dst []float32) ([]float32, error)
	epoch   uint64 // this run's epoch, on every description and frame (a restart is a new source run)
	sink    FrameSink
	lookup  func(streamID string) (streams.StreamInfo, bool)
	streams map[string]*detokenized
}

type detokenized struct {
	keys  []string
	frame streams.Frame
}

// NewDetokenizer detokenizes with the model (codebook or joint codec) into sink; lookup (may be
// nil) finds a source stream's description, for its channels' units and positions.
func NewDetokenizer(m TokenModel, sink FrameSink, lookup func(streamID string) (streams.StreamInfo, bool)) (*Detokenizer, error) {
	undo, err := m.reconstructor()
	if err != nil {
		return nil, err
	}
	return &Detokenizer{name: m.Name(), rateHz: m.rateHz(), undo: undo, epoch: uint64(time.Now().UnixNano()), sink: sink, lookup: lookup, streams: map[string]*detokenized{}}, nil
}

// ErrTokensRefused marks tokens the detokenizer cannot turn back into signal (another codebook,
// malformed channel keys); the message is skipped, the stream goes on.
var ErrTokensRefused = errors.New("tokens refused")

// Process turns one tokens message into a frame. Tokens of another codebook are refused
// (ErrTokensRefused); a stream whose channels change starts again with a new description.
func (d *Detokenizer) Process(ctx context.Context, t *streams.Tokens) error {
	st := d.streams[t.StreamID]
	if st == nil || !equalKeys(st.keys, t.ChannelKeys) {
		info, err := d.describe(t)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrTokensRefused, err)
		}
		if err := d.sink.WriteStreamInfo(ctx, &info); err != nil {
			return err
		}
		var seq uint64 // a stream whose channels changed goes on counting
		if st != nil {
			seq = st.frame.Seq
		}
		st = &detokenized{keys: append([]string(nil), t.ChannelKeys...)}
		st.frame.StreamID, st.frame.Epoch, st.frame.Seq = t.StreamID, d.epoch, seq
		d.streams[t.StreamID] = st
	}
	f := &st.frame
	var err error
	if f.Samples, err = d.undo(t, f.Samples); err != nil {
		return fmt.Errorf("%w: %w", ErrTokensRefused, err)
	}
	f.Seq++
	f.NumSamples, f.NumChannels = t.PatchSamples, len(t.ChannelKeys)
	start := t.WindowEndSample - int64(t.PatchSamples)
	f.SourceTimeNs = int64(float64(start) / d.rateHz * 1e9)
	f.AcquiredAtNs = t.AcquiredAtNs
	return d.sink.WriteFrame(ctx, f)
}

func equalKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// describe builds the detokenized stream's description from the tokens' channel keys.
func (d *Detokenizer) describe(t *streams.Tokens) (streams.StreamInfo, error) {
	info := streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: t.StreamID, SampleRateHz: d.rateHz,
		Device: "detokenized:" + d.name, Epoch: d.epoch}
	var src streams.StreamInfo
	var haveSrc bool
	if d.lookup != nil {
		src, haveSrc = d.lookup(t.StreamID)
		info.Subject, info.Session = src.Subject, src.Session
	}
	for _, key := range t.ChannelKeys {
		typ, name, ok := strings.Cut(key, ":")
		if !ok {
			return info, fmt.Errorf("detokenize %s: channel key %q is not type:name", t.StreamID, key)
		}
		ct, err := streams.ParseChannelType(typ)
		if err != nil {
			return info, fmt.Errorf("detokenize %s: channel key %q: %w", t.StreamID, key, err)
		}
		ch := streams.Channel{Name: name, Type: ct, Unit: unitOf(ct)}
		if haveSrc {
			if i := src.ChannelIndex(name); i >= 0 && src.Channels[i].Type == ct {
				ch = src.Channels[i]
			}
		}
		info.Channels = append(info.Channels, ch)
	}
	return info, info.Validate()
}

// unitOf is the SI unit neurostream uses for a channel type.
func unitOf(t streams.ChannelType) string {
	switch t {
	case streams.ChannelMEGMag:
		return "T"
	case streams.ChannelMEGGrad:
		return "T/m"
	case streams.ChannelStim, streams.ChannelMisc, streams.ChannelUnknown:
		return ""
	}
	return "V"
}

// DetokenizeOptions configures RunDetokenize.
type DetokenizeOptions struct {
	Model TokenModel // the codebook or joint codec the tokens were made with
	// OutTopic receives the frames (default the namespace's detokenized topic); their descriptions
	// go to the stream-info topic under OutKind (default "detokenized").
	OutTopic, OutKind string
	GroupID           string // consumer group (default neurostream-detokenize)
	FromStart         bool
	Log               *slog.Logger
	// Count, if set, is called after every message, with the number detokenized and refused so far.
	Count func(done, refused int)
}

// RunDetokenize consumes the tokens topic and publishes every stream's reconstruction on the
// detokenized topic until ctx ends. Tokens it cannot detokenize (another codebook) are logged and
// counted, never fatal: other streams go on.
func RunDetokenize(ctx context.Context, kc streams.Config, opts DetokenizeOptions) error {
	topics := kc.Topics()
	if opts.OutTopic == "" {
		opts.OutTopic = topics.Detokenized
	}
	if opts.OutKind == "" {
		opts.OutKind = "detokenized"
	}
	if opts.GroupID == "" {
		opts.GroupID = "neurostream-detokenize"
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	if err := streams.EnsureTopics(ctx, kc, topics, 0, 0); err != nil {
		return err
	}
	prod, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		return err
	}
	defer prod.Close()
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topics.Tokens, GroupID: opts.GroupID, FromStart: opts.FromStart})
	if err != nil {
		return err
	}
	defer c.Close()
	reg, err := NewInfoRegistry(ctx, kc, log)
	if err != nil {
		return err
	}
	defer reg.Close()
	// A stream's first tokens may arrive before the registry has read its source's description: wait
	// a little for it, once per stream (without it, channels have no positions).
	lookup := func(id string) (streams.StreamInfo, bool) {
		if info, ok := reg.Get(streams.StreamInfoKey("clean", id)); ok {
			return info, true
		}
		info, err := reg.Wait(ctx, streams.StreamInfoKey("raw", id), 2*time.Second)
		return info, err == nil
	}
	sink := &KafkaSink{Producer: prod, Topics: topics, FramesTopic: opts.OutTopic, FramesKind: opts.OutKind}
	d, err := NewDetokenizer(opts.Model, sink, lookup)
	if err != nil {
		return err
	}
	return detokenizeLoop(ctx, c, d, detokenizeHooks{topic: topics.Tokens, log: log, count: opts.Count})
}

// detokenizeHooks is what a detokenize loop reports to (all optional but topic).
type detokenizeHooks struct {
	topic string
	log   *slog.Logger
	// metrics and stage label the per-stage counters and rejections, as for the frame stages.
	metrics *metrics.Metrics
	stage   string
	// wants, if set, limits the loop to these streams (a pipeline's streams:).
	wants func(streamID string) bool
	count func(done, refused int)
}

// detokenizeLoop turns every tokens message c reads into a frame through d until ctx ends,
// committing each message once its frame is written. Tokens it cannot detokenize are logged (at
// most once a minute per stream) and counted, never fatal: other streams go on.
func detokenizeLoop(ctx context.Context, c *streams.Consumer, d *Detokenizer, h detokenizeHooks) error {
	log := h.log
	if log == nil {
		log = slog.Default()
	}
	warn := newRateLimitedLog(log, time.Minute)
	var cnt stageCounters
	var rejected *prometheus.CounterVec
	if m := h.metrics; m != nil {
		cnt = stageCounters{m.FramesIn.WithLabelValues(h.stage), m.SamplesIn.WithLabelValues(h.stage),
			m.FramesOut.WithLabelValues(h.stage), m.SamplesOut.WithLabelValues(h.stage)}
		rejected = m.Rejected
		lagCtx, stopLag := context.WithCancel(ctx)
		defer stopLag()
		go followLag(lagCtx, c, m.ConsumerLag.WithLabelValues(h.topic))
	}
	reject := func(reason string) {
		if rejected != nil {
			rejected.WithLabelValues(reason).Inc()
		}
	}
	var t streams.Tokens
	done, refused := 0, 0
	for {
		m, err := c.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("detokenize: read %s: %w", h.topic, err)
		}
		if typ := streams.MessageType(m); typ != "" && typ != streams.TypeTokens {
			reject("not-tokens")
		} else if err := streams.DecodeTokens(m.Value, &t); err != nil {
			refused++
			reject("undecodable")
			warn.log(fmt.Sprintf("%s[%d]", m.Topic, m.Partition), "skipping undecodable tokens", "partition", m.Partition, "offset", m.Offset, "err", err)
		} else if h.wants == nil || h.wants(t.StreamID) {
			if cnt.framesIn != nil {
				cnt.framesIn.Inc()
				cnt.samplesIn.Add(float64(t.PatchSamples))
			}
			if err := d.Process(ctx, &t); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if !errors.Is(err, ErrTokensRefused) {
					return err
				}
				refused++
				reject("tokens-refused")
				warn.log(t.StreamID, "tokens not detokenized", "stream", t.StreamID, "err", err)
			} else {
				done++
				if cnt.framesOut != nil {
					cnt.framesOut.Inc()
					cnt.samplesOut.Add(float64(t.PatchSamples))
				}
			}
		}
		if err := c.Commit(ctx, m); err != nil && ctx.Err() == nil {
			return fmt.Errorf("detokenize: commit: %w", err)
		}
		if h.count != nil {
			h.count(done, refused)
		}
	}
}
