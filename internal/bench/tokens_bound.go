package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/dsp/spectral"
	"github.com/neurostream/neurostream/tokenizer"
	"github.com/neurostream/neurostream/tokenizer/entropy"
)

// What the 40-bits/s goal asks of any coder, and what one that is not a per-channel tokenizer
// achieves: two references printed under the EEG tables of `bench tokens`.
//
//   - gaussianRate: the rate-distortion function of a stationary Gaussian process with the held-out
//     channel's spectrum (Welch), by reverse water-filling, at the distortion that leaves a
//     reconstruction correlated r with the signal (an optimal reconstruction's error is orthogonal
//     to it, so D = (1 - r^2) var). EEG is close to Gaussian; for a non-Gaussian source of the same
//     spectrum this rate is an upper bound on what an ideal coder needs, not a lower one.
//   - transformCoder: a spatial (principal components across the 64 channels, learnt on the training
//     runs) and temporal (orthonormal DCT-II over 0.2-s blocks) transform, coefficients uniformly
//     quantised with one step for all; each 0.2-s block of all channels is one message, rANS-coded
//     (tokenizer/entropy) with per-coefficient level frequencies learnt on the training runs, and
//     its bytes are what is counted. It codes all channels together, so it is tied to the montage it
//     was learnt on: a reference for what the bits allow, not a sensor-independent
//     tokenizer, and it is not a pipeline stage.

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

// transformCoder is the reference coder above, learnt on training recordings of one montage.
type transformCoder struct {
	n       int         // block length, samples
	comps   *mat.Dense  // channels x components, columns by falling variance
	scale   float64     // signal standard deviation over all training channels: steps are in its units
	dct     [][]float64 // n x n orthonormal DCT-II rows
	nch     int
	trained [][]float64 // training coefficients, per component: block-major, n per block
}

// maxLevel bounds the quantised levels (larger ones are clipped, and the clipping shows in r).
const maxLevel = 512

func newTransformCoder(train [][][]float64, n int) (*transformCoder, error) {
	if len(train) == 0 || len(train[0]) == 0 {
		return nil, errors.New("transform coder: no training data")
	}
	nch := len(train[0])
	cov := mat.NewSymDense(nch, nil)
	var sum2 float64
	var count int
	for _, rec := range train {
		if len(rec) != nch {
			return nil, fmt.Errorf("transform coder: a training recording of %d channels, another of %d", len(rec), nch)
		}
		m := len(rec[0])
		for i := range nch {
			for j := i; j < nch; j++ {
				s := 0.0
				for t := range m {
					s += rec[i][t] * rec[j][t]
				}
				cov.SetSym(i, j, cov.At(i, j)+s)
			}
			for _, v := range rec[i] {
				sum2 += v * v
			}
		}
		count += m * nch
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return nil, errors.New("transform coder: the channel covariance did not factorise")
	}
	var vec mat.Dense
	eig.VectorsTo(&vec)
	comps := mat.NewDense(nch, nch, nil)
	for k := range nch { // EigenSym sorts ascending; the coder wants the strongest component first
		for c := range nch {
			comps.Set(c, k, vec.At(c, nch-1-k))
		}
	}
	tc := &transformCoder{n: n, comps: comps, scale: math.Sqrt(sum2 / float64(count)), nch: nch}
	tc.dct = make([][]float64, n)
	for k := range n {
		tc.dct[k] = make([]float64, n)
		w := math.Sqrt(2 / float64(n))
		if k == 0 {
			w = math.Sqrt(1 / float64(n))
		}
		for i := range n {
			tc.dct[k][i] = w * math.Cos(math.Pi*(float64(i)+0.5)*float64(k)/float64(n))
		}
	}
	tc.trained = make([][]float64, nch)
	for _, rec := range train {
		for k, c := range tc.coefficients(rec) {
			tc.trained[k] = append(tc.trained[k], c...)
		}
	}
	return tc, nil
}

// coefficients returns the transform of a recording's channels: per component, n DCT
// coefficients per whole block, in units of the training scale.
func (tc *transformCoder) coefficients(rec [][]float64) [][]float64 {
	m := len(rec[0]) / tc.n * tc.n
	out := make([][]float64, tc.nch)
	y := make([]float64, tc.n)
	for k := range tc.nch {
		out[k] = make([]float64, m)
		for b := 0; b < m; b += tc.n {
			for i := range y {
				s := 0.0
				for c := range tc.nch {
					s += tc.comps.At(c, k) * rec[c][b+i]
				}
				y[i] = s / tc.scale
			}
			for f, row := range tc.dct {
				s := 0.0
				for i, v := range y {
					s += row[i] * v
				}
				out[k][b+f] = s
			}
		}
	}
	return out
}

func level(v, step float64) int {
	return max(-maxLevel, min(maxLevel, int(math.Round(v/step))))
}

// transformScore is the coder at one step size on the held-out recordings: bits/s per channel as the
// coded messages' bytes and as the cross-entropy they approach, and the reconstruction's scores.
type transformScore struct {
	step, bits, entropyBits, r, rMin, nmse float64
}

