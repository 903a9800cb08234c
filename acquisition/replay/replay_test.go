package replay

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

func rec() *acquisition.Recording {
	r := &acquisition.Recording{Info: streams.StreamInfo{StreamID: "r", SampleRateHz: 100,
		Channels: []streams.Channel{{Name: "A"}, {Name: "B"}}}, Data: [][]float64{make([]float64, 20), make([]float64, 20)}}
	for i := range 20 {
		r.Data[0][i], r.Data[1][i] = float64(i), -float64(i)
	}
	r.Annotations = []acquisition.Annotation{{OnsetSample: 9, Description: "T1", Code: 1}, {OnsetSample: 3, Description: "T0"}}
	return r
}

func TestReplayFramesAndMarkers(t *testing.T) {
	s, err := New(rec(), Config{FrameSamples: 8, Channels: []string{"B"}})
	if err != nil {
		t.Fatal(err)
	}
	var f streams.Frame
	var got []float32
	var marks []string
	for i := 0; ; i++ {
		err := s.Next(context.Background(), &f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq != uint64(i) || f.NumChannels != 1 {
			t.Fatalf("frame %d: seq %d, %d channels", i, f.Seq, f.NumChannels)
		}
		got = append(got, f.Samples...)
		for _, m := range f.Markers {
			marks = append(marks, m.Label)
			if m.Label == "T1" && (f.Seq != 1 || m.SampleOffset != 1) {
				t.Fatalf("T1 in frame %d at %d, want frame 1 offset 1", f.Seq, m.SampleOffset)
			}
		}
	}
	if len(got) != 20 || got[19] != -19 {
		t.Fatalf("replayed %d samples, last %v", len(got), got[len(got)-1])
	}
	if len(marks) != 2 || marks[0] != "T0" || marks[1] != "T1" {
		t.Fatalf("markers %v", marks)
	}
	if _, err := New(rec(), Config{Channels: []string{"C"}}); err == nil {
		t.Fatal("unknown channel accepted")
	}
}
