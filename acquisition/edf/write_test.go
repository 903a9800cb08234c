package edf

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/streams"
)

// quantisationStep returns the largest step of the written file's channels, in the channel unit.
func maxStep(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := ReadFile(path, ReadOptions{NoStimEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	var steps []float64
	for _, s := range f.Header.Signals {
		if s.IsAnnotation() {
			continue
		}
		unit, _ := voltScale(s.PhysicalDimension)
		steps = append(steps, (s.PhysicalMax-s.PhysicalMin)/float64(s.DigitalMax-s.DigitalMin)*unit)
	}
	return steps
}

func TestWriteRoundTripPhysioNet(t *testing.T) {
	src, err := Read(shareddata.Path(t, "physionet_eegmmidb_S001/S001R04.edf"))
	if err != nil {
		t.Fatal(err)
	}
	src.StartTime = src.StartTime.Add(250 * time.Millisecond) // exercise the sub-second start
	for _, format := range []Format{FormatEDF, FormatBDF} {
		t.Run(format.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r04."+format.String())
			if err := Write(path, src, WriteOptions{Format: format}); err != nil {
				t.Fatal(err)
			}
			got, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.NumSamples() != src.NumSamples() || got.Info.SampleRateHz != 160 || len(got.Data) != 64 {
				t.Fatalf("shape %dx%d at %v Hz, want 64x%d at 160 Hz", len(got.Data), got.NumSamples(), got.Info.SampleRateHz, src.NumSamples())
			}
			if !got.StartTime.Equal(src.StartTime) {
				t.Errorf("start %v, want %v", got.StartTime, src.StartTime)
			}
			steps := maxStep(t, path)
			for c := range src.Data {
				if got.Info.Channels[c].Name != src.Info.Channels[c].Name || got.Info.Channels[c].Unit != "V" {
					t.Errorf("channel %d = %+v, want %q in V", c, got.Info.Channels[c], src.Info.Channels[c].Name)
				}
				for i, want := range src.Data[c] {
					if math.Abs(got.Data[c][i]-want) > steps[c]/2*(1+1e-6) {
						t.Fatalf("channel %d sample %d = %v, want %v within half a step %v", c, i, got.Data[c][i], want, steps[c]/2)
					}
				}
			}
			if len(got.Annotations) != len(src.Annotations) {
				t.Fatalf("%d annotations, want %d", len(got.Annotations), len(src.Annotations))
			}
			for i, a := range got.Annotations {
				w := src.Annotations[i]
				if math.Abs(a.OnsetSec-w.OnsetSec) > 1e-7 || math.Abs(a.DurationSec-w.DurationSec) > 1e-7 ||
					a.Description != w.Description || a.OnsetSample != w.OnsetSample {
					t.Errorf("annotation %d = %+v, want %+v", i, a, w)
				}
			}
		})
	}
}

// syntheticInfo is a 3-channel stream: two EEG channels and a trigger channel.
func syntheticInfo(rate float64) streams.StreamInfo {
	return streams.StreamInfo{StreamID: "synthetic", SampleRateHz: rate, Channels: []streams.Channel{
		{Name: "Cz", Type: streams.ChannelEEG, Unit: "V"},
		{Name: "Pz", Type: streams.ChannelEEG, Unit: "V"},
		{Name: "Status", Type: streams.ChannelStim},
	}}
}

func TestWriterStreaming(t *testing.T) {
	const rate, nFrames, frameLen = 256.0, 75, 7 // 525 samples: 2 whole records and a partial one
	for _, format := range []Format{FormatEDF, FormatBDF} {
		t.Run(format.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stream.edf")
			w, err := Create(path, syntheticInfo(rate), WriteOptions{Format: format})
			if err != nil {
				t.Fatal(err)
			}
			var want [3][]float64
			fr := &streams.Frame{StreamID: "synthetic", NumChannels: 3, NumSamples: frameLen, Samples: make([]float32, 3*frameLen)}
			var wantMarkers []acquisition.Annotation
			for k := 0; k < nFrames; k++ {
				fr.Seq = uint64(k)
				fr.Markers = fr.Markers[:0]
				for s := 0; s < frameLen; s++ {
					i := k*frameLen + s
					v := []float64{50e-6 * math.Sin(2*math.Pi*10*float64(i)/rate), -20e-6 + 1e-7*float64(i%100), float64(i / 100)}
					for c := range v {
						fr.Samples[s*3+c] = float32(v[c])
						want[c] = append(want[c], float64(float32(v[c])))
					}
				}
				if k%10 == 3 {
					fr.Markers = append(fr.Markers, streams.Marker{SampleOffset: 2, Code: int32(k), Label: "cue ü"})
					wantMarkers = append(wantMarkers, acquisition.Annotation{OnsetSample: int64(k*frameLen + 2), Description: "cue ü"})
				}
				if err := w.WriteFrame(fr); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w.PaddedSamples() != 3*256-525 {
				t.Errorf("padded %d samples, want %d", w.PaddedSamples(), 3*256-525)
			}
			f, err := ReadFile(path, ReadOptions{NoStimEvents: true})
			if err != nil {
				t.Fatal(err)
			}
			if f.Header.NumRecords != 3 {
				t.Errorf("header says %d records, want 3", f.Header.NumRecords)
			}
			rec := f.Recording
			if rec.NumSamples() != 3*256 {
				t.Fatalf("%d samples, want %d", rec.NumSamples(), 3*256)
			}
			steps := maxStep(t, path)
			for c := range want {
				for i, v := range want[c] {
					if math.Abs(rec.Data[c][i]-v) > steps[c]/2*(1+1e-6) {
						t.Fatalf("channel %d sample %d = %v, want %v (step %v)", c, i, rec.Data[c][i], v, steps[c])
					}
				}
				for i := len(want[c]); i < rec.NumSamples(); i++ {
					if rec.Data[c][i] != rec.Data[c][len(want[c])-1] {
						t.Fatalf("channel %d padding sample %d = %v, want the last value", c, i, rec.Data[c][i])
					}
				}
			}
			if len(rec.Annotations) != len(wantMarkers)+1 {
				t.Fatalf("%d annotations, want %d markers + padding", len(rec.Annotations), len(wantMarkers))
			}
			for i, m := range wantMarkers {
				a := rec.Annotations[i]
				if a.OnsetSample != m.OnsetSample || a.Description != m.Description {
					t.Errorf("annotation %d = %+v, want sample %d %q", i, a, m.OnsetSample, m.Description)
				}
			}
			if pad := rec.Annotations[len(rec.Annotations)-1]; pad.Description != "neurostream padding" || pad.OnsetSample != 525 {
				t.Errorf("last annotation %+v, want padding at 525", pad)
			}
		})
	}
}

func TestWriterCrashLeavesReadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.edf")
	w, err := Create(path, syntheticInfo(100), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fr := &streams.Frame{NumChannels: 3, NumSamples: 250, Samples: make([]float32, 750)}
	if err := w.WriteFrame(fr); err != nil {
		t.Fatal(err)
	}
	if err := w.buf.Flush(); err != nil { // what the OS has after a crash: no Close
		t.Fatal(err)
	}
	rec, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if rec.NumSamples() != 200 {
		t.Errorf("%d samples readable, want the 2 whole records (200)", rec.NumSamples())
	}
	w.file.Close()
}

func TestWriteRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	info := syntheticInfo(512.5)
	if _, err := Create(filepath.Join(dir, "a.edf"), info, WriteOptions{}); err == nil {
		t.Error("512.5 Hz with 1 s records: want an error about samples per record")
	}
	rec := &acquisition.Recording{Info: syntheticInfo(100), Data: [][]float64{{1, math.NaN()}, {0, 0}, {0, 0}}}
	if err := Write(filepath.Join(dir, "b.edf"), rec, WriteOptions{}); err == nil {
		t.Error("NaN sample: want an error")
	}
	if _, err := os.Stat(filepath.Join(dir, "b.edf")); err == nil {
		t.Error("a failed Write left a file behind")
	}
	rec = &acquisition.Recording{Info: syntheticInfo(100), Data: [][]float64{{0, 1e-5}, {0, 0}, {0, 40000}}}
	if err := Write(filepath.Join(dir, "c.edf"), rec, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "Status") {
		t.Errorf("stim code 40000 in EDF: err = %v, want an error naming channel Status", err)
	}
	if err := Write(filepath.Join(dir, "c.bdf"), rec, WriteOptions{Format: FormatBDF}); err != nil {
		t.Errorf("stim code 40000 in BDF: %v", err)
	}
}
