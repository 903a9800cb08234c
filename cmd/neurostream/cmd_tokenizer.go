package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
)

func runTrainTokenizer(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("train-tokenizer", "[flags] RECORDING... | --synthetic SECONDS",
		"Learns a tokenizer codebook: band-passes every channel causally (as the online stages do), cuts it\n"+
			"into patches, z-scores each, and clusters the patch shapes with k-means; with --stages N, each further\n"+
			"stage clusters what the stages before it left (residual vector quantisation, as BrainOmni's 4 x 512).\n"+
			"--mulaw LEVELS writes the fixed per-sample mu-law tokenizer instead (no recordings needed beyond the rate).\n"+
			"--joint STEP learns a joint codec instead: all channels of the montage coded together (principal\n"+
			"components x DCT over --patch blocks, one quantiser step of STEP signal standard deviations, entropy-coded\n"+
			"with the level frequencies of the recordings); a fraction of the bits per channel of per-channel tokens for\n"+
			"the same reconstruction, but only for streams with every channel of this montage (`neurostream bench tokens`).\n"+
			"The codebook file is what a pipeline's `kind: tokenizer` stage loads; it records the rate, band and\n"+
			"channel types (EEG, magnetometers, gradiometers) it fits. Filter the online stream with the same --band.\n"+
			"It also learns, per channel type, the ranges of the patches' means and scales that a tokenizer stage\n"+
			"with side_bits quantises them over; --side-of CODEBOOK learns only those, for an existing codebook.")
	fs.SetOutput(out)
	patch := fs.Float64("patch", 0.2, "patch length, seconds")
	k := fs.Int("codewords", 256, "codebook size per stage (tokens: 0..codewords-1)")
	stages := fs.Int("stages", 1, "residual quantisation stages (tokens per channel patch)")
	joint := fs.Float64("joint", 0, "learn a joint codec of all channels with this quantiser step (signal standard deviations; 2 keeps r ~0.97 on PhysioNet EEG) instead of a codebook")
	mulaw := fs.Int("mulaw", 0, "write the fixed mu-law tokenizer with this many levels per sample instead of learning codewords")
	clipZ := fs.Float64("mulaw-clip", 4, "with --mulaw: clip normalised samples at this many patch standard deviations")
	band := fs.String("band", "1,40", `band-pass LOW,HIGH in Hz applied before patching, or "none"`)
	order := fs.Int("order", 4, "band-pass order")
	maxPatches := fs.Int("max-patches", 200_000, "learn from at most this many patches (drawn at random)")
	maxIter := fs.Int("max-iter", 300, "k-means iterations at most")
	seed := fs.Uint64("seed", 1, "random seed (k-means++ start and patch sampling)")
	synth := fs.Float64("synthetic", 0, "learn from this many seconds of the synthetic EEG source instead of recordings")
	synthChannels := fs.Int("synthetic-channels", 32, "with --synthetic: montage size")
	synthRate := fs.Float64("synthetic-rate", 250, "with --synthetic: sampling rate, Hz")
	types := fs.String("types", "", "comma-separated channel types to learn from: eeg, mag, grad, eog, ... (default: all but stim)")
	name := fs.String("name", "", "codebook name (default kmeans-<codewords>)")
	outPath := fs.String("out", "codebook.json", "codebook file to write")
	force := fs.Bool("force", false, "overwrite --out if it exists")
	sideOf := fs.String("side-of", "", "learn only the side-information ranges (for side_bits) of this existing codebook from the recordings, and write it with them to --out")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := positiveFlags(fs, "patch", "codewords", "stages", "order", "max-patches", "max-iter", "synthetic-channels", "synthetic-rate", "mulaw-clip"); err != nil {
		return err
	}
	if err := nonNegativeFlags(fs, "mulaw", "synthetic"); err != nil {
		return err
	}
	if !*force {
		if _, err := os.Stat(*outPath); err == nil {
			return fmt.Errorf("train-tokenizer: %s exists; pass --force to overwrite it or --out another file", *outPath)
		}
	}
	sideData := *synth > 0 || fs.NArg() > 0 // mu-law needs data only for its side ranges
	if *mulaw > 0 && *synth == 0 && fs.NArg() == 0 {
		*synth = 1 // only the rate matters
	}
	if (fs.NArg() == 0) == (*synth == 0) {
		fs.Usage()
		return fmt.Errorf("train-tokenizer: name recordings or give --synthetic SECONDS (one of the two)")
	}
	cfg := tokenizer.TrainConfig{Name: *name, PatchSec: *patch, Codewords: *k, Stages: *stages, Order: *order, MaxPatches: *maxPatches, MaxIter: *maxIter, Seed: *seed}
	if *band != "none" {
		lo, hi, err := parseBand(*band)
		if err != nil {
			return fmt.Errorf("train-tokenizer: --band: %w", err)
		}
		cfg.BandHz = [2]float64{lo, hi}
	}
	if *types != "" {
		for _, t := range splitList(*types) {
			ct, err := streams.ParseChannelType(t)
			if err != nil {
				return fmt.Errorf("train-tokenizer: --types: %w", err)
			}
			cfg.ChannelTypes = append(cfg.ChannelTypes, ct)
		}
	}
	var recs []*acquisition.Recording
	var names []string
	if *synth > 0 {
		rec, err := synthesize(ctx, synthetic.Config{Channels: *synthChannels, SampleRateHz: *synthRate, Seed: *seed + 7, DurationSec: *synth})
		if err != nil {
			return fmt.Errorf("train-tokenizer: %w", err)
		}
		recs, names = append(recs, rec), append(names, fmt.Sprintf("synthetic:%gs", *synth))
	}
	for _, p := range fs.Args() {
		rs, err := openRecordings(p)
		if err != nil {
			return fmt.Errorf("train-tokenizer: %w", err)
		}
		for _, r := range rs {
			recs, names = append(recs, r), append(names, p)
			fmt.Fprintf(out, "  %s: %d channels x %d samples at %g Hz\n", p, len(r.Info.Channels), r.NumSamples(), r.Info.SampleRateHz)
		}
	}
	if *joint > 0 {
		return trainJoint(recs, names, cfg, *name, *joint, *outPath, out)
	}
	if *sideOf != "" {
		cb, err := tokenizer.Load(*sideOf)
		if err != nil {
			return fmt.Errorf("train-tokenizer: %w", err)
		}
		if err := tokenizer.FitSide(cb, recs, names); err != nil {
			return fmt.Errorf("train-tokenizer: %w", err)
		}
		if err := cb.Save(*outPath); err != nil {
			return err
		}
		fmt.Fprintf(out, "learnt the side-information ranges of %s (%s); wrote %s (its version is now %08x: detokenize with this file)\n", cb.Name, sideSummary(cb), *outPath, cb.Fingerprint())
		return nil
	}
	if *mulaw > 0 {
		rate := recs[0].Info.SampleRateHz
		var types []string
		for _, t := range cfg.ChannelTypes {
			types = append(types, t.String())
		}
		cb := tokenizer.NewMuLaw(rate, int(*patch*rate+0.5), *mulaw, *clipZ, cfg.BandHz, types)
		if *name != "" {
			cb.Name = *name
		}
		if sideData {
			if err := tokenizer.FitSide(cb, recs, names); err != nil {
				return fmt.Errorf("train-tokenizer: %w", err)
			}
		}
		cb.Training = tokenizer.TrainingInfo{Recordings: names, CreatedAt: time.Now().UTC().Format(time.RFC3339)}
		if err := cb.Save(*outPath); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote the %d-level mu-law tokenizer (%d-sample patches at %g Hz, %.0f bits/s per channel; side ranges %s) to %s\n",
			*mulaw, cb.PatchSamples, rate, cb.TokenBitsPerSecond(), sideSummary(cb), *outPath)
		return nil
	}
	start := time.Now()
	cfg.Progress = func(iter int, inertia float64) {
		fmt.Fprintf(out, "\rk-means iteration %d, inertia %.6g   ", iter, inertia)
	}
	cb, err := tokenizer.Train(ctx, recs, names, cfg)
	fmt.Fprintln(out)
	if err != nil {
		return err
	}
	cb.Training.CreatedAt = time.Now().UTC().Format(time.RFC3339)
	if err := cb.Save(*outPath); err != nil {
		return err
	}
	fmt.Fprintf(out, "learnt %d stage(s) of %d codewords of %d samples (%.3g s at %g Hz, modality %s, %.0f bits/s per channel) from %d patches in %d iterations (%v); side ranges %s; wrote %s\n",
		cb.Stages(), len(cb.Codewords), cb.PatchSamples, cb.PatchSec(), cb.SampleRateHz, cb.Modality(), cb.TokenBitsPerSecond(), cb.Training.Patches,
		cb.Training.Iterations, time.Since(start).Round(time.Millisecond), sideSummary(cb), *outPath)
	return nil
}

