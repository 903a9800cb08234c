package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/devices"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/decoders"
	"github.com/neurostream/neurostream/decoders/alpha"
	"github.com/neurostream/neurostream/decoders/onnx"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/internal/view"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
	"github.com/neurostream/neurostream/tokenizer"
	"github.com/neurostream/neurostream/tokenizer/learnt"
)

func runPipeline(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("run", "--config FILE [flags]",
		"Runs the sources and pipelines a YAML config describes (see configs/). One process can run all of it\n"+
			"(fused); --only and --pipeline split it over processes that share a broker and scale out as\n"+
			"consumer-group members. A --pipeline process runs that pipeline only, never the config's sources\n"+
			"(one process publishes each stream: start it with --only sources).")
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	config := fs.String("config", "", "pipeline config (YAML), e.g. configs/eyes-alpha.yaml")
	only := fs.String("only", "", "run only `sources` or only `pipelines` of the config")
	name := fs.String("pipeline", "", "run only the pipeline with this name (and no sources)")
	var sf spoolFlags
	sf.register(fs)
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics here (overrides the config's metrics.listen; \"off\" disables)")
	lslOut := fs.String("lsl-out", "", "also publish processed frames and predictions as LSL outlets named after this")
	verbose := fs.Bool("v", false, "verbose logs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *config == "" {
		fs.Usage()
		return fmt.Errorf("run: --config is required (try configs/eyes-alpha.yaml)")
	}
	if *only != "" && *only != "sources" && *only != "pipelines" {
		return fmt.Errorf("run: --only %q: want sources or pipelines", *only)
	}
	if *name != "" {
		// Every process of a split deployment would otherwise publish its own copy of each stream.
		if *only == "sources" {
			return fmt.Errorf("run: --pipeline %s runs a pipeline, --only sources runs none: choose one", *name)
		}
		*only = "pipelines"
	}
	cfg, err := pipeline.LoadConfig(*config)
	if err != nil {
		return err
	}
	log := newLogger(os.Stderr, *verbose)
	kc, stop, err := kf.connect(ctx, cfg.Kafka, log)
	if err != nil {
		return err
	}
	defer stop()
	cfg.Kafka = kc
	m := metrics.New()
	if err := serveMetrics(ctx, m, cfg.Metrics.Listen, *metricsAddr, out); err != nil {
		return err
	}
	sp, err := sf.options(cfg.Spool)
	if err != nil {
		return err
	}
	loaders, closeLoaders := decoderLoaders()
	defer closeLoaders()
	tokenizers, closeTokenizers := learntTokenizers()
	defer closeTokenizers()
	err = pipeline.Run(ctx, cfg, pipeline.RunOptions{Only: *only, Pipeline: *name, Metrics: m, Log: log, Loaders: loaders, Spool: sp, Tokenizers: tokenizers,
		LSLOut: *lslOut, Devices: withLSL(devices.Builtin())})
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		// Otherwise a Ctrl-C ends with the start-up lines as the last word, which reads like a hang or a crash.
		log.Info("stopped; on restart each pipeline resumes from its last checkpoint (results since then are sent again, and consumers drop the repeats)")
	}
	return explainRelativePath(err)
}

// explainRelativePath adds to a missing relative file (a config's model, codebook or bank) where it
// was looked for: the configs name files from the repository root, so run from elsewhere they are
// not found, and the bare "no such file or directory" does not say why.
func explainRelativePath(err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || filepath.IsAbs(pe.Path) {
		return err
	}
	wd, werr := os.Getwd()
	if werr != nil {
		return err
	}
	return fmt.Errorf("%w (relative paths in a config are taken from the working directory, %s: run from the directory the config's paths start from, or give absolute paths)", err, wd)
}

