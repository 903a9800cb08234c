package eeglab

import (
	"github.com/neurostream/neurostream/internal/shareddata"

	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type mneSummary struct {
	SFreq         float64     `json:"sfreq"`
	NTimes        int         `json:"n_times"`
	MeasDateUnix  *float64    `json:"meas_date_unix"`
	ChNames       []string    `json:"ch_names"`
	ChTypes       []string    `json:"ch_types"`
	SampleIndices []int       `json:"sample_indices"`
	Samples       [][]float64 `json:"samples"`
	Sums          []float64   `json:"sums"`
	AbsSums       []float64   `json:"abs_sums"`
	Annotations   []struct {
		Onset       float64 `json:"onset"`
		Duration    float64 `json:"duration"`
		Description string  `json:"description"`
	} `json:"annotations"`
	Events  [][3]int64       `json:"events_from_annotations"`
	EventID map[string]int32 `json:"event_id"`
}

func TestMatchesMNE(t *testing.T) {
	for _, name := range []string{"test_raw.set"} {
		t.Run(name, func(t *testing.T) {
			stem := strings.TrimSuffix(name, filepath.Ext(name))
			b, err := os.ReadFile(filepath.Join("testdata", "mne_"+stem+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var want mneSummary
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(shareddata.Dir(), "mne_testing_formats", "EEGLAB", name)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("%s: not found; put the shared data set beside the repo", p)
			}
			rec, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := rec.Validate(); err != nil {
				t.Fatal(err)
			}
			if rec.Info.SampleRateHz != want.SFreq || rec.NumSamples() != want.NTimes {
				t.Fatalf("%v Hz x %d samples, MNE %v x %d", rec.Info.SampleRateHz, rec.NumSamples(), want.SFreq, want.NTimes)
			}
			if want.MeasDateUnix != nil {
				if got := float64(rec.StartTime.UnixMicro()) / 1e6; math.Abs(got-*want.MeasDateUnix) > 1e-6 {
					t.Errorf("start %v, MNE %v", got, *want.MeasDateUnix)
				}
			} else if !rec.StartTime.IsZero() {
				t.Errorf("start %v, MNE has none", rec.StartTime)
			}
			if len(rec.Info.Channels) != len(want.ChNames) {
				t.Fatalf("%d channels, MNE %d", len(rec.Info.Channels), len(want.ChNames))
			}
			for c, ch := range rec.Info.Channels {
				if ch.Name != want.ChNames[c] || ch.Type.String() != want.ChTypes[c] {
					t.Errorf("channel %d: %q %s, MNE %q %s", c, ch.Name, ch.Type, want.ChNames[c], want.ChTypes[c])
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
			if len(rec.Annotations) != len(want.Annotations) || len(want.Events) != len(want.Annotations) {
				t.Fatalf("%d annotations, MNE %d (%d events)", len(rec.Annotations), len(want.Annotations), len(want.Events))
			}
			for i, a := range rec.Annotations {
				w := want.Annotations[i]
				// MNE keeps annotation onsets rounded to the microsecond; EEGLAB latencies are fractional.
				if a.Description != w.Description || math.Abs(a.OnsetSec-w.Onset) > 0.5e-6 || math.Abs(a.DurationSec-w.Duration) > 1e-9 {
					t.Errorf("annotation %d: %+v, MNE %+v", i, a, w)
				}
				if a.OnsetSample != want.Events[i][0] || a.Code != int32(want.Events[i][2]) || want.EventID[a.Description] != a.Code {
					t.Errorf("annotation %d: sample %d code %d, MNE event %v", i, a.OnsetSample, a.Code, want.Events[i])
				}
			}
		})
	}
}
