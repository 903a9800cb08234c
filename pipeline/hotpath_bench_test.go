package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/decoders/alpha"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// BenchmarkHotPathStages runs one 64-channel 250 Hz stream's 8-sample frames through notch +
// band-pass + the eyes-open/closed decoder (a prediction every second frame), as bench latency does,
// into a sink that drops everything: the stages' time and allocations per frame.
func BenchmarkHotPathStages(b *testing.B) {
	sc := synthetic.Config{Channels: 64, SampleRateHz: 250, FrameSamples: 8, StreamID: "bench-001", Seed: 1, Alpha: synthetic.AlphaAlternate, DurationSec: 60}
	calib, err := synthetic.New(sc)
	if err != nil {
		b.Fatal(err)
	}
	model, _, err := alpha.CalibrateOn(calib)
	if err != nil {
		b.Fatal(err)
	}
	modelPath := filepath.Join(b.TempDir(), "alpha.json")
	if err := model.Save(modelPath); err != nil {
		b.Fatal(err)
	}
	m := metrics.New()
	stages, err := BuildStages([]StageConfig{{Kind: "notch", FreqHz: 50}, {Kind: "bandpass", LowHz: 1, HighHz: 40},
		{Kind: "decoder", Decoder: "alpha", Model: modelPath, StepSec: 0.0625}}, DefaultLoaders(), m)
	if err != nil {
		b.Fatal(err)
	}
	sc.Seed, sc.DurationSec = 2, 0
	src, err := synthetic.New(sc)
	if err != nil {
		b.Fatal(err)
	}
	info := src.Info()
	p, err := NewProcessor(ProcessorConfig{Name: "bench", Sink: &memSink{}, Metrics: m, Stages: stages,
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	frames := make([]streams.Frame, 1000) // 32 s: more than a decoder window
	for i := range frames {
		if err := src.Next(ctx, &frames[i]); err != nil {
			b.Fatal(err)
		}
	}
	for i := range frames { // fill the windows before timing
		if err := p.Process(ctx, &frames[i]); err != nil {
			b.Fatal(err)
		}
	}
	f := new(streams.Frame)
	buf := make([]float32, len(frames[0].Samples))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		*f = frames[i%len(frames)]
		f.Samples = buf[:copy(buf, f.Samples)] // the stages filter in place
		f.Seq = uint64(len(frames) + i)
		if err := p.Process(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}
