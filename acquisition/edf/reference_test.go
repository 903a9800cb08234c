package edf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/internal/shareddata"
)

// mneSummary is what tools/formats_reference.py writes for one file (see that script).
type mneSummary struct {
	MNEError        string          `json:"mne_error"`
	ReadAnnotations []mneAnnotation `json:"read_annotations"`
	SfreqHz         float64         `json:"sfreq"`
	NTimes          int             `json:"n_times"`
	MeasDateUnix    *float64        `json:"meas_date_unix"`
	ChNames         []string        `json:"ch_names"`
	ChTypes         []string        `json:"ch_types"`
	SampleIndices   []int           `json:"sample_indices"`
	Samples         [][]float64     `json:"samples"`
	Sums            []float64       `json:"sums"`
	SumSq           []float64       `json:"sumsq"`
	Mins            []float64       `json:"mins"`
	Maxs            []float64       `json:"maxs"`
	SHA256Float32   string          `json:"sha256_float32"`
	Annotations     []mneAnnotation `json:"annotations"`
	StimChannel     string          `json:"stim_channel"`
	NEvents         int             `json:"n_events"`
	EventsHead      [][2]int64      `json:"events_head"`
	EventsSHA256    string          `json:"events_sha256"`
}

type mneAnnotation struct {
	Onset       float64 `json:"onset"`
	Duration    float64 `json:"duration"`
	Description string  `json:"description"`
}

func loadMNESummaries(t *testing.T) map[string]mneSummary {
	t.Helper()
	b, err := os.ReadFile("testdata/mne_edf.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]mneSummary
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("testdata/mne_edf.json: %v", err)
	}
	return m
}

