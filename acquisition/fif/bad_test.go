package fif

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	good := synthRaw(3, 2, 50, typeFloat, 0, false)
	// Offsets in good: file id tag (36 bytes), dir pointer (20), meas block start (20), info start (20),
	// meas date (24), nchan (20), sfreq (20).
	const nchanData, sfreqData = 36 + 20 + 20 + 20 + 24 + 16, 36 + 20 + 20 + 20 + 24 + 20 + 16
	patch := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.BigEndian.PutUint32(b[off:], v)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than one tag header"},
		{"not fif", []byte("this is a text file, not FIF data at all"), "not a FIF file"},
		{"truncated", good[:len(good)-100], "file truncated"},
		{"nchan mismatch", patch(nchanData, 7), "FIFF_NCHAN says 7 channels but 4"},
		{"zero rate", patch(sfreqData, 0), "sampling rate (FIFF_SFREQ) 0 Hz"},
		{"NaN rate", patch(sfreqData, math.Float32bits(float32(math.NaN()))), "sampling rate"},
		{"header only", good[:56], "no measurement block"},
	}
	for _, tc := range cases {
		f, err := Decode(tc.b, "bad")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v (file %v), want an error containing %q", tc.name, err, f != nil, tc.want)
		}
	}
	// A data buffer whose size is not a multiple of the channel count.
	w := &fifBuilder{}
	w.header()
	w.start(blockMeas)
	w.measInfo(1000, synthChannels(3), false)
	w.start(blockRawData)
	w.tag(kindDataBuffer, typeFloat, make([]byte, 4*4*10+4))
	w.end(blockRawData)
	w.end(blockMeas)
	if _, err := Decode(w.b, "bad"); err == nil || !strings.Contains(err.Error(), "not a whole number of 4-channel samples") {
		t.Errorf("odd buffer: got %v", err)
	}
}

func TestReadErrorNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cut.fif")
	good := synthRaw(3, 2, 50, typeFloat, 0, false)
	if err := os.WriteFile(p, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(p); err == nil || !strings.Contains(err.Error(), "cut.fif") {
		t.Fatalf("got %v, want an error naming cut.fif", err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.fif")); err == nil || !strings.Contains(err.Error(), "missing.fif") {
		t.Fatalf("got %v, want an error naming missing.fif", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(synthRaw(3, 2, 20, typeFloat, 1, false))
	f.Add(synthRaw(2, 3, 10, typeShort, 0, true))
	f.Add(synthRaw(1, 2, 5, typeDouble, 2, false))
	f.Add(synthRaw(4, 1, 8, typeInt, 0, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b, "fuzz")
		if err != nil {
			return
		}
		if err := file.Recording.Validate(); err != nil {
			t.Fatalf("decoded recording is invalid: %v", err)
		}
	})
}

// A directory pointer into nowhere does not stop the read (the tags are walked in sequence, as MNE
// does without a directory) but is reported.
func TestGarbageDirectoryPointerWarns(t *testing.T) {
	good := synthRaw(3, 2, 50, typeFloat, 0, false)
	const dirPtrData = 36 + 16 // the file id tag, then the pointer tag's header
	for _, c := range []struct {
		ptr  uint32
		want string
	}{
		{0x7fffff00, "beyond the file"},
		{36, "not a directory"}, // the pointer tag itself
	} {
		b := append([]byte(nil), good...)
		binary.BigEndian.PutUint32(b[dirPtrData:], c.ptr)
		f, err := Decode(b, "garbage-dir")
		if err != nil {
			t.Fatalf("pointer %d: %v", c.ptr, err)
		}
		if len(f.Recording.Warnings) != 1 || !strings.Contains(f.Recording.Warnings[0], c.want) {
			t.Errorf("pointer %d: warnings %q, want one saying %q", c.ptr, f.Recording.Warnings, c.want)
		}
	}
	if f, err := Decode(good, "good"); err != nil || len(f.Recording.Warnings) != 0 {
		t.Fatalf("good file: %v, warnings %v", err, f.Recording.Warnings)
	}
}