// decoderLoaders lists every decoder kind a pipeline config may name: the pure-Go ones and onnx.
// Call closeLoaders once the pipelines that use them have stopped: it releases the ONNX Runtime,
// which the first onnx stage starts (configs without one never need its shared library, and a
// missing library fails only the stages that ask for it, saying how to install it).
func decoderLoaders() (loaders pipeline.Loaders, closeLoaders func() error) {
	l := pipeline.DefaultLoaders()
	ox := onnx.NewLoader(onnx.Config{})
	l["onnx"] = func(sc pipeline.StageConfig) (decoders.WindowDecoder, error) { return loadONNX(ox, sc) }
	return l, ox.Close
}

// learntTokenizers opens learnt tokenizers' codebooks with their ONNX encoders for tokenizer stages,
// on a Runtime started by the first one (configs without one never load the library). Call the
// returned function once the pipelines have stopped: it closes the encoders, then the Runtime.
func learntTokenizers() (pipeline.TokenizerOpener, func() error) {
	ox := onnx.NewLoader(onnx.Config{})
	var mu sync.Mutex
	var encoders []*learnt.Encoder
	open := func(path string) (*tokenizer.Quantizer, error) {
		rt, err := ox.Runtime()
		if err != nil {
			return nil, fmt.Errorf("learnt tokenizer %s: %w", path, err)
		}
		q, enc, err := learnt.Open(rt, path)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		encoders = append(encoders, enc)
		mu.Unlock()
		return q, nil
	}
	return open, func() error {
		mu.Lock()
		defer mu.Unlock()
		var errs []error
		for _, e := range encoders {
			errs = append(errs, e.Close())
		}
		encoders = nil
		return errors.Join(append(errs, ox.Close())...)
	}
}

// loadONNX opens a decoder: onnx stage's model with its bank, top_k, subject and threads.
func loadONNX(l *onnx.Loader, sc pipeline.StageConfig) (decoders.WindowDecoder, error) {
	if sc.Model == "" {
		return nil, errors.New("decoder onnx: no model file; set model: path/to/model.onnx in the stage")
	}
	opts := []onnx.Option{onnx.WithThreads(sc.Threads)}
	if sc.Bank != "" {
		opts = append(opts, onnx.WithBank(sc.Bank))
	}
	if sc.TopK != 0 {
		opts = append(opts, onnx.WithTopK(sc.TopK))
	}
	if sc.Subject != "" {
		opts = append(opts, onnx.WithSubject(sc.Subject))
	}
	d, err := l.Load(sc.Model, opts...)
	if err != nil {
		return nil, err // a nil interface, not a nil *onnx.Decoder
	}
	return d, nil
}

func serveMetrics(ctx context.Context, m *metrics.Metrics, configured, flagValue string, out io.Writer) error {
	addr := configured
	if flagValue != "" {
		addr = flagValue
	}
	if addr == "" || addr == "off" {
		return nil
	}
	bound, err := m.Serve(ctx, addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "metrics: http://%s/metrics\n", bound)
	return nil
}

