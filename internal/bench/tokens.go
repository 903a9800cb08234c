package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/recordings"
	"github.com/neurostream/neurostream/decoders/onnx"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
	"github.com/neurostream/neurostream/tokenizer/learnt"
)

// The tokens suite measures tokenizers as the brain-tokenizer papers do, by how well their tokens
// reconstruct held-out signal: codebooks are learnt on some recordings and judged on others.
//
//   - EEG: PhysioNet S001, 64 channels at 160 Hz; learnt on runs R01-R06, judged on R07-R14.
//   - MEG: MNE's test_elekta_3ch_raw.fif (2 gradiometers + 1 magnetometer at 1 kHz, 80 s; the only
//     FIF recording here longer than a second); learnt on its first 56 s, judged on the last 24 s.
//
// Both are band-passed 1-40 Hz (causal Butterworth, order 4) as the online stages do. Reconstruction
// uses the wire's float32 patch mean and scale.
type tokenData struct {
	name       string
	train      []*acquisition.Recording
	trainNames []string
	test       []*acquisition.Recording
	types      []streams.ChannelType
	frame      int    // samples per frame for the streaming measurement
	learnt     string // the learnt tokenizer trained on the same split (configs/models/<learnt>.json)
}

type tokenSpec struct {
	method   string // kmeans, rvq, mulaw
	patchSec float64
	k        int // codewords per stage, or mu-law levels
	stages   int
}

func (s tokenSpec) label() string {
	switch s.method {
	case "mulaw":
		return fmt.Sprintf("mu-law %d levels", s.k)
	case "kmeans":
		return fmt.Sprintf("k-means %d", s.k)
	case "learnt":
		return fmt.Sprintf("learnt VQ %d (ONNX encoder)", s.k)
	}
	return fmt.Sprintf("RVQ %dx%d", s.stages, s.k)
}

var tokenBands = []struct {
	name   string
	lo, hi float64
}{{"delta", 1, 4}, {"theta", 4, 8}, {"alpha", 8, 13}, {"beta", 13, 30}, {"gamma", 30, 40}}

type tokenScore struct {
	spec                tokenSpec
	cb                  *tokenizer.Codebook
	nmse, r, ve         float64
	bandNMSE, bandR     []float64
	usage, perplexity   float64
	bits, sideBits      float64
	streamsPerCore      float64
	tokensPerSecPerCore float64
	allocs              int64
	channels            int

	// sideR[i]: r with the patch mean and scale quantised to sideBitLevels[i] bits each, by the
	// wire's quantiser (tokenizer.SideRange) over the codebook's side ranges
	sideR []float64
	// wireBytes[i]: mean bytes of one Tokens message of the streaming stage, float32 side information
	// (i = 0) and sideBitLevels[i-1] bits each
	wireBytes []float64

	// the same stage with the plain scalar search, and how many of its tokens differ (k-means, RVQ)
	scalarStreamsPerCore   float64
	tokenDiffs, tokenCount int
}

