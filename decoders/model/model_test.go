package model

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// synthetic makes two-class epochs at 128 Hz whose class changes the power of one spatial source
// in the 8-30 Hz band and adds an evoked bump (so that every decoder kind has something to find).
func synthetic(nPerClass, nCh, nS int) ([][][]float64, []int) {
	rng := rand.New(rand.NewSource(3))
	mix := make([][]float64, nCh)
	for i := range mix {
		mix[i] = make([]float64, nCh)
		for j := range mix[i] {
			mix[i][j] = rng.NormFloat64()
		}
	}
	var xs [][][]float64
	var ys []int
	for k := 0; k < 2; k++ {
		for n := 0; n < nPerClass; n++ {
			src := make([][]float64, nCh)
			for c := range src {
				src[c] = make([]float64, nS)
				for s := range src[c] {
					src[c][s] = rng.NormFloat64()
				}
			}
			for s := 0; s < nS; s++ {
				src[k][s] *= 3
				src[2][s] += float64(k) * 2 * math.Sin(math.Pi*float64(s)/float64(nS))
			}
			ep := make([][]float64, nCh)
			for c := range ep {
				ep[c] = make([]float64, nS)
				for j := range src {
					for s := range ep[c] {
						ep[c][s] += mix[c][j] * src[j][s]
					}
				}
			}
			xs, ys = append(xs, ep), append(ys, k)
		}
	}
	return xs, ys
}

func spec(kind Kind, nCh int) Spec {
	ch := make([]string, nCh)
	for i := range ch {
		ch[i] = "E" + string(rune('A'+i))
	}
	return Spec{Kind: kind, Channels: ch, SampleRateHz: 128, Filter: Filter{Type: "butter", Order: 4, BandHz: [2]float64{8, 30}, Causal: true},
		TminSec: 0, TmaxSec: 0.5, Classes: []string{"rest", "move"}, NFilter: 2}
}

func streamFor(s Spec) streams.StreamInfo {
	info := streams.StreamInfo{StreamID: "test", SampleRateHz: s.SampleRateHz}
	// Extra channel first and reversed order, so Bind has to map by name.
	info.Channels = append(info.Channels, streams.Channel{Name: "Status", Type: streams.ChannelStim})
	for i := len(s.Channels) - 1; i >= 0; i-- {
		info.Channels = append(info.Channels, streams.Channel{Name: strings.ToLower(s.Channels[i]) + "..", Type: streams.ChannelEEG})
	}
	return info
}

func TestEveryKindFitsSavesLoadsAndDecodesWithoutAllocating(t *testing.T) {
	xs, ys := synthetic(20, 6, 65)
	for _, kind := range Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			sp := spec(kind, 6)
			f, err := Fit(sp, xs, ys, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Training.DataSHA256) != 64 || f.WindowSamples != 65 {
				t.Fatalf("hash %q window %d", f.Training.DataSHA256, f.WindowSamples)
			}
			path := filepath.Join(t.TempDir(), "m.json")
			if err := f.Save(path); err != nil {
				t.Fatal(err)
			}
			wd, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			direct, err := New(f)
			if err != nil {
				t.Fatal(err)
			}
			idx, err := wd.Bind(streamFor(sp))
			if err != nil {
				t.Fatal(err)
			}
			for i, j := range idx {
				if j != 6-i {
					t.Fatalf("Bind mapped model channel %d to stream channel %d, want %d", i, j, 6-i)
				}
			}
			correct := 0
			var pred streams.Prediction
			for i, ep := range xs {
				if err := wd.Decode(ep, &pred); err != nil {
					t.Fatal(err)
				}
				c, p, err := direct.Classify(ep)
				if err != nil {
					t.Fatal(err)
				}
				if pred.Label != sp.Classes[c] || math.Abs(pred.Scores[c].Value-p[c]) > 1e-12 {
					t.Fatalf("loaded model decodes %q %v, fitted one %q %v", pred.Label, pred.Scores, sp.Classes[c], p)
				}
				sum := 0.0
				for _, s := range pred.Scores {
					sum += s.Value
				}
				if math.Abs(sum-1) > 1e-9 {
					t.Fatalf("probabilities sum to %v", sum)
				}
				if c == ys[i] {
					correct++
				}
			}
			if acc := float64(correct) / float64(len(xs)); acc < 0.8 {
				t.Errorf("training accuracy %.2f on separable synthetic data", acc)
			}
			if a := testing.AllocsPerRun(20, func() { _ = wd.Decode(xs[0], &pred) }); a != 0 {
				t.Errorf("%v allocations per Decode", a)
			}
		})
	}
}

