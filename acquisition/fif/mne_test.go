package fif

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition/internal/mnesummary"
	"github.com/neurostream/neurostream/internal/shareddata"
)

func fixturePath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(shareddata.Dir(), "mne_testing_formats", "FIF", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s: not found; put the shared data set beside the repo", p)
	}
	return p
}

func loadSummary(t *testing.T, stem string) mnesummary.Summary {
	t.Helper()
	return mnesummary.Load(t, filepath.Join("testdata", "mne_"+stem+".json"))
}

// mneType maps MNE's channel type names onto the stream's; MNE types without a stream type are misc.
func mneType(s string) string {
	switch s {
	case "eeg", "mag", "grad", "eog", "emg", "ecg", "stim", "misc":
		return s
	}
	return "misc"
}

func TestMatchesMNE(t *testing.T) {
	for _, stem := range []string{"test_elekta_3ch_raw", "sample_audvis_trunc_raw_sss", "neuromag122_test_file-raw"} {
		t.Run(stem, func(t *testing.T) {
			want := loadSummary(t, stem)
			f, err := ReadFile(fixturePath(t, stem+".fif"))
			if err != nil {
				t.Fatal(err)
			}
			rec := f.Recording
			mnesummary.CheckSignals(t, rec, &want, mneType)
			if f.FirstSample != want.FirstSamp {
				t.Errorf("first sample %d, MNE %d", f.FirstSample, want.FirstSamp)
			}
			for c, ch := range rec.Info.Channels {
				cal := float64(f.Channels[c].Range) * float64(f.Channels[c].Cal)
				if cal != want.Cals[c] || f.Channels[c].CoilType != want.CoilTypes[c] {
					t.Errorf("channel %s: cal %v coil %d, MNE %v coil %d", ch.Name, cal, f.Channels[c].CoilType, want.Cals[c], want.CoilTypes[c])
				}
				for k := range 12 {
					if float64(f.Channels[c].Loc[k]) != want.Locs[c][k] && !(math.IsNaN(want.Locs[c][k]) || math.IsNaN(float64(f.Channels[c].Loc[k]))) {
						t.Errorf("channel %s loc[%d] %v, MNE %v", ch.Name, k, f.Channels[c].Loc[k], want.Locs[c][k])
						break
					}
				}
				if ch.Type == 2 || ch.Type == 3 {
					if !ch.HasPosition || !ch.HasOrientation || ch.Position[0] != want.Locs[c][0] || ch.Orientation[2] != want.Locs[c][11] {
						t.Errorf("channel %s: position %v %v orientation %v %v, MNE loc %v", ch.Name, ch.HasPosition, ch.Position, ch.HasOrientation, ch.Orientation, want.Locs[c])
					}
				}
			}
			if len(f.Events) != len(want.Events) {
				t.Fatalf("%d events, MNE find_events %d", len(f.Events), len(want.Events))
			}
			for i, e := range f.Events {
				if e != want.Events[i] {
					t.Errorf("event %d: %v, MNE %v", i, e, want.Events[i])
				}
			}
			var nEventAnn int
			for _, a := range rec.Annotations {
				if a.Description == "BAD_ACQ_SKIP" {
					continue
				}
				e := want.Events[nEventAnn]
				if a.OnsetSample != e[0]-want.FirstSamp || a.Code != int32(e[2]) || math.Abs(a.OnsetSec-float64(a.OnsetSample)/want.SFreq) > 1e-12 {
					t.Errorf("annotation %+v, MNE event %v", a, e)
				}
				nEventAnn++
			}
			if nEventAnn != len(want.Events) {
				t.Errorf("%d event annotations, want %d", nEventAnn, len(want.Events))
			}
		})
	}
}

func TestEvokedFileRefused(t *testing.T) {
	want := loadSummary(t, "test_elekta-ave")
	if !strings.Contains(want.RawError, "No raw data") {
		t.Fatalf("fixture: MNE error %q", want.RawError)
	}
	_, err := Read(fixturePath(t, "test_elekta-ave.fif"))
	if err == nil || !strings.Contains(err.Error(), "evoked") || !strings.Contains(err.Error(), "test_elekta-ave.fif") {
		t.Fatalf("got %v, want an error naming the file and saying it holds evoked data", err)
	}
}