// sideSummary describes a codebook's side ranges: per channel type, the scale range and the largest
// offset in scales.
func sideSummary(cb *tokenizer.Codebook) string {
	s := ""
	for i, r := range cb.SideRanges {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s scale %.3g..%.3g, |offset| <= %.2f scales", r.ChannelType, math.Exp(r.LogScaleLo), math.Exp(r.LogScaleHi), r.OffsetMaxZ)
	}
	if s == "" {
		return "none"
	}
	return s
}

// synthesize records seconds of the synthetic source into memory, as fast as it generates.
func synthesize(ctx context.Context, sc synthetic.Config) (*acquisition.Recording, error) {
	sc.Realtime = false
	if sc.StreamID == "" {
		sc.StreamID = "synthetic"
	}
	src, err := synthetic.New(sc)
	if err != nil {
		return nil, err
	}
	info := src.Info()
	rec := &acquisition.Recording{Info: info, Data: make([][]float64, len(info.Channels))}
	var f streams.Frame
	for {
		err := src.Next(ctx, &f)
		if errors.Is(err, io.EOF) {
			return rec, nil
		}
		if err != nil {
			return nil, err
		}
		for s := 0; s < f.NumSamples; s++ {
			for c := range rec.Data {
				rec.Data[c] = append(rec.Data[c], float64(f.Samples[s*f.NumChannels+c]))
			}
		}
	}
}

