package xdf

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

func synthRecording() *acquisition.Recording {
	const n, fs = 1000, 250.0
	rec := &acquisition.Recording{Info: streams.StreamInfo{StreamID: "synth", Device: "EEG", SampleRateHz: fs,
		Channels: []streams.Channel{{Name: "Cz", Type: streams.ChannelEEG, Unit: "V"}, {Name: "STI", Type: streams.ChannelStim}}}}
	rec.Data = [][]float64{make([]float64, n), make([]float64, n)}
	for s := range n {
		rec.Data[0][s] = float64(float32(1e-5 * math.Sin(float64(s)/10)))
		rec.Data[1][s] = float64(s % 7)
	}
	rec.Annotations = []acquisition.Annotation{
		{OnsetSample: 10, OnsetSec: 10 / fs, Code: 3, Description: "3"},
		{OnsetSample: 600, OnsetSec: 600 / fs, Code: 0, Description: "target"},
		{OnsetSample: 999, OnsetSec: 999 / fs, Code: 12, Description: "12"},
	}
	return rec
}

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.xdf")
	want := synthRecording()
	if err := Write(p, want); err != nil {
		t.Fatal(err)
	}
	recs, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d recordings, want 1", len(recs))
	}
	got := recs[0]
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if got.Info.StreamID != "synth" || got.Info.SampleRateHz != 250 || got.NumSamples() != 1000 {
		t.Fatalf("info %+v, %d samples", got.Info, got.NumSamples())
	}
	for c := range want.Data {
		if got.Info.Channels[c].Name != want.Info.Channels[c].Name || got.Info.Channels[c].Type != want.Info.Channels[c].Type {
			t.Errorf("channel %d: %+v, want %+v", c, got.Info.Channels[c], want.Info.Channels[c])
		}
		for s := range want.Data[c] {
			if got.Data[c][s] != want.Data[c][s] {
				t.Fatalf("channel %d sample %d: %v, want %v", c, s, got.Data[c][s], want.Data[c][s])
			}
		}
	}
	if len(got.Annotations) != len(want.Annotations) {
		t.Fatalf("annotations %+v", got.Annotations)
	}
	for i, a := range got.Annotations {
		w := want.Annotations[i]
		if a.OnsetSample != w.OnsetSample || a.Code != w.Code || a.Description != w.Description || math.Abs(a.OnsetSec-w.OnsetSec) > 1e-9 {
			t.Errorf("annotation %d: %+v, want %+v", i, a, w)
		}
	}
}

// appendChunk adds a raw chunk, to build files with clock offsets and several streams.
func appendChunk(b []byte, tag uint16, content []byte) []byte {
	b = append(b, 4)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(content)+2))
	b = binary.LittleEndian.AppendUint16(b, tag)
	return append(b, content...)
}

func TestClockOffsetsAndMultipleStreams(t *testing.T) {
	b := []byte(magic)
	hdr := func(id uint32, x string) []byte { return append(binary.LittleEndian.AppendUint32(nil, id), x...) }
	b = appendChunk(b, tagStreamHeader, hdr(7, `<info><name>eeg</name><type>EEG</type><channel_count>1</channel_count><nominal_srate>100</nominal_srate><channel_format>int16</channel_format><desc><channels><channel><label>C3</label><unit>microvolts</unit></channel></channels></desc></info>`))
	b = appendChunk(b, tagStreamHeader, hdr(9, `<info><name>mk</name><type>Markers</type><channel_count>1</channel_count><nominal_srate>0</nominal_srate><channel_format>string</channel_format></info>`))
	// 10 samples from t=100 s, only the first timestamped (the rest follow the nominal rate).
	s := binary.LittleEndian.AppendUint32(nil, 7)
	s = append(s, 1, 10)
	for i := range 10 {
		if i == 0 {
			s = append(s, 8)
			s = binary.LittleEndian.AppendUint64(s, math.Float64bits(100))
		} else {
			s = append(s, 0)
		}
		s = binary.LittleEndian.AppendUint16(s, uint16(int16(i*10)))
	}
	b = appendChunk(b, tagSamples, s)
	// The marker stream's clock reads 0.5 s more than the EEG stream's: its offsets are -0.5 s.
	off := func(id uint32, tc, o float64) []byte {
		x := binary.LittleEndian.AppendUint32(nil, id)
		x = binary.LittleEndian.AppendUint64(x, math.Float64bits(tc))
		return binary.LittleEndian.AppendUint64(x, math.Float64bits(o))
	}
	b = appendChunk(b, tagClockOffset, off(9, 0, -0.5))
	b = appendChunk(b, tagClockOffset, off(9, 10, -0.5))
	m := binary.LittleEndian.AppendUint32(nil, 9)
	m = append(m, 1, 1, 8)
	m = binary.LittleEndian.AppendUint64(m, math.Float64bits(100.55))
	m = append(m, 1, 2, '4', '2')
	b = appendChunk(b, tagSamples, m)
	recs, err := Decode(b, "multi.xdf")
	if err != nil {
		t.Fatal(err)
	}
	r := recs[0]
	if len(recs) != 1 || r.Info.Channels[0].Name != "C3" || r.Info.Channels[0].Unit != "V" || math.Abs(r.Data[0][3]-30e-6) > 1e-18 {
		t.Fatalf("%d recordings, channel %+v data %v", len(recs), r.Info.Channels[0], r.Data[0])
	}
	if len(r.Annotations) != 1 || r.Annotations[0].OnsetSample != 5 || r.Annotations[0].Code != 42 || math.Abs(r.Annotations[0].OnsetSec-0.05) > 1e-9 {
		t.Fatalf("annotations %+v, want code 42 at sample 5 (0.05 s)", r.Annotations)
	}
	// Drifting offsets: the least-squares line through (0, -0.5) and (10, -0.4) adds -0.5 + 0.01 t.
	st := &stream{times: []float64{100}, offsets: [][2]float64{{0, -0.5}, {10, -0.4}}}
	st.correctClock()
	if math.Abs(st.times[0]-100.5) > 1e-12 {
		t.Fatalf("corrected time %v, want 100.5", st.times[0])
	}
}

func TestBadInput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.xdf")
	if err := Write(p, synthRecording()); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "not an XDF file"},
		{"truncated", good[:len(good)-30], "truncated"},
		{"header only", good[:4], "no numeric stream"},
	}
	for _, tc := range cases {
		if _, err := Decode(tc.b, "bad"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	w, err := Create(filepath.Join(t.TempDir(), "y.xdf"), synthRecording().Info)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fr := &streams.Frame{StreamID: "synth", NumSamples: 1, NumChannels: 3, Samples: []float32{1, 2, 3}}
	if err := w.WriteFrame(fr); err == nil || !strings.Contains(err.Error(), "3 channels") {
		t.Errorf("channel mismatch: got %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "x.xdf")
	if err := Write(p, synthRecording()); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:min(len(b), 4000)])
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Decode(b, "fuzz")
		if err != nil {
			return
		}
		for _, r := range recs {
			if err := r.Validate(); err != nil {
				t.Fatalf("decoded recording is invalid: %v", err)
			}
		}
	})
}
