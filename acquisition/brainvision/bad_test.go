package brainvision

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const synthHeader = `Brain Vision Data Exchange Header File Version 1.0
[Common Infos]
DataFile=x.eeg
MarkerFile=x.vmrk
DataFormat=BINARY
DataOrientation=%s
NumberOfChannels=2
SamplingInterval=%s
[Binary Infos]
BinaryFormat=INT_16
[Channel Infos]
Ch1=Fz,,0.5,µV
Ch2=VEOGb,,2,nV
`

const synthMarkers = `Brain Vision Data Exchange Marker File, Version 1.0
[Marker Infos]
Mk1=New Segment,,1,1,0,20200102030405123456
Mk2=Stimulus,S  7,3,1,0
Mk3=Response,R 12,4,2,0
Mk4=Comment,hello\1world,5,1,0
`

func synthFiles(orientation, interval string) (hdr []byte, files map[string][]byte) {
	data := make([]byte, 2*2*5)
	for i := range 10 {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(int16(i*100-300)))
	}
	return []byte(fmt.Sprintf(synthHeader, orientation, interval)), map[string][]byte{"x.eeg": data, "x.vmrk": []byte(synthMarkers)}
}

func opener(files map[string][]byte) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		b, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("open %s: %w", name, os.ErrNotExist)
		}
		return b, nil
	}
}

func TestSynthetic(t *testing.T) {
	for _, orient := range []string{"MULTIPLEXED", "VECTORIZED"} {
		hdr, files := synthFiles(orient, "1000")
		rec, err := Decode(hdr, false, "x", opener(files))
		if err != nil {
			t.Fatal(err)
		}
		// Raw value k at byte 2k: multiplexed -> channel k%2 sample k/2; vectorized -> channel k/5 sample k%5.
		for k := range 10 {
			c, s := k%2, k/2
			if orient == "VECTORIZED" {
				c, s = k/5, k%5
			}
			scale := []float64{0.5e-6, 2e-9}[c]
			if want := float64(k*100-300) * scale; rec.Data[c][s] != want {
				t.Errorf("%s channel %d sample %d: %v, want %v", orient, c, s, rec.Data[c][s], want)
			}
		}
		if rec.Info.Channels[1].Type.String() != "eog" || rec.Info.SampleRateHz != 1000 {
			t.Errorf("channel types/rate: %v %v", rec.Info.Channels, rec.Info.SampleRateHz)
		}
		a := rec.Annotations
		if len(a) != 4 || a[1].Code != 7 || a[1].OnsetSample != 2 || a[2].Code != 1012 || a[2].DurationSec != 0.002 ||
			a[3].Description != "Comment/hello,world" || a[3].Code != 10001 || a[0].Code != 99999 {
			t.Errorf("annotations %+v", a)
		}
		if got := rec.StartTime.Format("2006-01-02T15:04:05.000000"); got != "2020-01-02T03:04:05.123456" {
			t.Errorf("start %s", got)
		}
	}
}

