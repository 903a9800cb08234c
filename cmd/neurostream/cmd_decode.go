package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/neurostream/neurostream/acquisition/replay"
	"github.com/neurostream/neurostream/decoders/model"
	"github.com/neurostream/neurostream/decoders/train"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

func runDecode(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("decode", "--model FILE [flags]",
		"Decodes a stream online with a model from `neurostream train`: consumes frames from Kafka, applies the\n"+
			"model's causal band-pass, slides the model's window by --step, and publishes class probabilities\n"+
			"on the predictions topic (printed here too). With --replay FILE it also replays that recording\n"+
			"into the raw topic as a stream of its own (<recording>-decode-<time>, other streams on the broker\n"+
			"are left alone) and, at its end, compares the online decision for each annotated trial with\n"+
			"the offline one (the window ending at the trial's tmax); it decodes every sample by default, so\n"+
			"every trial has its window, and prints only the per-trial table unless --print-all.")
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	modelPath := fs.String("model", "", "model file written by `neurostream train`")
	input := fs.String("input", "raw", "topic to read frames from: raw, clean or a full topic name")
	filter := fs.Bool("filter", true, "apply the model's band-pass (turn off if the input topic already carries it)")
	stepSec := fs.Float64("step", 0, "seconds between decoded windows (default 0.0625; with --replay, 0 or unset: every sample)")
	replayPath := fs.String("replay", "", "replay this recording (EDF/BDF/FIF) as the stream to decode")
	speed := fs.Float64("speed", 0, "with --replay: 1 = real time, 0 = as fast as possible")
	asJSON := fs.Bool("json", false, "print each prediction as a JSON line")
	quiet := fs.Bool("quiet", false, "do not print predictions")
	printAll := fs.Bool("print-all", false, "with --replay: print every prediction, not only the per-trial table")
	verbose := fs.Bool("v", false, "verbose logs")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics here (empty or \"off\": none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		fs.Usage()
		return fmt.Errorf("decode: --model is required")
	}
	mf, err := model.ReadFile(*modelPath)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	step := *stepSec
	stepSet := false
	fs.Visit(func(f *flag.Flag) { stepSet = stepSet || f.Name == "step" })
	switch {
	case (!stepSet || step == 0) && *replayPath != "":
		step = 1 / mf.SampleRateHz // every sample (--step 0 says so explicitly)
	case !stepSet:
		step = 0.0625
	case !(step > 0) || math.IsInf(step, 0):
		return fmt.Errorf("decode: --step %g: want a positive number of seconds", *stepSec)
	}
	if *replayPath != "" && !*printAll && !*asJSON {
		*quiet = true
	}
	log := newLogger(os.Stderr, *verbose)
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()

	var stages []pipeline.StageConfig
	if *filter {
		stages = append(stages, pipeline.StageConfig{Kind: "bandpass", LowHz: mf.Filter.BandHz[0], HighHz: mf.Filter.BandHz[1], Order: mf.Filter.Order})
	}
	stages = append(stages, pipeline.StageConfig{Kind: "decoder", Decoder: "native", Model: *modelPath, StepSec: step})
	name := "decode-" + string(mf.Decoder)
	cfg := &pipeline.Config{Kafka: kc, Pipelines: []pipeline.PipelineConfig{{
		Name: name, Input: *input, Stages: stages,
		// A fresh group per run, so this decoder reads the stream from its start and shares nothing.
		Group: fmt.Sprintf("neurostream-%s-%d", name, time.Now().UnixNano()),
	}}}
	loaders, closeLoaders := decoderLoaders()
	defer closeLoaders()
	// A model that does not fit the stream (rate, channels) ends the command with that error.
	opts := pipeline.RunOptions{Metrics: metrics.New(), Log: log, Loaders: loaders, StopOnStreamError: true}
	if err := serveMetrics(ctx, opts.Metrics, "", *metricsAddr, out); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	online := map[int64]string{} // window end sample -> label, for --replay comparisons
	var lastEnd int64 = -1
	var rep *replaySession
	if *replayPath != "" {
		if rep, err = newReplaySession(*replayPath, mf, step, *speed); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		opts.Sources = []pipeline.Source{rep.src}
		cfg.Pipelines[0].Streams = []string{rep.streamID}
		lastEnd = rep.lastEnd
		fmt.Fprintf(out, "replaying %s (%d samples at %g Hz) into %s.raw as stream %s; decoding with %s every %.4g s\n",
			*replayPath, rep.nSamples, rep.rateHz, kc.Namespace, rep.streamID, mf.Decoder, step)
	}
	enc := json.NewEncoder(out)
	opts.OnPrediction = func(p *streams.Prediction) {
		if !*quiet {
			if *asJSON {
				_ = enc.Encode(p)
			} else {
				fmt.Fprintf(out, "%s sample %d: %-8s %s\n", p.StreamID, p.WindowEndSample, p.Label, scoreString(p.Scores))
			}
		}
		if rep == nil || p.StreamID != rep.streamID {
			return
		}
		mu.Lock()
		online[p.WindowEndSample] = p.Label
		mu.Unlock()
		if p.WindowEndSample >= lastEnd {
			cancel()
		}
	}
	err = pipeline.Run(ctx, cfg, opts)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("decode: %w", err)
	}
	if rep == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	return rep.compare(out, mf, online)
}