func TestBindAndLoadErrors(t *testing.T) {
	xs, ys := synthetic(10, 4, 40)
	sp := spec(CSPLDA, 4)
	f, err := Fit(sp, xs, ys, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	info := streamFor(sp)
	info.SampleRateHz = 256
	if _, err := d.Bind(info); err == nil || !strings.Contains(err.Error(), "128 Hz") {
		t.Errorf("rate mismatch: %v", err)
	}
	info = streamFor(sp)
	info.Channels = info.Channels[:3]
	if _, err := d.Bind(info); err == nil || !strings.Contains(err.Error(), "EA") {
		t.Errorf("missing channel: %v", err)
	}
	if err := d.Decode(xs[0][:2], &streams.Prediction{}); err == nil {
		t.Error("window with too few channels decoded")
	}
	dir := t.TempDir()
	f.FormatVersion = 99
	p := filepath.Join(dir, "v99.json")
	if err := f.Save(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("future version: %v", err)
	}
	f.FormatVersion, f.LDA = FormatVersion, nil
	if err := f.Save(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Error("csp-lda model without lda loaded")
	}
	os.WriteFile(p, []byte("{not json"), 0o644)
	if _, err := Load(p); err == nil {
		t.Error("garbage loaded")
	}
	if _, err := Fit(Spec{Kind: "svm", Channels: sp.Channels, Classes: sp.Classes}, xs, ys, nil); err == nil {
		t.Error("unknown kind fitted")
	}
}

// A new session whose amplitudes are all 20x larger (a gain change) breaks MDM and tangent space
// trained on the old one; re-centering both sessions on their own means makes the decisions
// identical to those on the unchanged data.
func TestRecenteringUndoesASessionGainChange(t *testing.T) {
	xs0, ys0 := synthetic(20, 6, 65)
	// Interleave the classes, as trials are in a real session: the online reference is a running
	// mean over the trials in order.
	var xs [][][]float64
	var ys []int
	for i := 0; i < 20; i++ {
		xs, ys = append(xs, xs0[i], xs0[20+i]), append(ys, ys0[i], ys0[20+i])
	}
	shifted := make([][][]float64, len(xs))
	for i, ep := range xs {
		shifted[i] = make([][]float64, len(ep))
		for c, row := range ep {
			shifted[i][c] = make([]float64, len(row))
			for s, v := range row {
				shifted[i][c][s] = 20 * v
			}
		}
	}
	accuracy := func(f *File, data [][][]float64) (float64, []int) {
		d, err := New(f)
		if err != nil {
			t.Fatal(err)
		}
		var pred []int
		ok := 0
		for i, ep := range data {
			c, _, err := d.Classify(ep)
			if err != nil {
				t.Fatal(err)
			}
			pred = append(pred, c)
			if c == ys[i] {
				ok++
			}
		}
		return float64(ok) / float64(len(data)), pred
	}
	for _, kind := range []Kind{MDM, TSLR} {
		plain, err := Fit(spec(kind, 6), xs, ys, nil)
		if err != nil {
			t.Fatal(err)
		}
		sp := spec(kind, 6)
		sp.Recenter = true
		rc, err := Fit(sp, xs, ys, nil)
		if err != nil {
			t.Fatal(err)
		}
		accPlain, _ := accuracy(plain, shifted)
		accSame, predSame := accuracy(rc, xs)
		accShift, predShift := accuracy(rc, shifted)
		t.Logf("%s: without re-centering %.2f on the 20x session; with: %.2f (unchanged session %.2f)", kind, accPlain, accShift, accSame)
		for i := range predSame {
			if predSame[i] != predShift[i] {
				t.Fatalf("%s: trial %d decided %d on the unchanged session, %d on the 20x one", kind, i, predSame[i], predShift[i])
			}
		}
		if !(accShift > accPlain) {
			t.Errorf("%s: re-centering did not help (%.2f vs %.2f)", kind, accShift, accPlain)
		}
	}
	sp := spec(CSPLDA, 6)
	sp.Recenter = true
	if _, err := Fit(sp, xs, ys, nil); err == nil {
		t.Error("re-centering accepted for csp-lda")
	}
}

func TestDefaultBands(t *testing.T) {
	got := DefaultBands(8, 30)
	want := [][2]float64{{8, 12}, {12, 16}, {16, 20}, {20, 24}, {24, 30}}
	if len(got) != len(want) {
		t.Fatalf("bands %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bands %v, want %v", got, want)
		}
	}
}
