package train

import (
	"math"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/streams"
)

func syntheticRecording() *acquisition.Recording {
	const fs, n = 100.0, 1000
	rec := &acquisition.Recording{Info: streams.StreamInfo{StreamID: "syn", SampleRateHz: fs}}
	for c, name := range []string{"C3", "Cz", "STI"} {
		typ := streams.ChannelEEG
		if name == "STI" {
			typ = streams.ChannelStim
		}
		rec.Info.Channels = append(rec.Info.Channels, streams.Channel{Name: name, Type: typ})
		row := make([]float64, n)
		for s := range row {
			row[s] = math.Sin(2*math.Pi*10*float64(s)/fs + float64(c))
		}
		rec.Data = append(rec.Data, row)
	}
	for _, a := range []struct {
		s    int64
		desc string
	}{{100, "T1"}, {300, "T2"}, {500, "T0"}, {950, "T1"}} {
		rec.Annotations = append(rec.Annotations, acquisition.Annotation{OnsetSample: a.s, OnsetSec: float64(a.s) / fs, Description: a.desc})
	}
	return rec
}

func TestEpochRecordingFiltersCausallyAndCuts(t *testing.T) {
	rec := syntheticRecording()
	cfg := Config{Events: []Event{{"T1", "left"}, {"T2", "right"}}, BandHz: [2]float64{8, 12}, TminSec: 0.5, TmaxSec: 1.0}
	d, err := EpochRecording(rec, "syn", cfg)
	if err != nil {
		t.Fatal(err)
	}
	// T0 is not mapped and the T1 at 950 runs past the end: two epochs of 51 samples, EEG only.
	if len(d.Epochs) != 2 || len(d.Epochs[0]) != 2 || len(d.Epochs[0][0]) != 51 || d.Labels[0] != 0 || d.Labels[1] != 1 {
		t.Fatalf("%d epochs, labels %v, channels %v", len(d.Epochs), d.Labels, d.Channels)
	}
	sos, _ := dsp.Butter(4, []float64{8, 12}, dsp.Bandpass, 100)
	want := dsp.SOSFilt(sos, rec.Data[1])[350:401]
	for i, v := range d.Epochs[1][1] {
		if v != want[i] {
			t.Fatalf("epoch sample %d = %v, causal filter then cut gives %v", i, v, want[i])
		}
	}
	cfg.Channels = []string{"Cz", "Pz"}
	if _, err := EpochRecording(rec, "syn", cfg); err == nil || !strings.Contains(err.Error(), "Pz") {
		t.Errorf("missing channel: %v", err)
	}
	cfg.Channels, cfg.Events = nil, []Event{{"T9", "x"}, {"T8", "y"}}
	if _, err := EpochRecording(rec, "syn", cfg); err == nil {
		t.Error("no matching events accepted")
	}
	cfg.Events, cfg.TmaxSec = []Event{{"T1", "left"}, {"T2", "right"}}, 0.2
	if _, err := EpochRecording(rec, "syn", cfg); err == nil {
		t.Error("tmax < tmin accepted")
	}
}
