package npz

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEncodeReadRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	data := []float64{1, -2.5, 3e-7, 4, 5, 6}
	if err := Encode(&buf, []int{2, 3}, data); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%64 != 48 && (buf.Len()-len(data)*8)%64 != 0 {
		t.Fatalf("header not padded to 64 bytes: %d", buf.Len()-len(data)*8)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npz")
	f, _ := os.Create(path)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("data.npy")
	w.Write(buf.Bytes())
	zw.Close()
	f.Close()
	arrs, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	a := arrs["data"]
	if a == nil || len(a.Shape) != 2 || a.Shape[0] != 2 || a.Shape[1] != 3 {
		t.Fatalf("read %+v", a)
	}
	for i, v := range data {
		if a.Data[i] != v {
			t.Fatalf("value %d = %v, want %v", i, a.Data[i], v)
		}
	}
}

func TestReadNpyRejectsBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"magic":     "NOTNUMPY....",
		"truncated": "\x93NUMPY\x01\x00\x10\x00{'descr'",
		"dtype":     "\x93NUMPY\x01\x00\x3a\x00{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }",
		"short":     "\x93NUMPY\x01\x00\x3b\x00{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\x00\x00",
		"huge":      "\x93NUMPY\x01\x00\x4a\x00{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999), }",
	} {
		if _, err := ReadNpy(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestReadNpyFortranOrder(t *testing.T) {
	h := "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }"
	h += strings.Repeat(" ", 64-(10+len(h)+1)%64) + "\n"
	in := "\x93NUMPY\x01\x00" + string([]byte{byte(len(h)), 0}) + h
	// Column-major storage of [[1 2 3] [4 5 6]].
	for _, v := range []int16{1, 4, 2, 5, 3, 6} {
		in += string([]byte{byte(v), 0})
	}
	a, err := ReadNpy(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1, 2, 3, 4, 5, 6} {
		if a.Data[i] != want {
			t.Fatalf("C-order values %v, want 1..6", a.Data)
		}
	}
}

func TestReadEEGLE(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "rec")
	yml := "acquisition:\n  samplingrate: 100\n  sensors: [Cz, Pz]\nstim:\n  labels:\n    nontarget: 1\n    target: 2\n"
	if err := os.WriteFile(base+".yml", []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Create(base + ".npz")
	zw := zip.NewWriter(f)
	w, _ := zw.Create("data.npy")
	Encode(w, []int{4, 3}, []float64{1, 2, 9, 3, 4, 9, 5, 6, 9, 7, 8, 9})
	w, _ = zw.Create("stim.npy")
	Encode(w, []int{4}, []float64{0, 2, 0, 1})
	zw.Close()
	f.Close()
	rec, err := ReadEEGLE(base + ".npz")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Info.SampleRateHz != 100 || len(rec.Data) != 2 || rec.Data[1][3] != 8 || rec.Info.Channels[1].Name != "Pz" {
		t.Fatalf("recording %+v data %v", rec.Info, rec.Data)
	}
	if len(rec.Annotations) != 2 || rec.Annotations[0].Description != "target" || rec.Annotations[1].OnsetSample != 3 || rec.Annotations[1].Code != 1 {
		t.Fatalf("annotations %+v", rec.Annotations)
	}
	os.Remove(base + ".yml")
	if _, err := ReadEEGLE(base + ".npz"); err == nil {
		t.Fatal("missing .yml accepted")
	}
}
