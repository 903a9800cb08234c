package eeglab

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// Minimal MAT v5 writer for synthetic .set files, independent of the reader.
func elem(typ uint32, data []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, typ)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, data...)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	return out
}

func matrix(class byte, dims []int32, name string, body []byte) []byte {
	flags := make([]byte, 8)
	flags[0] = class
	var d []byte
	for _, x := range dims {
		d = binary.LittleEndian.AppendUint32(d, uint32(x))
	}
	b := append(elem(miUINT32, flags), elem(miINT32, d)...)
	b = append(b, elem(miINT8, []byte(name))...)
	return elem(miMATRIX, append(b, body...))
}

func dbl(name string, vs ...float64) []byte {
	var d []byte
	for _, v := range vs {
		d = binary.LittleEndian.AppendUint64(d, math.Float64bits(v))
	}
	return matrix(mxDOUBLE, []int32{1, int32(len(vs))}, name, elem(miDOUBLE, d))
}

func char(name, s string) []byte {
	var d []byte
	for _, r := range s {
		d = binary.LittleEndian.AppendUint16(d, uint16(r))
	}
	return matrix(mxCHAR, []int32{1, int32(len(s))}, name, elem(miUINT16, d))
}

// structArr writes a 1xN struct array; elems[i] holds one matrix element per field, in field order.
func structArr(name string, fields []string, elems [][][]byte) []byte {
	body := elem(miINT32, binary.LittleEndian.AppendUint32(nil, 32))
	names := make([]byte, 32*len(fields))
	for i, f := range fields {
		copy(names[32*i:], f)
	}
	body = append(body, elem(miINT8, names)...)
	for _, e := range elems {
		for _, f := range e {
			body = append(body, f...)
		}
	}
	return matrix(mxSTRUCT, []int32{1, int32(len(elems))}, name, body)
}

func matFile(compress bool, vars ...[]byte) []byte {
	h := make([]byte, 128)
	copy(h, "MATLAB 5.0 MAT-file, synthetic test")
	for i := 35; i < 116; i++ {
		h[i] = ' '
	}
	h[124], h[125], h[126], h[127] = 0, 1, 'I', 'M'
	for _, v := range vars {
		if compress {
			var z bytes.Buffer
			w := zlib.NewWriter(&z)
			w.Write(v)
			w.Close()
			h = append(h, binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, miCOMPRESSED), uint32(z.Len()))...)
			h = append(h, z.Bytes()...)
		} else {
			h = append(h, v...)
		}
	}
	return h
}

// synthSet: 2 channels x 3 samples inline (µV values 1..6 column-major), two events.
func synthSet(compress bool) []byte {
	chanlocs := structArr("", []string{"labels", "type", "X", "Y", "Z"}, [][][]byte{
		{char("", "Cz"), char("", "EEG"), dbl("", 10), dbl("", 20), dbl("", 30)},
		{char("", "HEOG"), char("", "EOG"), dbl("", math.NaN()), dbl("", 0), dbl("", 0)},
	})
	event := structArr("", []string{"type", "latency"}, [][][]byte{
		{char("", "target"), dbl("", 2)},
		{dbl("", 5), dbl("", 3.5)},
	})
	data := []byte{}
	for i := 1; i <= 6; i++ {
		data = binary.LittleEndian.AppendUint64(data, math.Float64bits(float64(i)))
	}
	eeg := structArr("EEG", []string{"nbchan", "trials", "pnts", "srate", "data", "chanlocs", "event"}, [][][]byte{{
		dbl("", 2), dbl("", 1), dbl("", 3), dbl("", 250),
		matrix(mxDOUBLE, []int32{2, 3}, "", elem(miDOUBLE, data)), chanlocs, event,
	}})
	return matFile(compress, eeg)
}

func TestSyntheticSet(t *testing.T) {
	for _, compress := range []bool{false, true} {
		rec, err := Decode(synthSet(compress), "synth", nil)
		if err != nil {
			t.Fatalf("compress %v: %v", compress, err)
		}
		if rec.Info.SampleRateHz != 250 || rec.NumSamples() != 3 || rec.Data[0][1] != 3e-6 || rec.Data[1][2] != 6e-6 {
			t.Fatalf("compress %v: rate %v data %v", compress, rec.Info.SampleRateHz, rec.Data)
		}
		c := rec.Info.Channels
		if c[0].Name != "Cz" || c[1].Type.String() != "eog" || !c[0].HasPosition || c[0].Position != [3]float64{-0.02, 0.01, 0.03} || c[1].HasPosition {
			t.Fatalf("channels %+v", c)
		}
		a := rec.Annotations
		if len(a) != 2 || a[0].OnsetSample != 1 || a[0].Description != "target" || a[1].Description != "5.0" ||
			a[1].OnsetSec != 2.5/250 || a[0].Code != 2 || a[1].Code != 1 {
			t.Fatalf("annotations %+v", a)
		}
	}
}

func TestBadInput(t *testing.T) {
	good := synthSet(false)
	v73 := append([]byte(nil), good...)
	copy(v73, "MATLAB 7.3 MAT-file")
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than the 128-byte header"},
		{"v7.3", v73, "v7.3 (HDF5)"},
		{"not mat", bytes.Repeat([]byte("x"), 200), "not a MATLAB 5/7 MAT-file"},
		{"truncated", good[:len(good)-40], "truncated"},
	}
	for _, tc := range cases {
		if _, err := Decode(tc.b, "bad", nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	fdt := structArr("EEG", []string{"nbchan", "trials", "pnts", "srate", "data"}, [][][]byte{{
		dbl("", 2), dbl("", 1), dbl("", 100), dbl("", 250), char("", "x.fdt")}})
	open := func(string) ([]byte, error) { return make([]byte, 12), nil }
	if _, err := Decode(matFile(false, fdt), "bad", open); err == nil || !strings.Contains(err.Error(), "x.fdt holds 12 bytes, want 800") {
		t.Errorf("short fdt: got %v", err)
	}
	epoched := structArr("EEG", []string{"nbchan", "trials", "pnts", "srate"}, [][][]byte{{dbl("", 2), dbl("", 5), dbl("", 100), dbl("", 250)}})
	if _, err := Decode(matFile(false, epoched), "bad", open); err == nil || !strings.Contains(err.Error(), "epoched") {
		t.Errorf("epoched: got %v", err)
	}
	zeroRate := structArr("EEG", []string{"nbchan", "trials", "pnts", "srate"}, [][][]byte{{dbl("", 2), dbl("", 1), dbl("", 100), dbl("", 0)}})
	if _, err := Decode(matFile(false, zeroRate), "bad", open); err == nil || !strings.Contains(err.Error(), "EEG.srate") {
		t.Errorf("zero rate: got %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(synthSet(false))
	f.Add(synthSet(true))
	f.Fuzz(func(t *testing.T, b []byte) {
		open := func(string) ([]byte, error) { return b, nil }
		rec, err := Decode(b, "fuzz", open)
		if err != nil {
			return
		}
		if err := rec.Validate(); err != nil {
			t.Fatalf("decoded recording is invalid: %v", err)
		}
	})
}
