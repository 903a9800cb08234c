package tokenizer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/streams"
)

// TrainConfig configures Train.
type TrainConfig struct {
	Name      string
	PatchSec  float64 // patch length (default 0.2 s)
	Codewords int     // codebook size K per stage (default 256)
	// Stages is the number of residual stages (default 1: plain k-means); each stage's k-means runs
	// on what the stages before it left, as a residual vector quantiser (BrainOmni's 4 x 512).
	Stages     int
	BandHz     [2]float64 // causal Butterworth band-pass applied first, as the online stage chain does; 0, 0 for none
	Order      int        // band-pass order (default 4)
	MaxPatches int        // train on at most this many patches, drawn at random (default 200,000)
	MaxIter    int        // Lloyd iterations (default 300)
	Seed       uint64
	Progress   func(iter int, inertia float64)
	// ChannelTypes are the channel types to learn from (default: EEG, magnetometers and
	// gradiometers present; EOG, stim and other channels are not brain signal).
	ChannelTypes []streams.ChannelType
}

// Train learns a codebook from recordings of one sampling rate: it band-passes every channel causally
// (steady-state start), cuts z-scored patches, and clusters them with k-means (greedy k-means++
// start); every further stage clusters the residuals the stages before it left. The codebook's
// modality contract lists the channel types it learnt from; its side ranges, the spread of the
// patches' means and scales per channel type (side.go).
func Train(ctx context.Context, recs []*acquisition.Recording, names []string, cfg TrainConfig) (*Codebook, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("train tokenizer: no recordings")
	}
	cfg = cfg.withDefaults()
	rate := recs[0].Info.SampleRateHz
	p := int(cfg.PatchSec*rate + 0.5)
	if p < 2 {
		return nil, fmt.Errorf("train tokenizer: a %g s patch is %d samples at %g Hz: want at least 2", cfg.PatchSec, p, rate)
	}
	var x []float64
	var types []string
	var side sideStats
	for i, rec := range recs {
		if rec.Info.SampleRateHz != rate {
			return nil, fmt.Errorf("train tokenizer: %s runs at %g Hz, %s at %g Hz: learn one codebook per rate", names[i], rec.Info.SampleRateHz, names[0], rate)
		}
		data, err := selectAndFilter(rec, cfg)
		if err != nil {
			return nil, fmt.Errorf("train tokenizer: %s: %w", names[i], err)
		}
		var chanTypes []string
		for _, ch := range rec.Info.Channels {
			if !selected(ch.Type, cfg) {
				continue
			}
			t := ch.Type.String()
			chanTypes = append(chanTypes, t)
			if !slices.Contains(types, t) {
				if !slices.Contains(signalTypes, t) {
					return nil, fmt.Errorf("train tokenizer: %s: channel %s is of type %s: a tokenizer learns from %v channels (choose them with ChannelTypes)", names[i], ch.Name, t, signalTypes)
				}
				types = append(types, t)
			}
		}
		side.add(data, chanTypes, p)
		x = Patches(x, data, p)
	}
	n := len(x) / p
	if n < cfg.Codewords {
		return nil, fmt.Errorf("train tokenizer: %d non-flat patches for %d codewords: use more data or fewer codewords", n, cfg.Codewords)
	}
	if n > cfg.MaxPatches {
		x = subsample(x, p, cfg.MaxPatches, cfg.Seed)
		n = cfg.MaxPatches
	}
	slices.Sort(types)
	cb := &Codebook{Version: FormatVersion, Name: cfg.Name, Method: MethodVQ, SampleRateHz: rate, PatchSamples: p, Normalisation: PatchZScore,
		BandHz: cfg.BandHz, ChannelTypes: types, SideRanges: side.ranges(), Training: TrainingInfo{Recordings: names, Patches: n, Seed: cfg.Seed}}
	if cb.Name == "" {
		cb.Name = fmt.Sprintf("kmeans-%d", cfg.Codewords)
		if cfg.Stages > 1 {
			cb.Name = fmt.Sprintf("rvq-%dx%d", cfg.Stages, cfg.Codewords)
		}
	}
	for s := range cfg.Stages {
		progress := cfg.Progress
		if progress != nil && cfg.Stages > 1 {
			progress = func(iter int, inertia float64) { cfg.Progress(s*1000+iter, inertia) }
		}
		res, err := KMeans(ctx, x, p, KMeansConfig{K: cfg.Codewords, MaxIter: cfg.MaxIter, Seed: cfg.Seed + uint64(s), Progress: progress})
		if err != nil {
			return nil, fmt.Errorf("train tokenizer: stage %d: %w", s+1, err)
		}
		words := make([][]float64, cfg.Codewords)
		for k := range words {
			words[k] = res.Centers[k*p : (k+1)*p]
		}
		if s == 0 {
			cb.Codewords = words
		} else {
			cb.Residual = append(cb.Residual, words)
		}
		cb.Training.Iterations += res.Iterations
		cb.Training.Inertia = res.Inertia
		cb.Training.StageMSE = append(cb.Training.StageMSE, res.Inertia/float64(len(x)))
		if s+1 < cfg.Stages { // the next stage learns what this one left
			for i, l := range res.Labels {
				row := x[i*p : (i+1)*p]
				for d, v := range res.Centers[int(l)*p : (int(l)+1)*p] {
					row[d] -= v
				}
			}
		}
	}
	return cb, nil
}

