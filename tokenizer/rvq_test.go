package tokenizer

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// The search (|c|^2 - 2 c.x) finds the codeword nearest by squared distance (or one as near to
// rounding), on random codebooks and patches and on a codebook learnt from EEG.
func TestNearestEqualsFullScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(name string, words [][]float64, patches [][]float64) {
		p := len(words[0])
		cb := &Codebook{Version: FormatVersion, Name: name, SampleRateHz: 100, PatchSamples: p, Normalisation: PatchZScore, Codewords: words}
		q, err := NewQuantizer(cb)
		if err != nil {
			t.Fatal(err)
		}
		var tok [1]uint16
		for i, x := range patches {
			z := append([]float64(nil), x...)
			_ = q.Encode(z, tok[:])
			best, bestD := 0, math.Inf(1)
			for k, w := range words {
				if d := sqDist(x, w); d < bestD {
					best, bestD = k, d
				}
			}
			if got := sqDist(x, words[tok[0]]); int(tok[0]) != best && got > bestD*(1+1e-12) {
				t.Fatalf("%s patch %d: token %d at %g, full scan %d at %g", name, i, tok[0], got, best, bestD)
			}
		}
	}
	for _, k := range []int{1, 2, 17, 256} {
		for _, p := range []int{2, 5, 32} {
			words := make([][]float64, k)
			for i := range words {
				words[i] = make([]float64, p)
				for d := range words[i] {
					words[i][d] = rng.NormFloat64()
				}
			}
			patches := make([][]float64, 300)
			for i := range patches {
				patches[i] = make([]float64, p)
				for d := range patches[i] {
					patches[i][d] = 2 * rng.NormFloat64()
				}
			}
			patches = append(patches, words[0], make([]float64, p)) // a codeword itself, and a flat patch
			check("random", words, patches)
		}
	}
	recs, names := readRuns(t, "S001R01.edf")
	cb, err := Train(context.Background(), recs, names, TrainConfig{PatchSec: 0.2, BandHz: [2]float64{1, 40}, Codewords: 128, MaxPatches: 8000, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	test, _ := readRuns(t, "S001R02.edf")
	x := Patches(nil, test[0].Data[:8], cb.PatchSamples)
	var patches [][]float64
	for i := 0; i+cb.PatchSamples <= len(x); i += cb.PatchSamples {
		patches = append(patches, x[i:i+cb.PatchSamples])
	}
	check("eeg", cb.Codewords, patches)
}

// Residual stages learnt on two runs reconstruct a third, unseen run better with every stage; the
// streaming tokenizer emits what offline encoding gives, stage by stage, without allocating; and
// detokenizing its messages gives back the offline reconstruction.
func TestResidualVQ(t *testing.T) {
	recs, names := readRuns(t, "S001R01.edf", "S001R02.edf")
	test, _ := readRuns(t, "S001R03.edf")
	cfg := TrainConfig{PatchSec: 0.2, BandHz: [2]float64{1, 40}, Seed: 1, MaxPatches: 6000, MaxIter: 60, Codewords: 32, Stages: 4}
	cb, err := Train(context.Background(), recs, names, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Stages() != 4 || cb.Name != "rvq-4x32" || len(cb.Training.StageMSE) != 4 || strings.Join(cb.ChannelTypes, ",") != "eeg" {
		t.Fatalf("codebook %s: %d stages, stage MSE %v, types %v", cb.Name, cb.Stages(), cb.Training.StageMSE, cb.ChannelTypes)
	}
	errs := make([]float64, 4)
	for s := range 4 {
		sub := *cb
		sub.Residual = cb.Residual[:s]
		errs[s] = shapeError(t, &sub, test[0], cfg)
	}
	t.Logf("held-out shape error by stages: %.3f", errs)
	for s := 1; s < 4; s++ {
		if !(errs[s] < 0.95*errs[s-1]) {
			t.Fatalf("stage %d does not reduce the held-out error: %v", s+1, errs)
		}
	}

	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	rec := test[0]
	tk, err := q.NewTokenizer(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	p, nch := cb.PatchSamples, len(rec.Data)
	frame := make([]float32, 8*nch)
	tokens, scratch, want := make([]uint16, 4), make([]float64, 2*p), make([]float64, p)
	var out []float32
	patches := 0
	emit := func(tok *streams.Tokens) error {
		if tok.Stages != 4 || len(tok.Tokens) != 4*nch || tok.TokensPerChannel() != 4 || tok.ChannelKeys[10] != "eeg:"+rec.Info.Channels[10].Name {
			t.Fatalf("message shape: %d stages, %d tokens, key %q", tok.Stages, len(tok.Tokens), tok.ChannelKeys[10])
		}
		start := patches * p
		x := make([]float64, p)
		var err error
		if out, err = q.Detokenize(tok, out, scratch); err != nil {
			t.Fatal(err)
		}
		for _, c := range []int{0, 21, 63} {
			for i := range x {
				x[i] = float64(float32(rec.Data[c][start+i]))
			}
			mean, std, err := q.EncodePatch(x, tokens, scratch)
			if err != nil {
				t.Fatal(err)
			}
			for s := range 4 {
				if tok.Tokens[c*4+s] != tokens[s] {
					t.Fatalf("patch %d channel %d stage %d: token %d, offline %d", patches, c, s, tok.Tokens[c*4+s], tokens[s])
				}
			}
			q.DecodePatch(want, tokens, float64(float32(mean)), float64(float32(std)))
			for i := range want {
				if out[i*nch+c] != float32(want[i]) {
					t.Fatalf("patch %d channel %d sample %d: detokenized %g, offline %g", patches, c, i, out[i*nch+c], want[i])
				}
			}
		}
		patches++
		return nil
	}
	for s := 0; s+8 <= 800; s += 8 {
		for i := range 8 {
			for c := range nch {
				frame[i*nch+c] = float32(rec.Data[c][s+i])
			}
		}
		if err := tk.Push(frame, 8, 0, emit); err != nil {
			t.Fatal(err)
		}
	}
	if patches != 800/p {
		t.Fatalf("%d patches", patches)
	}
	noop := func(*streams.Tokens) error { return nil }
	if a := testing.AllocsPerRun(100, func() { _ = tk.Push(frame, 8, 0, noop) }); a != 0 {
		t.Fatalf("Push allocates %v times per frame", a)
	}
}

// The mu-law tokenizer quantises every normalised sample: the round trip error is within half a
// level step of the companded value, tokens grow with the sample, and clipping is at +-ClipZ.
func TestMuLaw(t *testing.T) {
	cb := NewMuLaw(160, 32, 256, 4, [2]float64{1, 40}, []string{"eeg"})
	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	if cb.TokensPerChannel() != 32 || cb.TokenBitsPerSecond() != 8*160 {
		t.Fatalf("%d tokens per channel, %g bits/s", cb.TokensPerChannel(), cb.TokenBitsPerSecond())
	}
	z := make([]float64, 32)
	for i := range z {
		z[i] = -5 + 10*float64(i)/31
	}
	orig := append([]float64(nil), z...)
	tokens := make([]uint16, 32)
	_ = q.Encode(z, tokens)
	back := make([]float64, 32)
	q.Decode(back, tokens)
	for i := range orig {
		if i > 0 && tokens[i] < tokens[i-1] {
			t.Fatalf("tokens not monotonic: %v", tokens)
		}
		want := math.Max(-4, math.Min(4, orig[i]))
		// Companding step at v: d(z)/d(f) = clip * ln(1+mu) * (1+mu|v|)/mu, f step = 2/255.
		v := math.Abs(want) / 4
		step := 4 * math.Log1p(255) * (1 + 255*v) / 255 * 2 / 255
		if math.Abs(back[i]-want) > step/2+1e-12 {
			t.Fatalf("z %g: decoded %g, step %g", orig[i], back[i], step)
		}
	}
	if tokens[0] != 0 || tokens[31] != 255 {
		t.Fatalf("clipped extremes: %d, %d", tokens[0], tokens[31])
	}
}

// A stream that does not fit the codebook's contract is refused with the reason; channels of
// non-signal types are left out of the tokens.
func TestContractRefusesStreamsThatDoNotFit(t *testing.T) {
	cb := NewMuLaw(250, 50, 16, 4, [2]float64{}, []string{"eeg"})
	eeg := streams.Channel{Name: "Cz", Type: streams.ChannelEEG}
	stim := streams.Channel{Name: "STI 014", Type: streams.ChannelStim}
	mag := streams.Channel{Name: "MEG 0111", Type: streams.ChannelMEGMag}
	for name, tc := range map[string]struct {
		info streams.StreamInfo
		want string
	}{
		"rate":        {streams.StreamInfo{StreamID: "s", SampleRateHz: 160, Channels: []streams.Channel{eeg}}, "runs at 160 Hz"},
		"MEG for EEG": {streams.StreamInfo{StreamID: "s", SampleRateHz: 250, Channels: []streams.Channel{eeg, mag}}, "mag:MEG 0111"},
		"no EEG":      {streams.StreamInfo{StreamID: "s", SampleRateHz: 250, Channels: []streams.Channel{stim}}, "no channel of the codebook's modality (eeg)"},
		"no channels": {streams.StreamInfo{StreamID: "s", SampleRateHz: 250}, "no channels"},
	} {
		if _, err := New(cb, tc.info); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
	}
	tk, err := New(cb, streams.StreamInfo{StreamID: "s", SampleRateHz: 250, Channels: []streams.Channel{stim, eeg}})
	if err != nil {
		t.Fatal(err)
	}
	if ch := tk.Channels(); len(ch) != 1 || ch[0] != 1 {
		t.Fatalf("tokenized channels %v, want [1] (the stim line left out)", ch)
	}
	// An MEG codebook takes magnetometers and gradiometers alike.
	meg := NewMuLaw(250, 50, 16, 4, [2]float64{}, []string{"grad", "mag"})
	grad := streams.Channel{Name: "MEG 0112", Type: streams.ChannelMEGGrad}
	if _, err := New(meg, streams.StreamInfo{StreamID: "m", SampleRateHz: 250, Channels: []streams.Channel{mag, grad, stim}}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(meg, streams.StreamInfo{StreamID: "m", SampleRateHz: 250, Channels: []streams.Channel{mag, eeg}}); err == nil {
		t.Fatal("an MEG codebook accepted EEG channels")
	}
}

// Tokens from another codebook, or of another shape, are refused by the detokenizer.
func TestDetokenizeRefusesForeignTokens(t *testing.T) {
	cb := NewMuLaw(250, 4, 16, 4, [2]float64{}, nil)
	q, _ := NewQuantizer(cb)
	good := streams.Tokens{StreamID: "s", Codebook: cb.Name, CodebookVersion: cb.Fingerprint(), PatchSamples: 4, Stages: 1,
		Tokens: []uint16{0, 5, 10, 15}, Offsets: []float32{1}, Scales: []float32{2}, ChannelKeys: []string{"eeg:Cz"}}
	scratch := make([]float64, 4)
	if _, err := q.Detokenize(&good, nil, scratch); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*streams.Tokens){
		"version": func(t *streams.Tokens) { t.CodebookVersion++ },
		"name":    func(t *streams.Tokens) { t.Codebook = "other" },
		"shape":   func(t *streams.Tokens) { t.Tokens = t.Tokens[:3] },
		"level":   func(t *streams.Tokens) { t.Tokens = []uint16{0, 5, 10, 16} },
	} {
		bad := good
		bad.Tokens = append([]uint16(nil), good.Tokens...)
		edit(&bad)
		if _, err := q.Detokenize(&bad, nil, scratch); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Codebook files of the new format are checked field by field, and format 1 files still load.
func TestCodebookFormat2Checks(t *testing.T) {
	good := func() *Codebook {
		return &Codebook{Version: FormatVersion, Name: "t", Method: MethodVQ, SampleRateHz: 100, PatchSamples: 2, Normalisation: PatchZScore,
			ChannelTypes: []string{"eeg"}, Codewords: [][]float64{{1, 2}}, Residual: [][][]float64{{{0, 1}, {1, 0}}}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for want, edit := range map[string]func(*Codebook){
		"residual_stages[0][1]":    func(c *Codebook) { c.Residual[0][1] = []float64{1} },
		"residual_stages[0] has 0": func(c *Codebook) { c.Residual[0] = nil },
		"channel_types":            func(c *Codebook) { c.ChannelTypes = []string{"stim"} },
		"method":                   func(c *Codebook) { c.Method = "lfq" },
		"band_hz":                  func(c *Codebook) { c.BandHz = [2]float64{1, 60} },
		"mulaw_levels":             func(c *Codebook) { c.Method, c.Codewords, c.Residual, c.MuLawClipZ = MethodMuLaw, nil, nil, 4 },
		"version 1":                func(c *Codebook) { c.Version = 1 },
	} {
		c := good()
		edit(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v", want, err)
		}
	}
	v1, err := Load("testdata/synthetic-kmeans-64-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if v1.Stages() != 1 || v1.Modality() != "any" {
		t.Fatalf("format 1 codebook: %d stages, modality %s", v1.Stages(), v1.Modality())
	}
}