func TestBadInput(t *testing.T) {
	hdr, files := synthFiles("MULTIPLEXED", "1000")
	cases := []struct {
		name  string
		hdr   []byte
		files map[string][]byte
		want  string
	}{
		{"not a header", []byte("hello"), files, "not a BrainVision header"},
		{"zero interval", func() []byte { h, _ := synthFiles("MULTIPLEXED", "0"); return h }(), files, "SamplingInterval"},
		{"negative interval", func() []byte { h, _ := synthFiles("MULTIPLEXED", "-5"); return h }(), files, "SamplingInterval"},
		{"bad orientation", func() []byte { h, _ := synthFiles("DIAGONAL", "1000"); return h }(), files, "DataOrientation"},
		{"missing eeg", hdr, map[string][]byte{"x.vmrk": files["x.vmrk"]}, "DataFile=x.eeg"},
		{"missing vmrk", hdr, map[string][]byte{"x.eeg": files["x.eeg"]}, "MarkerFile=x.vmrk"},
		{"short data", hdr, map[string][]byte{"x.eeg": files["x.eeg"][:3], "x.vmrk": files["x.vmrk"]}, "the file is truncated"},
		{"odd byte", hdr, map[string][]byte{"x.eeg": files["x.eeg"][:19], "x.vmrk": files["x.vmrk"]}, "3 more than 4 whole samples"},
		{"missing channel", []byte(strings.Replace(string(hdr), "Ch2=VEOGb,,2,nV\n", "", 1)), files, "no entry Ch2"},
	}
	for _, tc := range cases {
		if _, err := Decode(tc.hdr, false, "x", opener(tc.files)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "x.vhdr")
	if err := os.WriteFile(p, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(p); err == nil || !strings.Contains(err.Error(), "x.vhdr") || !strings.Contains(err.Error(), "x.eeg") {
		t.Errorf("missing companion: got %v, want an error naming x.vhdr and x.eeg", err)
	}
}

// Headers are data: what they name must stay beside them and be a regular file of the size the header
// implies; what a reader accepts with doubts is said in Recording.Warnings.
func TestHostileCompanions(t *testing.T) {
	hdr, files := synthFiles("MULTIPLEXED", "1000")
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, h string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(h), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A path out of the directory is looked up beside the header: /dev/zero and /etc/passwd are never read.
	for _, ref := range []string{"../../../../dev/zero", "../../etc/passwd", `C:\elsewhere\..\..\dev\zero`} {
		p := write("escape.vhdr", strings.Replace(string(hdr), "DataFile=x.eeg", "DataFile="+ref, 1))
		_, err := Read(p)
		base := filepath.Base(strings.ReplaceAll(ref, `\`, "/"))
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, base)) {
			t.Errorf("DataFile=%s: got %v, want a missing %s beside the header", ref, err, base)
		}
	}
	p := write("path.vhdr", strings.Replace(string(hdr), "MarkerFile=x.vmrk", "MarkerFile=../other/x.vmrk", 1))
	rec, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Warnings) != 1 || !strings.Contains(rec.Warnings[0], "MarkerFile=../other/x.vmrk names a path") {
		t.Errorf("warnings %q, want one about the path", rec.Warnings)
	}
	// Something beside the header that is not a regular file (a device, a directory) is refused.
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.eeg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.eeg"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"zero.eeg", "sub.eeg"} {
		p := write("dev.vhdr", strings.Replace(string(hdr), "DataFile=x.eeg", "DataFile="+name, 1))
		if _, err := Read(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("DataFile=%s: got %v, want a refusal of a file that is not regular", name, err)
		}
	}
	// Truncated to half: the markers beyond the data say so.
	half := map[string][]byte{"x.eeg": files["x.eeg"][:8], "x.vmrk": files["x.vmrk"]}
	rec, err = Decode(hdr, false, "x", opener(half))
	if err != nil {
		t.Fatal(err)
	}
	if rec.NumSamples() != 2 || len(rec.Warnings) != 1 || !strings.Contains(rec.Warnings[0], "may be truncated") {
		t.Errorf("half file: %d samples, warnings %q; want 2 and a truncation warning", rec.NumSamples(), rec.Warnings)
	}
	// DataPoints larger than the data: a warning (multiplexed, as MNE reads it) or a refusal (vectorized).
	for _, o := range []string{"MULTIPLEXED", "VECTORIZED"} {
		h, f := synthFiles(o, "1000")
		h = []byte(strings.Replace(string(h), "NumberOfChannels=2", "NumberOfChannels=2\nDataPoints=10", 1))
		rec, err := Decode(h, false, "x", opener(f))
		if o == "VECTORIZED" {
			if err == nil || !strings.Contains(err.Error(), "truncated") {
				t.Errorf("vectorized, DataPoints beyond the file: got %v", err)
			}
			continue
		}
		if err != nil || len(rec.Warnings) != 1 || !strings.Contains(rec.Warnings[0], "DataPoints=10 but data file x.eeg holds 5 samples") {
			t.Errorf("multiplexed, DataPoints beyond the file: %v, warnings %v", err, rec)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, o := range []string{"MULTIPLEXED", "VECTORIZED"} {
		hdr, files := synthFiles(o, "1000")
		f.Add(hdr, files["x.eeg"], files["x.vmrk"], false)
		f.Add(hdr, files["x.eeg"], files["x.vmrk"], true)
	}
	f.Fuzz(func(t *testing.T, hdr, data, mrk []byte, ahdr bool) {
		open := func(name string) ([]byte, error) {
			if strings.HasSuffix(name, "mrk") {
				return mrk, nil
			}
			return data, nil
		}
		rec, err := Decode(hdr, ahdr, "fuzz", open)
		if err != nil {
			return
		}
		if err := rec.Validate(); err != nil {
			t.Fatalf("decoded recording is invalid: %v", err)
		}
	})
}
