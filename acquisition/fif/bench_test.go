package fif

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

// BenchmarkRead reads each real FIF raw file whole, the workload tools/bench/formats_fif.py times
// with mne.io.read_raw_fif(preload=True).
func BenchmarkRead(b *testing.B) {
	for _, stem := range []string{"test_elekta_3ch_raw", "sample_audvis_trunc_raw_sss", "neuromag122_test_file-raw"} {
		b.Run(stem, func(b *testing.B) {
			p := fixturePath(b, stem+".fif")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Read(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// writeSynthMEG writes a 306-channel (+ stim) 1 kHz float FIF file of nSec seconds in 1000-sample
// buffers, the shape of a Neuromag Vectorview/TRIUX recording.
func writeSynthMEG(b *testing.B, nSec int) string {
	p := filepath.Join(b.TempDir(), "meg306.fif")
	if err := os.WriteFile(p, synthRaw(306, nSec, 1000, typeFloat, 0, false), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// sliceFrames cuts a recording into interleaved float32 frames of frameSamples, reusing one frame,
// the way replay feeds the pipeline; it returns the number of frames.
func sliceFrames(rec *acquisition.Recording, frameSamples int, f *streams.Frame) int {
	nch := len(rec.Data)
	n := rec.NumSamples()
	ai := 0
	frames := 0
	for s0 := 0; s0 < n; s0 += frameSamples {
		ns := min(frameSamples, n-s0)
		f.Reset()
		f.StreamID, f.Seq, f.NumSamples, f.NumChannels = rec.Info.StreamID, uint64(frames), ns, nch
		f.Samples = f.Samples[:ns*nch]
		for c, row := range rec.Data {
			for s, v := range row[s0 : s0+ns] {
				f.Samples[s*nch+c] = float32(v)
			}
		}
		for ; ai < len(rec.Annotations) && rec.Annotations[ai].OnsetSample < int64(s0+ns); ai++ {
			a := rec.Annotations[ai]
			if a.OnsetSample >= int64(s0) {
				f.Markers = append(f.Markers, streams.Marker{SampleOffset: int32(a.OnsetSample - int64(s0)), Code: a.Code, Label: a.Description})
			}
		}
		frames++
	}
	return frames
}

// BenchmarkReplay306 measures what replaying a 306-channel 1 kHz MEG recording costs on the reader
// side: read the file and slice it into 20-sample frames (50 frames/s). The realtime-x metric is
// recording seconds per second of work: >= 100 is the target.
func BenchmarkReplay306(b *testing.B) {
	const nSec, frameSamples = 60, 20
	p := writeSynthMEG(b, nSec)
	f := &streams.Frame{Samples: make([]float32, 0, frameSamples*307)}
	b.ReportAllocs()
	b.SetBytes(int64(nSec * 1000 * 307 * 4))
	for b.Loop() {
		rec, err := Read(p)
		if err != nil {
			b.Fatal(err)
		}
		sliceFrames(rec, frameSamples, f)
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(nSec/sec, "realtime-x")
	b.ReportMetric(nSec*1000/sec, "samples/s")
}

// BenchmarkSliceFrames306 isolates the per-frame work of replay (no file read): it must not allocate.
func BenchmarkSliceFrames306(b *testing.B) {
	const nSec, frameSamples = 10, 20
	f0, err := Decode(synthRaw(306, nSec, 1000, typeFloat, 0, false), "meg306")
	if err != nil {
		b.Fatal(err)
	}
	f := &streams.Frame{Samples: make([]float32, 0, frameSamples*307), Markers: make([]streams.Marker, 0, 8)}
	b.ReportAllocs()
	for b.Loop() {
		sliceFrames(f0.Recording, frameSamples, f)
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(nSec/sec, "realtime-x")
}
