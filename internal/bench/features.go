package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/dsp/spectral"
	"github.com/neurostream/neurostream/features"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// The features suite's workload, shared with tools/bench/features.py: the 64 channels of PhysioNet
// S001R01 treated as a 250 Hz stream; 2-s windows every 0.5 s; 8-sample frames; 30 s for the chain.
const (
	featBenchChannels = 64
	featBenchFsHz     = 250.0
	featBenchWindow   = 500
	featBenchStep     = 125
	featBenchFrame    = 8
	featBenchSeconds  = 30
)

func benchFeatures(ctx context.Context, r *benchRun) error {
	path := filepath.Join(r.dataDir, "physionet_eegmmidb_S001", "S001R01.edf")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("features workload: %s not found: put the shared data set beside the repo or pass --data", path)
	}
	rec, err := edf.Read(path)
	if err != nil {
		return fmt.Errorf("features workload: %w", err)
	}
	nStream := featBenchSeconds * int(featBenchFsHz)
	if len(rec.Data) < featBenchChannels || rec.NumSamples() < nStream {
		return fmt.Errorf("features workload: %s has %d channels x %d samples, need %d x %d", path, len(rec.Data), rec.NumSamples(), featBenchChannels, nStream)
	}
	info := streams.StreamInfo{StreamID: "bench", SampleRateHz: featBenchFsHz}
	window := make([][]float64, featBenchChannels)
	for c := range window {
		window[c] = rec.Data[c][:featBenchWindow]
		info.Channels = append(info.Channels, streams.Channel{Name: rec.Info.Channels[c].Name, Type: streams.ChannelEEG, Unit: "V"})
	}

	welch, err := spectral.NewWelch(spectral.WelchConfig{FsHz: featBenchFsHz, NPerSeg: 250, NOverlap: -1})
	if err != nil {
		return err
	}
	psd := make([]float64, len(welch.Freqs()))
	var loopErr error
	welchOp := func() {
		for _, x := range window {
			if err := welch.PSD(x, psd); err != nil {
				loopErr = err
			}
		}
	}
	bp := features.NewBandPower(features.ExtractorConfig{})
	names, err := bp.Configure(info, featBenchWindow)
	if err != nil {
		return err
	}
	bpOut := make([]float64, len(names))
	bpOp := func() {
		if err := bp.Extract(window, bpOut); err != nil {
			loopErr = err
		}
	}

	stream := make([]float32, nStream*featBenchChannels)
	for s := 0; s < nStream; s++ {
		for c := 0; c < featBenchChannels; c++ {
			stream[s*featBenchChannels+c] = float32(rec.Data[c][s])
		}
	}
	chain, err := newFeatureChain(info)
	if err != nil {
		return err
	}
	frame := make([]float32, featBenchFrame*featBenchChannels)
	chainOp := func() {
		chain.reset()
		for off := 0; off+len(frame) <= len(stream); off += len(frame) {
			copy(frame, stream[off:off+len(frame)])
			chain.push(frame)
		}
	}
	yamlOp, err := newYAMLChain(ctx, info, stream)
	if err != nil {
		return err
	}
	// The first op starts the stream's stages (filter design, extractor set-up); the timings are of
	// the steady state after it.
	if err := yamlOp(); err != nil {
		return fmt.Errorf("features workload: %w", err)
	}
	welchRes, bpRes, chainRes := r.Go(loopOp(welchOp)), r.Go(loopOp(bpOp)), r.Go(loopOp(chainOp))
	yamlRes := r.Go(loopOp(func() { loopErr = errors.Join(loopErr, yamlOp()) }))
	cpuWelch, cpuBP := cpuSecPerOp(welchOp, 1), cpuSecPerOp(bpOp, 1)
	cpuChain, cpuYAML := cpuSecPerOp(chainOp, 2), cpuSecPerOp(func() { loopErr = errors.Join(loopErr, yamlOp()) }, 2)
	if loopErr == nil {
		loopErr = chain.err
	}
	if loopErr != nil {
		return fmt.Errorf("features workload: %w", loopErr)
	}

	ref, refErr := r.Reference(ctx, "features.py", r.dataDir)
	if refErr != nil {
		fmt.Fprintf(r.out, "reference unavailable: %v\n", refErr)
	}
	fmt.Fprintf(r.out, "workload: S001R01, %d channels as a %g Hz stream; 2-s windows, Welch 1-s Hann segments, 50%% overlap\n",
		featBenchChannels, featBenchFsHz)
	r.Header()
	r.Compare("welch psd, 64 ch x 2 s", welchRes, ref["welch-psd-64ch"], "within 1.5x of scipy (ratio >= 0.67), 0 allocs")
	r.Compare("welch + band power, 64 ch x 2 s", bpRes, ref["welch-bandpower-64ch"], "within 1.5x of scipy (ratio >= 0.67), 0 allocs")
	r.Compare("chain, 30 s of 64 ch @ 250 Hz", chainRes, ref["chain-30s"], "0 allocs")
	r.Compare("chain as YAML stages (Processor)", yamlRes, ref["chain-30s"], "0 allocs")
	printCPUHeader(r)
	printCPU(r, "welch psd, 64 ch x 2 s", cpuWelch, ref["welch-psd-64ch-cpu"])
	printCPU(r, "welch + band power, 64 ch x 2 s", cpuBP, ref["welch-bandpower-64ch-cpu"])
	printCPU(r, "chain, 30 s of 64 ch @ 250 Hz", cpuChain, ref["chain-30s-cpu"])
	printCPU(r, "chain as YAML stages (Processor)", cpuYAML, ref["chain-30s-cpu"])
	fmt.Fprintf(r.out, "chain (notch 50 Hz + butter(4, [1, 40]) + common average + band power + Ledoit-Wolf covariance,\n"+
		"8-sample frames, 2-s window every 0.5 s): real-time factor per core = streams one core sustains =\n"+
		"30 s / CPU time per 30 s: %.0f hand-wired, %.0f as YAML-built pipeline stages (wall time: %.0f, %.0f)\n",
		featBenchSeconds/cpuChain, featBenchSeconds/cpuYAML,
		featBenchSeconds/(float64(chainRes.NsPerOp())/1e9), featBenchSeconds/(float64(yamlRes.NsPerOp())/1e9))
	return nil
}

