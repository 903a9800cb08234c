package bench

import (
	"errors"
	"fmt"
	"math"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/dsp/spectral"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
)

// What the 40-bits/s goal asks of any coder, and what the joint codec achieves: printed under the
// EEG tables of `bench tokens`.
//
//   - gaussianRate: the rate-distortion function of a stationary Gaussian process with the held-out
//     channel's spectrum (Welch), by reverse water-filling, at the distortion that leaves a
//     reconstruction correlated r with the signal (an optimal reconstruction's error is orthogonal
//     to it, so D = (1 - r^2) var). EEG is close to Gaussian; for a non-Gaussian source of the same
//     spectrum this rate is an upper bound on what an ideal coder needs, not a lower one.
//   - tokenizer.JointCodec: all channels coded together (principal components x DCT over 0.2-s
//     blocks, one uniform step, each block one rANS message under the training runs' level
//     frequencies), its bytes counted, decoded back and scored, and its streaming tokenizer timed.

// gaussianRate returns bits/s for a one-sided PSD (unit²/Hz, bins dfHz apart) at correlation r.
func gaussianRate(psd []float64, dfHz, r float64) float64 {
	total := 0.0
	for _, p := range psd {
		total += p * dfHz
	}
	target := (1 - r*r) * total
	lo, hi := 0.0, 0.0
	for _, p := range psd {
		hi = math.Max(hi, p)
	}
	for range 200 { // bisection on the water level theta: D(theta) rises with it
		theta := (lo + hi) / 2
		d := 0.0
		for _, p := range psd {
			d += math.Min(theta, p) * dfHz
		}
		if d > target {
			hi = theta
		} else {
			lo = theta
		}
	}
	bits := 0.0
	for _, p := range psd {
		if p > lo && lo > 0 {
			bits += math.Log2(p/lo) * dfHz
		}
	}
	return bits
}

// gaussianRateOfChannels is gaussianRate over every channel of every held-out recording (Welch,
// 1.6-s Hann segments at 160 Hz), averaged, with the smallest and largest.
func gaussianRateOfChannels(test [][][]float64, rateHz, r float64) (mean, lo, hi float64, err error) {
	cfg := spectral.WelchConfig{FsHz: rateHz, NPerSeg: int(1.6*rateHz + 0.5)}
	lo, n := math.Inf(1), 0
	for _, rec := range test {
		for _, x := range rec {
			f, psd, err := spectral.WelchPSD(x, cfg)
			if err != nil {
				return 0, 0, 0, err
			}
			b := gaussianRate(psd, f[1]-f[0], r)
			mean += b
			lo, hi = math.Min(lo, b), math.Max(hi, b)
			n++
		}
	}
	if n == 0 {
		return 0, 0, 0, errors.New("rate-distortion estimate: no held-out channel")
	}
	return mean / float64(n), lo, hi, nil
}

// transformScore is the joint codec at one step size on the held-out recordings: bits/s per
// channel as the coded blocks' bytes and as the cross-entropy they approach, and the
// reconstruction's scores.
type transformScore struct {
	step, bits, entropyBits, r, rMin, nmse float64
}

// scoreJoint codes every whole block of the held-out recordings (one message each), decodes it,
// and scores the reconstruction made from the decoded blocks.
func scoreJoint(c *tokenizer.JointCodec, test [][][]float64, rateHz float64) (transformScore, error) {
	sc := transformScore{step: c.Step, rMin: 1}
	var bytes int
	var seconds float64
	var rs, nmses []float64
	for _, rec := range test {
		recon, b, bits, err := c.RoundTrip(rec)
		if err != nil {
			return sc, err
		}
		bytes, sc.entropyBits = bytes+b, sc.entropyBits+bits
		m := len(recon[0])
		seconds += float64(m) / rateHz
		for ch := range recon {
			nm, r, _ := reconScores(rec[ch][:m], recon[ch])
			rs, nmses = append(rs, r), append(nmses, nm)
			sc.rMin = math.Min(sc.rMin, r)
		}
	}
	nch := float64(len(c.Channels))
	sc.bits = float64(8*bytes) / seconds / nch
	sc.entropyBits /= seconds * nch
	sc.r, sc.nmse = meanOf(rs), meanOf(nmses)
	return sc, nil
}

// transformSteps are the quantiser steps tried, in units of the signal's standard deviation.
var transformSteps = []float64{1, 2, 3, 4, 6, 8}

