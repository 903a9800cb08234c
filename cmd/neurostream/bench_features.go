package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/dsp/spectral"
	"github.com/neurostream/neurostream/features"
	"github.com/neurostream/neurostream/streams"
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
	welchRes := r.Go(func(b *testing.B) {
		for b.Loop() {
			for _, x := range window {
				if err := welch.PSD(x, psd); err != nil {
					loopErr = err
				}
			}
		}
	})
	bp := features.NewBandPower(features.ExtractorConfig{})
	names, err := bp.Configure(info, featBenchWindow)
	if err != nil {
		return err
	}
	bpOut := make([]float64, len(names))
	bpRes := r.Go(func(b *testing.B) {
		for b.Loop() {
			if err := bp.Extract(window, bpOut); err != nil {
				loopErr = err
			}
		}
	})

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
	chainRes := r.Go(func(b *testing.B) {
		for b.Loop() {
			chain.reset()
			for off := 0; off+len(frame) <= len(stream); off += len(frame) {
				copy(frame, stream[off:off+len(frame)])
				chain.push(frame)
			}
		}
	})
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
	if ns := chainRes.NsPerOp(); ns > 0 {
		fmt.Fprintf(r.out, "chain (notch 50 Hz + butter(4, [1, 40]) + common average + band power + Ledoit-Wolf covariance,\n"+
			"8-sample frames, 2-s window every 0.5 s): real-time factor %.1f per core = streams one core sustains\n",
			featBenchSeconds/(float64(ns)/1e9))
	}
	return nil
}

// featureChain is the per-stream stage chain of the benchmark: filters, common average, windowing,
// band power and covariance.
type featureChain struct {
	nCh          int
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
	win, err := dsp.NewWindower(nCh, featBenchWindow, featBenchStep)
	if err != nil {
		return nil, err
	}
	cov, err := features.NewCovariance(features.ExtractorConfig{Estimator: "ledoit_wolf"})
	if err != nil {
		return nil, err
	}
	c := &featureChain{nCh: nCh, notch: dsp.NewSOSFilter(notch, nCh), bpass: dsp.NewSOSFilter(band, nCh), win: win,
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
	for off := 0; off+c.nCh <= len(frame); off += c.nCh {
		s := frame[off : off+c.nCh]
		var sum float32
		for _, v := range s {
			sum += v
		}
		mean := sum / float32(c.nCh)
		for i := range s {
			s[i] -= mean
		}
	}
	c.win.Push(frame, c.onWindow)
}
