package edf

import (
	"math"
	"testing"

	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/streams"
)

// Expected values were printed by MNE-Python 1.3 (mne.io.read_raw_edf(..., preload=True)):
// shape, first/last samples in volts, the data sum and the first annotations.
func TestReadPhysioNet(t *testing.T) {
	cases := []struct {
		run      string
		nSamples int
		first0   [3]float64 // channel 0, samples 0..2
		last63   [2]float64 // channel 63 (Iz..), last two samples
		sum      float64
		nAnn     int
		firstAnn []struct {
			onset, dur float64
			desc       string
		}
	}{
		{"S001R01", 9600, [3]float64{-1.6e-05, -5.6e-05, -5.5e-05}, [2]float64{8e-05, 7.1e-05}, -0.6593020000000002, 1,
			[]struct {
				onset, dur float64
				desc       string
			}{{0, 60, "T0"}}},
		{"S001R04", 20000, [3]float64{-5e-06, -1.2e-05, -7.7e-05}, [2]float64{0, 0}, -1.8313999999999997, 30,
			[]struct {
				onset, dur float64
				desc       string
			}{{0, 4.2, "T0"}, {4.2, 4.1, "T2"}, {8.3, 4.2, "T0"}, {12.5, 4.1, "T1"}}},
	}
	for _, c := range cases {
		t.Run(c.run, func(t *testing.T) {
			rec, err := Read(shareddata.Path(t, "physionet_eegmmidb_S001/"+c.run+".edf"))
			if err != nil {
				t.Fatal(err)
			}
			if err := rec.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := len(rec.Info.Channels); got != 64 {
				t.Fatalf("%d channels, want 64", got)
			}
			if rec.Info.SampleRateHz != 160 {
				t.Errorf("rate %v Hz, want 160", rec.Info.SampleRateHz)
			}
			if rec.NumSamples() != c.nSamples {
				t.Errorf("%d samples, want %d", rec.NumSamples(), c.nSamples)
			}
			ch0, ch63 := rec.Info.Channels[0], rec.Info.Channels[63]
			if ch0.Name != "Fc5." || ch63.Name != "Iz.." || ch0.Type != streams.ChannelEEG || ch0.Unit != "V" {
				t.Errorf("channels 0/63 = %+v / %+v, want Fc5./Iz.., eeg, V", ch0, ch63)
			}
			for i, want := range c.first0 {
				if got := rec.Data[0][i]; math.Abs(got-want) > 1e-6*math.Abs(want)+1e-15 {
					t.Errorf("ch0[%d] = %v, want %v", i, got, want)
				}
			}
			n := rec.NumSamples()
			for i, want := range c.last63 {
				if got := rec.Data[63][n-2+i]; math.Abs(got-want) > 1e-6*math.Abs(want)+1e-15 {
					t.Errorf("ch63[%d] = %v, want %v", n-2+i, got, want)
				}
			}
			sum := 0.0
			for _, row := range rec.Data {
				for _, v := range row {
					sum += v
				}
			}
			if math.Abs(sum-c.sum) > 1e-9 {
				t.Errorf("sum %v, want %v", sum, c.sum)
			}
			if len(rec.Annotations) != c.nAnn {
				t.Fatalf("%d annotations, want %d", len(rec.Annotations), c.nAnn)
			}
			for i, want := range c.firstAnn {
				a := rec.Annotations[i]
				if math.Abs(a.OnsetSec-want.onset) > 1e-9 || math.Abs(a.DurationSec-want.dur) > 1e-9 || a.Description != want.desc {
					t.Errorf("annotation %d = %+v, want %+v", i, a, want)
				}
				if wantSample := int64(math.Round(want.onset * 160)); a.OnsetSample != wantSample {
					t.Errorf("annotation %d at sample %d, want %d", i, a.OnsetSample, wantSample)
				}
			}
			if rec.StartTime.Format("2006-01-02 15:04:05") != "2009-08-12 16:15:00" {
				t.Errorf("start %v, want 2009-08-12 16:15:00 UTC", rec.StartTime)
			}
		})
	}
}
