package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/lsl"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

// TestLSLOut: a pipeline with lsl_out re-publishes its processed frames (in microvolts) and its
// predictions (JSON markers) as LSL outlets that an LSL inlet finds and reads.
func TestLSLOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kc := startBroker(t)
	name := fmt.Sprintf("nstest-%d", time.Now().UnixNano())
	cfg := &pipeline.Config{Kafka: kc, Pipelines: []pipeline.PipelineConfig{{Name: "lslout", LSLOut: name, Stages: []pipeline.StageConfig{
		{Kind: "bandpass", LowHz: 1, HighHz: 40},
		{Kind: "decoder", Decoder: "alpha", Model: alphaModel(t), StepSec: 0.25},
	}}}}
	src, err := synthetic.New(synthetic.Config{StreamID: "lslout-1", Channels: 32, SampleRateHz: 250, FrameSamples: 10, Seed: 3, Realtime: true})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(runCtx, cfg, pipeline.RunOptions{Sources: []pipeline.Source{src}}) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	find := func(q string) lsl.StreamInfo {
		for ctx.Err() == nil {
			found, err := lsl.Resolve(ctx, q, lsl.ResolveOptions{Wait: 2 * time.Second, Minimum: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(found) > 0 {
				return found[0]
			}
		}
		t.Fatalf("no LSL stream %s", q)
		return lsl.StreamInfo{}
	}
	frames := find("name='" + name + " lslout-1'")
	preds := find("name='" + name + " predictions'")
	if frames.ChannelCount != 32 || frames.NominalRateHz != 250 || frames.Format != lsl.Float32 || preds.Format != lsl.String {
		t.Fatalf("outlets %+v / %+v", frames, preds)
	}
	in, err := lsl.OpenInlet(ctx, frames, lsl.InletOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	full := in.Info()
	if chs := full.Channels(); len(chs) != 32 || chs[0].Label != "Fp1" || chs[0].Unit != "microvolts" || !chs[0].HasLocation {
		t.Fatalf("channels %+v", chs[:1])
	}
	var c lsl.Chunk
	got := 0
	for got < 250 {
		if err := in.Pull(ctx, &c, 0); err != nil {
			t.Fatal(err)
		}
		got += c.N
	}
	// Band-passed EEG in microvolts: tens of µV, not the 1e-5 of volts.
	peak := 0.0
	for _, v := range c.Values {
		peak = max(peak, v, -v)
	}
	if peak < 0.5 || peak > 1e4 {
		t.Fatalf("re-published samples peak at %g, want microvolts", peak)
	}
	pin, err := lsl.OpenInlet(ctx, preds, lsl.InletOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pin.Close()
	if err := pin.Pull(ctx, &c, 0); err != nil {
		t.Fatal(err)
	}
	var p streams.Prediction
	if err := json.Unmarshal([]byte(c.Strings[0]), &p); err != nil || p.StreamID != "lslout-1" || p.Decoder != "alpha-eyes" {
		t.Fatalf("prediction marker %q: %v", c.Strings[0], err)
	}
}
