package features

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

type featureRef struct {
	FsHz     float64  `json:"fs_hz"`
	Channels []string `json:"channels"`
	Windows  []struct {
		Source   string      `json:"source"`
		Data     [][]float64 `json:"data"`
		Features []struct {
			Config ExtractorConfig `json:"config"`
			Names  []string        `json:"names"`
			Values []float64       `json:"values"`
		} `json:"features"`
	} `json:"windows"`
}

func loadFeatureRef(t testing.TB) *featureRef {
	t.Helper()
	b, err := os.ReadFile("testdata/features_reference.json")
	if err != nil {
		t.Fatalf("reading fixture (regenerate with tools/features_reference.py): %v", err)
	}
	var r featureRef
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decoding fixture: %v", err)
	}
	return &r
}

func (r *featureRef) info() streams.StreamInfo {
	info := streams.StreamInfo{StreamID: "S001", SampleRateHz: r.FsHz}
	for _, n := range r.Channels {
		info.Channels = append(info.Channels, streams.Channel{Name: n, Type: streams.ChannelEEG, Unit: "V"})
	}
	return info
}

// tolerance is the allowed relative error per kind, relative to the largest |value| among values of the
// same feature prefix in that window (features that are near zero only by cancellation, such as
// off-diagonal covariances, are not held to a per-value relative bound).
func tolerance(kind string) float64 {
	switch kind {
	case "aperiodic", "dfa":
		return 1e-9 // numpy.polyfit (QR/lstsq) against closed-form least squares
	case "connectivity", "pac":
		return 1e-9
	}
	return 1e-10
}

func TestExtractorsMatchReference(t *testing.T) {
	r := loadFeatureRef(t)
	info := r.info()
	for _, w := range r.Windows {
		for _, f := range w.Features {
			name := f.Config.Kind + "/" + f.Config.Estimator
			t.Run(w.Source+"/"+name, func(t *testing.T) {
				e, err := New(f.Config)
				if err != nil {
					t.Fatal(err)
				}
				names, err := e.Configure(info, len(w.Data[0]))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(names, ",") != strings.Join(f.Names, ",") {
					t.Fatalf("names differ:\n go  %v\n ref %v", names, f.Names)
				}
				got := make([]float64, len(names))
				if err := e.Extract(w.Data, got); err != nil {
					t.Fatal(err)
				}
				scale := map[string]float64{}
				prefix := func(n string) string { return strings.SplitN(n, "/", 2)[0] }
				for i, n := range names {
					scale[prefix(n)] = math.Max(scale[prefix(n)], math.Abs(f.Values[i]))
				}
				tol := tolerance(f.Config.Kind)
				var worst float64
				for i, n := range names {
					s := scale[prefix(n)]
					if s == 0 {
						s = 1
					}
					d := math.Abs(got[i]-f.Values[i]) / s
					worst = math.Max(worst, d)
					if d > tol || math.IsNaN(got[i]) {
						t.Errorf("%s = %.17g, reference %.17g (error %.3g of scale, tolerance %g)", n, got[i], f.Values[i], d, tol)
					}
				}
				t.Logf("%d values, worst error %.3g of scale", len(names), worst)
			})
		}
	}
}

func TestExtractAllocatesNothing(t *testing.T) {
	r := loadFeatureRef(t)
	info := r.info()
	w := r.Windows[0]
	seen := map[string]bool{}
	for _, f := range w.Features {
		if seen[f.Config.Kind] {
			continue
		}
		seen[f.Config.Kind] = true
		e, err := New(f.Config)
		if err != nil {
			t.Fatal(err)
		}
		names, err := e.Configure(info, len(w.Data[0]))
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float64, len(names))
		if a := testing.AllocsPerRun(5, func() { _ = e.Extract(w.Data, dst) }); a != 0 {
			t.Errorf("%s: %v allocations per window, want 0", f.Config.Kind, a)
		}
	}
}

