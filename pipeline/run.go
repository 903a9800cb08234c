package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/neurostream/neurostream/acquisition/devices"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// infoWait bounds how long a pipeline waits for the description of a stream whose frames came first.
const infoWait = 10 * time.Second

// RunOptions selects what part of a Config a process runs and how it reports.
type RunOptions struct {
	Only         string // "sources", "pipelines" or "" for both
	Pipeline     string // run only the pipeline with this name ("" for all)
	Partitions   int    // partitions for topics created at start (default 8)
	Loaders      Loaders
	Metrics      *metrics.Metrics
	Log          *slog.Logger
	OnPrediction func(p *streams.Prediction)
	// Sources, if set, replaces building sources from the config (replay, tests).
	Sources []Source
	// Spool, if set with a Dir, makes sources keep frames on disk while the broker is away
	// (PublishSpooled); otherwise a source waits for the broker.
	Spool *SpoolOptions
	// LSLOut, if set, re-publishes every pipeline's output over LSL under this name (as a
	// pipeline's lsl_out does).
	LSLOut string
	// InfoWait bounds how long a stream's frames are held waiting for its description (default 10 s);
	// other streams never wait for it.
	InfoWait time.Duration
	// Tokenizers opens learnt tokenizers' codebooks with their ONNX encoders (nil: tokenizer stages
	// refuse learnt codebooks).
	Tokenizers TokenizerOpener
	// Devices opens the config's sources (default: the built-in devices).
	Devices *devices.Registry
	// StopOnStreamError ends Run with the error of the first stream whose stages cannot start (a
	// model that does not fit the stream), for commands that decode one stream and must not go on
	// without it.
	StopOnStreamError bool
}

