package spectral

import (
	"encoding/json"
	"math"
	"math/cmplx"
	"os"
	"testing"
)

type refConfig struct {
	NPerSeg  int    `json:"nperseg"`
	NOverlap *int   `json:"noverlap"`
	NFFT     int    `json:"nfft"`
	Window   string `json:"window"`
	Detrend  any    `json:"detrend"`
	Scaling  string `json:"scaling"`
	Average  string `json:"average"`
}

func (c refConfig) welch(fs float64) WelchConfig {
	cfg := WelchConfig{FsHz: fs, NPerSeg: c.NPerSeg, NOverlap: -1, NFFT: c.NFFT, Window: c.Window, Scaling: c.Scaling, Average: c.Average}
	if c.NOverlap != nil {
		cfg.NOverlap = *c.NOverlap
	}
	switch d := c.Detrend.(type) {
	case string:
		cfg.Detrend = d
	case bool:
		if !d {
			cfg.Detrend = "none"
		}
	}
	return cfg
}

type reference struct {
	FsHz  float64     `json:"fs_hz"`
	X     [][]float64 `json:"x"`
	Welch []struct {
		Name    string    `json:"name"`
		Channel int       `json:"channel"`
		Config  refConfig `json:"config"`
		Freqs   []float64 `json:"freqs"`
		PSD     []float64 `json:"psd"`
	} `json:"welch"`
	CSD []struct {
		Name   string    `json:"name"`
		X      int       `json:"x"`
		YIdx   int       `json:"y"`
		Config refConfig `json:"config"`
		Re     []float64 `json:"re"`
		ImV    []float64 `json:"im"`
	} `json:"csd"`
	Coherence struct {
		X      int       `json:"x"`
		Y      int       `json:"y"`
		Config refConfig `json:"config"`
		Coh    []float64 `json:"coh"`
	} `json:"coherence"`
	Hilbert []struct {
		N  int       `json:"n"`
		Re []float64 `json:"re"`
		Im []float64 `json:"im"`
	} `json:"hilbert"`
	Alpha struct {
		X        []float64 `json:"x"`
		Envelope []float64 `json:"envelope"`
		Phase    []float64 `json:"phase"`
	} `json:"alpha_hilbert"`
	Windows map[string]map[string][]float64 `json:"windows"`
}

