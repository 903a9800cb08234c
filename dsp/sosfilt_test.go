package dsp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type filterFixture struct {
	Channels        []string    `json:"channels"`
	FsHz            float64     `json:"fs_hz"`
	X               [][]float64 `json:"x"`
	SOSBP           [][]float64 `json:"sos_bp"`
	SOSHP           [][]float64 `json:"sos_hp"`
	SOSBS           [][]float64 `json:"sos_bs"`
	SOSFiltBP       [][]float64 `json:"sosfilt_bp"`
	SOSFiltZiBP     [][]float64 `json:"sosfilt_zi_bp"`
	SOSFiltBPSteady [][]float64 `json:"sosfilt_bp_steady"`
	SOSFiltFiltBP   []float64   `json:"sosfiltfilt_bp"`
	SOSFiltFiltHP   []float64   `json:"sosfiltfilt_hp"`
	SOSFiltFiltBS   []float64   `json:"sosfiltfilt_bs"`
	FIRH            []float64   `json:"fir_h"`
	LFilterFIR      [][]float64 `json:"lfilter_fir"`
	CombB           []float64   `json:"comb_b"`
	CombA           []float64   `json:"comb_a"`
	LFilterComb     []float64   `json:"lfilter_comb"`
	DetrendLinear   []float64   `json:"detrend_linear"`
	DetrendConstant []float64   `json:"detrend_constant"`
}

func loadFilters(t testing.TB) filterFixture {
	var fx filterFixture
	loadFixture(t, "filters.json", &fx)
	if len(fx.X) == 0 || len(fx.X[0]) == 0 {
		t.Fatal("filters.json holds no input samples")
	}
	return fx
}

func interleave(x [][]float64) []float64 {
	nc, n := len(x), len(x[0])
	out := make([]float64, nc*n)
	for c := range x {
		for i, v := range x[c] {
			out[i*nc+c] = v
		}
	}
	return out
}

func channel(x []float64, nc, c int) []float64 {
	out := make([]float64, len(x)/nc)
	for i := range out {
		out[i] = x[i*nc+c]
	}
	return out
}

func TestSOSFiltBitIdenticalToScipy(t *testing.T) {
	fx := loadFilters(t)
	// The design must also match, else bit-identity of the filter would prove nothing about Butter.
	sos, err := Butter(4, []float64{8, 30}, Bandpass, fx.FsHz)
	if err != nil {
		t.Fatal(err)
	}
	want := toSOS(fx.SOSBP)
	for i := range want {
		assertClose(t, "butter section", sos[i][:], want[i][:], 1e-12)
	}
	for c := range fx.X {
		assertBitEqual(t, fmt.Sprintf("sosfilt %s", fx.Channels[c]), SOSFilt(want, fx.X[c]), fx.SOSFiltBP[c])
	}
}

func TestSOSFilterStreamingEqualsScipy(t *testing.T) {
	fx := loadFilters(t)
	sos := toSOS(fx.SOSBP)
	nc := len(fx.X)
	for _, frame := range []int{1, 8, 13, 800} {
		f := NewSOSFilter(sos, nc)
		if f.Err() != nil {
			t.Fatal(f.Err())
		}
		x := interleave(fx.X)
		for off := 0; off < len(x); off += frame * nc {
			f.ProcessInterleaved(x[off:min(off+frame*nc, len(x))])
		}
		for c := 0; c < nc; c++ {
			assertBitEqual(t, fmt.Sprintf("frames of %d, %s", frame, fx.Channels[c]), channel(x, nc, c), fx.SOSFiltBP[c])
		}
	}
}

func TestSOSFilterFloat32(t *testing.T) {
	fx := loadFilters(t)
	sos := toSOS(fx.SOSBP)
	nc := len(fx.X)
	x := interleave(fx.X)
	src := make([]float32, len(x))
	for i, v := range x {
		src[i] = float32(v)
	}
	dst := make([]float32, len(src))
	f := NewSOSFilter(sos, nc)
	for off := 0; off < len(src); off += 8 * nc {
		end := min(off+8*nc, len(src))
		f.ProcessInterleaved32(dst[off:end], src[off:end])
	}
	// The input was rounded to float32 (relative 6e-8) and so is the output; state stays float64, so
	// the error must stay at float32 resolution of the signal's scale instead of growing.
	for c := 0; c < nc; c++ {
		got := make([]float64, len(fx.SOSFiltBP[c]))
		for i := range got {
			got[i] = float64(dst[i*nc+c])
		}
		assertClose(t, "float32 "+fx.Channels[c], got, fx.SOSFiltBP[c], 1e-6)
	}
}

