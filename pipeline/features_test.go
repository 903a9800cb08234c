package pipeline_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/features"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

const neurodynamicsConfig = "../configs/neurodynamics.yaml"

// TestNeurodynamicsConfigThroughBroker runs configs/neurodynamics.yaml (notch, band-pass, common
// average, features) on a finite synthetic stream through the embedded broker, then reads the clean
// and features topics back with real consumers: the clean frames equal the raw ones through the
// configured filters and reference recomputed offline, and there is one feature vector per window,
// named as the extractors name them, whose values equal the same extractors computed offline on those
// clean samples.
func TestNeurodynamicsConfigThroughBroker(t *testing.T) {
	conf, err := pipeline.LoadConfig(neurodynamicsConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(conf.Sources) != 1 || len(conf.Pipelines) != 1 {
		t.Fatalf("%s: want one source and one pipeline, got %d and %d", neurodynamicsConfig, len(conf.Sources), len(conf.Pipelines))
	}
	pc := conf.Pipelines[0]
	var fstage *pipeline.StageConfig
	for i := range pc.Stages {
		if pc.Stages[i].Kind == "features" {
			fstage = &pc.Stages[i]
		}
	}
	if fstage == nil {
		t.Fatalf("%s: no features stage", neurodynamicsConfig)
	}
	const durSec = 12.0
	sc := conf.Sources[0].Synthetic
	sc.DurationSec, sc.Realtime = durSec, false
	src, err := synthetic.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	info := src.Info()
	fs := info.SampleRateHz
	nCh := len(info.Channels)
	nSamples := int(durSec * fs)
	nFrames := (nSamples + sc.FrameSamples - 1) / sc.FrameSamples
	win, step := int(math.Round(fstage.WindowSec*fs)), int(math.Round(fstage.StepSec*fs))
	wantVectors := (nSamples-win)/step + 1

	kc := startBroker(t)
	conf.Kafka, conf.Metrics.Listen = kc, ""
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	runInBackground(t, ctx, conf, pipeline.RunOptions{Sources: []pipeline.Source{src},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Partitions: 2})
	topics := kc.Topics()

	// The clean frames, channel-major, re-referenced to the common average.
	clean := make([][]float32, nCh)
	cc, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topics.Clean, GroupID: "check-clean", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var f streams.Frame
	for i := 0; i < nFrames; i++ {
		if _, _, err := cc.ReadFrame(ctx, &f); err != nil {
			t.Fatalf("clean frame %d of %d: %v", i, nFrames, err)
		}
		if f.Seq != uint64(i) || f.NumChannels != nCh {
			t.Fatalf("clean frame %d: seq %d, %d channels", i, f.Seq, f.NumChannels)
		}
		for s := 0; s < f.NumSamples; s++ {
			row := f.Samples[s*nCh : (s+1)*nCh]
			var sum float64
			for c, v := range row {
				clean[c] = append(clean[c], v)
				sum += float64(v)
			}
			if m := sum / float64(nCh); math.Abs(m) > 1e-5 {
				t.Fatalf("clean frame %d sample %d: channel mean %g, want ~0 after the common average reference", i, s, m)
			}
		}
	}

	// The clean frames are the raw frames through the configured notch, band-pass and common average,
	// recomputed here channel by channel on whole arrays (float32 between stages, as frames are).
	raw := readChannels(ctx, t, kc, topics.Raw, nFrames, nCh)
	want := offlineClean(t, pc.Stages, fs, raw)
	for c := range want {
		for s, v := range want[c] {
			if clean[c][s] != v {
				t.Fatalf("clean channel %d sample %d: pipeline %v, offline notch+band-pass+average %v", c, s, clean[c][s], v)
			}
		}
	}

	// The same extractors, offline, on the clean samples.
	ex, err := features.Build(fstage.Extractors)
	if err != nil {
		t.Fatal(err)
	}
	var wantNames []string
	sizes := make([]int, len(ex))
	for i, e := range ex {
		n, err := e.Configure(info, win)
		if err != nil {
			t.Fatal(err)
		}
		wantNames, sizes[i] = append(wantNames, n...), len(n)
	}
	for _, prefix := range []string{"alpha_abs/O1", "alpha_rel/Oz", "ap_exponent/Cz", "paf/O2", "hjorth_mobility/Pz"} {
		if !slices.Contains(wantNames, prefix) {
			t.Errorf("feature %q missing from %d names (first: %v)", prefix, len(wantNames), wantNames[:5])
		}
	}
	window := make([][]float64, nCh)
	wantValues := make([]float64, len(wantNames))
	offline := func(end int) []float64 {
		for c := range window {
			window[c] = window[c][:0]
			for _, v := range clean[c][end-win : end] {
				window[c] = append(window[c], float64(v))
			}
		}
		off := 0
		for i, e := range ex {
			if err := e.Extract(window, wantValues[off:off+sizes[i]]); err != nil {
				t.Fatal(err)
			}
			off += sizes[i]
		}
		return wantValues
	}

	fc, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topics.Features, GroupID: "check-features", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	for i := 0; i < wantVectors; i++ {
		m, err := fc.Fetch(ctx)
		if err != nil {
			t.Fatalf("feature vector %d of %d: %v", i, wantVectors, err)
		}
		v, err := streams.UnmarshalFeatures(m.Value)
		if err != nil {
			t.Fatalf("feature vector %d: %v", i, err)
		}
		end := win + i*step
		if v.StreamID != info.StreamID || v.WindowEndSample != int64(end) {
			t.Fatalf("feature vector %d: stream %q, window end %d; want %q, %d", i, v.StreamID, v.WindowEndSample, info.StreamID, end)
		}
		if wantNs := int64(float64(end) / fs * 1e9); absInt(v.WindowEndNs-wantNs) > 1000 {
			t.Fatalf("feature vector %d: window end at %d ns, want %d", i, v.WindowEndNs, wantNs)
		}
		if !slices.Equal(v.Names, wantNames) {
			t.Fatalf("feature vector %d: %d names, want %d (%v...)", i, len(v.Names), len(wantNames), v.Names[:min(5, len(v.Names))])
		}
		exp := offline(end)
		for k, got := range v.Values {
			if got != exp[k] && !(math.IsNaN(got) && math.IsNaN(exp[k])) {
				t.Fatalf("feature vector %d: %s = %v, offline %v", i, v.Names[k], got, exp[k])
			}
		}
	}
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancelShort()
	if m, err := fc.Fetch(short); err == nil {
		v, _ := streams.UnmarshalFeatures(m.Value)
		t.Fatalf("unexpected extra feature vector (window end %d)", v.WindowEndSample)
	}
}

// readChannels reads n frames of nCh channels from topic, channel-major.
func readChannels(ctx context.Context, t *testing.T, kc streams.Config, topic string, n, nCh int) [][]float32 {
	t.Helper()
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topic, GroupID: "check-" + topic, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := make([][]float32, nCh)
	var f streams.Frame
	for i := 0; i < n; i++ {
		if _, _, err := c.ReadFrame(ctx, &f); err != nil {
			t.Fatalf("%s frame %d of %d: %v", topic, i, n, err)
		}
		for s := 0; s < f.NumSamples; s++ {
			for ch := range out {
				out[ch] = append(out[ch], f.Samples[s*nCh+ch])
			}
		}
	}
	return out
}

// offlineClean applies the config's notch, band-pass (started at its first sample's steady state)
// and common average reference to whole channels, rounding to float32 after each as frames are.
func offlineClean(t *testing.T, stages []pipeline.StageConfig, fs float64, raw [][]float32) [][]float32 {
	t.Helper()
	x := make([][]float32, len(raw))
	for c := range raw {
		x[c] = slices.Clone(raw[c])
	}
	widen := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, s := range v {
			out[i] = float64(s)
		}
		return out
	}
	round := func(dst []float32, v []float64) {
		for i, s := range v {
			dst[i] = float32(s)
		}
	}
	for _, sc := range stages {
		switch sc.Kind {
		case "notch":
			sos, err := dsp.IIRNotch(sc.FreqHz, sc.Q, fs)
			if err != nil {
				t.Fatal(err)
			}
			for c := range x {
				round(x[c], dsp.SOSFilt(sos, widen(x[c])))
			}
		case "bandpass":
			sos, err := dsp.Butter(sc.Order, []float64{sc.LowHz, sc.HighHz}, dsp.Bandpass, fs)
			if err != nil {
				t.Fatal(err)
			}
			for c := range x {
				f := dsp.NewSOSFilter(sos, 1)
				f.SteadyState([]float64{float64(x[c][0])})
				y := widen(x[c])
				f.ProcessInterleaved(y)
				round(x[c], y)
			}
		case "reference":
			if len(sc.RefChannels) > 0 || len(sc.Exclude) > 0 {
				t.Fatalf("offlineClean knows only the plain common average, not %+v", sc)
			}
			inv := 1 / float64(len(x))
			for s := range x[0] {
				var sum float64
				for c := range x {
					sum += float64(x[c][s])
				}
				m := sum * inv
				for c := range x {
					x[c][s] = float32(float64(x[c][s]) - m)
				}
			}
		case "features":
		default:
			t.Fatalf("offlineClean does not know stage kind %q", sc.Kind)
		}
	}
	return x
}