// score quantises with step and learns the level frequencies of every (component, coefficient) on
// the training coefficients (one pseudo-count spread over all levels, so an unseen level costs
// finite bits, about log2(levels x blocks), without taxing the seen ones). On the held-out
// recordings each 0.2-s block of all channels becomes one message, rANS-coded with those tables
// (tokenizer/entropy) and decoded back; the reconstruction is made from the decoded levels.
func (tc *transformCoder) score(test [][][]float64, step, rateHz float64) (transformScore, error) {
	levels := 2*maxLevel + 1
	contexts := tc.nch * tc.n
	counts := make([]float64, contexts*levels)
	for k, coef := range tc.trained {
		for i, v := range coef {
			counts[(k*tc.n+i%tc.n)*levels+level(v, step)+maxLevel]++
		}
	}
	tables := make([]*entropy.Table, contexts)
	for c := range tables {
		row := counts[c*levels : (c+1)*levels]
		for l := range row {
			row[l] += 1 / float64(levels)
		}
		var err error
		if tables[c], err = entropy.NewTable(row); err != nil {
			return transformScore{}, err
		}
	}
	table := func(i int) *entropy.Table { return tables[i] } // symbol i of a block is context i
	sc := transformScore{step: step, rMin: 1}
	var bytes int
	var seconds float64
	var rs, nmses []float64
	syms, back := make([]int, contexts), make([]int, contexts)
	var msg []byte
	var words []uint32
	y := make([]float64, tc.n)
	for _, rec := range test {
		coef := tc.coefficients(rec)
		m := len(coef[0])
		recon := make([][]float64, tc.nch)
		for c := range recon {
			recon[c] = make([]float64, m)
		}
		for b := 0; b < m; b += tc.n {
			for k := range tc.nch {
				for f := range tc.n {
					syms[k*tc.n+f] = level(coef[k][b+f], step) + maxLevel
					sc.entropyBits += tables[k*tc.n+f].Bits(syms[k*tc.n+f])
				}
			}
			var err error
			if msg, words, err = entropy.Encode(msg[:0], syms, table, words); err != nil {
				return sc, err
			}
			bytes += len(msg)
			if _, err := entropy.Decode(msg, back, table); err != nil {
				return sc, err
			}
			if !slices.Equal(back, syms) {
				return sc, fmt.Errorf("transform coder: block at sample %d did not decode to its levels", b)
			}
			for k := range tc.nch {
				for i := range y { // inverse DCT (the transpose of the orthonormal rows) of the decoded levels
					s := 0.0
					for f, row := range tc.dct {
						s += row[i] * float64(back[k*tc.n+f]-maxLevel) * step
					}
					y[i] = s * tc.scale
				}
				for c := range tc.nch {
					w := tc.comps.At(c, k)
					for i, v := range y {
						recon[c][b+i] += w * v
					}
				}
			}
		}
		seconds += float64(m) / rateHz
		for c := range tc.nch {
			nm, r, _ := reconScores(rec[c][:m], recon[c])
			rs, nmses = append(rs, r), append(nmses, nm)
			sc.rMin = math.Min(sc.rMin, r)
		}
	}
	sc.bits = float64(8*bytes) / seconds / float64(tc.nch)
	sc.entropyBits /= seconds * float64(tc.nch)
	sc.r, sc.nmse = meanOf(rs), meanOf(nmses)
	return sc, nil
}

// transformSteps are the quantiser steps tried, in units of the signal's standard deviation.
var transformSteps = []float64{1, 2, 3, 4, 6, 8}

// printRateReferences prints, for a data set, the Gaussian rate-distortion estimate at r 0.9 and the
// reference transform coder at a few step sizes, and whether it meets the 40-bits/s goal.
func printRateReferences(r *benchRun, ds *tokenData) error {
	cfg := tokenizer.TrainConfig{PatchSec: 0.2, BandHz: [2]float64{1, 40}, ChannelTypes: ds.types}
	prep := func(recs []*acquisition.Recording) ([][][]float64, error) {
		var out [][][]float64
		for _, rec := range recs {
			data, _, err := tokenizer.Prepare(rec, cfg)
			if err != nil {
				return nil, err
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
	n := int(0.2*rate + 0.5)
	tc, err := newTransformCoder(train, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "reference coder, all %d channels together (principal components learnt on the training runs x DCT over 0.2-s blocks, one uniform step;\n"+
		"each block of all channels one message, rANS-coded with the training runs' level frequencies and decoded back; bits = the messages' bytes,\n"+
		"entropy = the cross-entropy they approach; montage-specific, a bench reference, not a pipeline stage):\n", tc.nch)
	fmt.Fprintf(r.out, "| step (x signal sd) | bits/s/ch (coded bytes) | entropy | NMSE | r | r worst channel |\n|---|---|---|---|---|---|\n")
	var best *transformScore
	for _, step := range transformSteps {
		s, err := tc.score(test, step, rate)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.out, "| %g | %.1f | %.1f | %.3f | %.3f | %.3f |\n", step, s.bits, s.entropyBits, s.nmse, s.r, s.rMin)
		if s.bits <= 40 && (best == nil || s.r > best.r) {
			best = &s
		}
	}
	switch {
	case best == nil:
		fmt.Fprintf(r.out, "reference coder: no step within 40 bits/s/channel\n")
	case best.r >= 0.9:
		fmt.Fprintf(r.out, "reference coder: r %.3f at %.1f bits/s/channel (step %g): r >= 0.9 within 40 bits/s is reachable when channels are coded together\n", best.r, best.bits, best.step)
	default:
		fmt.Fprintf(r.out, "reference coder: best r within 40 bits/s/channel %.3f (%.1f bits/s, step %g)\n", best.r, best.bits, best.step)
	}
	return nil
}