func benchTokens(ctx context.Context, r *benchRun) error {
	eeg, meg, err := tokenWorkloads(r)
	if err != nil {
		return err
	}
	specs := []tokenSpec{
		{"kmeans", 0.2, 64, 1}, {"kmeans", 0.2, 256, 1},
		{"rvq", 0.2, 256, 2}, {"rvq", 0.2, 256, 4}, {"rvq", 0.2, 512, 4},
		{"rvq", 0.4, 256, 2}, {"rvq", 0.8, 256, 4},
		// shapes whose tokens leave room for quantised side information within 40 bits/s
		{"rvq", 0.4, 256, 1}, {"rvq", 0.8, 256, 2}, {"rvq", 0.8, 256, 3},
		{"mulaw", 0.2, 16, 1}, {"mulaw", 0.2, 256, 1}, {"learnt", 0.2, 256, 1},
	}
	megSpecs := []tokenSpec{{"kmeans", 0.2, 64, 1}, {"rvq", 0.2, 64, 2}, {"rvq", 0.2, 64, 4}, {"rvq", 0.4, 64, 2}, {"mulaw", 0.2, 16, 1}, {"mulaw", 0.2, 256, 1}, {"learnt", 0.2, 64, 1}}
	if r.short {
		specs = []tokenSpec{{"kmeans", 0.2, 64, 1}, {"rvq", 0.2, 64, 4}, {"mulaw", 0.2, 16, 1}, {"learnt", 0.2, 256, 1}}
		megSpecs = []tokenSpec{{"kmeans", 0.2, 16, 1}, {"mulaw", 0.2, 16, 1}, {"learnt", 0.2, 64, 1}}
	}
	fmt.Fprintf(r.out, "held-out reconstruction; bits = wire bits/s per channel: tokens + side information (float32 mean and scale per patch);\n"+
		"usage = share of codes used; perplexity = exp(entropy) per stage (an entropy figure, not wire bits), averaged; streaming = tokenizer stage, %s frames\n", "8-sample")
	for _, ds := range []*tokenData{eeg, meg} {
		if ds == nil {
			continue
		}
		list := specs
		if ds == meg {
			list = megSpecs
		}
		var scores []*tokenScore
		for _, spec := range list {
			if err := ctx.Err(); err != nil {
				return err
			}
			sc, err := scoreTokenizer(ctx, r, ds, spec)
			if errors.Is(err, errNoLearnt) {
				fmt.Fprintf(r.out, "%s: %v\n", spec.label(), err)
				continue
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", ds.name, spec.label(), err)
			}
			scores = append(scores, sc)
		}
		printTokenScores(r, ds, scores)
		if ds == eeg {
			if err := printRateReferences(r, ds); err != nil {
				return fmt.Errorf("%s rate references: %w", ds.name, err)
			}
		}
	}
	return nil
}

func tokenWorkloads(r *benchRun) (eeg, meg *tokenData, err error) {
	open := func(rel string) (*acquisition.Recording, error) {
		path := filepath.Join(r.dataDir, rel)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("tokens workload: %s not found: put the shared data set beside the repo or pass --data", path)
		}
		rs, err := recordings.Open(path)
		if err != nil {
			return nil, err
		}
		return rs[0], nil
	}
	eeg = &tokenData{name: "EEG (PhysioNet S001, 64 ch, 160 Hz)", types: []streams.ChannelType{streams.ChannelEEG}, frame: 8, learnt: "tokenizer-vq-eeg"}
	trainRuns, testRuns := []string{"R01", "R02", "R03", "R04", "R05", "R06"}, []string{"R07", "R08", "R09", "R10", "R11", "R13"}
	if r.short {
		trainRuns, testRuns = []string{"R01", "R02"}, []string{"R07"}
	}
	for i, runs := range [][]string{trainRuns, testRuns} {
		for _, run := range runs {
			rec, err := open(filepath.Join("physionet_eegmmidb_S001", "S001"+run+".edf"))
			if err != nil {
				return nil, nil, err
			}
			if i == 0 {
				eeg.train, eeg.trainNames = append(eeg.train, rec), append(eeg.trainNames, "S001"+run)
			} else {
				eeg.test = append(eeg.test, rec)
			}
		}
	}
	rec, err := open(filepath.Join("mne_testing_formats", "FIF", "test_elekta_3ch_raw.fif"))
	if err != nil {
		return nil, nil, err
	}
	cut := int(56 * rec.Info.SampleRateHz)
	head, tail := &acquisition.Recording{Info: rec.Info}, &acquisition.Recording{Info: rec.Info}
	for _, ch := range rec.Data {
		head.Data, tail.Data = append(head.Data, ch[:cut]), append(tail.Data, ch[cut:])
	}
	meg = &tokenData{name: "MEG (test_elekta_3ch_raw.fif, 2 grad + 1 mag, 1 kHz)", train: []*acquisition.Recording{head},
		trainNames: []string{"test_elekta_3ch_raw.fif[0:56s]"}, test: []*acquisition.Recording{tail},
		types: []streams.ChannelType{streams.ChannelMEGGrad, streams.ChannelMEGMag}, frame: 50, learnt: "tokenizer-vq-meg"}
	return eeg, meg, nil
}