// Run runs cfg's sources and pipelines against cfg.Kafka until ctx ends or a source fails; sources
// that end (finite durations) end quietly while pipelines go on. It returns nil on cancellation.
func Run(ctx context.Context, cfg *Config, opts RunOptions) error {
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Loaders == nil {
		opts.Loaders = DefaultLoaders()
	}
	if opts.InfoWait <= 0 {
		opts.InfoWait = infoWait
	}
	if opts.Only != "sources" {
		// A detokenize pipeline with a codebook that cannot detokenize these tokens fails now, not on
		// every message.
		for _, pc := range cfg.Pipelines {
			if (opts.Pipeline == "" || pc.Name == opts.Pipeline) && pc.Detokenizes() {
				if err := CheckTokenCodebooks(cfg); err != nil {
					return err
				}
				break
			}
		}
	}
	kc := cfg.Kafka
	kc.Outages = WatchOutages(kc.Outages, opts.Log, opts.Metrics)
	topics := kc.Topics()
	if err := streams.EnsureTopics(ctx, kc, topics, opts.Partitions, 1); err != nil {
		return err
	}
	prod, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		return err
	}
	defer prod.Close()
	// Pipelines publish their results without waiting for each acknowledgement; consumers commit
	// after the writes they depend on are acknowledged. Closed once every consumer has stopped.
	async := streams.NewAsyncWriter(prod, 0)
	defer async.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var procs []*Processor
	// On every return, consumers stop before their processors release decoder sessions.
	defer func() {
		cancel(nil)
		wg.Wait()
		for _, p := range procs {
			if err := p.Close(); err != nil {
				opts.Log.Warn("closing pipeline", "err", err)
			}
		}
	}()
	fail := func(err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			cancel(err)
		}
	}

	if opts.Only != "sources" {
		reg, err := NewInfoRegistry(ctx, kc, opts.Log)
		if err != nil {
			return err
		}
		defer reg.Close()
		var store *StateStore
		for _, pc := range cfg.Pipelines {
			if (opts.Pipeline == "" || pc.Name == opts.Pipeline) && pc.CheckpointSec >= 0 && !pc.Detokenizes() && store == nil {
				if store, err = NewStateStore(ctx, kc, prod, opts.Log); err != nil {
					return err
				}
				defer store.Close()
			}
		}
		ran := 0
		lslOuts := map[string]*LSLOut{}
		defer func() {
			for _, o := range lslOuts {
				_ = o.Close()
			}
		}()
		for _, pc := range cfg.Pipelines {
			if opts.Pipeline != "" && pc.Name != opts.Pipeline {
				continue
			}
			ran++
			var wrap func(Sink) Sink
			if name := cmp.Or(pc.LSLOut, opts.LSLOut); name != "" {
				if lslOuts[name] == nil {
					lslOuts[name] = NewLSLOut(name, opts.Log)
				}
				wrap = lslOuts[name].Wrap
			}
			if pc.Detokenizes() {
				// Frames are written synchronously, so a tokens message is committed only once its
				// frame is on the broker.
				out, err := topics.Resolve(cmp.Or(pc.Output, "detokenized"))
				if err != nil {
					return fmt.Errorf("pipeline %s: output: %w", pc.Name, err)
				}
				var sink Sink = &KafkaSink{Producer: prod, Topics: topics, FramesTopic: out, FramesKind: kindOf(topics, out), Metrics: opts.Metrics, Log: opts.Log}
				if wrap != nil {
					sink = wrap(sink)
				}
				err = runDetokenizePipeline(ctx, cfg, pc, sink, reg, opts, func(loop func() error) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						fail(loop())
					}()
				})
				if err != nil {
					return err
				}
				continue
			}
			proc, input, err := buildPipeline(topics, pc, prod, async, reg, store, opts, wrap)
			if err != nil {
				return err
			}
			if opts.StopOnStreamError {
				proc.onFail = func(err error) { cancel(fmt.Errorf("pipeline %s: %w", pc.Name, err)) }
			}
			procs = append(procs, proc)
			for r := 0; r < max(pc.Replicas, 1); r++ {
				c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: input, GroupID: groupOf(pc), FromStart: true})
				if err != nil {
					return err
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer c.Close()
					opts.Log.Info("pipeline consuming", "pipeline", pc.Name, "topic", input, "group", groupOf(pc), "member", r)
					fail(Consume(ctx, c, input, proc, opts.Metrics, opts.Log))
				}()
			}
		}
		if opts.Pipeline != "" && ran == 0 {
			return fmt.Errorf("no pipeline named %q in the config", opts.Pipeline)
		}
	}
	if opts.Only != "pipelines" {
		srcs := opts.Sources
		if srcs == nil {
			for _, sc := range cfg.Sources {
				reg := opts.Devices
				if reg == nil {
					reg = devices.Builtin()
				}
				s, err := BuildSourceWith(ctx, reg, sc)
				if err != nil {
					return err
				}
				srcs = append(srcs, s)
			}
		}
		for i, s := range srcs {
			topic := topics.Raw
			if i < len(cfg.Sources) && cfg.Sources[i].Topic != "" {
				if topic, err = topics.Resolve(cfg.Sources[i].Topic); err != nil {
					return err
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				info := s.Info()
				opts.Log.Info("source publishing", "stream", info.StreamID, "channels", len(info.Channels), "rate_hz", info.SampleRateHz, "topic", topic)
				var err error
				if opts.Spool != nil && opts.Spool.Dir != "" {
					err = PublishSpooled(ctx, s, prod, topics, topic, *opts.Spool, opts.Metrics, opts.Log)
				} else {
					err = Publish(ctx, s, prod, topics, topic, 1, opts.Metrics)
				}
				if c, ok := s.(io.Closer); ok {
					if cerr := c.Close(); cerr != nil {
						opts.Log.Warn("closing source", "stream", info.StreamID, "err", cerr)
					}
				}
				fail(err)
			}()
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// WatchOutages returns o (a new one logging to log if nil) reporting its outages to m.
func WatchOutages(o *streams.Outages, log *slog.Logger, m *metrics.Metrics) *streams.Outages {
	if o == nil {
		o = streams.NewOutages(log)
	}
	if m != nil && o.OnDown == nil && o.OnUp == nil {
		o.OnDown = func(op string) {
			m.KafkaOutages.WithLabelValues(op).Inc()
			m.KafkaUnreachable.WithLabelValues(op).Set(1)
		}
		o.OnUp = func(op string, d time.Duration) {
			m.KafkaUnreachable.WithLabelValues(op).Set(0)
			m.KafkaOutageSeconds.WithLabelValues(op).Add(d.Seconds())
		}
	}
	return o
}

func groupOf(pc PipelineConfig) string {
	if pc.Group != "" {
		return pc.Group
	}
	return "neurostream-" + pc.Name
}

func buildPipeline(topics streams.Topics, pc PipelineConfig, prod *streams.Producer, async *streams.AsyncWriter, reg *InfoRegistry, store *StateStore, opts RunOptions, wrap func(Sink) Sink) (*Processor, string, error) {
	in := pc.Input
	if in == "" {
		in = "raw"
	}
	input, err := topics.Resolve(in)
	if err != nil {
		return nil, "", fmt.Errorf("pipeline %s: input: %w", pc.Name, err)
	}
	inKind := kindOf(topics, input)
	sink := &KafkaSink{Producer: prod, Async: async, Topics: topics, Metrics: opts.Metrics, Log: opts.Log, OnPrediction: opts.OnPrediction}
	if pc.Output != "" {
		if sink.FramesTopic, err = topics.Resolve(pc.Output); err != nil {
			return nil, "", fmt.Errorf("pipeline %s: output: %w", pc.Name, err)
		}
		sink.FramesKind = kindOf(topics, sink.FramesTopic)
	}
	stages, err := BuildStages(pc.Stages, opts.Loaders, opts.Metrics, WithTokenizers(opts.Tokenizers))
	if err != nil {
		return nil, "", fmt.Errorf("pipeline %s: %w", pc.Name, err)
	}
	var out Sink = sink
	if wrap != nil {
		out = wrap(sink)
	}
	pcfg := ProcessorConfig{Name: pc.Name, Topic: input, Stages: stages, Sink: out, Metrics: opts.Metrics, Log: opts.Log, Streams: pc.Streams,
		Known: func(id string) (streams.StreamInfo, bool) { return reg.Get(streams.StreamInfoKey(inKind, id)) },
		Lookup: func(ctx context.Context, id string) (streams.StreamInfo, error) {
			return reg.Wait(ctx, streams.StreamInfoKey(inKind, id), opts.InfoWait)
		}}
	if pc.CheckpointSec >= 0 {
		pcfg.State, pcfg.StateKey, pcfg.Fingerprint = store, groupOf(pc), fingerprint(input, pc)
		pcfg.CheckpointEvery = time.Duration(pc.CheckpointSec * float64(time.Second))
	}
	proc, err := NewProcessor(pcfg)
	if err != nil {
		return nil, "", err
	}
	return proc, input, nil
}

// fingerprint names a pipeline's input and stage configuration, so that a snapshot is only restored
// into stages configured as those that wrote it.
func fingerprint(input string, pc PipelineConfig) string {
	b, err := yaml.Marshal(pc.Stages)
	if err != nil {
		b = []byte(fmt.Sprint(pc.Stages))
	}
	sum := sha256.Sum256(append([]byte(input+"\n"), b...))
	return hex.EncodeToString(sum[:16])
}

// kindOf names a topic for stream-info keys: "raw", "clean", "detokenized", or the full name for
// custom topics.
func kindOf(t streams.Topics, topic string) string {
	switch topic {
	case t.Raw:
		return "raw"
	case t.Clean:
		return "clean"
	case t.Detokenized:
		return "detokenized"
	}
	return topic
}