func loadReference(t testing.TB) *reference {
	t.Helper()
	b, err := os.ReadFile("testdata/spectral_reference.json")
	if err != nil {
		t.Fatalf("reading fixture (regenerate with tools/spectral_reference.py): %v", err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decoding fixture: %v", err)
	}
	return &r
}

// maxRelErr returns max |got-want| / max|want|: relative to the spectrum's scale, so bins that scipy
// itself only knows to rounding of the peak do not dominate.
func maxRelErr(got, want []float64) float64 {
	var scale, worst float64
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i := range want {
		worst = math.Max(worst, math.Abs(got[i]-want[i]))
	}
	return worst / scale
}

// maxBinRelErr returns the largest per-bin relative error |got-want|/|want|.
func maxBinRelErr(got, want []float64) float64 {
	var worst float64
	for i := range want {
		if want[i] != 0 {
			worst = math.Max(worst, math.Abs(got[i]-want[i])/math.Abs(want[i]))
		}
	}
	return worst
}

func TestWelchMatchesScipy(t *testing.T) {
	r := loadReference(t)
	for _, c := range r.Welch {
		t.Run(c.Name, func(t *testing.T) {
			w, err := NewWelch(c.Config.welch(r.FsHz))
			if err != nil {
				t.Fatal(err)
			}
			if len(w.Freqs()) != len(c.Freqs) {
				t.Fatalf("%d bins, scipy %d", len(w.Freqs()), len(c.Freqs))
			}
			for i, f := range c.Freqs {
				if w.Freqs()[i] != f {
					t.Fatalf("freq[%d] = %v, scipy %v", i, w.Freqs()[i], f)
				}
			}
			psd := make([]float64, len(c.PSD))
			if err := w.PSD(r.X[c.Channel], psd); err != nil {
				t.Fatal(err)
			}
			e := maxBinRelErr(psd, c.PSD)
			if e > 1e-10 {
				t.Errorf("max per-bin relative error %.3g > 1e-10", e)
			}
			t.Logf("max per-bin relative error %.3g", e)
		})
	}
}

func TestCSDAndCoherenceMatchScipy(t *testing.T) {
	r := loadReference(t)
	for _, c := range r.CSD {
		t.Run(c.Name, func(t *testing.T) {
			w, err := NewWelch(c.Config.welch(r.FsHz))
			if err != nil {
				t.Fatal(err)
			}
			got := make([]complex128, len(w.Freqs()))
			if err := w.CSD(r.X[c.X], r.X[c.YIdx], got); err != nil {
				t.Fatal(err)
			}
			re, im := make([]float64, len(got)), make([]float64, len(got))
			for i, v := range got {
				re[i], im[i] = real(v), imag(v)
			}
			// Real and imaginary parts cross zero, so compare against the cross-spectrum's magnitude.
			mag := make([]float64, len(got))
			for i := range mag {
				mag[i] = math.Hypot(c.Re[i], c.ImV[i])
			}
			for i := range got {
				d := cmplx.Abs(got[i] - complex(c.Re[i], c.ImV[i]))
				if d > 1e-10*mag[i] {
					t.Fatalf("bin %d: |go - scipy| = %.3g, %.3g of |Pxy|", i, d, d/mag[i])
				}
			}
		})
	}
	t.Run("coherence", func(t *testing.T) {
		c := r.Coherence
		w, err := NewWelch(c.Config.welch(r.FsHz))
		if err != nil {
			t.Fatal(err)
		}
		coh := make([]float64, len(w.Freqs()))
		if err := w.Coherence(r.X[c.X], r.X[c.Y], coh); err != nil {
			t.Fatal(err)
		}
		if e := maxBinRelErr(coh, c.Coh); e > 1e-10 {
			t.Errorf("coherence max per-bin relative error %.3g > 1e-10", e)
		}
	})
}

func TestHilbertMatchesScipy(t *testing.T) {
	r := loadReference(t)
	for _, c := range r.Hilbert {
		h, err := NewHilbert(c.N)
		if err != nil {
			t.Fatal(err)
		}
		z := make([]complex128, c.N)
		if err := h.Analytic(r.X[0][:c.N], z); err != nil {
			t.Fatal(err)
		}
		re, im := make([]float64, c.N), make([]float64, c.N)
		for i, v := range z {
			re[i], im[i] = real(v), imag(v)
		}
		if e := maxRelErr(re, c.Re); e > 1e-12 {
			t.Errorf("n=%d: real part error %.3g of max", c.N, e)
		}
		if e := maxRelErr(im, c.Im); e > 1e-12 {
			t.Errorf("n=%d: imaginary part error %.3g of max", c.N, e)
		}
	}
}

func TestWindowsMatchScipy(t *testing.T) {
	r := loadReference(t)
	for name, byLen := range r.Windows {
		for _, want := range byLen {
			got, err := GetWindow(name, len(want))
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-15 {
					t.Errorf("%s(%d)[%d] = %v, scipy %v", name, len(want), i, got[i], want[i])
				}
			}
		}
	}
}

// The streaming transformer is an approximation; on an alpha-band signal (inside its accurate band)
// its envelope and phase, shifted by Delay(), must track scipy's offline analytic signal closely.
func TestStreamingHilbertTracksOfflineOnAlpha(t *testing.T) {
	r := loadReference(t)
	a := r.Alpha
	const taps = 65 // 0.4 s at 160 Hz
	s, err := NewStreamingHilbert(1, r.FsHz, taps)
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Gain(10); math.Abs(g-1) > 0.01 {
		t.Errorf("gain at 10 Hz = %v, want within 1%% of 1", g)
	}
	n := len(a.X)
	env, ph, fr := make([]float64, n), make([]float64, n), make([]float64, n)
	// Feed in 8-sample frames as a stream would arrive.
	for off := 0; off < n; off += 8 {
		end := min(off+8, n)
		if err := s.Process(0, a.X[off:end], env[off:end], ph[off:end], fr[off:end]); err != nil {
			t.Fatal(err)
		}
	}
	d := s.Delay()
	var maxEnv, envErr, phErr, sumF float64
	cnt := 0
	for i := 2 * taps; i < n-taps; i++ { // skip filter start-up and scipy's block-end effects
		j := i - d
		maxEnv = math.Max(maxEnv, a.Envelope[j])
		envErr = math.Max(envErr, math.Abs(env[i]-a.Envelope[j]))
		dp := math.Abs(math.Remainder(ph[i]-a.Phase[j], 2*math.Pi))
		if a.Envelope[j] > 0.3*maxEnv { // phase is ill-defined where the envelope vanishes
			phErr = math.Max(phErr, dp)
		}
		sumF += fr[i]
		cnt++
	}
	if envErr > 0.05*maxEnv {
		t.Errorf("envelope deviates by %.3g of its peak, want <= 5%%", envErr/maxEnv)
	}
	if phErr > 0.15 {
		t.Errorf("phase deviates by up to %.3g rad where the envelope is not small, want <= 0.15", phErr)
	}
	if mf := sumF / float64(cnt); mf < 8 || mf > 12 {
		t.Errorf("mean instantaneous frequency %.2f Hz, want inside the 8-12 Hz band", mf)
	}
	t.Logf("delay %d samples, envelope error %.3g of peak, phase error %.3g rad", d, envErr/maxEnv, phErr)
}

