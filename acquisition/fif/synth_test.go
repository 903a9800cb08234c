package fif

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// fifBuilder writes FIF tags for synthetic test files; it is independent of the reader's parsing.
type fifBuilder struct{ b []byte }

func (w *fifBuilder) tag(kind, typ int32, data []byte) {
	var h [16]byte
	binary.BigEndian.PutUint32(h[0:], uint32(kind))
	binary.BigEndian.PutUint32(h[4:], uint32(typ))
	binary.BigEndian.PutUint32(h[8:], uint32(len(data)))
	w.b = append(append(w.b, h[:]...), data...)
}

func be32(vs ...uint32) []byte {
	out := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return out
}

func (w *fifBuilder) int(kind int32, v int32)     { w.tag(kind, typeInt, be32(uint32(v))) }
func (w *fifBuilder) float(kind int32, v float32) { w.tag(kind, typeFloat, be32(math.Float32bits(v))) }
func (w *fifBuilder) start(kind int32)            { w.int(kindBlockStart, kind) }
func (w *fifBuilder) end(kind int32)              { w.int(kindBlockEnd, kind) }
func (w *fifBuilder) str(kind int32, s string)    { w.tag(kind, typeString, []byte(s)) }
func (w *fifBuilder) floats(kind int32, v []float64) {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(b[4*i:], math.Float32bits(float32(x)))
	}
	w.tag(kind, typeFloat, b)
}

type synthChan struct {
	name       string
	kind, unit int32
	rng, cal   float32
	loc        [12]float32
}

func (w *fifBuilder) header() {
	w.tag(kindFileID, typeIDStruct, make([]byte, fileIDBytes))
	w.int(kindDirPointer, -1)
}

func (w *fifBuilder) measInfo(sfreq float32, chs []synthChan, longNames bool) {
	w.start(blockMeasInfo)
	w.tag(kindMeasDate, typeInt, be32(1600000000, 250000))
	w.int(kindNChan, int32(len(chs)))
	w.float(kindSFreq, sfreq)
	for i, ch := range chs {
		d := make([]byte, chInfoBytes)
		binary.BigEndian.PutUint32(d[0:], uint32(i+1))
		binary.BigEndian.PutUint32(d[8:], uint32(ch.kind))
		binary.BigEndian.PutUint32(d[12:], math.Float32bits(ch.rng))
		binary.BigEndian.PutUint32(d[16:], math.Float32bits(ch.cal))
		for k, v := range ch.loc {
			binary.BigEndian.PutUint32(d[24+4*k:], math.Float32bits(v))
		}
		binary.BigEndian.PutUint32(d[72:], uint32(ch.unit))
		copy(d[80:95], ch.name)
		w.tag(kindChInfo, typeChInfo, d)
	}
	if longNames {
		for _, ch := range chs {
			w.start(blockChInfo)
			w.str(kindChDacqName, ch.name)
			w.end(blockChInfo)
		}
	}
	w.end(blockMeasInfo)
}

// synthChannels returns a Neuromag-like layout: triplets of two gradiometers and one magnetometer,
// then one stim channel.
func synthChannels(nMEG int) []synthChan {
	var chs []synthChan
	for i := range nMEG {
		ch := synthChan{rng: 1, cal: 1e-13, kind: chKindMEG, unit: unitTesla}
		ch.loc = [12]float32{0.01 * float32(i%10), 0.02, 0.03, 1, 0, 0, 0, 1, 0, 0, 0, 1}
		if i%3 != 2 {
			ch.unit, ch.cal = unitTeslaPM, 1e-11
		}
		ch.name = "MEG" + strings.Repeat("0", 4-len(itoa(i+1))) + itoa(i+1)
		chs = append(chs, ch)
	}
	return append(chs, synthChan{name: "STI101", kind: chKindStim, rng: 1, cal: 1})
}

func itoa(i int) string {
	s := ""
	for {
		s = string(rune('0'+i%10)) + s
		i /= 10
		if i == 0 {
			return s
		}
	}
}

// synthValue is the raw (uncalibrated) value of channel c at sample s; the stim channel (last) holds
// a 5-sample pulse of code 1+(s/100)%7 every 100 samples.
func synthValue(c, nchan, s int) float64 {
	if c == nchan-1 {
		if s%100 >= 10 && s%100 < 15 {
			return float64(1 + (s/100)%7)
		}
		return 0
	}
	return float64((c*7+s*13)%2001 - 1000)
}

