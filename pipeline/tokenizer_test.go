package pipeline_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/decoders/onnx"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
	"github.com/neurostream/neurostream/tokenizer/learnt"
)

const tokenizerConfig = "../configs/tokenizer.yaml"

// tokenSink keeps tokens in memory, for running the same stages offline.
type tokenSink struct{ tokens []streams.Tokens }

func (s *tokenSink) EmitPrediction(context.Context, *streams.Prediction) error  { return nil }
func (s *tokenSink) EmitFeatures(context.Context, *streams.FeatureVector) error { return nil }
func (s *tokenSink) WriteStreamInfo(context.Context, *streams.StreamInfo) error { return nil }
func (s *tokenSink) WriteFrame(context.Context, *streams.Frame) error           { return nil }
func (s *tokenSink) EmitTokens(_ context.Context, t *streams.Tokens) error {
	c := *t
	c.Tokens = append([]uint16(nil), t.Tokens...)
	c.Offsets = append([]float32(nil), t.Offsets...)
	c.Scales = append([]float32(nil), t.Scales...)
	c.ChannelKeys = append([]string(nil), t.ChannelKeys...)
	c.OffsetCodes = append([]uint8(nil), t.OffsetCodes...)
	c.ScaleCodes = append([]uint8(nil), t.ScaleCodes...)
	c.Coded = append([]byte(nil), t.Coded...)
	c.SensorPositionsM = append([]float32(nil), t.SensorPositionsM...)
	c.SensorOrientations = append([]float32(nil), t.SensorOrientations...)
	s.tokens = append(s.tokens, c)
	return nil
}

