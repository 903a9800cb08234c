package edf

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition"
)

// smallRecording is a 2-channel, 4 s, 64 Hz recording with a trigger channel and annotations.
func smallRecording() *acquisition.Recording {
	rec := &acquisition.Recording{Info: syntheticInfo(64), StartTime: time.Date(2024, 3, 1, 12, 30, 15, 0, time.UTC)}
	rec.Info.Channels = rec.Info.Channels[:2]
	n := 256
	rec.Data = [][]float64{make([]float64, n), make([]float64, n)}
	for i := 0; i < n; i++ {
		rec.Data[0][i] = 40e-6 * math.Sin(float64(i)/5)
		rec.Data[1][i] = -10e-6 + 1e-7*float64(i)
	}
	rec.Annotations = []acquisition.Annotation{
		{OnsetSec: 0.5, DurationSec: 1.25, Description: "stimulus ☺"},
		{OnsetSec: 0.5, Description: "overlapping"},
		{OnsetSec: 2.015625, Description: "sub-second"},
	}
	return rec
}

// smallFile returns the bytes of smallRecording written in the given format.
func smallFile(t testing.TB, format Format) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "small.edf")
	if err := Write(path, smallRecording(), WriteOptions{Format: format}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSmallRoundTripAnnotations(t *testing.T) {
	for _, format := range []Format{FormatEDF, FormatBDF} {
		f, err := Decode("small", smallFile(t, format), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := smallRecording().Annotations
		got := f.Recording.Annotations
		if len(got) != len(want) {
			t.Fatalf("%v: %d annotations, want %d", format, len(got), len(want))
		}
		for i := range want {
			if got[i].OnsetSec != want[i].OnsetSec || got[i].DurationSec != want[i].DurationSec || got[i].Description != want[i].Description {
				t.Errorf("%v: annotation %d = %+v, want %+v", format, i, got[i], want[i])
			}
		}
		if got[2].OnsetSample != 129 {
			t.Errorf("%v: sub-second annotation at sample %d, want 129", format, got[2].OnsetSample)
		}
	}
}

func TestBadInputErrors(t *testing.T) {
	good := smallFile(t, FormatEDF)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	put := func(b []byte, off int, s string) []byte { copy(b[off:], s); return b }
	ns := 3 // 2 data signals + annotations
	crlf := bytes.ReplaceAll(good, []byte{'\n'}, []byte{'\r', '\n'})
	if len(crlf) == len(good) {
		t.Fatal("test file has no LF byte to damage")
	}
	cases := map[string]struct {
		b    []byte
		want []string
	}{
		"empty":              {nil, []string{"version", "truncated"}},
		"not edf":            {[]byte("PK\x03\x04 this is a zip file, not EDF"), []string{"version", "not an EDF/BDF file"}},
		"header cut":         {good[:300], []string{"truncated"}},
		"data cut":           {good[:len(good)-10], []string{"number of data records", "truncated"}},
		"CR/LF damage":       {crlf, []string{"number of data records", "CR LF"}},
		"zero duration":      {mutate(func(b []byte) []byte { return put(b, 244, "0       ") }), []string{"duration of a data record", "infinite"}},
		"tiny duration":      {mutate(func(b []byte) []byte { return put(b, 244, "1e-9    ") }), []string{"impossible"}},
		"non-ASCII number":   {mutate(func(b []byte) []byte { return put(b, 236, "4\xb5      ") }), []string{"number of data records", "not printable ASCII"}},
		"bad signal count":   {mutate(func(b []byte) []byte { return put(b, 252, "7   ") }), []string{"number of bytes in header record"}},
		"bad samples":        {mutate(func(b []byte) []byte { return put(b, 256+216*ns, "x       ") }), []string{"nr of samples in each data record of signal 1 (Cz)", "not an integer"}},
		"digital over range": {mutate(func(b []byte) []byte { return put(b, 256+128*ns, "99999   ") }), []string{"digital minimum/maximum of signal 1", "exceeds"}},
		"broken TAL":         {mutate(func(b []byte) []byte { b[256*(ns+1)+2*64*2] = 'x'; return b }), []string{"data record 1", "TAL"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode("bad.edf", c.b, ReadOptions{})
			if err == nil {
				t.Fatalf("no error, want one mentioning %q", c.want)
			}
			msg := err.Error()
			for _, w := range append(c.want, "bad.edf") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// TestDiscontinuous builds an EDF+D file whose third and fourth records follow a 2.5 s gap and
// checks both gap representations.
func TestDiscontinuous(t *testing.T) {
	b := smallFile(t, FormatEDF) // 4 records of 1 s
	f, err := Decode("d", b, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := f.Header
	copy(b[192:], "EDF+D")
	recBytes := h.recordBytes()
	annOff := 2 * 64 * 2 // the annotation signal follows two 64-sample int16 signals
	for r := 2; r < 4; r++ {
		tal := b[h.HeaderBytes+r*recBytes+annOff:]
		// time-keeping TALs were "+2\x14\x14" and "+3\x14\x14"; shift by 2.5 s ("+4.5", "+5.5")
		want := map[int]string{2: "+4.5\x14\x14\x00", 3: "+5.5\x14\x14\x00"}[r]
		end := bytes.IndexByte(tal, 0)
		rest := append([]byte(nil), tal[end+1:h.Signals[2].SamplesPerRecord*2]...)
		n := copy(tal, want)
		copy(tal[n:], rest)
	}
	concat, err := Decode("d", b, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !concat.Header.IsDiscontinuous() || len(concat.Segments) != 2 {
		t.Fatalf("segments %+v, want 2 for an EDF+D file with one gap", concat.Segments)
	}
	if s := concat.Segments[1]; s.OnsetSec != 4.5 || s.StartSample != 128 || s.NumSamples != 128 {
		t.Errorf("second segment %+v, want onset 4.5 s at sample 128, 128 samples", s)
	}
	if concat.Recording.NumSamples() != 256 {
		t.Errorf("concatenated: %d samples, want 256", concat.Recording.NumSamples())
	}
	filled, err := Decode("d", b, ReadOptions{Gaps: GapsFillZero})
	if err != nil {
		t.Fatal(err)
	}
	rec := filled.Recording
	if rec.NumSamples() != 256+160 {
		t.Fatalf("filled: %d samples, want 416 (2.5 s gap at 64 Hz = 160)", rec.NumSamples())
	}
	if s := filled.Segments[1]; s.StartSample != 288 {
		t.Errorf("filled: second segment starts at sample %d, want 288", s.StartSample)
	}
	for i := 128; i < 288; i++ {
		if rec.Data[0][i] != 0 {
			t.Fatalf("filled: gap sample %d = %v, want 0", i, rec.Data[0][i])
		}
	}
	if rec.Data[0][288] != concat.Recording.Data[0][128] {
		t.Errorf("filled: first sample after the gap %v, want %v", rec.Data[0][288], concat.Recording.Data[0][128])
	}
}

// A channel whose physical or digital range is empty is read, as MNE reads it, with a warning naming it.
func TestEmptyRangeWarns(t *testing.T) {
	b := smallFile(t, FormatEDF)
	ns, err := strconv.Atoi(strings.TrimSpace(string(b[252:256])))
	if err != nil {
		t.Fatal(err)
	}
	physMin, physMax := 256+ns*(16+80+8), 256+ns*(16+80+8+8)
	digMin, digMax := 256+ns*(16+80+8+8+8), 256+ns*(16+80+8+8+8+8)
	copy(b[physMin:physMin+8], b[physMax:physMax+8])   // signal 1: physical min = max
	copy(b[digMin+8:digMin+16], b[digMax+8:digMax+16]) // signal 2: digital min = max
	f, err := Decode("flat.edf", b, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(f.Recording.Warnings, "\n")
	if len(f.Recording.Warnings) != 2 || !strings.Contains(w, "physical minimum = maximum") || !strings.Contains(w, "digital minimum = maximum") {
		t.Fatalf("warnings %q, want one per empty range", f.Recording.Warnings)
	}
	if g, err := Decode("good.edf", smallFile(t, FormatEDF), ReadOptions{}); err != nil || len(g.Recording.Warnings) != 0 {
		t.Fatalf("a good file: %v, warnings %q", err, g.Recording.Warnings)
	}
}
