package dsp

import (
	"fmt"
	"testing"
)

type designFixture struct {
	IIR []struct {
		FType    string      `json:"ftype"`
		Order    int         `json:"order"`
		Param    float64     `json:"param"`
		Band     string      `json:"band"`
		CutoffHz []float64   `json:"cutoff_hz"`
		FsHz     float64     `json:"fs_hz"`
		SOS      [][]float64 `json:"sos"`
	} `json:"iir"`
	Notch []struct {
		F0Hz float64   `json:"f0_hz"`
		Q    float64   `json:"q"`
		FsHz float64   `json:"fs_hz"`
		B    []float64 `json:"b"`
		A    []float64 `json:"a"`
	} `json:"notch"`
	Comb []struct {
		F0Hz     float64   `json:"f0_hz"`
		Q        float64   `json:"q"`
		FsHz     float64   `json:"fs_hz"`
		PassZero bool      `json:"pass_zero"`
		B        []float64 `json:"b"`
		A        []float64 `json:"a"`
	} `json:"comb"`
	FIRWin []struct {
		NumTaps  int        `json:"num_taps"`
		CutoffHz []float64  `json:"cutoff_hz"`
		Window   windowSpec `json:"window"`
		PassZero bool       `json:"pass_zero"`
		FsHz     float64    `json:"fs_hz"`
		H        []float64  `json:"h"`
	} `json:"firwin"`
	KaiserOrd []struct {
		RippleDB float64 `json:"ripple_db"`
		Width    float64 `json:"width"`
		NumTaps  int     `json:"num_taps"`
		Beta     float64 `json:"beta"`
	} `json:"kaiserord"`
}

func TestIIRDesignsMatchScipy(t *testing.T) {
	var fx designFixture
	loadFixture(t, "designs.json", &fx)
	if len(fx.IIR) == 0 {
		t.Fatal("fixture has no IIR designs")
	}
	for _, c := range fx.IIR {
		name := fmt.Sprintf("%s(%d,%s,%v,fs=%v)", c.FType, c.Order, c.Band, c.CutoffHz, c.FsHz)
		band, err := ParseBandType(c.Band)
		if err != nil {
			t.Fatal(err)
		}
		var sos SOS
		switch c.FType {
		case "butter":
			sos, err = Butter(c.Order, c.CutoffHz, band, c.FsHz)
		case "cheby1":
			sos, err = Cheby1(c.Order, c.Param, c.CutoffHz, band, c.FsHz)
		case "cheby2":
			sos, err = Cheby2(c.Order, c.Param, c.CutoffHz, band, c.FsHz)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := toSOS(c.SOS)
		if len(sos) != len(want) {
			t.Errorf("%s: %d sections, scipy %d", name, len(sos), len(want))
			continue
		}
		for i := range want {
			assertClose(t, fmt.Sprintf("%s section %d", name, i), sos[i][:], want[i][:], 1e-10)
		}
	}
}

func TestIIRDesignRejectsBadInput(t *testing.T) {
	cases := []struct {
		name string
		fn   func() (SOS, error)
	}{
		{"order 0", func() (SOS, error) { return Butter(0, []float64{10}, Lowpass, 250) }},
		{"cutoff at Nyquist", func() (SOS, error) { return Butter(4, []float64{125}, Lowpass, 250) }},
		{"negative cutoff", func() (SOS, error) { return Butter(4, []float64{-1}, Highpass, 250) }},
		{"one edge for bandpass", func() (SOS, error) { return Butter(4, []float64{8}, Bandpass, 250) }},
		{"decreasing edges", func() (SOS, error) { return Butter(4, []float64{30, 8}, Bandpass, 250) }},
		{"zero fs", func() (SOS, error) { return Butter(4, []float64{8}, Lowpass, 0) }},
		{"unknown band", func() (SOS, error) { return Butter(4, []float64{8}, BandType(9), 250) }},
		{"zero ripple", func() (SOS, error) { return Cheby1(4, 0, []float64{8}, Lowpass, 250) }},
		{"zero attenuation", func() (SOS, error) { return Cheby2(4, 0, []float64{8}, Lowpass, 250) }},
	}
	for _, c := range cases {
		if sos, err := c.fn(); err == nil {
			t.Errorf("%s: accepted, returned %d sections", c.name, len(sos))
		}
	}
	if _, err := ParseBandType("band"); err == nil {
		t.Error("ParseBandType accepted \"band\"")
	}
	for _, b := range []BandType{Lowpass, Highpass, Bandpass, Bandstop} {
		got, err := ParseBandType(b.String())
		if err != nil || got != b {
			t.Errorf("ParseBandType(%q) = %v, %v", b.String(), got, err)
		}
	}
}