func scoreTokenizer(ctx context.Context, r *benchRun, ds *tokenData, spec tokenSpec) (*tokenScore, error) {
	cfg := tokenizer.TrainConfig{PatchSec: spec.patchSec, BandHz: [2]float64{1, 40}, Codewords: spec.k, Stages: spec.stages,
		ChannelTypes: ds.types, MaxPatches: 20_000, MaxIter: 40, Seed: 1}
	if r.short {
		cfg.MaxPatches, cfg.MaxIter = 5000, 20
	}
	var cb *tokenizer.Codebook
	var q *tokenizer.Quantizer
	rate := ds.train[0].Info.SampleRateHz
	if spec.method == "learnt" {
		var err error
		if q, err = openLearnt(r, ds.learnt); err != nil {
			return nil, err
		}
		cb = q.Codebook()
		cfg.PatchSec = cb.PatchSec()
	} else if spec.method == "mulaw" {
		var types []string
		for _, t := range ds.types {
			types = append(types, t.String())
		}
		cb = tokenizer.NewMuLaw(rate, int(spec.patchSec*rate+0.5), spec.k, 4, cfg.BandHz, types)
		if err := tokenizer.FitSide(cb, ds.train, ds.trainNames); err != nil { // as train-tokenizer --mulaw does
			return nil, err
		}
	} else {
		var err error
		if cb, err = tokenizer.Train(ctx, ds.train, ds.trainNames, cfg); err != nil {
			return nil, err
		}
	}
	if q == nil {
		var err error
		if q, err = tokenizer.NewQuantizer(cb); err != nil {
			return nil, err
		}
	}
	sc := &tokenScore{spec: spec, cb: cb, bits: cb.TokenBitsPerSecond(), sideBits: 64 / cb.PatchSec()}
	var acc recAccumulator
	acc.init(cb)
	// Side ranges: learnt with the codebook (Train, train-tokenizer --mulaw); for a learnt codebook
	// without them, from the same training runs (a copy: the quantizer's codebook stays as opened).
	sided := cb
	if len(cb.SideRanges) == 0 {
		c := *cb
		if err := tokenizer.FitSide(&c, ds.train, ds.trainNames); err != nil {
			return nil, err
		}
		sided = &c
	}
	acc.side = sided
	var info streams.StreamInfo
	var stream []float32
	for _, rec := range ds.test {
		data, chans, err := tokenizer.Prepare(rec, cfg)
		if err != nil {
			return nil, err
		}
		types := make([]string, len(chans))
		for c, ch := range chans {
			types[c] = ch.Type.String()
		}
		if err := acc.add(q, data, types, rate); err != nil {
			return nil, err
		}
		if stream == nil {
			info = streams.StreamInfo{StreamID: "bench", SampleRateHz: rate, Channels: chans}
			stream = interleave(data)
		}
	}
	acc.finish(sc)
	// Streaming: the tokenizer stage over the first held-out recording, frame by frame; for k-means
	// and RVQ also with the plain scalar search, the reference for the packed one, in the same run.
	sc.channels = len(info.Channels)
	var err error
	sc.streamsPerCore, sc.allocs, err = streamingRate(r, q, info, stream, ds.frame)
	if err != nil {
		return nil, err
	}
	sc.tokensPerSecPerCore = float64(sc.channels*cb.TokensPerChannel()) / cb.PatchSec() * sc.streamsPerCore
	if sc.wireBytes, err = wireBytes(sided, q, info, stream, ds.frame); err != nil {
		return nil, err
	}
	if spec.method == "kmeans" || spec.method == "rvq" {
		ref, err := q.WithScalarSearch()
		if err != nil {
			return nil, err
		}
		if sc.scalarStreamsPerCore, _, err = streamingRate(r, ref, info, stream, ds.frame); err != nil {
			return nil, err
		}
		if sc.tokenDiffs, sc.tokenCount, err = compareTokens(q, ref, info, stream, ds.frame); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// streamingRate times q's tokenizer stage on stream (interleaved samples of info's channels) in
// frames of frame samples: how many such streams one core keeps up with, and allocations per frame.
func streamingRate(r *benchRun, q *tokenizer.Quantizer, info streams.StreamInfo, stream []float32, frame int) (float64, int64, error) {
	tk, err := q.NewTokenizer(info)
	if err != nil {
		return 0, 0, err
	}
	perCore, allocs := timePush(r, tk, info, stream, frame)
	return perCore, allocs, nil
}

// pusher is a stream's tokenizer (tokenizer.Tokenizer, tokenizer.JointTokenizer).
type pusher interface {
	Push(samples []float32, numSamples int, acquiredAtNs int64, emit func(*streams.Tokens) error) error
}

// timePush feeds stream to tk frame by frame, round and round, under the benchmark timer: how many
// such streams one core keeps up with, and allocations per frame.
func timePush(r *benchRun, tk pusher, info streams.StreamInfo, stream []float32, frame int) (float64, int64) {
	nch := len(info.Channels)
	frames := len(stream) / (frame * nch)
	emit := func(*streams.Tokens) error { return nil }
	res := r.Go(func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := tk.Push(stream[i*frame*nch:(i+1)*frame*nch], frame, 0, emit); err != nil {
				b.Fatal(err)
			}
			if i++; i == frames {
				i = 0
			}
		}
	})
	secPerFrame := float64(res.T.Nanoseconds()) / 1e9 / float64(res.N)
	return float64(frame) / info.SampleRateHz / secPerFrame, res.AllocsPerOp()
}

