package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/neurostream/neurostream/streams"
)

// A detokenize stage reads tokens, not frames, so it is a pipeline of its own in the config:
//
//	- name: listen
//	  input: tokens            # the default for a detokenize pipeline
//	  output: detokenized      # the default: the frames go to <namespace>.detokenized
//	  stages:
//	    - {kind: detokenize, model: configs/models/tokenizer-synthetic.json}
//
// Its model must be the codebook (or joint codec) the tokenizer stage that made the tokens used.

// Detokenizes reports whether pc is a detokenize pipeline (any of its stages is a detokenize stage).
func (pc PipelineConfig) Detokenizes() bool {
	for _, sc := range pc.Stages {
		if sc.Kind == "detokenize" {
			return true
		}
	}
	return false
}

// DetokenizeModel checks a detokenize pipeline's shape (one detokenize stage, reading the tokens
// topic) and loads its model, a codebook or a joint codec.
func DetokenizeModel(pc PipelineConfig, topics streams.Topics) (TokenModel, error) {
	if len(pc.Stages) != 1 {
		kinds := make([]string, len(pc.Stages))
		for i, sc := range pc.Stages {
			kinds[i] = sc.Kind
		}
		return TokenModel{}, fmt.Errorf("pipeline %s: a detokenize stage reads tokens and writes frames, so it is the only stage of its pipeline (got %s): put the other stages in a pipeline with input: %s",
			pc.Name, strings.Join(kinds, ", "), cmpOr(pc.Output, "detokenized"))
	}
	if in := cmpOr(pc.Input, "tokens"); in != "tokens" && in != topics.Tokens {
		return TokenModel{}, fmt.Errorf("pipeline %s: a detokenize stage reads the tokens topic, not %q: set input: tokens (or leave it out)", pc.Name, in)
	}
	sc := pc.Stages[0]
	name := "0-detokenize"
	if sc.Model == "" {
		return TokenModel{}, fmt.Errorf("pipeline %s: stage %s: no codebook: set model: to the codebook file of the tokenizer stage that made the tokens (e.g. configs/models/tokenizer-synthetic.json)", pc.Name, name)
	}
	m, err := LoadTokenModel(sc.Model)
	if err != nil {
		return TokenModel{}, fmt.Errorf("pipeline %s: stage %s: %w", pc.Name, name, err)
	}
	if _, err := m.reconstructor(); err != nil {
		return TokenModel{}, fmt.Errorf("pipeline %s: stage %s: %s: %w", pc.Name, name, sc.Model, err)
	}
	return m, nil
}

// CheckTokenCodebooks checks the config's detokenize pipelines: each is well formed with a codebook
// that loads and, when the config also has tokenizer stages, is one of theirs (the same name and
// version), since tokens of any other codebook would all be refused. Model paths are read as the
// config gives them.
func CheckTokenCodebooks(cfg *Config) error {
	topics := cfg.Kafka.Topics()
	type made struct{ path, name string }
	var makers []made
	versions := map[string]bool{}
	for _, pc := range cfg.Pipelines {
		for _, sc := range pc.Stages {
			if sc.Kind != "tokenizer" {
				continue
			}
			m, err := LoadTokenModel(sc.Model)
			if err != nil {
				return fmt.Errorf("pipeline %s: tokenizer: %w", pc.Name, err)
			}
			makers = append(makers, made{sc.Model, m.Name()})
			versions[fmt.Sprintf("%s/%08x", m.Name(), m.Version())] = true
		}
	}
	for _, pc := range cfg.Pipelines {
		if !pc.Detokenizes() {
			continue
		}
		m, err := DetokenizeModel(pc, topics)
		if err != nil {
			return err
		}
		if len(makers) > 0 && !versions[fmt.Sprintf("%s/%08x", m.Name(), m.Version())] {
			var have []string
			for _, m := range makers {
				have = append(have, fmt.Sprintf("%s (%s)", m.path, m.name))
			}
			return fmt.Errorf("pipeline %s: stage 0-detokenize: codebook %s (%s version %08x) did not make the tokens of this config, whose tokenizer stages use %s: detokenize with that codebook",
				pc.Name, pc.Stages[0].Model, m.Name(), m.Version(), strings.Join(have, ", "))
		}
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// runDetokenizePipeline starts a detokenize pipeline's consumers (one per replica, each with a
// detokenizer of its own) on the tokens topic, publishing frames through sink's producer. It returns
// once they are started; run runs each consumer's loop in its own goroutine.
func runDetokenizePipeline(ctx context.Context, cfg *Config, pc PipelineConfig, sink Sink, reg *InfoRegistry, opts RunOptions, run func(func() error)) error {
	topics := cfg.Kafka.Topics()
	model, err := DetokenizeModel(pc, topics)
	if err != nil {
		return err
	}
	var only map[string]bool
	if len(pc.Streams) > 0 {
		only = map[string]bool{}
		for _, id := range pc.Streams {
			only[id] = true
		}
	}
	wants := func(id string) bool { return only == nil || only[id] }
	// A stream's first tokens may come before the registry has read its source's description: wait a
	// little for it, once per stream (without it, channels have no positions).
	lookup := func(id string) (streams.StreamInfo, bool) {
		if info, ok := reg.Get(streams.StreamInfoKey("clean", id)); ok {
			return info, true
		}
		info, err := reg.Wait(ctx, streams.StreamInfoKey("raw", id), 2*time.Second)
		return info, err == nil
	}
	for r := 0; r < max(pc.Replicas, 1); r++ {
		c, err := streams.NewConsumer(cfg.Kafka, streams.ConsumerConfig{Topic: topics.Tokens, GroupID: groupOf(pc), FromStart: true})
		if err != nil {
			return err
		}
		d, err := NewDetokenizer(model, sink, lookup)
		if err != nil {
			c.Close()
			return fmt.Errorf("pipeline %s: %w", pc.Name, err)
		}
		opts.Log.Info("pipeline consuming", "pipeline", pc.Name, "topic", topics.Tokens, "group", groupOf(pc), "member", r, "codebook", model.Name())
		run(func() error {
			defer c.Close()
			return detokenizeLoop(ctx, c, d, detokenizeHooks{topic: topics.Tokens, log: opts.Log, metrics: opts.Metrics, stage: "0-detokenize", wants: wants})
		})
	}
	return nil
}
