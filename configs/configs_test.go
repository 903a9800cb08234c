// Package configs holds the example pipeline configurations; its test keeps them loadable.
package configs

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

func TestConfigsLoadAndBuild(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs")
	}
	for _, f := range files {
		cfg, err := pipeline.LoadConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range cfg.Sources {
			if _, err := pipeline.BuildSource(s); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		for _, p := range cfg.Pipelines {
			// Model paths in configs are relative to the repository root.
			for i := range p.Stages {
				if p.Stages[i].Model != "" {
					p.Stages[i].Model = filepath.Join("..", p.Stages[i].Model)
				}
			}
			if p.Detokenizes() {
				if _, err := pipeline.DetokenizeModel(p, cfg.Kafka.Topics()); err != nil {
					t.Fatalf("%s pipeline %s: %v", f, p.Name, err)
				}
				continue
			}
			if usesONNX(p) {
				continue // built with an ONNX loader by TestONNXConfigsBuild
			}
			if _, err := pipeline.BuildStages(p.Stages, pipeline.DefaultLoaders(), nil); err != nil {
				t.Fatalf("%s pipeline %s: %v", f, p.Name, err)
			}
		}
		// Every detokenize pipeline's codebook is the one the config's tokenizer stages use.
		if err := pipeline.CheckTokenCodebooks(cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// featureSink keeps what a pipeline emits, for running a config's stages without a broker.
type featureSink struct {
	names   []string
	vectors []streams.FeatureVector
	discard bool // count nothing, keep nothing (benchmarks)
}

func (s *featureSink) EmitPrediction(context.Context, *streams.Prediction) error  { return nil }
func (s *featureSink) WriteStreamInfo(context.Context, *streams.StreamInfo) error { return nil }
func (s *featureSink) WriteFrame(context.Context, *streams.Frame) error           { return nil }
func (s *featureSink) EmitFeatures(_ context.Context, v *streams.FeatureVector) error {
	if s.discard {
		return nil
	}
	if s.names == nil {
		s.names = slices.Clone(v.Names)
	}
	s.vectors = append(s.vectors, streams.FeatureVector{WindowEndSample: v.WindowEndSample, Values: slices.Clone(v.Values)})
	return nil
}

// The neurodynamics pipeline sees what the synthetic source puts in: 20 s alternating eyes closed
// (0-10 s, 10 Hz occipital alpha) and open (10-20 s). Windows inside the closed block have more
// relative alpha at O1 than windows inside the open block, and a peak alpha frequency near 10 Hz.
func TestNeurodynamicsFeaturesFollowTheSource(t *testing.T) {
	cfg, err := pipeline.LoadConfig("neurodynamics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Sources[0].Synthetic
	sc.DurationSec, sc.Realtime = 20, false
	src, err := synthetic.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if !src.EyesClosedAt(0) || src.EyesClosedAt(int64(11*sc.SampleRateHz)) {
		t.Fatalf("synthetic schedule changed: want eyes closed for 0-10 s, open from 10 s")
	}
	stages, err := pipeline.BuildStages(cfg.Pipelines[0].Stages, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &featureSink{}
	info := src.Info()
	proc, err := pipeline.NewProcessor(pipeline.ProcessorConfig{Name: "neurodynamics", Stages: stages, Sink: sink,
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var f streams.Frame
	for {
		if err := src.Next(ctx, &f); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if err := proc.Process(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
	if want := (20*250-500)/125 + 1; len(sink.vectors) != want {
		t.Fatalf("%d feature vectors, want %d", len(sink.vectors), want)
	}
	alpha, paf := slices.Index(sink.names, "alpha_rel/O1"), slices.Index(sink.names, "paf/O1")
	if alpha < 0 || paf < 0 {
		t.Fatalf("alpha_rel/O1 or paf/O1 missing from %d names", len(sink.names))
	}
	alphaHz := sc.AlphaHz
	if alphaHz == 0 {
		alphaHz = 10 // the synthetic source's default
	}
	var closed, open []float64
	for _, v := range sink.vectors {
		end := float64(v.WindowEndSample) / sc.SampleRateHz
		switch {
		case end >= 3 && end <= 10: // after the filters settle, inside the closed block
			closed = append(closed, v.Values[alpha])
			if p := v.Values[paf]; math.Abs(p-alphaHz) > 1 {
				t.Errorf("window ending at %g s (eyes closed): peak alpha %g Hz, want %g +- 1", end, p, alphaHz)
			}
		case end-2 >= 10.5:
			open = append(open, v.Values[alpha])
		}
	}
	mc, mo := mean(closed), mean(open)
	t.Logf("relative alpha at O1: %.3f eyes closed (%d windows), %.3f open (%d windows)", mc, len(closed), mo, len(open))
	if len(closed) < 10 || len(open) < 10 || !(mc > 2*mo) {
		t.Fatalf("relative alpha at O1: %.3f eyes closed (%d windows) vs %.3f open (%d windows); want closed > 2x open", mc, len(closed), mo, len(open))
	}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// BenchmarkNeurodynamics: one op = 30 s of the config's 64-channel synthetic stream (8-sample frames)
// through all its stages in a Processor, in steady state; streams/core is how many such streams one
// core sustains in real time.
func BenchmarkNeurodynamics(b *testing.B) {
	cfg, err := pipeline.LoadConfig("neurodynamics.yaml")
	if err != nil {
		b.Fatal(err)
	}
	const seconds = 30
	sc := cfg.Sources[0].Synthetic
	sc.DurationSec, sc.Realtime = seconds, false
	src, err := synthetic.New(sc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var frames []streams.Frame
	for {
		var f streams.Frame
		if err := src.Next(ctx, &f); err == io.EOF {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, f)
	}
	stages, err := pipeline.BuildStages(cfg.Pipelines[0].Stages, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	info := src.Info()
	proc, err := pipeline.NewProcessor(pipeline.ProcessorConfig{Name: "neurodynamics", Stages: stages, Sink: &featureSink{discard: true},
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	if err != nil {
		b.Fatal(err)
	}
	f := streams.Frame{StreamID: info.StreamID, NumChannels: frames[0].NumChannels}
	seq := uint64(0)
	run := func() {
		for i := range frames {
			f.NumSamples = frames[i].NumSamples
			f.Samples = append(f.Samples[:0], frames[i].Samples...)
			f.Seq = seq
			seq++
			if err := proc.Process(ctx, &f); err != nil {
				b.Fatal(err)
			}
		}
	}
	run() // starts the stream's stages
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
	b.ReportMetric(seconds/(b.Elapsed().Seconds()/float64(b.N)), "streams/core")
}
