package dsp

import (
	"github.com/neurostream/neurostream/internal/shareddata"

	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
)

// benchRuns are the PhysioNet S001 runs concatenated into the benchmark workload; tools/bench/dsp.py
// reads the same runs in the same order.
var benchRuns = []string{"R03", "R04", "R05", "R06", "R07", "R08", "R09", "R10"}

const (
	benchChannels = 64
	benchSamples  = 150000
	benchFsHz     = 250.0 // the filter is designed for 250 Hz, as in the target, whatever the file's rate
)

// benchData returns 64 channels x 150,000 samples of real EEG (volts), interleaved sample-major.
func benchData(tb testing.TB) []float64 {
	x := make([]float64, 0, benchChannels*benchSamples)
	for _, run := range benchRuns {
		path := filepath.Join(shareddata.Dir(), "physionet_eegmmidb_S001", fmt.Sprintf("S001%s.edf", run))
		if _, err := os.Stat(path); err != nil {
			tb.Skipf("%s: not found; put the shared data set beside the repo", path)
		}
		rec, err := edf.Read(path)
		if err != nil {
			tb.Fatalf("read %s: %v", path, err)
		}
		if len(rec.Data) < benchChannels {
			tb.Fatalf("%s: %d channels, need %d", path, len(rec.Data), benchChannels)
		}
		for s := 0; s < rec.NumSamples() && len(x) < cap(x); s++ {
			for c := 0; c < benchChannels; c++ {
				x = append(x, rec.Data[c][s])
			}
		}
	}
	if len(x) < cap(x) {
		tb.Fatalf("runs %v hold only %d samples per channel, need %d", benchRuns, len(x)/benchChannels, benchSamples)
	}
	return x
}

func benchSOS(tb testing.TB) SOS {
	sos, err := Butter(4, []float64{8, 30}, Bandpass, benchFsHz)
	if err != nil {
		tb.Fatal(err)
	}
	return sos
}

// BenchmarkSOSFilterWhole filters the whole 64 x 150,000 array in one call (one op = whole array),
// the counterpart of scipy.signal.sosfilt on a (64, 150000) array.
func BenchmarkSOSFilterWhole(b *testing.B) {
	src := benchData(b)
	sos := benchSOS(b)
	x := append([]float64(nil), src...) // each op refilters the last output: no copy inside the timing
	f := NewSOSFilter(sos, benchChannels)
	b.ReportAllocs()
	b.SetBytes(int64(len(src) * 8))
	b.ResetTimer()
	for b.Loop() {
		f.Reset()
		f.ProcessInterleaved(x)
	}
	b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mch-samples/s")
}

// BenchmarkSOSFilterFrames8 feeds the same array in 8-sample frames (one op = whole array), the
// counterpart of sosfilt called with zi per frame. allocs/op is per whole array, so 0 means 0 per frame.
func BenchmarkSOSFilterFrames8(b *testing.B) {
	src := benchData(b)
	sos := benchSOS(b)
	x := append([]float64(nil), src...) // each op refilters the last output: no copy inside the timing
	f := NewSOSFilter(sos, benchChannels)
	const frame = 8 * benchChannels
	b.ReportAllocs()
	b.SetBytes(int64(len(src) * 8))
	b.ResetTimer()
	for b.Loop() {
		f.Reset()
		for off := 0; off < len(x); off += frame {
			f.ProcessInterleaved(x[off : off+frame])
		}
	}
	b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mch-samples/s")
}

// BenchmarkSOSFilterFrames8Float32 is the float32 wire-format path (streams.Frame samples).
func BenchmarkSOSFilterFrames8Float32(b *testing.B) {
	src := benchData(b)
	x := make([]float32, len(src))
	for i, v := range src {
		x[i] = float32(v)
	}
	f := NewSOSFilter(benchSOS(b), benchChannels)
	out := make([]float32, len(x))
	const frame = 8 * benchChannels
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for off := 0; off < len(x); off += frame {
			f.ProcessInterleaved32(out[off:off+frame], x[off:off+frame])
		}
	}
	b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mch-samples/s")
}

// BenchmarkWindowerPush8 pushes 8-sample frames of 64 channels into 2-s windows with a 0.1-s step at 250 Hz.
func BenchmarkWindowerPush8(b *testing.B) {
	w, err := NewWindower(benchChannels, 500, 25)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 8*benchChannels)
	sink := 0.0
	fn := func(win [][]float64, end int64) { sink += win[0][0] }
	b.ReportAllocs()
	for b.Loop() {
		w.Push(x, fn)
	}
	_ = sink
}