func TestSOSFiltZiAndSteadyState(t *testing.T) {
	fx := loadFilters(t)
	sos := toSOS(fx.SOSBP)
	zi := SOSFiltZi(sos)
	for s := range zi {
		assertClose(t, fmt.Sprintf("sosfilt_zi section %d", s), zi[s][:], fx.SOSFiltZiBP[s], 1e-10)
	}
	nc := len(fx.X)
	f := NewSOSFilter(sos, nc)
	x0 := make([]float64, nc)
	for c := range x0 {
		x0[c] = fx.X[c][0]
	}
	f.SteadyState(x0)
	x := interleave(fx.X)
	f.ProcessInterleaved(x)
	assertClose(t, "steady-state start "+fx.Channels[0], channel(x, nc, 0), fx.SOSFiltBPSteady[0], 1e-9)
	f.Reset()
	x = interleave(fx.X)
	f.ProcessInterleaved(x)
	assertBitEqual(t, "after Reset", channel(x, nc, 0), fx.SOSFiltBP[0])
}

func TestSOSFiltFiltMatchesScipy(t *testing.T) {
	fx := loadFilters(t)
	for _, c := range []struct {
		name string
		sos  [][]float64
		x    []float64
		want []float64
	}{
		{"butter bandpass", fx.SOSBP, fx.X[0], fx.SOSFiltFiltBP},
		{"cheby1 highpass", fx.SOSHP, fx.X[1], fx.SOSFiltFiltHP},
		{"cheby2 bandstop", fx.SOSBS, fx.X[2], fx.SOSFiltFiltBS},
	} {
		got, err := SOSFiltFilt(toSOS(c.sos), c.x)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		assertClose(t, "sosfiltfilt "+c.name, got, c.want, 1e-9)
	}
}

func TestSOSFilterBadInput(t *testing.T) {
	if f := NewSOSFilter(nil, 4); f.Err() == nil {
		t.Error("empty sos accepted")
	}
	if f := NewSOSFilter(SOS{{1, 0, 0, 2, 0, 0}}, 4); f.Err() == nil {
		t.Error("a0 != 1 accepted")
	}
	f := NewSOSFilter(SOS{{1, 0, 0, 1, 0, 0}}, 0)
	if f.Err() == nil {
		t.Error("0 channels accepted")
	}
	x := []float64{1, 2, 3}
	f.ProcessInterleaved(x) // must not panic
	f.ProcessInterleaved32(make([]float32, 3), []float32{1, 2, 3})
	if x[0] != 1 {
		t.Error("unusable filter changed data")
	}
	if _, err := SOSFiltFilt(SOS{{1, 0, 0, 1, 0, 0}}, []float64{1, 2}); err == nil {
		t.Error("sosfiltfilt accepted a signal shorter than its padding")
	}
	if _, err := SOSFiltFilt(SOS{{1, 0, 0, 1, math.NaN(), 0}}, make([]float64, 100)); err == nil {
		t.Error("sosfiltfilt accepted NaN coefficients")
	}
}

func TestSOSFilterNoAllocs(t *testing.T) {
	sos, err := Butter(4, []float64{8, 30}, Bandpass, 250)
	if err != nil {
		t.Fatal(err)
	}
	f := NewSOSFilter(sos, 64)
	x := make([]float64, 8*64)
	x32 := make([]float32, 8*64)
	if a := testing.AllocsPerRun(100, func() { f.ProcessInterleaved(x) }); a != 0 {
		t.Errorf("ProcessInterleaved allocates %v per frame block", a)
	}
	if a := testing.AllocsPerRun(100, func() { f.ProcessInterleaved32(x32, x32) }); a != 0 {
		t.Errorf("ProcessInterleaved32 allocates %v per frame block", a)
	}
}

// ProcessInterleaved32 is exactly ProcessInterleaved on the widened input, rounded once, for every
// section count (one pass, two, a middle pass, an odd last section) and in place or not.
func TestSOSFilterFloat32EqualsFloat64Rounded(t *testing.T) {
	const nc = 5
	rng := rand.New(rand.NewPCG(5, 6))
	src := make([]float32, 203*nc+2) // a trailing partial frame is left alone
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	for order := 1; order <= 10; order++ {
		sos, err := Butter(order, []float64{0.1}, Lowpass, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(src))
		for i, v := range src {
			want[i] = float64(v)
		}
		f64 := NewSOSFilter(sos, nc)
		f64.ProcessInterleaved(want)
		f32 := NewSOSFilter(sos, nc)
		dst := make([]float32, len(src))
		inPlace := append([]float32(nil), src...)
		f32b := NewSOSFilter(sos, nc)
		for off := 0; off < len(src); off += 7 * nc {
			end := min(off+7*nc, len(src))
			f32.ProcessInterleaved32(dst[off:end], src[off:end])
			f32b.ProcessInterleaved32(inPlace[off:end], inPlace[off:end])
		}
		for i := range src[:len(src)/nc*nc] {
			if dst[i] != float32(want[i]) || inPlace[i] != dst[i] {
				t.Fatalf("%d sections, value %d: float32 path %v (in place %v), float64 path rounded %v", len(sos), i, dst[i], inPlace[i], float32(want[i]))
			}
		}
	}
}
