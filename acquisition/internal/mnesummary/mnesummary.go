// Package mnesummary holds what reader tests compare against: the summary of a file as
// MNE-Python reads it (written to a reader's testdata/ by tools/formats_reference_meg.py: rate,
// channels, selected samples, per-channel sums, annotations, events), and the checks that a
// Recording from our readers matches it. Only tests use it.
package mnesummary

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
)

// Summary is one file's summary; fields a format does not have are empty.
type Summary struct {
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
	Annotations   []struct {
		Onset       float64 `json:"onset"`
		Duration    float64 `json:"duration"`
		Description string  `json:"description"`
	} `json:"annotations"`
	EventsFromAnnotations [][3]int64       `json:"events_from_annotations"`
	EventID               map[string]int32 `json:"event_id"`
}

// Load reads a summary file.
func Load(t testing.TB, path string) Summary {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// CheckSignals checks rec's rate, length, start time, channel names and types (MNE's type names
// through typeName, or as they are when it is nil), the selected samples exactly, and each
// channel's sum and sum of magnitudes to 1e-9 relative.
func CheckSignals(t testing.TB, rec *acquisition.Recording, want *Summary, typeName func(string) string) {
	t.Helper()
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	if rec.Info.SampleRateHz != want.SFreq || rec.NumSamples() != want.NTimes {
		t.Fatalf("%v Hz x %d samples, MNE %v x %d", rec.Info.SampleRateHz, rec.NumSamples(), want.SFreq, want.NTimes)
	}
	if want.MeasDateUnix != nil {
		if got := float64(rec.StartTime.UnixNano()) / 1e9; math.Abs(got-*want.MeasDateUnix) > 1e-6 {
			t.Errorf("start %v (%v), MNE %v", rec.StartTime, got, *want.MeasDateUnix)
		}
	} else if !rec.StartTime.IsZero() {
		t.Errorf("start %v, MNE has none", rec.StartTime)
	}
	if len(rec.Info.Channels) != len(want.ChNames) {
		t.Fatalf("%d channels, MNE %d", len(rec.Info.Channels), len(want.ChNames))
	}
	for c, ch := range rec.Info.Channels {
		wantType := want.ChTypes[c]
		if typeName != nil {
			wantType = typeName(wantType)
		}
		if ch.Name != want.ChNames[c] || ch.Type.String() != wantType {
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
}

// CheckAnnotations checks rec's annotations against MNE's (description, onset within onsetTolSec,
// duration) and their samples and codes against mne.events_from_annotations.
func CheckAnnotations(t testing.TB, rec *acquisition.Recording, want *Summary, onsetTolSec float64) {
	t.Helper()
	if len(rec.Annotations) != len(want.Annotations) || len(want.EventsFromAnnotations) != len(want.Annotations) {
		t.Fatalf("%d annotations, MNE %d (%d events)", len(rec.Annotations), len(want.Annotations), len(want.EventsFromAnnotations))
	}
	for i, a := range rec.Annotations {
		w := want.Annotations[i]
		if a.Description != w.Description || math.Abs(a.OnsetSec-w.Onset) > onsetTolSec || math.Abs(a.DurationSec-w.Duration) > 1e-9 {
			t.Errorf("annotation %d: %+v, MNE %+v", i, a, w)
		}
		e := want.EventsFromAnnotations[i]
		if a.OnsetSample != e[0] || a.Code != int32(e[2]) || want.EventID[a.Description] != a.Code {
			t.Errorf("annotation %d: sample %d code %d, MNE event %v", i, a.OnsetSample, a.Code, e)
		}
	}
}
