package pipeline_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
	"github.com/neurostream/neurostream/tokenizer"
)

const detokenizeConfig = "../configs/detokenize.yaml"

// loadDetokenizeConfig reads configs/detokenize.yaml with its model paths made relative to this package.
func loadDetokenizeConfig(t *testing.T) *pipeline.Config {
	return loadTokensConfig(t, detokenizeConfig)
}

// loadTokensConfig reads a config with its model paths made relative to this package.
func loadTokensConfig(t *testing.T, path string) *pipeline.Config {
	t.Helper()
	conf, err := pipeline.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range conf.Pipelines {
		for i := range pc.Stages {
			if pc.Stages[i].Model != "" {
				pc.Stages[i].Model = "../" + pc.Stages[i].Model
			}
		}
	}
	return conf
}

// configs/detokenize.yaml split over processes as a user splits it (--only sources, --pipeline
// tokenize, --pipeline listen), through the embedded broker: the detokenize pipeline publishes one
// frame per patch on the detokenized topic, equal bit for bit to the offline round trip (the same
// stages tokenizing the same frames in memory, the tokens turned back into signal in memory), with
// the source's channels in its description and the stage's counters in the metrics.
//
// It runs twice: with the patches' means and scales as float32, and with side_bits: 4 (quantised
// over side ranges learnt for the config's codebook from the synthetic source, as
// `train-tokenizer --side-of` learns them), where the messages carry codes and no floats.
func TestDetokenizeStageThroughBroker(t *testing.T) {
	t.Run("float32 side", func(t *testing.T) { detokenizeThroughBroker(t, loadDetokenizeConfig(t), 0) })
	t.Run("4-bit side", func(t *testing.T) {
		conf := loadDetokenizeConfig(t)
		cb, err := tokenizer.Load(conf.Pipelines[1].Stages[0].Model)
		if err != nil {
			t.Fatal(err)
		}
		sc := conf.Sources[0].Synthetic
		sc.DurationSec, sc.Realtime, sc.Seed = 30, false, 1234 // other data than the run's
		if err := tokenizer.FitSide(cb, []*acquisition.Recording{recordSynthetic(t, sc)}, []string{"synthetic"}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "codebook.json")
		if err := cb.Save(path); err != nil {
			t.Fatal(err)
		}
		for _, pc := range conf.Pipelines {
			pc.Stages[len(pc.Stages)-1].Model = path
		}
		conf.Pipelines[0].Stages[2].SideBits = 4
		detokenizeThroughBroker(t, conf, 4)
	})
}

// configs/joint-codec.yaml the same way: every block of all channels, coded jointly, comes back
// through the broker equal to the offline round trip.
func TestJointCodecThroughBroker(t *testing.T) {
	detokenizeThroughBroker(t, loadTokensConfig(t, "../configs/joint-codec.yaml"), 0)
}

// A tokenizer stage's side_bits is checked when the config is built: 0 to 8, and a codebook with
// side ranges (files learnt before them are refused with how to add them); a joint codec has none.
func TestTokenizerStageSideBitsErrors(t *testing.T) {
	for _, model := range []string{"../configs/models/tokenizer-synthetic.json", "../configs/models/tokenizer-vq-eeg.json"} {
		if _, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "tokenizer", Model: model, SideBits: 4}}, nil, nil); err != nil &&
			!strings.Contains(err.Error(), "ONNX Runtime") { // the learnt one needs an opener to build; its side ranges are checked first
			t.Errorf("side_bits 4 on the shipped %s: %v", model, err)
		}
	}
	model := "../tokenizer/testdata/synthetic-kmeans-64-v1.json" // learnt before side ranges existed
	for bits, want := range map[int]string{4: "train-tokenizer --side-of", 9: "side_bits 9: want 0 (float32 mean and scale) to 8", -1: "side_bits -1"} {
		_, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "tokenizer", Model: model, SideBits: bits}}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("side_bits %d: %v, want an error saying %q", bits, err, want)
		}
	}
	if _, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "tokenizer", Model: model}}, nil, nil); err != nil {
		t.Fatalf("no side_bits (float32) on a codebook without side ranges: %v", err)
	}
	joint := loadTokensConfig(t, "../configs/joint-codec.yaml").Pipelines[0].Stages
	joint[len(joint)-1].SideBits = 4
	if _, err := pipeline.BuildStages(joint, nil, nil); err == nil || !strings.Contains(err.Error(), "joint codec") {
		t.Fatalf("side_bits on a joint codec: %v", err)
	}
}

