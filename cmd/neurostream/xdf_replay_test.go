package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/xdf"
)

// xdfChunk appends one XDF chunk (4-byte length field) with the given tag and content.
func xdfChunk(b []byte, tag uint16, content []byte) []byte {
	b = append(b, 4)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(content)+2))
	b = binary.LittleEndian.AppendUint16(b, tag)
	return append(b, content...)
}

// multiStreamXDF builds an XDF file as LabRecorder writes them for a session with two devices: "eeg"
// (4 channels at 100 Hz) and "acc" (3 channels at 50 Hz), both starting at t=50 s with only the
// first sample time-stamped, and one marker stream ("go" at 51 s, "stop" at 52.5 s). Sample s of
// channel c of stream k is 1000k + 100c + s.
func multiStreamXDF(t *testing.T, path string) {
	t.Helper()
	const (
		tagStreamHeader = 2
		tagSamples      = 3
	)
	b := []byte("XDF:")
	b = xdfChunk(b, 1, []byte(`<?xml version="1.0"?><info><version>1.0</version></info>`))
	header := func(id uint32, name, typ string, nch int, rate float64, format string) {
		x := fmt.Sprintf(`<?xml version="1.0"?><info><name>%s</name><type>%s</type><channel_count>%d</channel_count>`+
			`<nominal_srate>%g</nominal_srate><channel_format>%s</channel_format><desc><channels>`, name, typ, nch, rate, format)
		for c := range nch {
			if format != "string" {
				x += fmt.Sprintf(`<channel><label>%s%d</label><unit>volts</unit></channel>`, strings.ToUpper(name), c+1)
			}
		}
		x += `</channels></desc></info>`
		b = xdfChunk(b, tagStreamHeader, append(binary.LittleEndian.AppendUint32(nil, id), x...))
	}
	header(1, "eeg", "EEG", 4, 100, "float32")
	header(2, "acc", "Misc", 3, 50, "float32")
	header(3, "events", "Markers", 1, 0, "string")
	samples := func(id uint32, k, nch, n int) {
		for s0 := 0; s0 < n; s0 += 64 { // several chunks per stream, as recorders flush them
			m := min(64, n-s0)
			x := binary.LittleEndian.AppendUint32(nil, id)
			x = append(x, 4)
			x = binary.LittleEndian.AppendUint32(x, uint32(m))
			for s := s0; s < s0+m; s++ {
				if s == 0 {
					x = append(x, 8)
					x = binary.LittleEndian.AppendUint64(x, math.Float64bits(50))
				} else {
					x = append(x, 0)
				}
				for c := range nch {
					x = binary.LittleEndian.AppendUint32(x, math.Float32bits(float32(1000*k+100*c+s)))
				}
			}
			b = xdfChunk(b, tagSamples, x)
		}
	}
	samples(1, 1, 4, 300)
	samples(2, 2, 3, 150)
	for _, m := range []struct {
		t     float64
		label string
	}{{51, "go"}, {52.5, "stop"}} {
		x := binary.LittleEndian.AppendUint32(nil, 3)
		x = append(x, 1, 1, 8)
		x = binary.LittleEndian.AppendUint64(x, math.Float64bits(m.t))
		x = append(x, 1, byte(len(m.label)))
		b = xdfChunk(b, tagSamples, append(x, m.label...))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReplayMultiStreamXDF replays an XDF file holding two numeric streams at different rates (the
// replay command's code): both are published at once as "<file>-eeg" and "<file>-acc", each recorded
// back from Kafka to XDF (float32, so exact) has its own channels, rate and samples, and the marker
// stream's events sit at the same time on both: sample 100 and 250 of eeg, 50 and 125 of acc.
// --xdf-stream picks one stream and an unknown name is an error that lists the streams.
func TestReplayMultiStreamXDF(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "session.xdf")
	multiStreamXDF(t, path)
	kc := startBroker(t, "xdfmulti")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := replayFiles(ctx, kc, []string{path}, replayOptions{FrameSamples: 10}, newProgress(io.Discard, true), io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		stream  string
		k, nch  int
		n       int
		rateHz  float64
		markers string
	}{
		{"session-eeg", 1, 4, 300, 100, "100:go 250:stop"},
		{"session-acc", 2, 3, 150, 50, "50:go 125:stop"},
	} {
		out := filepath.Join(dir, want.stream+".xdf")
		sum, err := recordStream(ctx, kc, recordOptions{StreamID: want.stream, OutPath: out, FromStart: true,
			Duration: time.Duration(float64(want.n) / want.rateHz * float64(time.Second))})
		if err != nil {
			t.Fatalf("%s: %v", want.stream, err)
		}
		if sum.Samples != int64(want.n) || sum.Gaps != 0 || sum.Markers != 2 {
			t.Fatalf("%s: summary %+v", want.stream, sum)
		}
		recs, err := xdf.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		got := recs[0]
		if len(recs) != 1 || got.Info.SampleRateHz != want.rateHz || len(got.Data) != want.nch || got.NumSamples() != want.n {
			t.Fatalf("%s: %d streams, %d channels x %d samples at %v Hz", want.stream, len(recs), len(got.Data), got.NumSamples(), got.Info.SampleRateHz)
		}
		prefix := strings.ToUpper(strings.TrimPrefix(want.stream, "session-"))
		for c := range want.nch {
			if name := got.Info.Channels[c].Name; name != fmt.Sprintf("%s%d", prefix, c+1) {
				t.Fatalf("%s: channel %d is %q", want.stream, c, name)
			}
			for s := range want.n {
				if v := got.Data[c][s]; v != float64(1000*want.k+100*c+s) {
					t.Fatalf("%s: channel %d sample %d = %v, want %d", want.stream, c, s, v, 1000*want.k+100*c+s)
				}
			}
		}
		var marks []string
		for _, a := range got.Annotations {
			marks = append(marks, fmt.Sprintf("%d:%s", a.OnsetSample, a.Description))
		}
		if strings.Join(marks, " ") != want.markers {
			t.Fatalf("%s: markers %v, want %s", want.stream, marks, want.markers)
		}
	}

	srcs, err := replaySources(path, 0, 1, replayOptions{FrameSamples: 10, XDFStream: "acc"})
	if err != nil || len(srcs) != 1 || srcs[0].Info().StreamID != "session" || srcs[0].Info().SampleRateHz != 50 {
		t.Fatalf("--xdf-stream acc: %d sources, %v", len(srcs), err)
	}
	_, err = replaySources(path, 0, 1, replayOptions{FrameSamples: 10, XDFStream: "emg"})
	if err == nil || !strings.Contains(err.Error(), `no numeric XDF stream named "emg" (streams: [eeg acc])`) {
		t.Fatalf("unknown --xdf-stream: %v", err)
	}
}