// wireBytes streams the recording through the tokenizer stage, with float32 side information and
// with each of sideBitLevels, and returns the mean encoded size of its Tokens messages (none for a
// codebook without side ranges of its own).
func wireBytes(sided *tokenizer.Codebook, q *tokenizer.Quantizer, info streams.StreamInfo, stream []float32, frame int) ([]float64, error) {
	var out []float64
	if sided != q.Codebook() { // ranges fitted for this bench only: the stage cannot send codes
		return nil, nil
	}
	var buf []byte
	for _, bits := range append([]int{0}, sideBitLevels...) {
		tk, err := q.NewTokenizer(info)
		if err != nil {
			return nil, err
		}
		if err := tk.SetSideBits(bits); err != nil {
			return nil, err
		}
		total, n := 0, 0
		step := frame * len(info.Channels)
		for s := 0; s+step <= len(stream); s += step {
			if err := tk.Push(stream[s:s+step], frame, 0, func(t *streams.Tokens) error {
				buf = streams.AppendTokens(buf[:0], t)
				total, n = total+len(buf), n+1
				return nil
			}); err != nil {
				return nil, err
			}
		}
		out = append(out, float64(total)/float64(max(n, 1)))
	}
	return out, nil
}

// compareTokens streams the recording through both quantizers' tokenizers and counts the tokens
// that differ, of all emitted.
func compareTokens(a, b *tokenizer.Quantizer, info streams.StreamInfo, stream []float32, frame int) (diffs, total int, err error) {
	var toks [2][]uint16
	for i, q := range []*tokenizer.Quantizer{a, b} {
		tk, err := q.NewTokenizer(info)
		if err != nil {
			return 0, 0, err
		}
		step := frame * len(info.Channels)
		for s := 0; s+step <= len(stream); s += step {
			if err := tk.Push(stream[s:s+step], frame, 0, func(t *streams.Tokens) error {
				toks[i] = append(toks[i], t.Tokens...)
				return nil
			}); err != nil {
				return 0, 0, err
			}
		}
	}
	for i := range toks[0] {
		if toks[0][i] != toks[1][i] {
			diffs++
		}
	}
	return diffs, len(toks[0]), nil
}

// vsScalar is the streaming speed over that with the scalar search, and the latter.
func (s *tokenScore) vsScalar() string {
	if s.scalarStreamsPerCore == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fx (%.0f)", s.streamsPerCore/s.scalarStreamsPerCore, s.scalarStreamsPerCore)
}

var errNoLearnt = errors.New("learnt tokenizer unavailable")

// openLearnt opens the learnt tokenizer trained on the same runs (tools/models/train_tokenizer_vq.py)
// through ONNX Runtime; the runtime and encoder live until the process ends.
func openLearnt(r *benchRun, name string) (*tokenizer.Quantizer, error) {
	path := filepath.Join(filepath.Dir(r.toolsDir), "configs", "models", name+".json")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s not found (run from the repository)", errNoLearnt, path)
	}
	rt, err := onnx.NewRuntime(onnx.Config{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoLearnt, err)
	}
	q, _, err := learnt.Open(rt, path)
	return q, err
}

func interleave(data [][]float64) []float32 {
	n := len(data[0])
	out := make([]float32, n*len(data))
	for c, ch := range data {
		for s, v := range ch {
			out[s*len(data)+c] = float32(v)
		}
	}
	return out
}