func selected(t streams.ChannelType, cfg TrainConfig) bool {
	if len(cfg.ChannelTypes) == 0 {
		return slices.Contains(signalTypes, t.String())
	}
	return slices.Contains(cfg.ChannelTypes, t)
}

func (cfg TrainConfig) withDefaults() TrainConfig {
	if cfg.PatchSec == 0 {
		cfg.PatchSec = 0.2
	}
	if cfg.Codewords == 0 {
		cfg.Codewords = 256
	}
	if cfg.Stages == 0 {
		cfg.Stages = 1
	}
	if cfg.Order == 0 {
		cfg.Order = 4
	}
	if cfg.MaxPatches == 0 {
		cfg.MaxPatches = 200_000
	}
	return cfg
}

func selectAndFilter(rec *acquisition.Recording, cfg TrainConfig) ([][]float64, error) {
	var data [][]float64
	for c, ch := range rec.Info.Channels {
		if selected(ch.Type, cfg) {
			data = append(data, rec.Data[c])
		}
	}
	if len(data) == 0 {
		if len(cfg.ChannelTypes) == 0 {
			return nil, fmt.Errorf("no channel of a signal type (%v)", signalTypes)
		}
		return nil, fmt.Errorf("no channel of type %v", cfg.ChannelTypes)
	}
	if cfg.BandHz == [2]float64{} {
		return data, nil
	}
	sos, err := dsp.Butter(cfg.Order, cfg.BandHz[:], dsp.Bandpass, rec.Info.SampleRateHz)
	if err != nil {
		return nil, fmt.Errorf("band-pass %v Hz: %w", cfg.BandHz, err)
	}
	out := make([][]float64, len(data))
	for c, row := range data {
		f := dsp.NewSOSFilter(sos, 1)
		if err := f.Err(); err != nil {
			return nil, err
		}
		y := append([]float64(nil), row...)
		if len(y) > 0 {
			f.SteadyState(y[:1])
		}
		f.ProcessInterleaved(y)
		out[c] = y
	}
	return out, nil
}

// subsample keeps m of the patches of x, chosen uniformly without replacement, in their order.
func subsample(x []float64, p, m int, seed uint64) []float64 {
	n := len(x) / p
	perm := rand.New(rand.NewPCG(seed, 0x73756273)).Perm(n)[:m]
	keep := make([]bool, n)
	for _, i := range perm {
		keep[i] = true
	}
	out := x[:0]
	for i := range n {
		if keep[i] {
			out = append(out, x[i*p:(i+1)*p]...)
		}
	}
	return out
}

// Prepare selects the channels Train would learn from and band-passes them as it does (causal,
// steady-state start): what an evaluation on held-out data must feed the codebook. It returns the
// data (channel-major) and the selected channels' descriptions.
func Prepare(rec *acquisition.Recording, cfg TrainConfig) ([][]float64, []streams.Channel, error) {
	cfg = cfg.withDefaults()
	data, err := selectAndFilter(rec, cfg)
	if err != nil {
		return nil, nil, err
	}
	var chans []streams.Channel
	for _, ch := range rec.Info.Channels {
		if selected(ch.Type, cfg) {
			chans = append(chans, ch)
		}
	}
	return data, chans, nil
}
