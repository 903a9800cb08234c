package gdf

import "testing"

// FuzzRead checks that no input makes the GDF decoder panic, and that accepted input is consistent.
func FuzzRead(f *testing.F) {
	f.Add(gdfFile([]string{"C3", "C4"}, 4275, 3, func(c, s int) int16 { return int16(c*7 - s) }, []gdfEvent{{pos: 2, typ: 0x300, dur: 3}}))
	f.Add(gdfFile([]string{"Status"}, 512, 2, func(c, s int) int16 { return int16(s / 4) }, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode("fuzz.gdf", b)
		if err != nil {
			return
		}
		rec := file.Recording
		if len(rec.Data) != len(rec.Info.Channels) {
			t.Fatalf("%d data rows for %d channels", len(rec.Data), len(rec.Info.Channels))
		}
		for _, row := range rec.Data {
			if len(row) != rec.NumSamples() {
				t.Fatalf("ragged data")
			}
		}
	})
}