func absInt(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

type featureRecorder struct {
	vectors int
	last    streams.FeatureVector
}

func (r *featureRecorder) EmitPrediction(context.Context, *streams.Prediction) error { return nil }
func (r *featureRecorder) EmitFeatures(_ context.Context, v *streams.FeatureVector) error {
	r.vectors++
	r.last.WindowEndSample = v.WindowEndSample
	r.last.Values = append(r.last.Values[:0], v.Values...)
	return nil
}

// A feature stage allocates nothing per frame or per window once started.
func TestFeatureStageAllocatesNothingPerWindow(t *testing.T) {
	info := streams.StreamInfo{StreamID: "a", SampleRateHz: 250}
	for _, n := range []string{"C3", "Cz", "C4", "O1"} {
		info.Channels = append(info.Channels, streams.Channel{Name: n, Type: streams.ChannelEEG})
	}
	st := pipeline.NewFeatureStage(1, 0.064, []features.ExtractorConfig{{Kind: "bandpower"}, {Kind: "covariance"}, {Kind: "hjorth"}})
	if _, err := st.Start(info); err != nil {
		t.Fatal(err)
	}
	rec := &featureRecorder{last: streams.FeatureVector{Values: make([]float64, 0, len(st.Names()))}}
	f := &streams.Frame{StreamID: "a", NumSamples: 16, NumChannels: 4, Samples: make([]float32, 64)}
	phase := 0
	push := func() {
		for i := range f.Samples {
			f.Samples[i] = float32(math.Sin(float64(phase+i) * 0.37))
		}
		phase += len(f.Samples)
		if err := st.Process(context.Background(), f, rec); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ { // fill the first window
		push()
	}
	before := rec.vectors
	if allocs := testing.AllocsPerRun(100, push); allocs != 0 {
		t.Fatalf("%v allocations per 16-sample frame, want 0", allocs)
	}
	if rec.vectors-before < 100 {
		t.Fatalf("%d windows in 101 frames of 16 samples with a 16-sample step", rec.vectors-before)
	}
	if len(rec.last.Values) != len(st.Names()) || rec.last.Values[0] <= 0 {
		t.Fatalf("last vector: %d values (want %d), first %v", len(rec.last.Values), len(st.Names()), rec.last.Values[:1])
	}
}

// The reference stage re-references as MNE does: common average over non-stim, non-excluded
// channels, or the mean of named channels subtracted from every target (the reference becomes 0).
func TestReferenceStage(t *testing.T) {
	info := streams.StreamInfo{StreamID: "r", SampleRateHz: 100, Channels: []streams.Channel{
		{Name: "a", Type: streams.ChannelEEG}, {Name: "b", Type: streams.ChannelEEG}, {Name: "c", Type: streams.ChannelEEG},
		{Name: "eog", Type: streams.ChannelEEG}, {Name: "trig", Type: streams.ChannelStim}}}
	frame := func() *streams.Frame {
		return &streams.Frame{StreamID: "r", NumSamples: 2, NumChannels: 5, Samples: []float32{1, 2, 6, 100, 7, -3, 0, 3, 50, 1}}
	}
	cases := []struct {
		refs, exclude []string
		want          []float32
	}{
		{nil, []string{"eog"}, []float32{-2, -1, 3, 100, 7, -3, 0, 3, 50, 1}},
		{[]string{"b"}, []string{"eog"}, []float32{-1, 0, 4, 100, 7, -3, 0, 3, 50, 1}},
		{[]string{"a", "c"}, nil, []float32{-2.5, -1.5, 2.5, 96.5, 7, -3, 0, 3, 50, 1}},
		{nil, nil, []float32{-26.25, -25.25, -21.25, 72.75, 7, -15.5, -12.5, -9.5, 37.5, 1}},
	}
	for _, tc := range cases {
		st := pipeline.NewReferenceStage(tc.refs, tc.exclude)
		if _, err := st.Start(info); err != nil {
			t.Fatal(err)
		}
		f := frame()
		if err := st.Process(context.Background(), f, nil); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Samples, tc.want) {
			t.Errorf("refs %v exclude %v: got %v, want %v", tc.refs, tc.exclude, f.Samples, tc.want)
		}
	}
	if _, err := pipeline.NewReferenceStage([]string{"Cz"}, nil).Start(info); err == nil || !strings.Contains(err.Error(), "Cz") {
		t.Errorf("unknown reference channel: err %v", err)
	}
	if _, err := pipeline.NewReferenceStage(nil, []string{"a", "b", "c", "eog"}).Start(info); err == nil {
		t.Error("re-referencing with every channel excluded accepted")
	}
	// The stage agrees with dsp.NewCommonAverage, which the parity tests hold to MNE.
	car, err := dsp.NewCommonAverage(5, []int{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	ref := frame().Samples
	car.ProcessInterleaved32(ref)
	if !slices.Equal(ref, cases[0].want) {
		t.Errorf("dsp common average %v, stage %v", ref, cases[0].want)
	}
}

func TestFeatureAndReferenceConfigErrors(t *testing.T) {
	bad := map[string][]pipeline.StageConfig{
		"no extractors":          {{Kind: "features"}},
		"unknown extractor kind": {{Kind: "features", Extractors: []features.ExtractorConfig{{Kind: "entropy"}}}},
		"negative window":        {{Kind: "features", WindowSec: -1, Extractors: []features.ExtractorConfig{{Kind: "variance"}}}},
	}
	for what, sc := range bad {
		if _, err := pipeline.BuildStages(sc, nil, nil); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	// A typo inside an inline extractor is an error, like anywhere else in the file.
	path := filepath.Join(t.TempDir(), "typo.yaml")
	if err := os.WriteFile(path, []byte(`
pipelines:
  - name: f
    stages:
      - kind: features
        extractors:
          - {kind: bandpower, bandz: []}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.LoadConfig(path); err == nil || !strings.Contains(err.Error(), "bandz") {
		t.Errorf("unknown extractor field: err %v", err)
	}
}