// recAccumulator gathers reconstruction errors and token counts over held-out recordings.
type recAccumulator struct {
	counts [][]int // per stage (or one for mu-law): token -> count
	// per channel of every recording: broadband and per band
	nmse, r, ve     []float64
	bandNMSE, bandR [][]float64
	p, tpc          int
	tokens          []uint16
	scratch, patch  []float64
	side            *tokenizer.Codebook // whose side ranges quantise the mean and scale
	sideR           [][]float64         // per side bit level, per channel
}

// sideBitLevels are the bits per patch given to each of the mean and the scale when the side
// information is quantised, as a tokenizer stage's side_bits does (tokenizer.SideRange: log scale
// and mean/scale uniform over the training patches' 0.5-99.5 % range per channel type).
var sideBitLevels = []int{1, 2, 3, 4}

func (a *recAccumulator) init(cb *tokenizer.Codebook) {
	a.p, a.tpc = cb.PatchSamples, cb.TokensPerChannel()
	if cb.Method == tokenizer.MethodMuLaw {
		a.counts = [][]int{make([]int, cb.MuLawLevels)}
	} else {
		for s := range cb.Stages() {
			a.counts = append(a.counts, make([]int, len(cb.Stage(s))))
		}
	}
	a.bandNMSE, a.bandR = make([][]float64, len(tokenBands)), make([][]float64, len(tokenBands))
	a.tokens, a.scratch, a.patch = make([]uint16, a.tpc), make([]float64, 2*a.p), make([]float64, a.p)
	a.sideR = make([][]float64, len(sideBitLevels))
}

func (a *recAccumulator) add(q *tokenizer.Quantizer, data [][]float64, types []string, rate float64) error {
	p := a.p
	stages := len(a.counts)
	for c, x := range data {
		rng := a.side.SideRangeOf(types[c])
		if rng == nil {
			return fmt.Errorf("codebook %s has no side range for %s channels", a.side.Name, types[c])
		}
		n := len(x) / p * p
		y := make([]float64, n)
		ys := make([][]float64, len(sideBitLevels))
		for i := range ys {
			ys[i] = make([]float64, n)
		}
		for s := 0; s < n; s += p {
			mean, std, err := q.EncodePatch(x[s:s+p], a.tokens, a.scratch)
			if err != nil {
				return err
			}
			for j, t := range a.tokens {
				a.counts[j%stages][t]++
			}
			q.DecodePatch(y[s:s+p], a.tokens, float64(float32(mean)), float64(float32(std)))
			q.Decode(a.patch, a.tokens)
			for i, bits := range sideBitLevels {
				oc, sc, err := rng.Quantize(mean, std, bits)
				if err != nil {
					return err
				}
				qm, qs := rng.Dequantize(oc, sc, bits)
				for j, v := range a.patch {
					ys[i][s+j] = qm + qs*v
				}
			}
		}
		for i := range ys {
			_, r, _ := reconScores(x[:n], ys[i])
			a.sideR[i] = append(a.sideR[i], r)
		}
		nm, r, ve := reconScores(x[:n], y)
		a.nmse, a.r, a.ve = append(a.nmse, nm), append(a.r, r), append(a.ve, ve)
		for b, band := range tokenBands {
			sos, err := dsp.Butter(4, []float64{band.lo, band.hi}, dsp.Bandpass, rate)
			if err != nil {
				return err
			}
			xb, yb := filterCausal(sos, x[:n]), filterCausal(sos, y)
			skip := min(n/4, int(2*rate)) // the band-pass's start-up transient
			nm, r, _ := reconScores(xb[skip:], yb[skip:])
			a.bandNMSE[b], a.bandR[b] = append(a.bandNMSE[b], nm), append(a.bandR[b], r)
		}
	}
	return nil
}

func filterCausal(sos [][6]float64, x []float64) []float64 {
	f := dsp.NewSOSFilter(sos, 1)
	y := append([]float64(nil), x...)
	f.ProcessInterleaved(y)
	return y
}