func runAcquire(ctx context.Context, args []string, out io.Writer) error {
	reg := withLSL(devices.Builtin())
	var list bytes.Buffer
	reg.Describe(&list)
	fs := newFlagSet("acquire", "[--device NAME] [flags]",
		"Publishes a live stream from a headset (or the simulated one) to the raw topic in real time, with its\n"+
			"description (channel names, units, positions) on the stream-info topic. Samples are volts on the wire;\n"+
			"samples lost on the link are counted, filled with the last values and marked; timestamps are on this\n"+
			"host's clock (drift and jitter estimated, see the neurostream_clock_* metrics).\n\nDevices (--device):\n"+
			strings.TrimRight(list.String(), "\n"))
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	device := fs.String("device", "synthetic", "device to read: "+strings.Join(reg.Names(), ", "))
	var o devices.Options
	fs.StringVar(&o.Port, "port", "", "cyton: serial port of the OpenBCI dongle, e.g. /dev/ttyUSB0")
	fs.StringVar(&o.Address, "address", "", "ganglion, muse: Bluetooth LE address or name prefix (default: the first found)")
	fs.BoolVar(&o.Daisy, "daisy", false, "cyton: a Daisy module is attached (16 channels at 125 Hz)")
	fs.IntVar(&o.Gain, "gain", 24, "cyton: ADS1299 gain for every channel (1, 2, 4, 6, 8, 12, 24)")
	fs.BoolVar(&o.Accel, "accel", false, "cyton: add the accelerometer's X, Y, Z (m/s^2) as channels")
	electrodes := fs.String("electrodes", "", "electrode names in input order, comma-separated (default: the device's)")
	fs.DurationVar(&o.Timeout, "timeout", 3*time.Second, "a device silent this long has stopped answering")
	reconnect := fs.Duration("reconnect", 2*time.Second, "reopen a device that stopped answering this often until it is back,\n"+
		"the stream going on with a marker (0: stop with an error instead)")
	var sc synthetic.Config
	finish := registerSynthetic(fs, &sc)
	fast := fs.Bool("fast", false, "synthetic: publish as fast as possible instead of in real time")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics here (clock offset/drift/jitter, lost samples)")
	var sf spoolFlags
	sf.register(fs)
	var lf lslFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("acquire: unexpected arguments %q", fs.Args())
	}
	if lf.query != "" || *device == "lsl" {
		lf.query = cmp.Or(lf.query, "type='EEG'")
		return acquireLSL(ctx, kf, lf, sf, *metricsAddr, out)
	}
	if err := finish(); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	d, err := reg.Lookup(*device)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	sc.Realtime = !*fast
	o.Synthetic = sc
	if set["stream"] || d.Name == "synthetic" {
		o.StreamID = sc.StreamID
	}
	if set["frame"] || d.Name == "synthetic" {
		o.FrameSamples = sc.FrameSamples
	}
	if *electrodes != "" {
		o.Electrodes = strings.Split(*electrodes, ",")
	}
	sp, err := sf.options(pipeline.SpoolOptions{})
	if err != nil {
		return err
	}
	log := newLogger(os.Stderr, false)
	var src devices.Source
	if *reconnect > 0 && d.Transport != "simulated" {
		src, err = devices.NewReconnecting(ctx, func(ctx context.Context) (devices.Source, error) { return d.Open(ctx, o) }, *reconnect, log)
	} else {
		src, err = d.Open(ctx, o)
	}
	if err != nil {
		return fmt.Errorf("acquire --device %s: %w", d.Name, err)
	}
	defer src.Close()
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	m := metrics.New()
	if err := serveMetrics(ctx, m, "", *metricsAddr, out); err != nil {
		return err
	}
	cfg := &pipeline.Config{Kafka: kc}
	info := src.Info()
	fmt.Fprintf(out, "publishing %s (%s): %d channels at %g Hz to %s on %v; Ctrl-C to stop\n",
		info.StreamID, info.Device, len(info.Channels), info.SampleRateHz, kc.Topics().Raw, kc.Brokers)
	err = pipeline.Run(ctx, cfg, pipeline.RunOptions{Only: "sources", Sources: []pipeline.Source{src}, Log: log, Metrics: m, Spool: sp})
	if ls, ok := src.(acquisition.LiveSource); ok {
		st := ls.LiveStats()
		fmt.Fprintf(out, "%s: %d samples, %d lost (filled and marked), %d broken packets; clock drift %+.1f ppm, jitter %.2f ms\n",
			info.StreamID, st.Samples, st.LostSamples, st.RejectedPackets, st.Clock.DriftPPM, st.Clock.JitterSec*1e3)
	}
	return err
}

