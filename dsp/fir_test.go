package dsp

import (
	"fmt"
	"testing"
)

func TestNotchAndCombMatchScipy(t *testing.T) {
	var fx designFixture
	loadFixture(t, "designs.json", &fx)
	if len(fx.Notch) == 0 || len(fx.Comb) == 0 {
		t.Fatal("fixture has no notch or comb designs")
	}
	for _, c := range fx.Notch {
		sos, err := IIRNotch(c.F0Hz, c.Q, c.FsHz)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("iirnotch(%v, %v, fs=%v)", c.F0Hz, c.Q, c.FsHz)
		assertClose(t, name+" b", sos[0][:3], c.B, 1e-12)
		assertClose(t, name+" a", sos[0][3:], c.A, 1e-12)
	}
	for _, c := range fx.Comb {
		b, a, err := IIRComb(c.F0Hz, c.Q, c.FsHz, c.PassZero)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("iircomb(%v, %v, fs=%v, pass_zero=%v)", c.F0Hz, c.Q, c.FsHz, c.PassZero)
		assertClose(t, name+" b", b, c.B, 1e-12)
		assertClose(t, name+" a", a, c.A, 1e-12)
	}
	if _, _, err := IIRComb(60, 30, 250, false); err == nil {
		t.Error("iircomb accepted 250 Hz, not a multiple of 60 Hz")
	}
	if _, err := IIRNotch(130, 30, 250); err == nil {
		t.Error("iirnotch accepted a notch above Nyquist")
	}
}

func TestFIRWinMatchesScipy(t *testing.T) {
	var fx designFixture
	loadFixture(t, "designs.json", &fx)
	if len(fx.FIRWin) == 0 {
		t.Fatal("fixture has no firwin designs")
	}
	for _, c := range fx.FIRWin {
		w, err := ParseWindow(c.Window.Name, c.Window.Beta)
		if err != nil {
			t.Fatal(err)
		}
		h, err := FIRWin(c.NumTaps, c.CutoffHz, w, c.PassZero, c.FsHz)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, fmt.Sprintf("firwin(%d, %v, %v, pass_zero=%v)", c.NumTaps, c.CutoffHz, c.Window, c.PassZero), h, c.H, 1e-10)
	}
	for _, c := range fx.KaiserOrd {
		n, beta, err := KaiserOrd(c.RippleDB, c.Width)
		if err != nil {
			t.Fatal(err)
		}
		if n != c.NumTaps {
			t.Errorf("kaiserord(%v, %v): %d taps, scipy %d", c.RippleDB, c.Width, n, c.NumTaps)
		}
		assertClose(t, "kaiserord beta", []float64{beta}, []float64{c.Beta}, 1e-12)
	}
	if _, err := FIRWin(30, []float64{10}, FIRWindow{Kind: Hamming}, false, 250); err == nil {
		t.Error("firwin accepted an even-length high-pass")
	}
	if _, err := FIRWin(31, []float64{30, 10}, FIRWindow{Kind: Hamming}, false, 250); err == nil {
		t.Error("firwin accepted decreasing cutoffs")
	}
}

func TestFIRFilterMatchesLFilter(t *testing.T) {
	fx := loadFilters(t)
	h, err := FIRWin(33, []float64{8, 30}, FIRWindow{Kind: Hamming}, false, fx.FsHz)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "firwin taps", h, fx.FIRH, 1e-12)
	nc := len(fx.X)
	f, err := NewFIRFilter(fx.FIRH, nc)
	if err != nil {
		t.Fatal(err)
	}
	x := interleave(fx.X)
	for off := 0; off < len(x); off += 5 * nc {
		f.ProcessInterleaved(x[off:min(off+5*nc, len(x))])
	}
	for c := 0; c < nc; c++ {
		assertClose(t, "lfilter fir "+fx.Channels[c], channel(x, nc, c), fx.LFilterFIR[c], 1e-12)
	}
	if a := testing.AllocsPerRun(100, func() { f.ProcessInterleaved(x[:8*nc]) }); a != 0 {
		t.Errorf("FIRFilter allocates %v per frame block", a)
	}
	if _, err := NewFIRFilter(nil, 2); err == nil {
		t.Error("no taps accepted")
	}
}

func TestCombFilterMatchesLFilter(t *testing.T) {
	fx := loadFilters(t)
	b, a, err := IIRComb(20, 30, fx.FsHz, false)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "comb b", b, fx.CombB, 1e-12)
	assertClose(t, "comb a", a, fx.CombA, 1e-12)
	f, err := NewCombFilter(fx.CombB, fx.CombA, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := append([]float64(nil), fx.X[0]...)
	f.ProcessInterleaved(x[:3])
	f.ProcessInterleaved(x[3:])
	assertClose(t, "lfilter comb", x, fx.LFilterComb, 1e-12)
	if a := testing.AllocsPerRun(100, func() { f.ProcessInterleaved(x[:8]) }); a != 0 {
		t.Errorf("CombFilter allocates %v per frame block", a)
	}
	if _, err := NewCombFilter([]float64{1, 0.5, 1}, []float64{1, 0, 0.5}, 1); err == nil {
		t.Error("non-comb coefficients accepted")
	}
}