// reconScores returns the normalised MSE (error energy over the signal's variance), Pearson's r,
// and the variance explained (1 - var(error)/var(signal)).
func reconScores(x, y []float64) (nmse, r, ve float64) {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxx, syy, sxy, see, me float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
		e := x[i] - y[i]
		see += e * e
		me += e
	}
	me /= n
	varE := see/n - me*me
	if sxx == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	return see / sxx, sxy / math.Sqrt(sxx*syy), 1 - varE/(sxx/n)
}

func meanOf(xs []float64) float64 {
	s := 0.0
	for _, v := range xs {
		s += v
	}
	return s / float64(len(xs))
}

func (a *recAccumulator) finish(sc *tokenScore) {
	sc.nmse, sc.r, sc.ve = meanOf(a.nmse), meanOf(a.r), meanOf(a.ve)
	for _, rs := range a.sideR {
		sc.sideR = append(sc.sideR, meanOf(rs))
	}
	for b := range tokenBands {
		sc.bandNMSE, sc.bandR = append(sc.bandNMSE, meanOf(a.bandNMSE[b])), append(sc.bandR, meanOf(a.bandR[b]))
	}
	for _, counts := range a.counts {
		used, total := 0, 0
		for _, c := range counts {
			total += c
			if c > 0 {
				used++
			}
		}
		h := 0.0
		for _, c := range counts {
			if c > 0 {
				pr := float64(c) / float64(total)
				h -= pr * math.Log(pr)
			}
		}
		sc.usage += float64(used) / float64(len(counts)) / float64(len(a.counts))
		sc.perplexity += math.Exp(h) / float64(len(a.counts))
	}
}