// synthRaw builds a raw FIF file with buffers of bufSamples samples in the given sample type, a skip of
// skipBufs buffers after the first buffer when skipBufs > 0, and an MNE annotation block.
func synthRaw(nMEG, nBufs, bufSamples int, typ int32, skipBufs int, longNames bool) []byte {
	chs := synthChannels(nMEG)
	w := &fifBuilder{}
	w.header()
	w.start(blockMeas)
	w.measInfo(1000, chs, longNames)
	w.start(blockMNEAnnotations)
	w.floats(kindMNEBaselineMin, []float64{10.5, 11})
	w.floats(kindMNEBaselineMax, []float64{11, 11.25})
	w.str(kindComment, "BAD_blink:note{COLON}x")
	w.end(blockMNEAnnotations)
	w.start(blockRawData)
	w.int(kindFirstSample, 10000)
	nchan := len(chs)
	s0 := 0
	for b := range nBufs {
		if b == 1 && skipBufs > 0 {
			w.int(kindDataSkip, int32(skipBufs))
			s0 += skipBufs * bufSamples
		}
		width := sampleBytes(typ)
		d := make([]byte, width*nchan*bufSamples)
		for s := range bufSamples {
			for c := range nchan {
				v := synthValue(c, nchan, s0+s)
				o := width * (s*nchan + c)
				switch typ {
				case typeFloat:
					binary.BigEndian.PutUint32(d[o:], math.Float32bits(float32(v)))
				case typeInt:
					binary.BigEndian.PutUint32(d[o:], uint32(int32(v)))
				case typeShort, typeDauPack16:
					binary.BigEndian.PutUint16(d[o:], uint16(int16(v)))
				case typeDouble:
					binary.BigEndian.PutUint64(d[o:], math.Float64bits(v))
				}
			}
		}
		w.tag(kindDataBuffer, typ, d)
		s0 += bufSamples
	}
	w.end(blockRawData)
	w.end(blockMeas)
	return w.b
}

func TestSyntheticSampleTypesAndSkips(t *testing.T) {
	for _, typ := range []int32{typeFloat, typeInt, typeShort, typeDauPack16, typeDouble} {
		b := synthRaw(6, 4, 200, typ, 2, typ == typeDouble)
		f, err := Decode(b, "synth")
		if err != nil {
			t.Fatalf("type %d: %v", typ, err)
		}
		rec := f.Recording
		nchan := len(rec.Info.Channels)
		if rec.NumSamples() != 6*200 || f.FirstSample != 10000 {
			t.Fatalf("type %d: %d samples from %d, want 1200 from 10000", typ, rec.NumSamples(), f.FirstSample)
		}
		for c := range nchan {
			cal := float64(float32(1e-13))
			if c == nchan-1 {
				cal = 1
			} else if c%3 != 2 {
				cal = float64(float32(1e-11))
			}
			for s := range rec.NumSamples() {
				want := synthValue(c, nchan, s) * cal
				if s >= 200 && s < 600 {
					want = 0 // skipped buffers read as zeros, like MNE
				}
				if rec.Data[c][s] != want {
					t.Fatalf("type %d channel %d sample %d: %v, want %v", typ, c, s, rec.Data[c][s], want)
				}
			}
		}
		gotTypes := []streams.ChannelType{rec.Info.Channels[0].Type, rec.Info.Channels[2].Type, rec.Info.Channels[nchan-1].Type}
		if gotTypes[0] != streams.ChannelMEGGrad || gotTypes[1] != streams.ChannelMEGMag || gotTypes[2] != streams.ChannelStim {
			t.Fatalf("types %v", gotTypes)
		}
		if rec.Info.Channels[0].Unit != "T/m" || rec.Info.Channels[2].Unit != "T" {
			t.Fatalf("units %q %q", rec.Info.Channels[0].Unit, rec.Info.Channels[2].Unit)
		}
		// Skip annotation, two MNE annotations, then 8 stim pulses outside the skipped span.
		a := rec.Annotations
		if len(a) < 3 || a[0].Description != "BAD_ACQ_SKIP" || a[0].OnsetSample != 200 || a[0].DurationSec != 0.4 {
			t.Fatalf("type %d: annotations %+v", typ, a)
		}
		if a[1].Description != "BAD_blink" || math.Abs(a[1].OnsetSec-0.5) > 1e-9 || math.Abs(a[1].DurationSec-0.5) > 1e-9 ||
			a[2].Description != "note:x" || a[2].OnsetSample != 1000 {
			t.Fatalf("type %d: MNE annotations %+v %+v", typ, a[1], a[2])
		}
		var codes []int32
		for _, e := range a[3:] {
			codes = append(codes, e.Code)
		}
		if len(f.Events) != 8 || f.Events[0] != [3]int64{10010, 0, 1} || f.Events[2] != [3]int64{10610, 0, 7} {
			t.Fatalf("type %d: events %v (codes %v)", typ, f.Events, codes)
		}
	}
}

func TestFindEventsLikeMNE(t *testing.T) {
	// Step 0->3->5->0 gives two onsets (increasing); a trailing high value is closed at the end;
	// negative values count by magnitude.
	stim := []float64{0, 3, 3, 5, 5, 0, 0, -2, -2, 4, 4, 1, 0, 0, 6}
	got := FindEvents(stim, 100)
	want := [][3]int64{{101, 0, 3}, {103, 3, 5}, {107, 0, 2}, {109, 2, 4}, {114, 0, 6}}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	if ev := FindEvents([]float64{2, 2, 2}, 0); len(ev) != 0 {
		t.Fatalf("constant non-zero channel gave %v; MNE gives no events", ev)
	}
}