// Occipital alpha separates eyes closed (R02) from eyes open (R01), the known fact of this data set.
func TestAlphaRelativePowerHigherWithEyesClosed(t *testing.T) {
	r := loadFeatureRef(t)
	info := r.info()
	e := NewBandPower(ExtractorConfig{Channels: []string{"O1..", "Oz..", "O2.."}, Bands: []Band{{"alpha", 8, 13}}, TotalRangeHz: [2]float64{1, 40}})
	names, err := e.Configure(info, len(r.Windows[0].Data[0]))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, len(names))
	mean := map[string]float64{}
	for _, w := range r.Windows {
		if err := e.Extract(w.Data, dst); err != nil {
			t.Fatal(err)
		}
		run := w.Source[:len("S001R0x")]
		for i, n := range names {
			if strings.HasPrefix(n, "alpha_rel") {
				mean[run] += dst[i]
			}
		}
	}
	if !(mean["S001R02"] > 1.5*mean["S001R01"]) {
		t.Errorf("relative occipital alpha: eyes closed %.3g, eyes open %.3g; want closed > 1.5x open", mean["S001R02"], mean["S001R01"])
	}
}

func TestBadConfigAndInputAreErrors(t *testing.T) {
	r := loadFeatureRef(t)
	info := r.info()
	n := len(r.Windows[0].Data[0])
	if _, err := Build([]ExtractorConfig{{Kind: "bandpower"}, {Kind: "wavelets"}}); err == nil || !strings.Contains(err.Error(), "features[1]") {
		t.Errorf("Build with an unknown kind: err = %v, want one naming features[1]", err)
	}
	if _, err := New(ExtractorConfig{Kind: "covariance", Estimator: "graphical_lasso"}); err == nil {
		t.Error("unknown covariance estimator accepted")
	}
	if _, err := New(ExtractorConfig{Kind: "connectivity", Measures: []string{"granger"}}); err == nil {
		t.Error("unknown connectivity measure accepted")
	}
	badConfigure := []ExtractorConfig{
		{Kind: "bandpower", Channels: []string{"nope"}},
		{Kind: "bandpower", Bands: []Band{{"ultra", 90, 120}}},
		{Kind: "bandpower", Bands: []Band{{"inverted", 10, 8}}},
		{Kind: "connectivity", Channels: []string{"O1.."}},
		{Kind: "dfa", MinScaleSamples: 200, MaxScaleSamples: 100},
		{Kind: "avalanches", ThresholdSD: -1},
		{Kind: "pac", PhaseBandHz: [2]float64{0.01, 0.02}},
		{Kind: "spectral_edge", EdgeFraction: 2},
	}
	for _, c := range badConfigure {
		e, err := New(c)
		if err != nil {
			continue
		}
		if _, err := e.Configure(info, n); err == nil {
			t.Errorf("Configure accepted %+v", c)
		}
	}
	e, err := New(ExtractorConfig{Kind: "hjorth"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Extract(r.Windows[0].Data, make([]float64, 21)); err == nil {
		t.Error("Extract before Configure accepted")
	}
	names, err := e.Configure(info, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Extract(r.Windows[0].Data[:3], make([]float64, len(names))); err == nil {
		t.Error("Extract accepted a window with too few channels")
	}
	short := make([][]float64, len(info.Channels))
	for i := range short {
		short[i] = make([]float64, n-1)
	}
	if err := e.Extract(short, make([]float64, len(names))); err == nil {
		t.Error("Extract accepted a window of the wrong length")
	}
	if err := e.Extract(r.Windows[0].Data, make([]float64, 1)); err == nil {
		t.Error("Extract accepted an output of the wrong length")
	}
}

// The blocked Gram product equals the plain dot-product loop exactly, for every channel count around
// the 2x4 blocking (odd rows, partial column blocks).
func TestCovarianceGramEqualsPlainLoop(t *testing.T) {
	const n = 37
	for p := 1; p <= 11; p++ {
		e := &Covariance{centred: make([][]float64, p), cov: make([]float64, p*p)}
		for i := range e.centred {
			e.centred[i] = make([]float64, n)
			for s := range e.centred[i] {
				e.centred[i][s] = math.Sin(float64(i*n+s)*0.7) * float64(i+1)
			}
		}
		e.gram(n)
		for i := 0; i < p; i++ {
			for j := 0; j < p; j++ {
				var s float64
				for t := 0; t < n; t++ {
					s += e.centred[i][t] * e.centred[j][t]
				}
				if got := e.cov[i*p+j]; got != s/n {
					t.Fatalf("p=%d: cov[%d][%d] = %v, plain loop %v", p, i, j, got, s/n)
				}
			}
		}
	}
}

// A Set returns exactly the values of its extractors run one by one, on every fixture window (real
// EEG) and twice in a row (the spectra of the first window must not leak into the second), while
// spectral extractors with the same Welch parameters share one spectrum and different ones do not.
func TestSetEqualsExtractorsAlone(t *testing.T) {
	r := loadFeatureRef(t)
	info := r.info()
	half := 0.25
	cfg := []ExtractorConfig{
		{Kind: "bandpower"},
		{Kind: "aperiodic"},
		{Kind: "peak_alpha", Channels: r.Channels[:2]},
		{Kind: "spectral_edge", Welch: WelchParams{OverlapFrac: &half}},
		{Kind: "covariance"},
		{Kind: "hjorth"},
		{Kind: "bandpower", Welch: WelchParams{SegmentSec: 0.5}},
	}
	set, err := NewSet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := len(r.Windows[0].Data[0])
	names, err := set.Configure(info, n)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(set.spectra.entries); got != 3 {
		t.Errorf("%d distinct spectra, want 3 (default, 25%% overlap, 0.5-s segments)", got)
	}
	got := make([]float64, len(names))
	for rep := 0; rep < 2; rep++ {
		for wi, w := range r.Windows {
			if len(w.Data[0]) != n {
				continue
			}
			if err := set.Extract(w.Data, got); err != nil {
				t.Fatal(err)
			}
			off := 0
			for i, c := range cfg {
				e, err := New(c)
				if err != nil {
					t.Fatal(err)
				}
				en, err := e.Configure(info, n)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]float64, len(en))
				if err := e.Extract(w.Data, want); err != nil {
					t.Fatal(err)
				}
				for k, v := range want {
					if g := got[off+k]; g != v && !(math.IsNaN(g) && math.IsNaN(v)) {
						t.Fatalf("window %d, extractor %d (%s): %s = %v in the set, %v alone", wi, i, c.Kind, names[off+k], g, v)
					}
				}
				off += len(en)
			}
			if off != len(names) {
				t.Fatalf("set has %d names, extractors alone %d", len(names), off)
			}
		}
	}
	if err := set.Extract(r.Windows[0].Data, got[1:]); err == nil {
		t.Error("short output accepted")
	}
}

// lempelZiv76BitByBit is Kaspar & Schuster's published algorithm, one bit at a time: the reference
// the word-at-a-time lempelZiv76 must agree with.
func lempelZiv76BitByBit(s []bool) int {
	n := len(s)
	i, k, l, kMax, c := 0, 1, 1, 1, 1
	for {
		if s[i+k-1] == s[l+k-1] {
			k++
			if l+k > n {
				c++
				break
			}
		} else {
			kMax = max(kMax, k)
			i++
			if i == l {
				c++
				l += kMax
				if l+1 > n {
					break
				}
				i, k, kMax = 0, 1, 1
			} else {
				k = 1
			}
		}
	}
	return c
}

// The packed LZ76 count equals the bit-by-bit algorithm on random, periodic, constant and
// slowly-switching sequences of every length from 2 to 300 and some longer ones.
func TestLempelZiv76EqualsBitByBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	lengths := []int{}
	for n := 2; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 500, 512, 1000, 2047)
	gens := map[string]func(t, n int) bool{
		"random":   func(int, int) bool { return rng.IntN(2) == 1 },
		"constant": func(int, int) bool { return true },
		"period-3": func(t, _ int) bool { return t%3 == 0 },
		"runs":     func(t, _ int) bool { return (t/17+t/5)%2 == 0 },
		"tail":     func(t, n int) bool { return t > n/2 && rng.IntN(4) == 0 },
	}
	for name, gen := range gens {
		for _, n := range lengths {
			b := make([]bool, n)
			packed := make([]uint64, n/64+2)
			for t := range b {
				b[t] = gen(t, n)
				if b[t] {
					packed[t>>6] |= 1 << (t & 63)
				}
			}
			if got, want := lempelZiv76(packed, n), lempelZiv76BitByBit(b); got != want {
				t.Fatalf("%s, n=%d: %d phrases, bit-by-bit %d", name, n, got, want)
			}
		}
	}
}

// median equals numpy.median computed by sorting, with duplicates, odd and even lengths.
func TestMedianBySelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := 1; n <= 200; n++ {
		for _, levels := range []int{2, 5, 1 << 30} {
			x := make([]float64, n)
			for i := range x {
				x[i] = float64(rng.IntN(levels)) + 0.25
			}
			s := slices.Clone(x)
			slices.Sort(s)
			want := s[n/2]
			if n%2 == 0 {
				want = (s[n/2-1] + s[n/2]) / 2
			}
			if got := median(make([]float64, n), x); got != want {
				t.Fatalf("n=%d levels=%d: median %v, sorted %v", n, levels, got, want)
			}
		}
	}
}