func scoreString(scores []streams.Score) string {
	parts := make([]string, len(scores))
	for i, s := range scores {
		parts[i] = fmt.Sprintf("%s=%.3f", s.Label, s.Value)
	}
	return strings.Join(parts, " ")
}

// replaySession is a recording replayed into the pipeline, with what is needed to compare the online
// decisions on its trials with the offline ones.
type replaySession struct {
	path     string
	streamID string
	rateHz   float64
	src      *replay.Source
	ds       *train.Dataset
	nSamples int
	lastEnd  int64 // end sample of the last window the decoder stage will emit
}

func newReplaySession(path string, mf *model.File, stepSec, speed float64) (*replaySession, error) {
	rec, err := readRecording(path)
	if err != nil {
		return nil, err
	}
	// A stream of its own: an earlier replay of the same recording on this broker must not mix in.
	id := fmt.Sprintf("%s-decode-%s", rec.Info.StreamID, time.Now().UTC().Format("20060102T150405.000"))
	src, err := replay.New(rec, replay.Config{Speed: speed, StreamID: id})
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", path, err)
	}
	var events []train.Event
	for _, e := range mf.Training.Events {
		if k, v, ok := strings.Cut(e, "="); ok {
			events = append(events, train.Event{Match: k, Label: v})
		}
	}
	cfg := train.Config{Events: events, BandHz: mf.Filter.BandHz, Order: mf.Filter.Order, TminSec: mf.TminSec, TmaxSec: mf.TmaxSec, Channels: mf.Channels}
	ds, err := train.EpochRecording(rec, path, cfg)
	if err != nil {
		ds = nil // no annotated trials: nothing to compare, decoding still runs
	}
	stepSamples := int64(math.Round(stepSec * mf.SampleRateHz))
	n := int64(rec.NumSamples())
	w := int64(mf.WindowSamples)
	last := w + (n-w)/stepSamples*stepSamples
	return &replaySession{path: path, streamID: id, rateHz: rec.Info.SampleRateHz, src: src, ds: ds, nSamples: int(n), lastEnd: last}, nil
}

func (r *replaySession) compare(out io.Writer, mf *model.File, online map[int64]string) error {
	if r.ds == nil {
		fmt.Fprintf(out, "%s has no trials matching the model's events %v; nothing to compare\n", r.path, mf.Training.Events)
		return nil
	}
	pred, _, err := train.Predict(mf, r.ds)
	if err != nil {
		return fmt.Errorf("decode: offline predictions: %w", err)
	}
	b := int64(math.Round(mf.TmaxSec * mf.SampleRateHz))
	same, missing, correctOnline, correctOffline := 0, 0, 0, 0
	fmt.Fprintf(out, "\nper-trial decisions, online (Kafka, float32 frames, streaming filter) vs offline (float64):\n")
	for i, s := range r.ds.Onsets {
		end := s + b + 1
		on, ok := online[end]
		off := r.ds.Classes[pred[i]]
		truth := r.ds.Classes[r.ds.Labels[i]]
		mark := ""
		switch {
		case !ok:
			missing++
			on, mark = "-", "  (no window ends here: use --step 0)"
		case on == off:
			same++
		default:
			mark = "  DIFFERENT"
		}
		if on == truth {
			correctOnline++
		}
		if off == truth {
			correctOffline++
		}
		fmt.Fprintf(out, "  trial %2d at sample %6d (%s): online %-8s offline %-8s%s\n", i+1, s, truth, on, off, mark)
	}
	n := len(r.ds.Onsets)
	fmt.Fprintf(out, "online and offline agree on %d/%d trials (%d without an online window); accuracy online %.3f, offline %.3f\n",
		same, n, missing, float64(correctOnline)/float64(n), float64(correctOffline)/float64(n))
	return nil
}
