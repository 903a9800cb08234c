package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/fif"
	"github.com/neurostream/neurostream/acquisition/replay"
	"github.com/neurostream/neurostream/acquisition/xdf"
	"github.com/neurostream/neurostream/internal/bench"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
	"github.com/neurostream/neurostream/streams/metrics"
)

// startBroker starts an embedded kfake broker for one test and returns a config in namespace ns.
func startBroker(tb testing.TB, ns string) streams.Config {
	tb.Helper()
	return startBrokerWith(tb, ns, broker.Config{})
}

// startBrokerWith starts an embedded broker configured as cfg on a free local port.
func startBrokerWith(tb testing.TB, ns string, cfg broker.Config) streams.Config {
	tb.Helper()
	cfg.Addr = "127.0.0.1:0"
	b, err := broker.Start(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	return streams.Config{Brokers: []string{b.Addr()}, Namespace: ns}
}

// readBack reads a recorded file with the package readers. For EDF/BDF it also returns each data
// channel's half quantisation step in the channel's unit (volts), from the file's own header;
// for XDF the steps are nil (float32 samples are stored exactly).
func readBack(t *testing.T, path string) (*acquisition.Recording, []float64) {
	t.Helper()
	if strings.HasSuffix(path, ".xdf") {
		recs, err := xdf.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 {
			t.Fatalf("%s: %d numeric streams, want 1", path, len(recs))
		}
		return recs[0], nil
	}
	f, err := edf.ReadFile(path, edf.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var half []float64
	for _, sg := range f.Header.Signals {
		if sg.IsAnnotation() {
			continue
		}
		scale := 1.0
		if sg.PhysicalDimension == "uV" {
			scale = 1e-6
		}
		half = append(half, (sg.PhysicalMax-sg.PhysicalMin)/float64(int64(sg.DigitalMax)-int64(sg.DigitalMin))/2*scale)
	}
	return f.Recording, half
}

// compareRecorded checks got (read back from a recorded file) against want (the original): the same
// channels and rate, the first n samples equal to want's float32 values (what frames carry) within
// half (per channel; exactly when half is nil), and the same markers (onset sample and label, and
// with withDurations their durations), the recorder's own "neurostream padding" annotation aside.
func compareRecorded(t *testing.T, name string, got, want *acquisition.Recording, n int, half []float64, withDurations bool) {
	t.Helper()
	if got.Info.SampleRateHz != want.Info.SampleRateHz || len(got.Data) != len(want.Data) || got.NumSamples() < n {
		t.Fatalf("%s: %d channels x %d samples at %v Hz, want %d x %d at %v Hz", name, len(got.Data), got.NumSamples(),
			got.Info.SampleRateHz, len(want.Data), n, want.Info.SampleRateHz)
	}
	worst, worstTol := 0.0, 0.0
	for c := range want.Data {
		if g, w := got.Info.Channels[c].Name, want.Info.Channels[c].Name; g != w {
			t.Fatalf("%s: channel %d is %q, want %q", name, c, g, w)
		}
		tol := 0.0
		if half != nil {
			tol = half[c] * (1 + 1e-9)
		}
		worstTol = max(worstTol, tol)
		for s := range n {
			ref := float64(float32(want.Data[c][s]))
			if d := math.Abs(got.Data[c][s] - ref); d > tol {
				t.Fatalf("%s: channel %s sample %d: %g, want %g within %g", name, want.Info.Channels[c].Name, s, got.Data[c][s], ref, tol)
			} else {
				worst = max(worst, d)
			}
		}
	}
	mark := func(a acquisition.Annotation) string {
		if withDurations {
			return fmt.Sprintf("%d:%s:%gs", a.OnsetSample, a.Description, a.DurationSec)
		}
		return fmt.Sprintf("%d:%s", a.OnsetSample, a.Description)
	}
	var marks []string
	for _, a := range got.Annotations {
		if a.Description != "neurostream padding" {
			marks = append(marks, mark(a))
		}
	}
	var wantMarks []string
	for _, a := range want.Annotations {
		wantMarks = append(wantMarks, mark(a))
	}
	if strings.Join(marks, " ") != strings.Join(wantMarks, " ") {
		t.Fatalf("%s: markers\n%v\nwant\n%v", name, marks, wantMarks)
	}
	t.Logf("%s: %d x %d samples, max error %.3g (largest half step %.3g), %d markers equal", name, len(want.Data), n, worst, worstTol, len(marks))
}

// TestRoundTripPhysioNet replays two real PhysioNet runs at once as two streams (the replay command's
// code), records one of them from Kafka to EDF+, BDF+ and XDF (the record command's code, from the
// topic's start), and reads the files back: samples equal within each format's quantisation and the
// 30 annotations at the same samples with the same labels.
func TestRoundTripPhysioNet(t *testing.T) {
	r04 := shareddata.Path(t, "physionet_eegmmidb_S001/S001R04.edf")
	r08 := shareddata.Path(t, "physionet_eegmmidb_S001/S001R08.edf")
	want, err := edf.Read(r04)
	if err != nil {
		t.Fatal(err)
	}
	kc := startBroker(t, "rt")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := replayFiles(ctx, kc, []string{r04, r08}, replayOptions{FrameSamples: 8, Parallel: true},
		newProgress(io.Discard, true), io.Discard); err != nil {
		t.Fatal(err)
	}
	n := want.NumSamples()
	dir := t.TempDir()
	// tools/record_check.py opens the recorded files with MNE-Python and biosig when they are kept here.
	if keep := os.Getenv("NEUROSTREAM_RECORD_CHECK_DIR"); keep != "" {
		dir = keep
	}
	for _, c := range []struct {
		file string
		end  recordOptions // how the recording ends: at the recording's length, or when the stream is idle
	}{
		{"r04.edf", recordOptions{Duration: time.Duration(want.DurationSec() * float64(time.Second))}},
		{"r04.bdf", recordOptions{Idle: time.Second}},
		{"r04.xdf", recordOptions{Duration: time.Duration(want.DurationSec() * float64(time.Second))}},
	} {
		o := c.end
		o.StreamID, o.OutPath, o.FromStart = "S001R04", filepath.Join(dir, c.file), true
		sum, err := recordStream(ctx, kc, o)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		t.Log(sum)
		if sum.Frames != int64(n/8) || sum.Samples != int64(n) || sum.Markers != int64(len(want.Annotations)) || sum.Gaps != 0 ||
			sum.Duplicates != 0 || sum.Rejected != 0 || sum.Clipped != 0 || sum.FileBytes == 0 {
			t.Fatalf("%s: summary %+v", c.file, sum)
		}
		got, half := readBack(t, o.OutPath)
		// XDF marker streams hold strings at time stamps: durations have no place there.
		compareRecorded(t, c.file, got, want, n, half, !strings.HasSuffix(c.file, ".xdf"))
	}
}

// tileRecording returns a recording of nSamples made by repeating rec's channels chans (all if nil)
// end to end, declared at rateHz (rec's own rate if 0).
func tileRecording(rec *acquisition.Recording, chans []int, nSamples int, rateHz float64) *acquisition.Recording {
	if chans == nil {
		for c := range rec.Data {
			chans = append(chans, c)
		}
	}
	out := &acquisition.Recording{Info: rec.Info}
	out.Info.Channels = nil
	if rateHz > 0 {
		out.Info.SampleRateHz = rateHz
	}
	n := rec.NumSamples()
	for _, c := range chans {
		out.Info.Channels = append(out.Info.Channels, rec.Info.Channels[c])
		row := make([]float64, nSamples)
		for s := range row {
			row[s] = rec.Data[c][s%n]
		}
		out.Data = append(out.Data, row)
	}
	return out
}

// BenchmarkReplayMEG publishes a MEG recording through an embedded broker configured as the replay
// command starts one (log in a temporary directory) with the replay command's publishing path (its
// producer, batch policy and pipeline.Publish) and reports the throughput as a
// multiple of real time. "fast" is --fast (realtime-x is the result; the target is >= 100 for
// a 306-channel 1 kHz recording); "speed100" is --speed 100, paced, where lag-ms is how much longer
// than duration/100 the replay took (0 when it keeps up). Two shapes, both built from the real
// Neuromag file sample_audvis_trunc_raw_sss.fif (376 channels, 300.3 Hz, 1 s) repeated end to end:
// the file as it is (all channels at its own rate, 30 s), and its 306 MEG channels declared at
// 1 kHz (60 s: long enough that falling behind shows as growing lag), the shape.
// realtime-x/cpu-s divides by the CPU time of the whole process (replay, kafka-go and the in-process
// broker), which on a shared machine is steadier than wall time.
func BenchmarkReplayMEG(b *testing.B) {
	rec, err := fif.Read(shareddata.Path(b, "mne_testing_formats/FIF/sample_audvis_trunc_raw_sss.fif"))
	if err != nil {
		b.Fatal(err)
	}
	var meg []int
	for c, ch := range rec.Info.Channels {
		if ch.Type == streams.ChannelMEGMag || ch.Type == streams.ChannelMEGGrad {
			meg = append(meg, c)
		}
	}
	if len(meg) != 306 {
		b.Fatalf("%d MEG channels in the file, want 306", len(meg))
	}
	shapes := []struct {
		name string
		rec  *acquisition.Recording
	}{
		{"sample_audvis_376ch_300Hz", tileRecording(rec, nil, int(30*rec.Info.SampleRateHz), 0)},
		{"meg306ch_1kHz", tileRecording(rec, meg, 60000, 1000)},
	}
	const frameSamples = 8
	for _, sh := range shapes {
		for _, speed := range []float64{0, 100} {
			name := sh.name + "/fast"
			if speed > 0 {
				name = fmt.Sprintf("%s/speed%g", sh.name, speed)
			}
			b.Run(name, func(b *testing.B) {
				kc := startBrokerWith(b, "bench", broker.Config{TempLog: true}) // as replay starts its own
				ctx := context.Background()
				topics := kc.Topics()
				if err := streams.EnsureTopics(ctx, kc, topics, 8, 1); err != nil {
					b.Fatal(err)
				}
				prod, err := newReplayProducer(kc, speed)
				if err != nil {
					b.Fatal(err)
				}
				defer prod.Close()
				m := metrics.New()
				durSec := sh.rec.DurationSec()
				batch := replayBatch(speed, sh.rec.Info.SampleRateHz, frameSamples)
				b.SetBytes(int64(sh.rec.NumSamples() * len(sh.rec.Data) * 4))
				var wall time.Duration
				cpu0 := bench.CPUTime()
				for b.Loop() {
					src, err := replay.New(sh.rec, replay.Config{FrameSamples: frameSamples, Speed: speed})
					if err != nil {
						b.Fatal(err)
					}
					t0 := time.Now()
					if err := pipeline.Publish(ctx, src, prod, topics, topics.Raw, batch, m); err != nil {
						b.Fatal(err)
					}
					wall += time.Since(t0)
				}
				cpu := bench.CPUTime() - cpu0
				n := float64(b.N)
				b.ReportMetric(durSec*n/wall.Seconds(), "realtime-x")
				b.ReportMetric(durSec*n/cpu.Seconds(), "realtime-x/cpu-s")
				if speed > 0 {
					b.ReportMetric(max(0, wall.Seconds()/n-durSec/speed)*1e3, "lag-ms")
				}
				b.ReportMetric(0, "ns/op") // the recording's length, not an op, sets the time
			})
		}
	}
}