// registerSynthetic adds the synthetic source's flags; call the returned function after Parse (it
// refuses values that would make no signal).
func registerSynthetic(fs *flag.FlagSet, sc *synthetic.Config) (finish func() error) {
	fs.StringVar(&sc.StreamID, "stream", "synthetic-1", "stream id")
	fs.IntVar(&sc.Channels, "channels", 32, "montage size: 8, 16, 32 or 64 channels (10-10 names)")
	fs.Float64Var(&sc.SampleRateHz, "rate", 250, "sampling rate, Hz")
	fs.IntVar(&sc.FrameSamples, "frame", 8, "samples per frame")
	fs.Uint64Var(&sc.Seed, "seed", 1, "random seed (same seed, same signal)")
	alphaMode := fs.String("alpha", "alternate", "posterior alpha: alternate (eyes closed/open blocks), on, off")
	fs.Float64Var(&sc.BlockSec, "block", 10, "eyes-open/closed block length, s")
	fs.Float64Var(&sc.LineHz, "line", 50, "mains frequency, Hz")
	fs.Float64Var(&sc.DurationSec, "duration", 0, "stop after this many seconds of signal (0: never)")
	return func() error {
		sc.Alpha = synthetic.AlphaMode(*alphaMode)
		if err := positiveFlags(fs, "rate", "frame", "channels", "block"); err != nil {
			return err
		}
		return nonNegativeFlags(fs, "line", "duration")
	}
}

// positiveFlags refuses a zero, negative or non-finite value of the named numeric flags: 0 must not
// quietly become a default, nor a rate of 0 Hz run.
func positiveFlags(fs *flag.FlagSet, names ...string) error {
	return checkFlags(fs, names, func(v float64) bool { return v > 0 }, "a positive number")
}

// nonNegativeFlags refuses a negative or non-finite value of the named numeric flags.
func nonNegativeFlags(fs *flag.FlagSet, names ...string) error {
	return checkFlags(fs, names, func(v float64) bool { return v >= 0 }, "zero or more")
}

func checkFlags(fs *flag.FlagSet, names []string, ok func(float64) bool, want string) error {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			continue
		}
		v, err := strconv.ParseFloat(f.Value.String(), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || !ok(v) {
			return fmt.Errorf("%s: --%s %s: want %s (%s)", fs.Name(), n, f.Value.String(), want, f.Usage)
		}
	}
	return nil
}

