package edf

import (
	"testing"
)

// multiRateFile is a tiny hand-made EDF+ file with signals at 4, 1 and 4 samples per record (the
// middle one is upsampled) and a stim channel, for the fuzz seed corpus.
func multiRateFile() []byte {
	pad := func(s string, n int) string {
		for len(s) < n {
			s += " "
		}
		return s
	}
	labels := []string{"A", "B", "Status", "EDF Annotations"}
	spr := []string{"4", "1", "4", "8"}
	h := pad("0", 8) + pad("X X X X", 80) + pad("Startdate 01-JAN-2020 X X X", 80) + "01.01.2012.00.00" +
		pad("1280", 8) + pad("EDF+C", 44) + pad("2", 8) + pad("1", 8) + pad("4", 4)
	for _, l := range labels {
		h += pad(l, 16)
	}
	for range labels {
		h += pad("", 80)
	}
	h += pad("uV", 8) + pad("mV", 8) + pad("", 8) + pad("", 8)
	for _, v := range []string{"-100", "-1", "-32768", "-1"} {
		h += pad(v, 8)
	}
	for _, v := range []string{"100", "1", "32767", "1"} {
		h += pad(v, 8)
	}
	for range labels {
		h += pad("-32768", 8)
	}
	for range labels {
		h += pad("32767", 8)
	}
	for range labels {
		h += pad("", 80)
	}
	for _, v := range spr {
		h += pad(v, 8)
	}
	for range labels {
		h += pad("", 32)
	}
	b := []byte(h)
	for r := 0; r < 2; r++ {
		for i := 0; i < 4+1+4; i++ {
			b = append(b, byte(i*37+r), byte(i))
		}
		tal := []byte{'+', byte('0' + r), 0x14, 0x14, 0}
		if r == 1 {
			tal = append(tal, '+', '1', '.', '5', 0x15, '1', 0x14, 'x', 0x14, 0)
		}
		tal = append(tal, make([]byte, 16-len(tal))...)
		b = append(b, tal...)
	}
	return b
}

// FuzzRead checks that no input makes the EDF/BDF decoder panic or hang, and that whatever it
// accepts is a consistent Recording.
func FuzzRead(f *testing.F) {
	f.Add(smallFile(f, FormatEDF))
	f.Add(smallFile(f, FormatBDF))
	f.Add(multiRateFile())
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, gaps := range []GapMode{GapsConcatenate, GapsFillZero} {
			file, err := Decode("fuzz.edf", b, ReadOptions{Gaps: gaps})
			if err != nil {
				return
			}
			if gaps == GapsConcatenate {
				// Filling a (legitimately) long gap allocates the gap; skip those in fuzzing.
				last := file.Segments
				if len(last) > 0 && last[len(last)-1].OnsetSec*file.Recording.Info.SampleRateHz > 1e6 {
					return
				}
			}
			rec := file.Recording
			if len(rec.Data) != len(rec.Info.Channels) {
				t.Fatalf("%d data rows for %d channels", len(rec.Data), len(rec.Info.Channels))
			}
			for _, row := range rec.Data {
				if len(row) != rec.NumSamples() {
					t.Fatalf("ragged data: %d vs %d samples", len(row), rec.NumSamples())
				}
			}
		}
	})
}

func TestMultiRateSeedDecodes(t *testing.T) {
	file, err := Decode("multi.edf", multiRateFile(), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := file.Recording
	if rec.Info.SampleRateHz != 4 || rec.NumSamples() != 8 || len(rec.Data) != 3 {
		t.Fatalf("%d ch x %d samples at %v Hz, want 3 x 8 at 4 Hz", len(rec.Data), rec.NumSamples(), rec.Info.SampleRateHz)
	}
	// The 1-sample-per-record channel is upsampled by FFT: a constant per record stays constant.
	for r := 0; r < 2; r++ {
		for i := 1; i < 4; i++ {
			if d := rec.Data[1][r*4+i] - rec.Data[1][r*4]; d > 1e-15 || d < -1e-15 {
				t.Errorf("upsampled record %d not constant: %v", r, rec.Data[1][r*4:r*4+4])
			}
		}
	}
	if len(rec.Annotations) == 0 || rec.Annotations[0].Description != "x" || rec.Annotations[0].OnsetSec != 1.5 {
		t.Errorf("annotations %+v, want x at 1.5 s", rec.Annotations)
	}
}
