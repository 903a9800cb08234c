package gdf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/internal/shareddata"
)

type mneSummary struct {
	SfreqHz       float64     `json:"sfreq"`
	NTimes        int         `json:"n_times"`
	ChNames       []string    `json:"ch_names"`
	ChTypes       []string    `json:"ch_types"`
	SampleIndices []int       `json:"sample_indices"`
	Samples       [][]float64 `json:"samples"`
	Sums          []float64   `json:"sums"`
	SumSq         []float64   `json:"sumsq"`
	SHA256Float32 string      `json:"sha256_float32"`
	Annotations   []struct {
		Onset, Duration float64
		Description     string
	} `json:"annotations"`
}

// TestAgainstMNE compares every GDF fixture with MNE-Python 1.3's read_raw_gdf
// (summaries by tools/formats_reference.py).
func TestAgainstMNE(t *testing.T) {
	b, err := os.ReadFile("testdata/mne_gdf.json")
	if err != nil {
		t.Fatal(err)
	}
	var sums map[string]mneSummary
	if err := json.Unmarshal(b, &sums); err != nil {
		t.Fatal(err)
	}
	for rel, want := range sums {
		t.Run(rel, func(t *testing.T) {
			rec, err := Read(shareddata.Path(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Info.SampleRateHz != want.SfreqHz || rec.NumSamples() != want.NTimes || len(rec.Data) != len(want.ChNames) {
				t.Fatalf("%d ch x %d at %v Hz, MNE %d x %d at %v", len(rec.Data), rec.NumSamples(), rec.Info.SampleRateHz,
					len(want.ChNames), want.NTimes, want.SfreqHz)
			}
			h := sha256.New()
			for c, row := range rec.Data {
				if rec.Info.Channels[c].Name != want.ChNames[c] || rec.Info.Channels[c].Type.String() != want.ChTypes[c] {
					t.Errorf("channel %d = %+v, MNE %s (%s)", c, rec.Info.Channels[c], want.ChNames[c], want.ChTypes[c])
				}
				var sum, sumsq float64
				for _, v := range row {
					sum += v
					sumsq += v * v
					var buf [4]byte
					binary.LittleEndian.PutUint32(buf[:], math.Float32bits(float32(v)))
					h.Write(buf[:])
				}
				if math.Abs(sum-want.Sums[c]) > 1e-9*math.Abs(want.Sums[c]) || math.Abs(sumsq-want.SumSq[c]) > 1e-9*want.SumSq[c] {
					t.Errorf("channel %d sum/sumsq %v/%v, MNE %v/%v", c, sum, sumsq, want.Sums[c], want.SumSq[c])
				}
				for k, i := range want.SampleIndices {
					if row[i] != want.Samples[c][k] {
						t.Errorf("channel %d sample %d = %v, MNE %v", c, i, row[i], want.Samples[c][k])
					}
				}
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256Float32 {
				t.Errorf("float32 data checksum %s, MNE %s", got, want.SHA256Float32)
			}
			if len(rec.Annotations) != len(want.Annotations) {
				t.Errorf("%d annotations, MNE %d", len(rec.Annotations), len(want.Annotations))
			}
		})
	}
}

// gdfFile builds a small GDF 2.10 file: int16 channels at 100 Hz (10 samples per 0.1 s record),
// the given records, and an event table in mode 3.
type gdfEvent struct {
	pos      uint32 // 1-based
	typ, chn uint16
	dur      uint32
}

func gdfFile(labels []string, unit uint16, nRec int, value func(c, s int) int16, events []gdfEvent) []byte {
	ns := len(labels)
	le := binary.LittleEndian
	b := make([]byte, 256*(ns+1))
	copy(b, "GDF 2.10")
	copy(b[8:], "P01 Anon")
	copy(b[88:], "synthetic")
	le.PutUint64(b[168:], uint64((738000.0+367)*(1<<32))) // 738000 days after 0001-01-01
	le.PutUint16(b[184:], uint16(ns+1))
	le.PutUint64(b[236:], uint64(nRec))
	le.PutUint32(b[244:], 1)
	le.PutUint32(b[248:], 10)
	le.PutUint16(b[252:], uint16(ns))
	v := b[256:]
	at := func(field, width, i int) []byte { return v[field*ns+width*i:] }
	for i, l := range labels {
		copy(at(0, 16, i), l)
		le.PutUint16(v[(16+80+6)*ns+2*i:], unit)
		base := (16 + 80 + 6 + 2) * ns
		le.PutUint64(v[base+8*i:], math.Float64bits(-3276.8))
		le.PutUint64(v[base+8*ns+8*i:], math.Float64bits(3276.7))
		le.PutUint64(v[base+16*ns+8*i:], math.Float64bits(-32768))
		le.PutUint64(v[base+24*ns+8*i:], math.Float64bits(32767))
		base += 32*ns + 68*ns + 12*ns
		le.PutUint32(v[base+4*i:], 10)
		le.PutUint32(v[base+4*ns+4*i:], 3)
	}
	for r := 0; r < nRec; r++ {
		for c := 0; c < ns; c++ {
			for s := 0; s < 10; s++ {
				b = le.AppendUint16(b, uint16(value(c, r*10+s)))
			}
		}
	}
	if events != nil {
		n := len(events)
		b = append(b, 3, byte(n), byte(n>>8), byte(n>>16))
		b = le.AppendUint32(b, math.Float32bits(100))
		for _, e := range events {
			b = le.AppendUint32(b, e.pos)
		}
		for _, e := range events {
			b = le.AppendUint16(b, e.typ)
		}
		for _, e := range events {
			b = le.AppendUint16(b, e.chn)
		}
		for _, e := range events {
			b = le.AppendUint32(b, e.dur)
		}
	}
	return b
}

func TestDecodeSyntheticWithEvents(t *testing.T) {
	value := func(c, s int) int16 { return int16((c+1)*100 - s) }
	events := []gdfEvent{{pos: 1, typ: 0x300, dur: 0}, {pos: 26, typ: 769, chn: 0, dur: 10}}
	b := gdfFile([]string{"C3", "C4"}, 4275, 5, value, events)
	f, err := Decode("synthetic.gdf", b)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.Recording
	if rec.Info.SampleRateHz != 100 || rec.NumSamples() != 50 || rec.Info.Channels[1].Name != "C4" || rec.Info.Channels[1].Unit != "V" {
		t.Fatalf("got %v Hz, %d samples, channel %+v", rec.Info.SampleRateHz, rec.NumSamples(), rec.Info.Channels[1])
	}
	// physical = digital * 0.1 µV exactly for this range
	for c := range rec.Data {
		for s, got := range rec.Data[c] {
			want := float64(value(c, s)) * 0.1 * 1e-6
			if math.Abs(got-want) > 1e-12*math.Abs(want)+1e-18 {
				t.Fatalf("channel %d sample %d = %v, want %v", c, s, got, want)
			}
		}
	}
	if len(rec.Annotations) != 2 {
		t.Fatalf("%d annotations, want 2", len(rec.Annotations))
	}
	a0, a1 := rec.Annotations[0], rec.Annotations[1]
	if a0.OnsetSample != 0 || a0.Code != 0x300 || a0.DurationSec != 0.01 || a0.Description != "768" {
		t.Errorf("event 0 = %+v, want sample 0, code 768, 1-sample duration (MNE's minimum)", a0)
	}
	if a1.OnsetSample != 25 || a1.OnsetSec != 0.25 || a1.Code != 769 || a1.DurationSec != 0.1 {
		t.Errorf("event 1 = %+v, want sample 25, 0.25 s, code 769, 0.1 s", a1)
	}
	if got := rec.StartTime.Format("2006-01-02"); got != "2021-07-30" {
		t.Errorf("start %v, want 2021-07-30 (738000 days after 0001-01-01)", rec.StartTime)
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	good := gdfFile([]string{"C3"}, 4275, 3, func(c, s int) int16 { return 1 }, []gdfEvent{{pos: 2, typ: 1}})
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"empty":            {nil, "truncated"},
		"not gdf":          {mutate(func(b []byte) []byte { copy(b, "EDF 2.10"); return b }), "not a GDF file"},
		"gdf 1":            {mutate(func(b []byte) []byte { copy(b, "GDF 1.25"); return b }), "not supported"},
		"truncated data":   {good[:530], "truncated"},
		"truncated events": {good[:len(good)-3], "event table"},
		"zero duration":    {mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[244:], 0); return b }), "duration"},
		"bad type":         {mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[256+(16+80+6+2+32+68+12+4)*1:], 99); return b }), "data type"},
		"huge records":     {mutate(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[236:], 1<<40); return b }), "number of data records"},
		"header too short": {mutate(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[184:], 1); return b }), "header length"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode("bad.gdf", c.b)
			if err == nil {
				t.Fatalf("no error, want one mentioning %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.gdf") {
				t.Errorf("error %q does not name the file and %q", err, c.want)
			}
		})
	}
}
