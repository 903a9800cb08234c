package recordings

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/xdf"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/streams"
)

// TestOpenEveryFormat opens one real file per format and checks channel count and rate against what
// MNE-Python 1.3 reports for the same file (and, for annotated files, a lower bound on the events).
func TestOpenEveryFormat(t *testing.T) {
	cases := []struct {
		rel      string
		channels int
		rateHz   float64
		minAnn   int
	}{
		{"physionet_eegmmidb_S001/S001R04.edf", 64, 160, 30},
		{"mne_testing_formats/BDF/test_bdf_stim_channel.bdf", 4, 500, 0},
		{"mne_testing_formats/GDF/test_1ch.gdf", 1, 150, 0},
		{"mne_testing_formats/Brainvision/test_NO.vhdr", 65, 5000, 0},
		{"mne_testing_formats/EEGLAB/test_raw.set", 32, 128, 1},
		{"mne_testing_formats/FIF/test_elekta_3ch_raw.fif", 4, 1000, 0},
		{"eegle_bi2012_p300/subject_01_session_01.npz", 16, 128, 768},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.rel), func(t *testing.T) {
			recs, err := Open(shareddata.Path(t, c.rel))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("%d recordings, want 1", len(recs))
			}
			r := recs[0]
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			if r.NumSamples() == 0 {
				t.Fatal("no samples")
			}
			if len(r.Info.Channels) != c.channels {
				t.Errorf("%d channels, want %d", len(r.Info.Channels), c.channels)
			}
			if r.Info.SampleRateHz != c.rateHz {
				t.Errorf("%v Hz, want %v", r.Info.SampleRateHz, c.rateHz)
			}
			if len(r.Annotations) < c.minAnn {
				t.Errorf("%d annotations, want at least %d", len(r.Annotations), c.minAnn)
			}
		})
	}
}

func TestOpenXDF(t *testing.T) {
	rec := &acquisition.Recording{Info: streams.StreamInfo{StreamID: "eeg", SampleRateHz: 100,
		Channels: []streams.Channel{{Name: "C3", Type: streams.ChannelEEG, Unit: "V"}}}, Data: [][]float64{make([]float64, 250)}}
	for i := range rec.Data[0] {
		rec.Data[0][i] = float64(i) * 1e-6
	}
	rec.Annotations = []acquisition.Annotation{{OnsetSec: 1.5, OnsetSample: 150, Description: "T1"}}
	p := filepath.Join(t.TempDir(), "s.XDF")
	if err := xdf.Write(p, rec); err != nil {
		t.Fatal(err)
	}
	recs, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].NumSamples() != 250 || len(recs[0].Annotations) != 1 ||
		recs[0].Annotations[0].OnsetSample != 150 || recs[0].Annotations[0].Description != "T1" {
		t.Fatalf("read back %d recordings: %+v", len(recs), recs)
	}
}

func TestOpenUnknownExtensionListsKnownOnes(t *testing.T) {
	_, err := Open("session.csv")
	if err == nil {
		t.Fatal("a .csv was accepted")
	}
	for _, ext := range []string{".edf", ".bdf", ".gdf", ".vhdr", ".set", ".fif", ".xdf", ".npz"} {
		if !strings.Contains(err.Error(), ext) {
			t.Errorf("error %q does not list %s", err, ext)
		}
	}
}