func runDemo(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("demo", "[flags]",
		"Runs everything on this machine: an embedded Kafka broker, a synthetic 32-channel EEG headset whose\n"+
			"eyes close and open every 10 s, a pipeline (50 Hz notch, 1-40 Hz band-pass, eyes-open/closed decoder on\n"+
			"posterior alpha) and live predictions, which it prints as they are published to Kafka. While it runs:\n"+
			"  the live view (URL printed)                        signals, spectra, scalp map, predictions in a browser\n"+
			"  kcat -b <broker> -t neurostream.predictions -C      predictions as JSON\n"+
			"  curl <metrics>/metrics                             Prometheus metrics")
	fs.SetOutput(out)
	kf := kafkaFlags{inProcess: true} // one command, one process: the demo's broker goes with it
	kf.register(fs)
	var sc synthetic.Config
	finish := registerSynthetic(fs, &sc)
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "serve Prometheus /metrics here (\"off\" disables)")
	viewAddr := fs.String("view-addr", view.DefaultAddr, "serve the live view here (a free port if it is taken; \"off\" disables)")
	verbose := fs.Bool("v", false, "verbose logs")
	mi := fs.Bool("motor-imagery", false, "instead: train CSP+LDA on PhysioNet S001 R06 (imagined both fists vs both feet) and\n"+
		"decode a replay of R10 through Kafka, then compare the online per-trial decisions with the offline ones")
	dataDir := fs.String("data", shareddata.Dir(), "with --motor-imagery: the shared data directory holding physionet_eegmmidb_S001")
	replaySpeed := fs.Float64("replay-speed", 10, "with --motor-imagery: replay speed (1 = real time, 0 = as fast as possible)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *mi {
		return demoMotorImagery(ctx, kf, *dataDir, *replaySpeed, *metricsAddr, out)
	}
	if err := finish(); err != nil {
		return err
	}
	sc.Realtime = true
	src, err := synthetic.New(sc)
	if err != nil {
		return err
	}
	log := newLogger(os.Stderr, *verbose)

	fmt.Fprintln(out, "calibrating the eyes-open/closed threshold on 2 minutes of labelled synthetic EEG (another seed)...")
	model, acc, err := calibrateOnSynthetic(sc, 120)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "neurostream-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	modelPath := filepath.Join(dir, "alpha.json")
	if err := model.Save(modelPath); err != nil {
		return err
	}
	fmt.Fprintf(out, "  threshold %.3f, training accuracy %.3f\n", model.Threshold, acc)

	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	m := metrics.New()
	if kf.started != nil {
		if err := kf.started.RegisterMetrics(m.Registry); err != nil {
			return err
		}
	}
	if err := serveMetrics(ctx, m, "", *metricsAddr, out); err != nil {
		return err
	}
	if *viewAddr != "off" && *viewAddr != "" {
		url, err := startView(ctx, kc, *viewAddr, 30, true, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "live view: %s\n", url)
	}
	cfg := &pipeline.Config{Kafka: kc, Pipelines: []pipeline.PipelineConfig{{
		Name: "demo", Input: "raw", Output: "clean",
		Stages: []pipeline.StageConfig{
			{Kind: "notch", FreqHz: sc.LineHz},
			{Kind: "bandpass", LowHz: 1, HighHz: 40},
			{Kind: "decoder", Decoder: "alpha", Model: modelPath, StepSec: 0.5},
		}}}}
	fmt.Fprintf(out, "broker %s: topics %s.{raw,clean,predictions,stream-info}; predictions: kcat -b %s -t %s -C\n",
		kc.Brokers[0], kc.Topics().Raw[:strings.LastIndex(kc.Topics().Raw, ".")], kc.Brokers[0], kc.Topics().Predictions)
	fmt.Fprintln(out, "live predictions (one per 0.5 s, 2-s windows; truth from the simulation's schedule); Ctrl-C to stop")
	var mu sync.Mutex
	var right, scored int
	show := func(p *streams.Prediction) {
		end := p.WindowEndSample
		win := int64(2 * sc.SampleRateHz)
		startClosed, endClosed := src.EyesClosedAt(end-win), src.EyesClosedAt(end-1)
		truth := alpha.LabelOpen
		if endClosed {
			truth = alpha.LabelClosed
		}
		mark := " "
		mu.Lock()
		if startClosed == endClosed { // windows straddling a change have no single truth
			scored++
			if p.Label == truth {
				right++
				mark = "✓"
			} else {
				mark = "✗"
			}
		}
		acc := float64(right) / math.Max(float64(scored), 1)
		mu.Unlock()
		fmt.Fprintf(out, "t=%7.2fs  %-11s P(closed)=%.2f  truth %-11s %s  latency %6.2f ms  running accuracy %.3f\n",
			float64(end)/sc.SampleRateHz, p.Label, p.Scores[1].Value, truth, mark, float64(p.LatencyNs)/1e6, acc)
	}
	loaders, closeLoaders := decoderLoaders()
	defer closeLoaders()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var run pipeline.Source = src
	if sc.DurationSec > 0 {
		// A finite demo ends once the pipeline has decoded the last window of its signal (the pipeline
		// itself would wait for more frames forever), or shortly after the source ends if no window
		// completes.
		ended := make(chan struct{})
		run = &endingSource{Source: src, ended: ended}
		win, step := int64(2*sc.SampleRateHz), int64(0.5*sc.SampleRateHz)
		n := int64(sc.DurationSec * sc.SampleRateHz) // as the source counts them, the last frame partial
		lastEnd := int64(-1)
		if n >= win {
			lastEnd = win + (n-win)/step*step
		}
		printPrediction := show
		show = func(p *streams.Prediction) {
			printPrediction(p)
			if p.WindowEndSample >= lastEnd {
				stopRun()
			}
		}
		go func() {
			select {
			case <-ended:
			case <-runCtx.Done():
				return
			}
			select { // the last prediction normally comes within milliseconds
			case <-time.After(10 * time.Second):
				stopRun()
			case <-runCtx.Done():
			}
		}()
	}
	err = pipeline.Run(runCtx, cfg, pipeline.RunOptions{Sources: []pipeline.Source{run}, Metrics: m, Log: log,
		Loaders: loaders, OnPrediction: show})
	mu.Lock()
	fmt.Fprintf(out, "demo stopped: %d of %d unambiguous windows decoded correctly\n", right, scored)
	mu.Unlock()
	return err
}