func printTokenScores(r *benchRun, ds *tokenData, scores []*tokenScore) {
	fmt.Fprintf(r.out, "\n%s — learnt on %s\n", ds.name, strings.Join(ds.trainNames, ", "))
	fmt.Fprintf(r.out, "| tokenizer | patch | bits/s/ch total (tokens + float32 side) | NMSE | r | var. expl. | usage | perplexity | streams/core | vs scalar search | tokens/s/core | allocs/frame |\n")
	fmt.Fprintf(r.out, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range scores {
		fmt.Fprintf(r.out, "| %s | %.1f s | %.0f (%.0f + %.0f) | %.3f | %.3f | %.3f | %.2f | %.1f | %.0f | %s | %.3g | %d |\n",
			s.spec.label(), s.spec.patchSec, s.bits+s.sideBits, s.bits, s.sideBits, s.nmse, s.r, s.ve, s.usage, s.perplexity, s.streamsPerCore, s.vsScalar(), s.tokensPerSecPerCore, s.allocs)
	}
	fmt.Fprintf(r.out, "\nper band (r / NMSE of the band-passed reconstruction):\n| tokenizer | patch |")
	for _, b := range tokenBands {
		fmt.Fprintf(r.out, " %s %g-%g Hz |", b.name, b.lo, b.hi)
	}
	fmt.Fprintf(r.out, "\n|---|---|%s\n", strings.Repeat("---|", len(tokenBands)))
	for _, s := range scores {
		fmt.Fprintf(r.out, "| %s | %.1f s |", s.spec.label(), s.spec.patchSec)
		for b := range tokenBands {
			fmt.Fprintf(r.out, " %.3f / %.3f |", s.bandR[b], s.bandNMSE[b])
		}
		fmt.Fprintln(r.out)
	}
	if strings.HasPrefix(ds.name, "EEG") {
		printSideTable(r, scores)
		for _, s := range scores {
			if s.scalarStreamsPerCore > 0 {
				fmt.Fprintf(r.out, "goal >= 1000 64-channel streams per core for the lookup: %s, %.1f s: %.0f streams/core = %.2fx the goal, %.1fx the scalar search's %.0f in this run, %d of %d tokens differ (%s)\n",
					s.spec.label(), s.spec.patchSec, s.streamsPerCore, s.streamsPerCore/1000, s.streamsPerCore/s.scalarStreamsPerCore, s.scalarStreamsPerCore, s.tokenDiffs, s.tokenCount,
					map[bool]string{true: "met", false: "not met"}[s.streamsPerCore >= 1000])
			}
		}
	}
}

// printSideTable shows what each tokenizer keeps when every bit on the wire is counted: the token
// bits plus the side information (each patch's mean and scale), as float32 today or quantised to a
// few bits each, and judges the 40-bits/s goal on those totals.
func printSideTable(r *benchRun, scores []*tokenScore) {
	fmt.Fprintf(r.out, "\nall bits counted (tokens + each patch's mean and scale; r of the reconstruction, total bits/s/channel in brackets):\n")
	fmt.Fprintf(r.out, "| tokenizer | patch | float32 side |")
	for _, b := range sideBitLevels {
		fmt.Fprintf(r.out, " %d+%d bits side |", b, b)
	}
	fmt.Fprintf(r.out, "\n|---|---|---|%s\n", strings.Repeat("---|", len(sideBitLevels)))
	type option struct {
		label      string
		bits, corr float64
	}
	var options []option
	for _, s := range scores {
		total := s.bits + s.sideBits
		fmt.Fprintf(r.out, "| %s | %.1f s | %.3f (%.0f) |", s.spec.label(), s.spec.patchSec, s.r, total)
		options = append(options, option{fmt.Sprintf("%s, %.1f s, float32 side", s.spec.label(), s.spec.patchSec), total, s.r})
		for i, b := range sideBitLevels {
			if i >= len(s.sideR) {
				break
			}
			total := s.bits + float64(2*b)/s.spec.patchSec
			fmt.Fprintf(r.out, " %.3f (%.0f) |", s.sideR[i], total)
			options = append(options, option{fmt.Sprintf("%s, %.1f s, %d+%d-bit side", s.spec.label(), s.spec.patchSec, b, b), total, s.sideR[i]})
		}
		fmt.Fprintln(r.out)
	}
	var met []string
	var bestAt40, leastFor09 *option
	for i := range options {
		o := &options[i]
		if o.bits <= 40 && o.corr >= 0.9 {
			met = append(met, fmt.Sprintf("%s (%.0f bits/s, r %.3f)", o.label, o.bits, o.corr))
		}
		if o.bits <= 40 && (bestAt40 == nil || o.corr > bestAt40.corr) {
			bestAt40 = o
		}
		if o.corr >= 0.9 && (leastFor09 == nil || o.bits < leastFor09.bits) {
			leastFor09 = o
		}
	}
	verdict := "not met"
	if len(met) > 0 {
		verdict = "met by " + strings.Join(met, "; ")
	}
	fmt.Fprintf(r.out, "\ngoal r >= 0.9 at <= 40 bits/s/channel on held-out EEG with per-channel tokens, every bit counted: %s (the joint codec below codes all channels together)\n", verdict)
	if bestAt40 != nil {
		fmt.Fprintf(r.out, "  best r within 40 bits/s: %.3f (%s, %.0f bits/s)\n", bestAt40.corr, bestAt40.label, bestAt40.bits)
	}
	if leastFor09 != nil {
		fmt.Fprintf(r.out, "  fewest bits/s for r >= 0.9: %.0f (%s, r %.3f) = %.2fx the 40-bit budget\n", leastFor09.bits, leastFor09.label, leastFor09.corr, leastFor09.bits/40)
	}
	printWireBytes(r, scores)
}

// printWireBytes shows what one Tokens message of the streaming stage weighs on the wire (protobuf,
// channel keys and stream id included), with the side information as float32 and as a tokenizer
// stage's side_bits sends it.
func printWireBytes(r *benchRun, scores []*tokenScore) {
	fmt.Fprintf(r.out, "\nTokens message bytes per patch on the wire (all channels, keys included; mean over the first held-out run), by side information:\n")
	fmt.Fprintf(r.out, "| tokenizer | patch | channels | float32 side |")
	for _, b := range sideBitLevels {
		fmt.Fprintf(r.out, " side_bits %d |", b)
	}
	fmt.Fprintf(r.out, "\n|---|---|---|---|%s\n", strings.Repeat("---|", len(sideBitLevels)))
	for _, s := range scores {
		if len(s.wireBytes) == 0 {
			continue
		}
		fmt.Fprintf(r.out, "| %s | %.1f s | %d |", s.spec.label(), s.spec.patchSec, s.channels)
		for i, b := range s.wireBytes {
			if i == 0 {
				fmt.Fprintf(r.out, " %.0f |", b)
			} else {
				fmt.Fprintf(r.out, " %.0f (%.2fx) |", b, b/s.wireBytes[0])
			}
		}
		fmt.Fprintln(r.out)
	}
}
