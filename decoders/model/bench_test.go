package model

import (
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// The predict target is one 64-channel x 2-s window (321 samples at 160 Hz, MNE's
// inclusive window); fits use 30 such epochs, as PhysioNet S001 R03+R07. cmd/neurostream's
// `bench decoders` runs the same on the real recordings next to MNE/scikit-learn.
func benchData(b *testing.B) ([][][]float64, []int, Spec) {
	b.Helper()
	xs, ys := synthetic(15, 64, 321)
	sp := spec(CSPLDA, 64)
	sp.SampleRateHz = 160
	return xs, ys, sp
}

func benchFit(b *testing.B, kind Kind) {
	xs, ys, sp := benchData(b)
	sp.Kind = kind
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fit(sp, xs, ys, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode(b *testing.B, kind Kind) {
	xs, ys, sp := benchData(b)
	sp.Kind = kind
	f, err := Fit(sp, xs, ys, nil)
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(f)
	if err != nil {
		b.Fatal(err)
	}
	var p streams.Prediction
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(xs[0], &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitCSPLDA(b *testing.B)    { benchFit(b, CSPLDA) }
func BenchmarkFitMDM(b *testing.B)       { benchFit(b, MDM) }
func BenchmarkFitTSLR(b *testing.B)      { benchFit(b, TSLR) }
func BenchmarkDecodeCSPLDA(b *testing.B) { benchDecode(b, CSPLDA) }
func BenchmarkDecodeFBCSP(b *testing.B)  { benchDecode(b, FBCSP) }
func BenchmarkDecodeMDM(b *testing.B)    { benchDecode(b, MDM) }
func BenchmarkDecodeTSLR(b *testing.B)   { benchDecode(b, TSLR) }
