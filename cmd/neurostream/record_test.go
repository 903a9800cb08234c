package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
)

// publishGappy publishes, on kc's raw topic, stream "g" (2 channels, 100 Hz, 4-sample frames, seq
// 0..19 without 10..12, a marker "stim" at frame 15 sample 2) interleaved with frames of another
// stream "other" that the recorder must ignore. Sample s of channel c of "g" is s + 1000c (no unit,
// so that one EDF range of +-2000 holds both channels).
func publishGappy(t *testing.T, ctx context.Context, kc streams.Config) {
	t.Helper()
	topics := kc.Topics()
	if err := streams.EnsureTopics(ctx, kc, topics, 4, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, id := range []string{"g", "other"} {
		info := streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: id, SampleRateHz: 100,
			Channels: []streams.Channel{{Name: "A", Type: streams.ChannelEEG}, {Name: "B", Type: streams.ChannelMisc}}}
		if err := p.PublishStreamInfo(ctx, topics, "raw", &info); err != nil {
			t.Fatal(err)
		}
	}
	for seq := range 20 {
		other := &streams.Frame{StreamID: "other", Seq: uint64(seq), NumSamples: 4, NumChannels: 2, Samples: make([]float32, 8)}
		for i := range other.Samples {
			other.Samples[i] = -1
		}
		if err := p.PublishFrames(ctx, topics.Raw, other); err != nil {
			t.Fatal(err)
		}
		if seq >= 10 && seq <= 12 {
			continue // lost on the way
		}
		f := &streams.Frame{StreamID: "g", Seq: uint64(seq), SourceTimeNs: int64(seq) * 40e6, NumSamples: 4, NumChannels: 2}
		for s := range 4 {
			n := float32(4*seq + s)
			f.Samples = append(f.Samples, n, n+1000)
		}
		if seq == 15 {
			f.Markers = []streams.Marker{{SampleOffset: 2, Code: 7, Label: "stim"}}
		}
		if err := p.PublishFrames(ctx, topics.Raw, f); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecordGapsAndInterrupt records a stream with a sequence gap and stops it by cancelling the
// context (Ctrl-C) once everything was received: the file is complete, the gap is counted, filled with
// the last values and annotated, and the marker after the gap keeps its sample.
func TestRecordGapsAndInterrupt(t *testing.T) {
	kc := startBroker(t, "gap")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	publishGappy(t, ctx, kc)
	for _, file := range []string{"g.xdf", "g.bdf", "g.edf"} {
		t.Run(file, func(t *testing.T) {
			rctx, interrupt := context.WithCancel(ctx)
			defer interrupt()
			o := recordOptions{StreamID: "g", OutPath: filepath.Join(t.TempDir(), file), FromStart: true, PhysicalMaxEDF: 2000,
				Progress: func(s *recordSummary) {
					if s.Samples == 80 {
						interrupt()
					}
				}}
			sum, err := recordStream(rctx, kc, o)
			if err != nil {
				t.Fatal(err)
			}
			if sum.StopReason != "interrupted" || sum.Frames != 17 || sum.Samples != 80 || sum.Gaps != 1 || sum.MissingFrames != 3 ||
				sum.FilledSamples != 12 || sum.Markers != 1 || sum.Rejected != 0 || sum.Duplicates != 0 {
				t.Fatalf("summary %+v", sum)
			}
			got, half := readBack(t, o.OutPath)
			if got.NumSamples() < 80 || len(got.Data) != 2 {
				t.Fatalf("read back %d channels x %d samples", len(got.Data), got.NumSamples())
			}
			for s := range 80 {
				want := float64(s)
				if s >= 40 && s < 52 {
					want = 39 // held through the gap
				}
				for c := range 2 {
					tol := 0.0
					if half != nil {
						tol = half[c] * (1 + 1e-9)
					}
					if d := got.Data[c][s] - (want + 1000*float64(c)); d > tol || d < -tol {
						t.Fatalf("channel %d sample %d: %v, want %v (tolerance %v)", c, s, got.Data[c][s], want+1000*float64(c), tol)
					}
				}
			}
			var marks []string
			for _, a := range got.Annotations {
				if a.Description != "neurostream padding" {
					marks = append(marks, fmt.Sprintf("%s@%d/%gs", a.Description, a.OnsetSample, a.DurationSec))
				}
			}
			// The gap annotation spans the 12 filled samples; XDF marker streams carry no durations.
			want := "neurostream gap: 3 frames missing@40/0.12s,stim@62/0s"
			if file == "g.xdf" {
				want = "neurostream gap: 3 frames missing@40/0s,stim@62/0s"
			}
			if strings.Join(marks, ",") != want {
				t.Fatalf("markers %v", marks)
			}
		})
	}
}

// Quiet is not idle while the topic still holds frames the recorder has not read: with an idle limit
// far shorter than the gaps between its fetches (as a slow broker makes them), a recording of a
// backlog still takes every frame, and a source restarted mid-backlog (a new epoch at sequence 0)
// goes on in the same file instead of being dropped as duplicates.
func TestRecordIdleWaitsForTheBacklog(t *testing.T) {
	kc := startBroker(t, "idle")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topics := kc.Topics()
	if err := streams.EnsureTopics(ctx, kc, topics, 1, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(kc, streams.Bulk)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	info := streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: "b", SampleRateHz: 100,
		Channels: []streams.Channel{{Name: "A", Type: streams.ChannelEEG}}}
	if err := p.PublishStreamInfo(ctx, topics, "raw", &info); err != nil {
		t.Fatal(err)
	}
	const perRun = 3000
	var batch []*streams.Frame
	for run, epoch := range []uint64{100, 200} {
		for seq := range perRun {
			f := &streams.Frame{StreamID: "b", Epoch: epoch, Seq: uint64(seq), NumSamples: 4, NumChannels: 1,
				Samples: []float32{float32(run), 1, 2, 3}}
			batch = append(batch, f)
		}
	}
	for len(batch) > 0 {
		n := min(len(batch), 500)
		if err := p.PublishFrames(ctx, topics.Raw, batch[:n]...); err != nil {
			t.Fatal(err)
		}
		batch = batch[n:]
	}
	o := recordOptions{StreamID: "b", OutPath: filepath.Join(t.TempDir(), "b.xdf"), FromStart: true, Idle: time.Millisecond}
	sum, err := recordStream(ctx, kc, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Frames != 2*perRun || sum.Duplicates != 0 || sum.Rejected != 0 || !strings.HasPrefix(sum.StopReason, "idle") {
		t.Fatalf("summary %+v: want all %d frames of both runs, then an idle stop", sum, 2*perRun)
	}
}

// A recording starts at its first sample's time: the source's start time (a replayed file's
// measurement date) plus that frame's source time, or, for a source that does not say when it
// started, the frame's acquisition time — not the day the file was written.
func TestRecordStartTime(t *testing.T) {
	kc := startBroker(t, "start")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topics := kc.Topics()
	if err := streams.EnsureTopics(ctx, kc, topics, 2, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	measured := time.Date(2009, 8, 12, 16, 15, 0, 0, time.UTC)
	acquired := time.Date(2024, 3, 1, 9, 30, 5, 0, time.UTC)
	for _, s := range []struct {
		id    string
		start int64
	}{{"file", measured.UnixNano()}, {"live", 0}} {
		info := streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: s.id, SampleRateHz: 100, StartTimeNs: s.start,
			Channels: []streams.Channel{{Name: "A", Type: streams.ChannelEEG, Unit: "V"}}}
		if err := p.PublishStreamInfo(ctx, topics, "raw", &info); err != nil {
			t.Fatal(err)
		}
		for seq := range 50 {
			// The stream has been running 3 s (source time) when its first frame is recorded.
			f := &streams.Frame{StreamID: s.id, Seq: uint64(seq), SourceTimeNs: 3e9 + int64(seq)*100e6, NumSamples: 10, NumChannels: 1,
				AcquiredAtNs: acquired.UnixNano() + int64(seq+1)*100e6, Samples: make([]float32, 10)}
			if err := p.PublishFrames(ctx, topics.Raw, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	for id, want := range map[string]time.Time{"file": measured.Add(3 * time.Second), "live": acquired} {
		o := recordOptions{StreamID: id, OutPath: filepath.Join(t.TempDir(), id+".bdf"), FromStart: true, Duration: 2 * time.Second}
		if _, err := recordStream(ctx, kc, o); err != nil {
			t.Fatal(err)
		}
		got, _ := readBack(t, o.OutPath)
		if !got.StartTime.Equal(want) {
			t.Errorf("%s: recording starts %v, want %v", id, got.StartTime, want)
		}
	}
}