func TestWelchAllocatesNothing(t *testing.T) {
	r := loadReference(t)
	for _, avg := range []string{"mean", "median"} {
		w, err := NewWelch(WelchConfig{FsHz: r.FsHz, NPerSeg: 160, NOverlap: -1, Average: avg})
		if err != nil {
			t.Fatal(err)
		}
		psd := make([]float64, len(w.Freqs()))
		csd := make([]complex128, len(w.Freqs()))
		x, y := r.X[0], r.X[1]
		if err := w.PSD(x, psd); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(20, func() { _ = w.PSD(x, psd); _ = w.CSD(x, y, csd); _ = w.Coherence(x, y, psd) }); a != 0 {
			t.Errorf("%s: %v allocations per call, want 0", avg, a)
		}
	}
	s, _ := NewStreamingHilbert(2, 160, 33)
	buf := make([]float64, 8)
	if a := testing.AllocsPerRun(20, func() { _ = s.Process(1, r.X[0][:8], buf, buf, buf) }); a != 0 {
		t.Errorf("streaming hilbert: %v allocations per frame, want 0", a)
	}
	h, _ := NewHilbert(320)
	z := make([]complex128, 320)
	if a := testing.AllocsPerRun(20, func() { _ = h.Analytic(r.X[0][:320], z) }); a != 0 {
		t.Errorf("hilbert: %v allocations per block, want 0", a)
	}
}

func TestBadInputIsAnError(t *testing.T) {
	bad := []WelchConfig{
		{FsHz: 0, NPerSeg: 10},
		{FsHz: math.NaN(), NPerSeg: 10},
		{FsHz: 100, NPerSeg: 0},
		{FsHz: 100, NPerSeg: 10, NOverlap: 10},
		{FsHz: 100, NPerSeg: 10, NFFT: 5},
		{FsHz: 100, NPerSeg: 10, Window: "kaiser-ish"},
		{FsHz: 100, NPerSeg: 10, Detrend: "quadratic"},
		{FsHz: 100, NPerSeg: 10, Scaling: "power"},
		{FsHz: 100, NPerSeg: 10, Average: "mode"},
	}
	for _, cfg := range bad {
		if _, err := NewWelch(cfg); err == nil {
			t.Errorf("NewWelch(%+v) accepted a bad configuration", cfg)
		}
	}
	w, err := NewWelch(WelchConfig{FsHz: 100, NPerSeg: 10, NOverlap: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.PSD(make([]float64, 9), make([]float64, 6)); err == nil {
		t.Error("PSD accepted an input shorter than nperseg")
	}
	if err := w.PSD(make([]float64, 20), make([]float64, 5)); err == nil {
		t.Error("PSD accepted an output of the wrong length")
	}
	if err := w.CSD(make([]float64, 20), make([]float64, 21), make([]complex128, 6)); err == nil {
		t.Error("CSD accepted unequal lengths")
	}
	if _, err := NewStreamingHilbert(1, 100, 64); err == nil {
		t.Error("NewStreamingHilbert accepted an even tap count")
	}
	if _, err := NewHilbert(0); err == nil {
		t.Error("NewHilbert accepted length 0")
	}
}
