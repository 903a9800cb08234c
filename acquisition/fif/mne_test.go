package fif

import (
	"github.com/neurostream/neurostream/internal/shareddata"

	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixturePath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(shareddata.Dir(), "mne_testing_formats", "FIF", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s: not found; put the shared data set beside the repo", p)
	}
	return p
}

// mneSummary is what tools/formats_reference_meg.py writes for one raw file.
type mneSummary struct {
	SFreq         float64     `json:"sfreq"`
	NTimes        int         `json:"n_times"`
	FirstSamp     int64       `json:"first_samp"`
	MeasDateUnix  *float64    `json:"meas_date_unix"`
	ChNames       []string    `json:"ch_names"`
	ChTypes       []string    `json:"ch_types"`
	Locs          [][]float64 `json:"locs"`
	SampleIndices []int       `json:"sample_indices"`
	Samples       [][]float64 `json:"samples"`
	Sums          []float64   `json:"sums"`
	AbsSums       []float64   `json:"abs_sums"`
	Cals          []float64   `json:"cals"`
	CoilTypes     []int32     `json:"coil_types"`
	Events        [][3]int64  `json:"events"`
	RawError      string      `json:"raw_error"`
}

func loadSummary(t *testing.T, stem string) mneSummary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mne_"+stem+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var s mneSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
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
			if err := rec.Validate(); err != nil {
				t.Fatal(err)
			}
			if rec.Info.SampleRateHz != want.SFreq {
				t.Errorf("rate %v Hz, MNE %v", rec.Info.SampleRateHz, want.SFreq)
			}
			if rec.NumSamples() != want.NTimes || f.FirstSample != want.FirstSamp {
				t.Errorf("%d samples from %d, MNE %d from %d", rec.NumSamples(), f.FirstSample, want.NTimes, want.FirstSamp)
			}
			if want.MeasDateUnix != nil {
				got := float64(rec.StartTime.UnixNano()) / 1e9
				if math.Abs(got-*want.MeasDateUnix) > 1e-6 {
					t.Errorf("start %v (%v), MNE %v", rec.StartTime, got, *want.MeasDateUnix)
				}
			}
			if len(rec.Info.Channels) != len(want.ChNames) {
				t.Fatalf("%d channels, MNE %d", len(rec.Info.Channels), len(want.ChNames))
			}
			for c, ch := range rec.Info.Channels {
				if ch.Name != want.ChNames[c] || ch.Type.String() != mneType(want.ChTypes[c]) {
					t.Errorf("channel %d: %q %s, MNE %q %s", c, ch.Name, ch.Type, want.ChNames[c], want.ChTypes[c])
				}
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
				for k, s := range want.SampleIndices {
					if got := rec.Data[c][s]; got != want.Samples[c][k] {
						t.Errorf("channel %s sample %d: %v, MNE %v", ch.Name, s, got, want.Samples[c][k])
						break
					}
				}
				var sum, abs float64
				for _, v := range rec.Data[c] {
					sum += v
					abs += math.Abs(v)
				}
				if math.Abs(sum-want.Sums[c]) > 1e-9*want.AbsSums[c] || math.Abs(abs-want.AbsSums[c]) > 1e-9*want.AbsSums[c] {
					t.Errorf("channel %s: sum %v abs sum %v, MNE %v %v", ch.Name, sum, abs, want.Sums[c], want.AbsSums[c])
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