// recordSynthetic reads a synthetic source to its end into memory.
func recordSynthetic(t *testing.T, sc synthetic.Config) *acquisition.Recording {
	src, err := synthetic.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	info := src.Info()
	rec := &acquisition.Recording{Info: info, Data: make([][]float64, len(info.Channels))}
	var f streams.Frame
	for {
		err := src.Next(context.Background(), &f)
		if errors.Is(err, io.EOF) {
			return rec
		}
		if err != nil {
			t.Fatal(err)
		}
		for s := range f.NumSamples {
			for c := range rec.Data {
				rec.Data[c] = append(rec.Data[c], float64(f.Samples[s*f.NumChannels+c]))
			}
		}
	}
}

func detokenizeThroughBroker(t *testing.T, conf *pipeline.Config, sideBits int) {
	tokenize, listen := conf.Pipelines[0], conf.Pipelines[1]
	if !listen.Detokenizes() || tokenize.Detokenizes() {
		t.Fatalf("pipelines %s, %s: want tokenize then detokenize", tokenize.Name, listen.Name)
	}
	const durSec = 6.0
	sc := conf.Sources[0].Synthetic
	sc.DurationSec, sc.Realtime = durSec, false
	newSource := func() pipeline.Source {
		src, err := synthetic.New(sc)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}

	// Offline: tokenize in memory, detokenize in memory.
	factories, err := pipeline.BuildStages(tokenize.Stages, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := newSource()
	info := src.Info()
	mem := &tokenSink{}
	proc, err := pipeline.NewProcessor(pipeline.ProcessorConfig{Name: "offline", Stages: factories, Sink: mem,
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var f streams.Frame
	for {
		err := src.Next(ctx, &f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.Process(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
	want := int(durSec*info.SampleRateHz) / 50
	if len(mem.tokens) != want {
		t.Fatalf("offline: %d patches, want %d", len(mem.tokens), want)
	}
	for i, tk := range mem.tokens {
		nch := len(tk.ChannelKeys)
		if tk.SideBits != sideBits || len(tk.Coded) == 0 && ((sideBits == 0 && (len(tk.Offsets) != nch || len(tk.OffsetCodes) != 0)) || (sideBits > 0 && (len(tk.Offsets) != 0 || len(tk.OffsetCodes) != nch))) {
			t.Fatalf("offline tokens %d: side bits %d, %d offsets, %d offset codes for %d channels: want side bits %d", i, tk.SideBits, len(tk.Offsets), len(tk.OffsetCodes), nch, sideBits)
		}
	}
	model, err := pipeline.LoadTokenModel(listen.Stages[0].Model)
	if err != nil {
		t.Fatal(err)
	}
	patchSamples, undo := offlineDetokenizer(t, model)

	// Online: three processes' worth of Run, sharing the broker.
	kc := startBroker(t)
	conf.Kafka, conf.Metrics.Listen = kc, ""
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New()
	runCtx, stop := context.WithCancel(ctx)
	var dones []chan error
	start := func(o pipeline.RunOptions) {
		done := make(chan error, 1)
		dones = append(dones, done)
		go func() { done <- pipeline.Run(runCtx, conf, o) }()
	}
	start(pipeline.RunOptions{Only: "pipelines", Pipeline: listen.Name, Log: quiet, Metrics: m, Partitions: 2})
	start(pipeline.RunOptions{Only: "pipelines", Pipeline: tokenize.Name, Log: quiet, Partitions: 2})
	start(pipeline.RunOptions{Only: "sources", Sources: []pipeline.Source{newSource()}, Log: quiet, Partitions: 2})
	defer func() {
		stop()
		for _, d := range dones {
			if err := <-d; err != nil {
				t.Error(err)
			}
		}
	}()
	dc, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: kc.Topics().Detokenized, GroupID: "check-detokenized", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	var df streams.Frame
	for i := range want {
		if _, _, err := dc.ReadFrame(ctx, &df); err != nil {
			t.Fatalf("detokenized frame %d of %d: %v", i, want, err)
		}
		offline, err := undo(&mem.tokens[i])
		if err != nil {
			t.Fatal(err)
		}
		if df.StreamID != info.StreamID || df.Seq != uint64(i+1) || df.NumSamples != patchSamples || df.NumChannels != len(info.Channels) {
			t.Fatalf("detokenized frame %d: %s #%d, %d x %d", i, df.StreamID, df.Seq, df.NumSamples, df.NumChannels)
		}
		if !reflect.DeepEqual(df.Samples, offline) {
			t.Fatalf("detokenized frame %d differs from the offline round trip", i)
		}
	}
	reg, err := pipeline.NewInfoRegistry(ctx, kc, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	dinfo, err := reg.Wait(ctx, streams.StreamInfoKey("detokenized", info.StreamID), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if dinfo.SampleRateHz != info.SampleRateHz || !reflect.DeepEqual(dinfo.Channels, info.Channels) {
		t.Fatalf("detokenized stream description %+v, source %+v", dinfo, info)
	}
	// The counters move as the frames are written, after they are on the broker: wait for them.
	for counterValue(t, m, "neurostream_frames_out_total", "stage", "0-detokenize") < float64(want) {
		select {
		case <-ctx.Done():
			t.Fatalf("frames out of the detokenize stage: %g, want %d", counterValue(t, m, "neurostream_frames_out_total", "stage", "0-detokenize"), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if in := counterValue(t, m, "neurostream_samples_in_total", "stage", "0-detokenize"); in < float64(want*patchSamples) {
		t.Fatalf("samples into the detokenize stage: %g, want >= %d", in, want*patchSamples)
	}

	// Tokens of another codebook are refused, counted and logged; the stream goes on.
	foreign := mem.tokens[0]
	foreign.Codebook = "another-codebook"
	prod, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.PublishTokens(ctx, kc.Topics().Tokens, &foreign); err != nil {
		t.Fatal(err)
	}
	for counterValue(t, m, "neurostream_rejected_total", "reason", "tokens-refused") < 1 {
		select {
		case <-ctx.Done():
			t.Fatal("tokens of another codebook were not counted as refused")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// offlineDetokenizer turns tokens back into signal in memory, with the model's own code.
func offlineDetokenizer(t *testing.T, m pipeline.TokenModel) (int, func(*streams.Tokens) ([]float32, error)) {
	t.Helper()
	if m.Joint != nil {
		d := m.Joint.NewDetokenizer()
		return m.Joint.BlockSamples, func(tk *streams.Tokens) ([]float32, error) { return d.Detokenize(tk, nil) }
	}
	q, err := tokenizer.NewQuantizer(m.Codebook)
	if err != nil {
		t.Fatal(err)
	}
	scratch := make([]float64, m.Codebook.PatchSamples)
	return m.Codebook.PatchSamples, func(tk *streams.Tokens) ([]float32, error) { return q.Detokenize(tk, nil, scratch) }
}

// A detokenize pipeline is checked before anything runs: its codebook given, loadable, and the one
// the config's tokenizer stages use; it is the only stage of its pipeline and reads the tokens topic.
func TestDetokenizeStageConfigErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"name": "x"`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(c *pipeline.Config)
		want string
	}{
		{"no codebook", func(c *pipeline.Config) { c.Pipelines[1].Stages[0].Model = "" }, "no codebook: set model:"},
		{"missing codebook", func(c *pipeline.Config) { c.Pipelines[1].Stages[0].Model = filepath.Join(dir, "nope.json") }, "nope.json"},
		{"broken codebook", func(c *pipeline.Config) { c.Pipelines[1].Stages[0].Model = broken }, "broken.json"},
		{"another codebook", func(c *pipeline.Config) {
			c.Pipelines[1].Stages[0].Model = "../configs/models/tokenizer-vq-eeg.json"
		}, "did not make the tokens of this config, whose tokenizer stages use ../configs/models/tokenizer-synthetic.json"},
		{"not alone", func(c *pipeline.Config) {
			c.Pipelines[1].Stages = append([]pipeline.StageConfig{{Kind: "bandpass", LowHz: 1, HighHz: 40}}, c.Pipelines[1].Stages...)
		}, "only stage of its pipeline"},
		{"reads frames", func(c *pipeline.Config) { c.Pipelines[1].Input = "clean" }, "set input: tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := loadDetokenizeConfig(t)
			tc.edit(conf)
			err := pipeline.CheckTokenCodebooks(conf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			// Run refuses the config with the same error before it touches the broker (there is none).
			conf.Kafka = streams.Config{Brokers: []string{"127.0.0.1:1"}, Namespace: "none"}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err = pipeline.Run(ctx, conf, pipeline.RunOptions{Only: "pipelines", Pipeline: "listen", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run: error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// In a pipeline of frames, the stage says where it belongs.
	_, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "detokenize", Model: "../configs/models/tokenizer-synthetic.json"}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "input: tokens") {
		t.Fatalf("error %v", err)
	}
	if err := pipeline.CheckTokenCodebooks(loadDetokenizeConfig(t)); err != nil {
		t.Fatal(err)
	}
}