// float32SHA256 hashes the data as MNE's summary does: channel-major float32 little-endian.
func float32SHA256(data [][]float64) string {
	h := sha256.New()
	var buf [4]byte
	for _, row := range data {
		for _, v := range row {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(float32(v)))
			h.Write(buf[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func close(got, want, rel, abs float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+abs
}

// TestAgainstMNE reads every EDF/BDF fixture and PhysioNet run and compares with MNE-Python 1.3.
func TestAgainstMNE(t *testing.T) {
	sums := loadMNESummaries(t)
	names := make([]string, 0, len(sums))
	for k := range sums {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, rel := range names {
		want := sums[rel]
		t.Run(rel, func(t *testing.T) {
			path := shareddata.Path(t, rel)
			f, err := ReadFile(path, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rec := f.Recording
			if want.MNEError != "" {
				// Annotation-only file: MNE's read_raw_edf has no channels to give; compare with
				// mne.read_annotations instead.
				t.Logf("MNE read_raw: %s; comparing annotations with mne.read_annotations", want.MNEError)
				compareAnnotations(t, talAnnotations(rec), want.ReadAnnotations)
				return
			}
			compareRecording(t, f, &want)
		})
	}
}

func talAnnotations(rec *acquisition.Recording) []acquisition.Annotation {
	var out []acquisition.Annotation
	for _, a := range rec.Annotations {
		if a.Code == 0 {
			out = append(out, a)
		}
	}
	return out
}

func compareAnnotations(t *testing.T, got []acquisition.Annotation, want []mneAnnotation) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d annotations, MNE has %d", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		g, w := got[i], want[i]
		// MNE rounds onsets to microseconds through datetime arithmetic.
		if !close(g.OnsetSec, w.Onset, 0, 1.5e-6) || !close(g.DurationSec, w.Duration, 0, 1.5e-6) || g.Description != w.Description {
			t.Errorf("annotation %d = (%v, %v, %q), MNE (%v, %v, %q)", i, g.OnsetSec, g.DurationSec, g.Description,
				w.Onset, w.Duration, w.Description)
		}
	}
}

func compareRecording(t *testing.T, f *File, want *mneSummary) {
	t.Helper()
	rec := f.Recording
	if rec.Info.SampleRateHz != want.SfreqHz {
		t.Errorf("rate %v Hz, MNE %v", rec.Info.SampleRateHz, want.SfreqHz)
	}
	if rec.NumSamples() != want.NTimes {
		t.Fatalf("%d samples, MNE %d", rec.NumSamples(), want.NTimes)
	}
	if len(rec.Info.Channels) != len(want.ChNames) {
		t.Fatalf("%d channels, MNE %d", len(rec.Info.Channels), len(want.ChNames))
	}
	for c, ch := range rec.Info.Channels {
		if ch.Name != want.ChNames[c] || ch.Type.String() != want.ChTypes[c] {
			t.Errorf("channel %d = %q (%v), MNE %q (%s)", c, ch.Name, ch.Type, want.ChNames[c], want.ChTypes[c])
		}
	}
	if want.MeasDateUnix != nil {
		// MNE 1.3 drops the sub-second part of the start time; we keep it.
		got := float64(rec.StartTime.Unix())
		if got != *want.MeasDateUnix {
			t.Errorf("start %v (unix %v), MNE unix %v", rec.StartTime, got, *want.MeasDateUnix)
		}
	}
	for c, row := range rec.Data {
		var sum, sumsq float64
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range row {
			sum += v
			sumsq += v * v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		// Absolute floor: 1e-6 of the channel's largest magnitude per sample summed.
		scale := math.Max(math.Abs(want.Mins[c]), math.Abs(want.Maxs[c]))
		name := rec.Info.Channels[c].Name
		if !close(sum, want.Sums[c], 1e-6, 1e-9*scale*float64(len(row))) || !close(sumsq, want.SumSq[c], 1e-6, 0) ||
			!close(lo, want.Mins[c], 1e-6, 1e-12*scale) || !close(hi, want.Maxs[c], 1e-6, 1e-12*scale) {
			t.Errorf("channel %s: sum/sumsq/min/max = %v/%v/%v/%v, MNE %v/%v/%v/%v", name,
				sum, sumsq, lo, hi, want.Sums[c], want.SumSq[c], want.Mins[c], want.Maxs[c])
		}
		for k, i := range want.SampleIndices {
			if !close(row[i], want.Samples[c][k], 1e-6, 1e-12*scale) {
				t.Errorf("channel %s sample %d = %v, MNE %v", name, i, row[i], want.Samples[c][k])
			}
		}
	}
	// Where no signal is resampled the arithmetic is MNE's own, so the float32-rounded data must be
	// identical; FFT resampling (gonum vs scipy) may differ in the last bits.
	resampled := false
	for _, s := range f.Header.Signals {
		if !s.IsAnnotation() && s.SamplesPerRecord != f.Header.Signals[0].SamplesPerRecord {
			resampled = true
		}
	}
	if got := float32SHA256(rec.Data); got != want.SHA256Float32 {
		if resampled {
			t.Logf("float32 data checksum differs from MNE's; this file mixes rates and is FFT-resampled")
		} else {
			t.Errorf("float32 data checksum %s, MNE %s", got, want.SHA256Float32)
		}
	}
	compareAnnotations(t, talAnnotations(rec), want.Annotations)
	if want.StimChannel != "" {
		var events []acquisition.Annotation
		for _, a := range rec.Annotations {
			if a.Code != 0 {
				events = append(events, a)
			}
		}
		if len(events) != want.NEvents {
			t.Errorf("%d stim events, MNE find_events %d", len(events), want.NEvents)
		}
		h := sha256.New()
		var buf [8]byte
		for i, e := range events {
			if i < len(want.EventsHead) && (e.OnsetSample != want.EventsHead[i][0] || int64(e.Code) != want.EventsHead[i][1]) {
				t.Errorf("event %d = (%d, %d), MNE (%d, %d)", i, e.OnsetSample, e.Code, want.EventsHead[i][0], want.EventsHead[i][1])
			}
			binary.LittleEndian.PutUint64(buf[:], uint64(e.OnsetSample))
			h.Write(buf[:])
			binary.LittleEndian.PutUint64(buf[:], uint64(e.Code))
			h.Write(buf[:])
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want.EventsSHA256 {
			t.Errorf("stim events checksum %s, MNE %s", got, want.EventsSHA256)
		}
	}
}