// printRateReferences prints, for a data set, the Gaussian rate-distortion estimate at r 0.9 and the
// reference transform coder at a few step sizes, and whether it meets the 40-bits/s goal.
func printRateReferences(r *benchRun, ds *tokenData) error {
	cfg := tokenizer.TrainConfig{PatchSec: 0.2, BandHz: [2]float64{1, 40}, ChannelTypes: ds.types}
	var keys []string
	prep := func(recs []*acquisition.Recording) ([][][]float64, error) {
		var out [][][]float64
		for _, rec := range recs {
			data, chans, err := tokenizer.Prepare(rec, cfg)
			if err != nil {
				return nil, err
			}
			if keys == nil {
				for _, ch := range chans {
					keys = append(keys, streams.ChannelKey(ch))
				}
			}
			out = append(out, data)
		}
		return out, nil
	}
	train, err := prep(ds.train)
	if err != nil {
		return err
	}
	test, err := prep(ds.test)
	if err != nil {
		return err
	}
	rate := ds.train[0].Info.SampleRateHz
	mean, lo, hi, err := gaussianRateOfChannels(test, rate, 0.9)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "\nwhat r 0.9 takes: a stationary Gaussian source with each held-out channel's spectrum (Welch) needs %.1f bits/s/channel on average (%.1f-%.1f over channels; rate-distortion by reverse water-filling)\n", mean, lo, hi)
	codec, err := tokenizer.TrainJoint("bench", train, keys, rate, cfg.BandHz, int(0.2*rate+0.5), transformSteps[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "joint codec, all %d channels together (train-tokenizer --joint STEP; principal components learnt on the training runs x DCT over 0.2-s blocks,\n"+
		"one uniform step; each block of all channels one message, rANS-coded with the training runs' level frequencies and decoded back;\n"+
		"bits = the messages' bytes, entropy = the cross-entropy they approach; it codes only streams with every channel of its montage):\n", len(keys))
	fmt.Fprintf(r.out, "| step (x signal sd) | bits/s/ch (coded bytes) | entropy | NMSE | r | r worst channel |\n|---|---|---|---|---|---|\n")
	var best *transformScore
	for _, step := range transformSteps {
		c, err := codec.WithStep(train, step)
		if err != nil {
			return err
		}
		s, err := scoreJoint(c, test, rate)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.out, "| %g | %.1f | %.1f | %.3f | %.3f | %.3f |\n", step, s.bits, s.entropyBits, s.nmse, s.r, s.rMin)
		if s.bits <= 40 && (best == nil || s.r > best.r) {
			best = &s
		}
	}
	if best != nil {
		if err := printJointStreaming(r, ds, codec, train, best.step); err != nil {
			return err
		}
	}
	switch {
	case best == nil:
		fmt.Fprintf(r.out, "joint codec: no step within 40 bits/s/channel\n")
	case best.r >= 0.9:
		fmt.Fprintf(r.out, "goal r >= 0.9 at <= 40 bits/s/channel on held-out EEG, every byte counted: met by the joint codec, r %.3f at %.1f bits/s/channel (step %g)\n", best.r, best.bits, best.step)
	default:
		fmt.Fprintf(r.out, "joint codec: best r within 40 bits/s/channel %.3f (%.1f bits/s, step %g)\n", best.r, best.bits, best.step)
	}
	return nil
}

// printJointStreaming times the joint codec's streaming tokenizer (the pipeline stage's) on the
// first held-out recording in the stream's frames: how many such streams one core keeps up with.
func printJointStreaming(r *benchRun, ds *tokenData, codec *tokenizer.JointCodec, train [][][]float64, step float64) error {
	c, err := codec.WithStep(train, step)
	if err != nil {
		return err
	}
	cfg := tokenizer.TrainConfig{PatchSec: 0.2, BandHz: [2]float64{1, 40}, ChannelTypes: ds.types}
	data, chans, err := tokenizer.Prepare(ds.test[0], cfg)
	if err != nil {
		return err
	}
	info := streams.StreamInfo{StreamID: "bench", SampleRateHz: c.SampleRateHz, Channels: chans}
	tk, err := c.NewTokenizer(info)
	if err != nil {
		return err
	}
	perCore, allocs := timePush(r, tk, info, interleave(data), ds.frame)
	fmt.Fprintf(r.out, "joint codec streaming (the tokenizer stage, step %g, %d-sample frames): %.0f %d-channel streams per core, %d allocs/frame\n",
		step, ds.frame, perCore, len(chans), allocs)
	return nil
}