// endingSource closes ended when the source it wraps is exhausted.
type endingSource struct {
	pipeline.Source
	ended chan struct{}
	once  sync.Once
}

func (s *endingSource) Next(ctx context.Context, f *streams.Frame) error {
	err := s.Source.Next(ctx, f)
	if errors.Is(err, io.EOF) {
		s.once.Do(func() { close(s.ended) })
	}
	return err
}

// calibrateOnSynthetic fits the alpha threshold on seconds of labelled synthetic data generated
// with a different seed from the demo's own stream.
func calibrateOnSynthetic(sc synthetic.Config, seconds float64) (*alpha.Model, float64, error) {
	sc.Seed += 1000
	sc.Realtime = false
	sc.Alpha = synthetic.AlphaAlternate
	sc.DurationSec = seconds
	src, err := synthetic.New(sc)
	if err != nil {
		return nil, 0, err
	}
	m, acc, err := alpha.CalibrateOn(src)
	if m != nil {
		info := src.Info()
		m.CalibratedOn = fmt.Sprintf("synthetic %d ch %g Hz seed %d, %g s", len(info.Channels), info.SampleRateHz, sc.Seed, seconds)
	}
	return m, acc, err
}

// demoMotorImagery trains a motor-imagery model on one recorded run and decodes another, replayed
// as a live stream, with the same commands a user would type (train, then decode --replay).
func demoMotorImagery(ctx context.Context, kf kafkaFlags, dataDir string, speed float64, metricsAddr string, out io.Writer) error {
	dir := filepath.Join(dataDir, "physionet_eegmmidb_S001")
	trainRun, testRun := filepath.Join(dir, "S001R06.edf"), filepath.Join(dir, "S001R10.edf")
	for _, p := range []string{trainRun, testRun} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("demo --motor-imagery needs the PhysioNet EEG Motor Movement/Imagery recordings of subject S001: %w\n"+
				"(pass --data DIR or set NEUROSTREAM_DATA to the directory holding physionet_eegmmidb_S001)", err)
		}
	}
	tmp, err := os.MkdirTemp("", "neurostream-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(tmp)
	modelPath := filepath.Join(tmp, "csp-lda-R06.json")
	train := []string{"--decoder", "csp-lda", "--events", "T1=fists,T2=feet", "--out", modelPath, trainRun}
	fmt.Fprintf(out, "$ neurostream train %s\n", strings.Join(train, " "))
	if err := runTrain(ctx, train, out); err != nil {
		return err
	}
	// A window ends on every sample (--step 0), so one ends exactly where each trial's epoch does; too
	// many to print, the per-trial comparison at the end shows them.
	args := []string{"--model", modelPath, "--replay", testRun, "--speed", fmt.Sprint(speed), "--step", "0", "--quiet", "--namespace", kf.namespace}
	if kf.brokers == "" {
		// The demo's broker lives in this process, as in the synthetic demo.
		kc, stop, err := kf.connect(ctx, streams.Config{}, newLogger(io.Discard, false))
		if err != nil {
			return err
		}
		defer stop()
		kf.brokers = strings.Join(kc.Brokers, ",")
	}
	args = append(args, "--brokers", kf.brokers)
	if kf.brokerAddr != "" {
		args = append(args, "--broker-addr", kf.brokerAddr)
	}
	if metricsAddr != "" {
		args = append(args, "--metrics-addr", metricsAddr)
	}
	fmt.Fprintf(out, "\n$ neurostream decode %s\n", strings.Join(args, " "))
	return runDecode(ctx, args, out)
}
