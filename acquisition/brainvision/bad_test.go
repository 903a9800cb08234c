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
		{"short data", hdr, map[string][]byte{"x.eeg": files["x.eeg"][:3], "x.vmrk": files["x.vmrk"]}, "less than one sample"},
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