// yamlChainStages is the benchmark chain as a pipeline config's stages, as configs/*.yaml write it.
const yamlChainStages = `
- {kind: notch, freq_hz: 50, q: 30}
- {kind: bandpass, low_hz: 1, high_hz: 40, order: 4}
- {kind: reference}
- kind: features
  window_sec: 2
  step_sec: 0.5
  extractors:
    - {kind: bandpower}
    - {kind: covariance, estimator: ledoit_wolf}
`

// discardSink is a pipeline sink that drops everything: the benchmark times the stages, not Kafka.
type discardSink struct{ vectors int }

func (d *discardSink) EmitPrediction(context.Context, *streams.Prediction) error  { return nil }
func (d *discardSink) WriteStreamInfo(context.Context, *streams.StreamInfo) error { return nil }
func (d *discardSink) WriteFrame(context.Context, *streams.Frame) error           { return nil }
func (d *discardSink) EmitFeatures(context.Context, *streams.FeatureVector) error {
	d.vectors++
	return nil
}

// newYAMLChain builds the chain from YAML stage configs through pipeline.BuildStages and a
// pipeline.Processor (with its frame validation and per-stage metrics, as in a deployment) and returns
// one op: the whole stream fed again in 8-sample frames, continuing the same stream (filter state and
// window buffer carry over, as on a live stream), so steady-state work is timed, not stream set-up.
func newYAMLChain(ctx context.Context, info streams.StreamInfo, stream []float32) (func() error, error) {
	var stages []pipeline.StageConfig
	dec := yaml.NewDecoder(strings.NewReader(yamlChainStages))
	dec.KnownFields(true)
	if err := dec.Decode(&stages); err != nil {
		return nil, fmt.Errorf("bench chain stages: %w", err)
	}
	factories, err := pipeline.BuildStages(stages, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("bench chain stages: %w", err)
	}
	sink := &discardSink{}
	proc, err := pipeline.NewProcessor(pipeline.ProcessorConfig{Name: "bench", Stages: factories, Sink: sink, Metrics: metrics.New(),
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	if err != nil {
		return nil, err
	}
	nc := len(info.Channels)
	f := &streams.Frame{StreamID: info.StreamID, NumChannels: nc, NumSamples: featBenchFrame, Samples: make([]float32, featBenchFrame*nc)}
	var pushed int
	return func() error {
		for off := 0; off+len(f.Samples) <= len(stream); off += len(f.Samples) {
			copy(f.Samples, stream[off:off+len(f.Samples)])
			if err := proc.Process(ctx, f); err != nil {
				return err
			}
			f.Seq++
			pushed += featBenchFrame
		}
		if want := (pushed-featBenchWindow)/featBenchStep + 1; sink.vectors != want {
			return fmt.Errorf("bench chain: %d feature vectors after %d samples, want %d", sink.vectors, pushed, want)
		}
		return nil
	}, nil
}

// featureChain is the per-stream stage chain of the benchmark: filters, common average, windowing,
// band power and covariance.
type featureChain struct {
	car          *dsp.Reference
	notch, bpass *dsp.SOSFilter
	win          *dsp.Windower
	bp, cov      features.Extractor
	bpOut        []float64
	covOut       []float64
	onWindow     func(window [][]float64, endSample int64)
	err          error
}

func newFeatureChain(info streams.StreamInfo) (*featureChain, error) {
	fs, nCh := info.SampleRateHz, len(info.Channels)
	notch, err := dsp.IIRNotch(50, 30, fs)
	if err != nil {
		return nil, fmt.Errorf("design notch: %w", err)
	}
	band, err := dsp.Butter(4, []float64{1, 40}, dsp.Bandpass, fs)
	if err != nil {
		return nil, fmt.Errorf("design band-pass: %w", err)
	}
	car, err := dsp.NewCommonAverage(nCh, nil)
	if err != nil {
		return nil, err
	}
	win, err := dsp.NewWindower(nCh, featBenchWindow, featBenchStep)
	if err != nil {
		return nil, err
	}
	cov, err := features.NewCovariance(features.ExtractorConfig{Estimator: "ledoit_wolf"})
	if err != nil {
		return nil, err
	}
	c := &featureChain{car: car, notch: dsp.NewSOSFilter(notch, nCh), bpass: dsp.NewSOSFilter(band, nCh), win: win,
		bp: features.NewBandPower(features.ExtractorConfig{}), cov: cov}
	names, err := c.bp.Configure(info, featBenchWindow)
	if err != nil {
		return nil, err
	}
	c.bpOut = make([]float64, len(names))
	if names, err = c.cov.Configure(info, featBenchWindow); err != nil {
		return nil, err
	}
	c.covOut = make([]float64, len(names))
	c.onWindow = func(window [][]float64, _ int64) {
		if err := c.bp.Extract(window, c.bpOut); err != nil {
			c.err = err
		}
		if err := c.cov.Extract(window, c.covOut); err != nil {
			c.err = err
		}
	}
	return c, nil
}

func (c *featureChain) reset() {
	c.notch.Reset()
	c.bpass.Reset()
	c.win.Reset()
}

// push filters one interleaved frame in place, re-references it to the common average and windows it.
func (c *featureChain) push(frame []float32) {
	c.notch.ProcessInterleaved32(frame, frame)
	c.bpass.ProcessInterleaved32(frame, frame)
	c.car.ProcessInterleaved32(frame)
	c.win.Push(frame, c.onWindow)
}
