package dsp

import (
	"fmt"
	"math"
	"testing"
)

func TestDetrendMatchesScipy(t *testing.T) {
	fx := loadFilters(t)
	for _, c := range []struct {
		kind DetrendKind
		want []float64
	}{{DetrendLinear, fx.DetrendLinear}, {DetrendConstant, fx.DetrendConstant}} {
		got, err := Detrend(fx.X[0], c.kind)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, fmt.Sprintf("detrend kind %d", c.kind), got, c.want, 1e-12)
	}
	if _, err := Detrend(fx.X[0], DetrendKind(7)); err == nil {
		t.Error("unknown detrend kind accepted")
	}
}

type resampleFixture struct {
	X     []float64 `json:"x"`
	Cases []struct {
		Up   int       `json:"up"`
		Down int       `json:"down"`
		Y    []float64 `json:"y"`
	} `json:"cases"`
}

func TestResamplePolyMatchesScipy(t *testing.T) {
	var fx resampleFixture
	loadFixture(t, "resample.json", &fx)
	if len(fx.Cases) == 0 {
		t.Fatal("resample fixture has no cases")
	}
	for _, c := range fx.Cases {
		got, err := ResamplePoly(fx.X, c.Up, c.Down)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, fmt.Sprintf("resample_poly %d/%d", c.Up, c.Down), got, c.Y, 1e-12)
	}
	if _, err := ResamplePoly(fx.X, 0, 3); err == nil {
		t.Error("up = 0 accepted")
	}
}

// TestResamplerStreamsLikeResamplePoly feeds 3 channels in odd-sized chunks and compares every
// emitted sample with resample_poly on the whole signal; only the tail that resample_poly computes
// against padding after the end is not emitted.
func TestResamplerStreamsLikeResamplePoly(t *testing.T) {
	var fx resampleFixture
	loadFixture(t, "resample.json", &fx)
	const nc = 3
	src := make([]float64, len(fx.X)*nc)
	for i, v := range fx.X {
		for c := range nc {
			src[i*nc+c] = v * float64(c+1)
		}
	}
	for _, c := range fx.Cases {
		r, err := NewResampler(c.Up, c.Down, nc)
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		dst := make([]float64, r.MaxOutputFrames(7)*nc)
		for off := 0; off < len(src); off += 7 * nc {
			n, err := r.ProcessInterleaved(dst, src[off:min(off+7*nc, len(src))])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, dst[:n*nc]...)
		}
		nOut := len(out) / nc
		missing := len(c.Y) - nOut
		if missing < 0 || float64(missing) > r.DelaySamples()*float64(c.Up)/float64(c.Down)+2 {
			t.Errorf("%d/%d: emitted %d of %d samples (delay %v input samples)", c.Up, c.Down, nOut, len(c.Y), r.DelaySamples())
		}
		for ch := range nc {
			want := make([]float64, nOut)
			for i := range want {
				want[i] = c.Y[i] * float64(ch+1)
			}
			assertClose(t, fmt.Sprintf("streaming %d/%d channel %d", c.Up, c.Down, ch), channel(out, nc, ch), want, 1e-12)
		}
		if a := testing.AllocsPerRun(50, func() { _, _ = r.ProcessInterleaved(dst, src[:7*nc]) }); a != 0 {
			t.Errorf("%d/%d: Resampler allocates %v per call", c.Up, c.Down, a)
		}
	}
	r, _ := NewResampler(25, 16, 2)
	if _, err := r.ProcessInterleaved(make([]float64, 1), make([]float64, 20)); err == nil {
		t.Error("too small dst accepted")
	}
}