// configs/tokenizer.yaml run through the embedded broker publishes one tokens message per 0.2-s
// patch, equal to what the same stages produce on the same frames in memory, in order; a sink that
// cannot carry tokens is a clear error.
func TestTokenizerConfigThroughBroker(t *testing.T) {
	conf, err := pipeline.LoadConfig(tokenizerConfig)
	if err != nil {
		t.Fatal(err)
	}
	stages := conf.Pipelines[0].Stages
	for i := range stages {
		if stages[i].Model != "" {
			stages[i].Model = "../" + stages[i].Model
		}
	}
	const durSec = 10.0
	sc := conf.Sources[0].Synthetic
	sc.DurationSec, sc.Realtime = durSec, false
	newSource := func() pipeline.Source {
		src, err := synthetic.New(sc)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}

	// Offline: the same stages in a processor writing to memory.
	factories, err := pipeline.BuildStages(stages, nil, nil)
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
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
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

	// Online, through Kafka.
	kc := startBroker(t)
	conf.Kafka, conf.Metrics.Listen = kc, ""
	runInBackground(t, ctx, conf, pipeline.RunOptions{Sources: []pipeline.Source{newSource()},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Partitions: 2})
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: kc.Topics().Tokens, GroupID: "check-tokens", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range want {
		m, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("tokens message %d of %d: %v", i, want, err)
		}
		if streams.MessageType(m) != streams.TypeTokens || string(m.Key) != info.StreamID {
			t.Fatalf("message %d: type %q key %q", i, streams.MessageType(m), m.Key)
		}
		var got streams.Tokens
		if err := streams.DecodeTokens(m.Value, &got); err != nil {
			t.Fatal(err)
		}
		w := mem.tokens[i]
		got.AcquiredAtNs, w.AcquiredAtNs = 0, 0
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("patch %d through Kafka:\n%+v\nin memory:\n%+v", i, got, w)
		}
	}

	// Detokenized through the broker: every patch comes back as a frame equal to the offline round
	// trip (the same tokens turned back into signal in memory), with the source's channels.
	cb, err := tokenizer.Load(stages[len(stages)-1].Model)
	if err != nil {
		t.Fatal(err)
	}
	q, err := tokenizer.NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	detokCtx, stopDetok := context.WithCancel(ctx)
	detokDone := make(chan error, 1)
	go func() {
		detokDone <- pipeline.RunDetokenize(detokCtx, kc, pipeline.DetokenizeOptions{Model: pipeline.TokenModel{Codebook: cb}, FromStart: true,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		stopDetok()
		if err := <-detokDone; err != nil {
			t.Error(err)
		}
	}()
	dc, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: kc.Topics().Detokenized, GroupID: "check-detokenized", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	scratch := make([]float64, cb.PatchSamples)
	var df streams.Frame
	for i := range want {
		if _, _, err := dc.ReadFrame(ctx, &df); err != nil {
			t.Fatalf("detokenized frame %d of %d: %v", i, want, err)
		}
		offline, err := q.Detokenize(&mem.tokens[i], nil, scratch)
		if err != nil {
			t.Fatal(err)
		}
		if df.StreamID != info.StreamID || df.Seq != uint64(i+1) || df.NumSamples != cb.PatchSamples || df.NumChannels != len(info.Channels) ||
			!reflect.DeepEqual(df.Samples, offline) {
			t.Fatalf("detokenized frame %d (%s #%d, %d x %d) differs from the offline round trip", i, df.StreamID, df.Seq, df.NumSamples, df.NumChannels)
		}
	}
	reg, err := pipeline.NewInfoRegistry(ctx, kc, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

	// A sink without EmitTokens is refused with the reason.
	bad, _ := pipeline.NewProcessor(pipeline.ProcessorConfig{Name: "bad", Stages: factories, Sink: &featureOnlySink{},
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	f.Seq = 0
	if err := bad.Process(ctx, &f); err == nil {
		t.Fatal("a tokenizer stage ran on a sink that cannot carry tokens")
	}
}

type featureOnlySink struct{}

func (featureOnlySink) EmitPrediction(context.Context, *streams.Prediction) error  { return nil }
func (featureOnlySink) EmitFeatures(context.Context, *streams.FeatureVector) error { return nil }
func (featureOnlySink) WriteStreamInfo(context.Context, *streams.StreamInfo) error { return nil }
func (featureOnlySink) WriteFrame(context.Context, *streams.Frame) error           { return nil }

// A tokenizer whose codebook was learnt on another band than the pipeline's band-pass before it is
// refused when the stages are built, with the band-pass to use.
func TestTokenizerRefusesOtherBand(t *testing.T) {
	stages := []pipeline.StageConfig{{Kind: "bandpass", LowHz: 0.5, HighHz: 45}, {Kind: "tokenizer", Model: "../configs/models/tokenizer-synthetic.json"}}
	_, err := pipeline.BuildStages(stages, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "low_hz: 1, high_hz: 40") {
		t.Fatalf("error %v, want one naming the codebook's band", err)
	}
	stages[0].LowHz, stages[0].HighHz = 1, 40
	if _, err := pipeline.BuildStages(stages, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// Without an opener for learnt tokenizers (no ONNX Runtime), a learnt codebook is refused with the
// reason, not half-loaded.
func TestTokenizerStageRefusesLearntCodebook(t *testing.T) {
	_, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "tokenizer", Model: "../configs/models/tokenizer-vq-eeg.json"}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "learnt tokenizer") {
		t.Fatalf("error %v", err)
	}
}

// With an opener for learnt tokenizers (the command's ONNX Runtime), a tokenizer stage runs the
// learnt codebook: one token per channel patch, which the same codebook detokenizes.
func TestTokenizerStageRunsLearntCodebook(t *testing.T) {
	rt, err := onnx.NewRuntime(onnx.Config{})
	if errors.Is(err, onnx.ErrLibraryNotFound) {
		t.Skipf("ONNX Runtime not installed: run tools/install-onnxruntime.sh (%v)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	var enc *learnt.Encoder
	open := func(path string) (*tokenizer.Quantizer, error) {
		q, e, err := learnt.Open(rt, path)
		enc = e
		return q, err
	}
	model := "../configs/models/tokenizer-vq-eeg.json"
	factories, err := pipeline.BuildStages([]pipeline.StageConfig{{Kind: "bandpass", LowHz: 1, HighHz: 40}, {Kind: "tokenizer", Model: model}}, nil, nil, pipeline.WithTokenizers(open))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	src, err := synthetic.New(synthetic.Config{StreamID: "s", Channels: 8, SampleRateHz: 160, FrameSamples: 8, DurationSec: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	info := src.Info()
	mem := &tokenSink{}
	proc, err := pipeline.NewProcessor(pipeline.ProcessorConfig{Name: "learnt", Stages: factories, Sink: mem,
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
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
	if len(mem.tokens) != 2*160/32 {
		t.Fatalf("%d patches, want %d", len(mem.tokens), 2*160/32)
	}
	cb, _ := tokenizer.Load(model)
	q, err := tokenizer.NewQuantizer(cb) // decoding needs no encoder
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range mem.tokens {
		if tk.Codebook != cb.Name || len(tk.Tokens) != 8 {
			t.Fatalf("tokens %+v", tk)
		}
		if _, err := q.Detokenize(&tk, nil, make([]float64, cb.PatchSamples)); err != nil {
			t.Fatal(err)
		}
	}
}

// surveyedSource is a synthetic headset whose electrode 2 has no known position and electrode 0 an
// orientation, as a mixed montage's stream info may say.
type surveyedSource struct{ pipeline.Source }

func (s surveyedSource) Info() streams.StreamInfo {
	info := s.Source.Info()
	info.Channels = slices.Clone(info.Channels)
	info.Channels[2].HasPosition = false
	info.Channels[0].Orientation, info.Channels[0].HasOrientation = [3]float64{0, 0, 1}, true
	return info
}

// checkGeometry compares a tokens message's sensor geometry with the stream info's channels.
func checkGeometry(t *testing.T, tk *streams.Tokens, info streams.StreamInfo) {
	t.Helper()
	if len(tk.SensorPositionsM) != 3*len(tk.ChannelKeys) || len(tk.SensorOrientations) != 3*len(tk.ChannelKeys) {
		t.Fatalf("%d position and %d orientation values for %d channels", len(tk.SensorPositionsM), len(tk.SensorOrientations), len(tk.ChannelKeys))
	}
	for i, key := range tk.ChannelKeys {
		c := slices.IndexFunc(info.Channels, func(ch streams.Channel) bool { return streams.ChannelKey(ch) == key })
		if c < 0 {
			t.Fatalf("channel key %s is not in the stream info", key)
		}
		ch := info.Channels[c]
		for k := range 3 {
			pos, ori := tk.SensorPositionsM[3*i+k], tk.SensorOrientations[3*i+k]
			if ch.HasPosition != !math.IsNaN(float64(pos)) || (ch.HasPosition && pos != float32(ch.Position[k])) {
				t.Fatalf("%s: position %v, stream info %v (known %v)", key, tk.SensorPositionsM[3*i:3*i+3], ch.Position, ch.HasPosition)
			}
			if ch.HasOrientation != !math.IsNaN(float64(ori)) || (ch.HasOrientation && ori != float32(ch.Orientation[k])) {
				t.Fatalf("%s: orientation %v, stream info %v (known %v)", key, tk.SensorOrientations[3*i:3*i+3], ch.Orientation, ch.HasOrientation)
			}
		}
	}
}

// With sensors: true every tokens message on the broker carries its channels' positions and
// orientations from the stream info (NaN where the info has none), for the codebook tokenizer and
// the joint codec alike; without it, none.
func TestTokenizerSensorsThroughBroker(t *testing.T) {
	for _, cfgPath := range []string{tokenizerConfig, "../configs/joint-codec.yaml"} {
		t.Run(filepath.Base(cfgPath), func(t *testing.T) {
			conf, err := pipeline.LoadConfig(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			conf.Pipelines = conf.Pipelines[:1]
			stages := conf.Pipelines[0].Stages
			tok := &stages[len(stages)-1]
			tok.Model, tok.Sensors = "../"+tok.Model, true
			sc := conf.Sources[0].Synthetic
			sc.DurationSec, sc.Realtime = 2, false
			syn, err := synthetic.New(sc)
			if err != nil {
				t.Fatal(err)
			}
			src := surveyedSource{syn}
			kc := startBroker(t)
			conf.Kafka, conf.Metrics.Listen = kc, ""
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			runInBackground(t, ctx, conf, pipeline.RunOptions{Sources: []pipeline.Source{src},
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Partitions: 1})
			c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: kc.Topics().Tokens, GroupID: "check-sensors", FromStart: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got streams.Tokens
			for i := range 3 {
				m, err := c.Fetch(ctx)
				if err != nil {
					t.Fatalf("tokens message %d: %v", i, err)
				}
				if err := streams.DecodeTokens(m.Value, &got); err != nil {
					t.Fatal(err)
				}
				checkGeometry(t, &got, src.Info())
			}
			if !math.IsNaN(float64(got.SensorPositionsM[3*2])) || math.IsNaN(float64(got.SensorOrientations[2])) {
				t.Fatalf("channel 2's position %v and channel 0's orientation %v: want NaN and known", got.SensorPositionsM[6:9], got.SensorOrientations[:3])
			}

			// Without the option the messages carry no geometry.
			tok.Sensors = false
			factories, err := pipeline.BuildStages(stages, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			mem := &tokenSink{}
			proc, err := pipeline.NewProcessor(pipeline.ProcessorConfig{Name: "plain", Stages: factories, Sink: mem,
				Lookup: func(context.Context, string) (streams.StreamInfo, error) { return src.Info(), nil }})
			if err != nil {
				t.Fatal(err)
			}
			plain, err := synthetic.New(sc)
			if err != nil {
				t.Fatal(err)
			}
			var f streams.Frame
			for len(mem.tokens) == 0 {
				if err := plain.Next(ctx, &f); err != nil {
					t.Fatal(err)
				}
				if err := proc.Process(ctx, &f); err != nil {
					t.Fatal(err)
				}
			}
			if len(mem.tokens[0].SensorPositionsM) != 0 || len(mem.tokens[0].SensorOrientations) != 0 {
				t.Fatalf("geometry sent without sensors: true: %d values", len(mem.tokens[0].SensorPositionsM))
			}
		})
	}
}