// trainJoint learns a joint codec from recordings of one montage and rate and writes it.
func trainJoint(recs []*acquisition.Recording, names []string, cfg tokenizer.TrainConfig, name string, step float64, outPath string, out io.Writer) error {
	rate := recs[0].Info.SampleRateHz
	var data [][][]float64
	var keys []string
	for i, rec := range recs {
		if rec.Info.SampleRateHz != rate {
			return fmt.Errorf("train-tokenizer --joint: %s runs at %g Hz, %s at %g Hz: learn one codec per rate", names[i], rec.Info.SampleRateHz, names[0], rate)
		}
		x, chans, err := tokenizer.Prepare(rec, cfg)
		if err != nil {
			return fmt.Errorf("train-tokenizer --joint: %s: %w", names[i], err)
		}
		var k []string
		for _, ch := range chans {
			k = append(k, streams.ChannelKey(ch))
		}
		if keys == nil {
			keys = k
		} else if !slices.Equal(keys, k) {
			return fmt.Errorf("train-tokenizer --joint: %s has channels %d (%s...), %s %d: a joint codec learns one montage", names[i], len(k), k[0], names[0], len(keys))
		}
		data = append(data, x)
	}
	if name == "" {
		name = fmt.Sprintf("joint-%dch-step%g", len(keys), step)
	}
	c, err := tokenizer.TrainJoint(name, data, keys, rate, cfg.BandHz, int(cfg.PatchSec*rate+0.5), step)
	if err != nil {
		return fmt.Errorf("train-tokenizer: %w", err)
	}
	if err := c.Save(outPath); err != nil {
		return err
	}
	fmt.Fprintf(out, "learnt a joint codec of %d channels, %d-sample blocks at %g Hz, step %g standard deviations, from %d recording(s); wrote %s\n",
		len(keys), c.BlockSamples, rate, step, len(recs), outPath)
	return nil
}
