package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/decoders/alpha"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

const (
	testRateHz    = 250.0
	testFrame     = 8
	testDurSec    = 24.0
	testStepSec   = 0.5
	testWindowSec = 2.0
)

// Frames: 24 s at 250 Hz in 8-sample frames; windows: 2 s every 0.5 s over 6000 samples.
var (
	wantFrames      = int(testDurSec*testRateHz+testFrame-1) / testFrame
	wantPredictions = int((testDurSec-testWindowSec)/testStepSec) + 1
)

// runInBackground runs conf until the test ends, then stops it and reports its error.
func runInBackground(t *testing.T, ctx context.Context, conf *pipeline.Config, o pipeline.RunOptions) {
	t.Helper()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(runCtx, conf, o) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func startBroker(t *testing.T) streams.Config {
	t.Helper()
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return streams.Config{Brokers: []string{b.Addr()}, Namespace: "it"}
}

func alphaModel(t *testing.T) string {
	t.Helper()
	m := alpha.DefaultModel()
	m.Threshold = -0.5 // uncalibrated is fine: this test checks delivery, not accuracy
	path := filepath.Join(t.TempDir(), "alpha.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func source(t *testing.T) pipeline.Source {
	t.Helper()
	s, err := synthetic.New(synthetic.Config{StreamID: "it-1", Channels: 32, SampleRateHz: testRateHz, FrameSamples: testFrame,
		DurationSec: testDurSec, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkTopics reads the clean topic and the predictions topic and asserts that every sequence number
// arrived once and in order and that each window produced one prediction.
func checkTopics(t *testing.T, ctx context.Context, cfg streams.Config) {
	t.Helper()
	topics := cfg.Topics()
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Clean, GroupID: "check-clean", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	for i := 0; i < wantFrames; i++ {
		_, res, err := c.ReadFrame(ctx, &f)
		if err != nil {
			t.Fatalf("clean frame %d of %d: %v", i, wantFrames, err)
		}
		if f.Seq != uint64(i) || res.Missing != 0 || res.Duplicate {
			t.Fatalf("clean frame %d: seq %d, check %+v", i, f.Seq, res)
		}
		if f.NumChannels != 32 || f.NumSamples != testFrame {
			t.Fatalf("clean frame %d: %d x %d", i, f.NumSamples, f.NumChannels)
		}
	}
	pc, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Predictions, GroupID: "check-pred", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var last int64
	for i := 0; i < wantPredictions; i++ {
		m, err := pc.Fetch(ctx)
		if err != nil {
			t.Fatalf("prediction %d of %d: %v", i, wantPredictions, err)
		}
		var p streams.Prediction
		if err := json.Unmarshal(m.Value, &p); err != nil {
			t.Fatalf("prediction %d is not JSON: %v", i, err)
		}
		if p.StreamID != "it-1" || p.Decoder != "alpha-eyes" || len(p.Scores) != 2 || p.WindowEndSample <= last || p.LatencyNs <= 0 {
			t.Fatalf("prediction %d: %+v", i, p)
		}
		last = p.WindowEndSample
	}
	if last != int64(testDurSec*testRateHz) {
		t.Fatalf("last window ends at sample %d, want %d", last, int64(testDurSec*testRateHz))
	}
	// Nothing more than expected: a short wait for a surplus prediction must time out.
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if m, err := pc.Fetch(short); err == nil {
		t.Fatalf("unexpected extra prediction: %s", m.Value)
	}
}

func stages(model string) []pipeline.StageConfig {
	return []pipeline.StageConfig{
		{Kind: "notch", FreqHz: 50},
		{Kind: "bandpass", LowHz: 1, HighHz: 40},
		{Kind: "decoder", Decoder: "alpha", Model: model, StepSec: testStepSec},
	}
}

// TestFusedPipelineThroughBroker: synthetic source -> raw topic -> one process running all stages ->
// clean and predictions topics.
func TestFusedPipelineThroughBroker(t *testing.T) {
	cfg := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conf := &pipeline.Config{Kafka: cfg, Pipelines: []pipeline.PipelineConfig{{Name: "fused", Output: "clean", Stages: stages(alphaModel(t))}}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(runCtx, conf, pipeline.RunOptions{Sources: []pipeline.Source{source(t)}, Log: log, Partitions: 4})
	}()
	checkTopics(t, ctx, cfg)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "decoder", Decoder: "alpha", Model: "/nonexistent.json"}}, pipeline.DefaultLoaders(), nil); err == nil {
		t.Fatal("missing model accepted")
	}
	if _, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "bandpass", LowHz: 30, HighHz: 8}}, nil, nil); err == nil {
		t.Fatal("inverted band accepted")
	}
	if _, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "wavelet"}}, nil, nil); err == nil {
		t.Fatal("unknown stage accepted")
	}
}

// TestStageAsSeparateProcess: the filter stages run in a second process (the neurostream binary, as a
// consumer-group member reading raw and writing clean); this process runs the source and the decoder
// pipeline reading clean.
func TestStageAsSeparateProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the neurostream binary")
	}
	bin := filepath.Join(t.TempDir(), "neurostream")
	build := exec.Command("go", "build", "-o", bin, "github.com/neurostream/neurostream/cmd/neurostream")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := startBroker(t)
	confPath := filepath.Join(t.TempDir(), "filter.yaml")
	if err := os.WriteFile(confPath, []byte(`
kafka:
  namespace: it
metrics:
  listen: ""
pipelines:
  - name: filter
    input: raw
    output: clean
    stages:
      - {kind: notch, freq_hz: 50}
      - {kind: bandpass, low_hz: 1, high_hz: 40}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	proc := exec.CommandContext(ctx, bin, "run", "--config", confPath, "--brokers", cfg.Brokers[0], "--only", "pipelines")
	proc.Stderr = &stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = proc.Process.Signal(os.Interrupt)
		_ = proc.Wait()
		if t.Failed() {
			t.Logf("filter process log:\n%s", stderr.String())
		}
	}()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conf := &pipeline.Config{Kafka: cfg, Pipelines: []pipeline.PipelineConfig{{Name: "decode", Input: "clean",
		Stages: []pipeline.StageConfig{{Kind: "decoder", Decoder: "alpha", Model: alphaModel(t), StepSec: testStepSec}}}}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(runCtx, conf, pipeline.RunOptions{Sources: []pipeline.Source{source(t)}, Log: log})
	}()
	checkTopics(t, ctx, cfg)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
