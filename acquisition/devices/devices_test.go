package devices

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Every device describes its stream without hardware: channels in volts (EEG), 10-10 positions,
// and the synthetic one opens and streams.
func TestRegistryDescribesDevices(t *testing.T) {
	r := Builtin()
	for _, name := range r.Names() {
		d, _ := r.Lookup(name)
		info, err := d.Info(Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := info.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, c := range info.Channels {
			if c.Type == 1 && (c.Unit != "V" || !c.HasPosition) {
				t.Errorf("%s channel %s: unit %q, position %v", name, c.Name, c.Unit, c.HasPosition)
			}
		}
	}
	d, err := r.Lookup("cyton")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := d.Info(Options{Daisy: true, Accel: true})
	if len(info.Channels) != 19 || info.SampleRateHz != 125 {
		t.Fatalf("cyton+daisy+accel: %d channels at %g Hz", len(info.Channels), info.SampleRateHz)
	}
	if _, err := d.Info(Options{Electrodes: []string{"Cz"}}); err == nil {
		t.Fatal("one electrode name for eight channels accepted")
	}
	if _, err := r.Lookup("nope"); err == nil || !strings.Contains(err.Error(), "cyton") {
		t.Fatalf("unknown device: %v", err)
	}
	var b bytes.Buffer
	r.Describe(&b)
	if !strings.Contains(b.String(), "Fp1 Fp2 C3 C4 P7 P8 O1 O2") {
		t.Fatalf("describe:\n%s", b.String())
	}
	s, _ := r.Lookup("synthetic")
	src, err := s.Open(context.Background(), Options{StreamID: "x", FrameSamples: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Info().StreamID != "x" {
		t.Fatal("stream id not passed on")
	}
}