func TestReferences(t *testing.T) {
	fx := loadFilters(t)
	nc := len(fx.X)
	x := interleave(fx.X)
	car, err := NewCommonAverage(nc, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	y := append([]float64(nil), x...)
	car.ProcessInterleaved(y)
	y32 := make([]float32, len(x))
	for i, v := range x {
		y32[i] = float32(v)
	}
	car.ProcessInterleaved32(y32)
	for i := 0; i < len(fx.X[0]); i++ {
		m := (fx.X[0][i] + fx.X[1][i]) / 2
		for c, want := range []float64{fx.X[0][i] - m, fx.X[1][i] - m, fx.X[2][i]} {
			if math.Abs(y[i*nc+c]-want) > 1e-18 {
				t.Fatalf("CAR sample %d channel %d = %v, want %v", i, c, y[i*nc+c], want)
			}
			if math.Abs(float64(y32[i*nc+c])-want) > 1e-10 {
				t.Fatalf("CAR float32 sample %d channel %d = %v, want %v", i, c, y32[i*nc+c], want)
			}
		}
	}
	ref, err := NewReference(nc, []int{1}, []int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	y = append(y[:0], x...)
	ref.ProcessInterleaved(y)
	if y[1] != 0 || y[0] != x[0]-x[1] || y[2] != x[2]-x[1] {
		t.Errorf("single-channel reference: frame 0 = %v from %v", y[:3], x[:3])
	}
	bip, err := NewBipolar(nc, [][2]int{{0, 1}, {2, 0}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 2*len(fx.X[0]))
	if n := bip.ProcessInterleaved(out, x); n != len(fx.X[0]) {
		t.Fatalf("bipolar wrote %d frames", n)
	}
	if out[2] != x[3]-x[4] || out[3] != x[5]-x[3] {
		t.Errorf("bipolar frame 1 = %v from %v", out[2:4], x[3:6])
	}
	sel, err := NewChannelSelector(nc, []int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	picked := make([]float64, 4)
	sel.ProcessInterleaved(picked, x[:6])
	if picked[0] != x[2] || picked[1] != x[0] || picked[2] != x[5] || picked[3] != x[3] {
		t.Errorf("selection = %v from %v", picked, x[:6])
	}
	idx, err := PickChannels(fx.Channels, []string{"Oz..", "C3.."})
	if err != nil || idx[0] != 2 || idx[1] != 0 {
		t.Errorf("PickChannels = %v, %v", idx, err)
	}
	if _, err := PickChannels(fx.Channels, []string{"Fp1."}); err == nil {
		t.Error("missing channel accepted")
	}
	for name, fn := range map[string]func() error{
		"CAR excluding out of range": func() error { _, err := NewCommonAverage(3, []int{3}); return err },
		"CAR excluding everything":   func() error { _, err := NewCommonAverage(2, []int{0, 1}); return err },
		"reference out of range":     func() error { _, err := NewReference(3, []int{-1}, nil); return err },
		"bipolar out of range":       func() error { _, err := NewBipolar(3, [][2]int{{0, 5}}); return err },
		"bipolar same channel":       func() error { _, err := NewBipolar(3, [][2]int{{1, 1}}); return err },
		"selection out of range":     func() error { _, err := NewChannelSelector(3, []int{3}); return err },
	} {
		if fn() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if a := testing.AllocsPerRun(100, func() { car.ProcessInterleaved(y[:8*nc]); car.ProcessInterleaved32(y32[:8*nc]) }); a != 0 {
		t.Errorf("common average allocates %v per block", a)
	}
}

type epochsFixture struct {
	FsHz         float64       `json:"fs_hz"`
	TminSec      float64       `json:"tmin_sec"`
	TmaxSec      float64       `json:"tmax_sec"`
	X            [][]float64   `json:"x"`
	EventSamples []int64       `json:"event_samples"`
	NTimes       int           `json:"n_times"`
	Epochs       [][][]float64 `json:"epochs"`
}

func TestEpochsMatchMNE(t *testing.T) {
	var fx epochsFixture
	loadFixture(t, "epochs.json", &fx)
	set, err := Epochs(fx.X, fx.FsHz, fx.EventSamples, fx.TminSec, fx.TmaxSec, &Baseline{StartSec: math.Inf(-1), EndSec: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Data) != len(fx.Epochs) || len(set.TimesSec) != fx.NTimes {
		t.Fatalf("%d epochs of %d samples, MNE %d of %d", len(set.Data), len(set.TimesSec), len(fx.Epochs), fx.NTimes)
	}
	for e := range fx.Epochs {
		for c := range fx.Epochs[e] {
			assertClose(t, fmt.Sprintf("epoch %d channel %d", e, c), set.Data[e][c], fx.Epochs[e][c], 1e-12)
		}
	}
	// An event whose window runs off the data is dropped, as MNE drops it.
	set, err = Epochs(fx.X, fx.FsHz, []int64{0, fx.EventSamples[0]}, fx.TminSec, fx.TmaxSec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Kept) != 1 || set.Kept[0] != 1 {
		t.Errorf("kept %v, want [1]", set.Kept)
	}
	if _, err := Epochs(fx.X, fx.FsHz, fx.EventSamples, 1, 0, nil); err == nil {
		t.Error("tmin > tmax accepted")
	}
	if _, err := Epochs(fx.X, fx.FsHz, fx.EventSamples, 0, 1, &Baseline{StartSec: 2, EndSec: 3}); err == nil {
		t.Error("baseline outside the epoch accepted")
	}
}
