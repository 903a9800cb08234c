package features

import (
	"github.com/neurostream/neurostream/internal/shareddata"

	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/dsp/spectral"
	"github.com/neurostream/neurostream/streams"
)

// The benchmark workload, shared with tools/bench/features.py and `neurostream bench features`: the 64
// channels of PhysioNet S001R01 (real EEG, volts) treated as a 250 Hz stream.
const (
	benchChannels = 64
	benchFsHz     = 250.0
	benchWindow   = 500 // 2 s
	benchStep     = 125 // 0.5 s
	benchFrame    = 8
	benchSeconds  = 30
)

// benchRecording returns S001R01's 64 channels, channel-major, in volts.
func benchRecording(tb testing.TB) [][]float64 {
	path := filepath.Join(shareddata.Dir(), "physionet_eegmmidb_S001", "S001R01.edf")
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("%s: not found; put the shared data set beside the repo", path)
	}
	rec, err := edf.Read(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	if len(rec.Data) < benchChannels || rec.NumSamples() < benchSeconds*int(benchFsHz) {
		tb.Fatalf("%s: %d channels x %d samples, need %d x %d", path, len(rec.Data), rec.NumSamples(), benchChannels, benchSeconds*int(benchFsHz))
	}
	return rec.Data[:benchChannels]
}

func benchInfo() streams.StreamInfo {
	info := streams.StreamInfo{StreamID: "bench", SampleRateHz: benchFsHz}
	for c := 0; c < benchChannels; c++ {
		info.Channels = append(info.Channels, streams.Channel{Name: string(rune('A'+c/26)) + string(rune('a'+c%26)), Type: streams.ChannelEEG, Unit: "V"})
	}
	return info
}

// BenchmarkWelchPSD64: one op = Welch PSD (1-s Hann segments, 50 % overlap) of a 2-s window on 64 channels.
func BenchmarkWelchPSD64(b *testing.B) { benchWelch(b, 250) }

// BenchmarkWelchPSD64Pow2 is the same with 256-sample segments, where the FFT is radix 2 rather than 5.
func BenchmarkWelchPSD64Pow2(b *testing.B) { benchWelch(b, 256) }

func benchWelch(b *testing.B, nPerSeg int) {
	data := benchRecording(b)
	w, err := spectral.NewWelch(spectral.WelchConfig{FsHz: benchFsHz, NPerSeg: nPerSeg, NOverlap: -1})
	if err != nil {
		b.Fatal(err)
	}
	psd := make([]float64, len(w.Freqs()))
	b.ReportAllocs()
	for b.Loop() {
		for c := range data {
			if err := w.PSD(data[c][:benchWindow], psd); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkBandPower64: one op = Welch PSD plus absolute and relative power in the six default bands
// of a 2-s window on 64 channels.
func BenchmarkBandPower64(b *testing.B) {
	data := benchRecording(b)
	window := make([][]float64, benchChannels)
	for c := range window {
		window[c] = data[c][:benchWindow]
	}
	e := NewBandPower(ExtractorConfig{})
	names, err := e.Configure(benchInfo(), benchWindow)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float64, len(names))
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Extract(window, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChain: one op = 30 s of a 64-channel 250 Hz stream in 8-sample frames through notch 50 Hz,
// band-pass 1-40 Hz, common average, and band power + Ledoit-Wolf covariance on a 2-s window every 0.5 s.
func BenchmarkChain(b *testing.B) {
	data := benchRecording(b)
	n := benchSeconds * int(benchFsHz)
	stream := make([]float32, n*benchChannels)
	for s := 0; s < n; s++ {
		for c := 0; c < benchChannels; c++ {
			stream[s*benchChannels+c] = float32(data[c][s])
		}
	}
	chain, err := newBenchChain(benchInfo(), benchWindow, benchStep)
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]float32, benchFrame*benchChannels)
	b.ReportAllocs()
	for b.Loop() {
		chain.Reset()
		for off := 0; off+len(frame) <= len(stream); off += len(frame) {
			copy(frame, stream[off:off+len(frame)])
			chain.Push(frame)
		}
	}
	if chain.windowErr != nil {
		b.Fatal(chain.windowErr)
	}
	b.ReportMetric(float64(benchSeconds)/(b.Elapsed().Seconds()/float64(b.N)), "streams/core")
}

// benchChain is the stage chain the pipeline runs per stream, assembled for the benchmark.
type benchChain struct {
	car           *dsp.Reference
	notch, bpass  *dsp.SOSFilter
	win           *dsp.Windower
	bp            *BandPower
	cov           *Covariance
	bpOut, covOut []float64
	onWindow      func(window [][]float64, endSample int64)
	windowErr     error
}

func newBenchChain(info streams.StreamInfo, windowSamples, stepSamples int) (*benchChain, error) {
	fs := info.SampleRateHz
	nCh := len(info.Channels)
	notch, err := dsp.IIRNotch(50, 30, fs)
	if err != nil {
		return nil, err
	}
	band, err := dsp.Butter(4, []float64{1, 40}, dsp.Bandpass, fs)
	if err != nil {
		return nil, err
	}
	car, err := dsp.NewCommonAverage(nCh, nil)
	if err != nil {
		return nil, err
	}
	win, err := dsp.NewWindower(nCh, windowSamples, stepSamples)
	if err != nil {
		return nil, err
	}
	c := &benchChain{car: car, notch: dsp.NewSOSFilter(notch, nCh), bpass: dsp.NewSOSFilter(band, nCh), win: win,
		bp: NewBandPower(ExtractorConfig{}), cov: &Covariance{estimator: "ledoit_wolf"}}
	names, err := c.bp.Configure(info, windowSamples)
	if err != nil {
		return nil, err
	}
	c.bpOut = make([]float64, len(names))
	if names, err = c.cov.Configure(info, windowSamples); err != nil {
		return nil, err
	}
	c.covOut = make([]float64, len(names))
	c.onWindow = func(window [][]float64, _ int64) {
		if err := c.bp.Extract(window, c.bpOut); err != nil {
			c.windowErr = err
		}
		if err := c.cov.Extract(window, c.covOut); err != nil {
			c.windowErr = err
		}
	}
	return c, nil
}

func (c *benchChain) Reset() {
	c.notch.Reset()
	c.bpass.Reset()
	c.win.Reset()
}

// Push filters one interleaved frame in place, re-references it to the common average and windows it.
func (c *benchChain) Push(frame []float32) {
	c.notch.ProcessInterleaved32(frame, frame)
	c.bpass.ProcessInterleaved32(frame, frame)
	c.car.ProcessInterleaved32(frame)
	c.win.Push(frame, c.onWindow)
}

// BenchmarkSpectralSet / Separate: one op = band power, aperiodic fit and peak alpha frequency of a
// 2-s window on 64 channels, as a Set (one shared Welch spectrum) and as three extractors run alone.
func BenchmarkSpectralSet(b *testing.B)      { benchSpectral(b, true) }
func BenchmarkSpectralSeparate(b *testing.B) { benchSpectral(b, false) }

func benchSpectral(b *testing.B, shared bool) {
	data := benchRecording(b)
	window := make([][]float64, benchChannels)
	for c := range window {
		window[c] = data[c][:benchWindow]
	}
	cfg := []ExtractorConfig{{Kind: "bandpower"}, {Kind: "aperiodic"}, {Kind: "peak_alpha"}}
	var ex []Extractor
	if shared {
		set, err := NewSet(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ex = []Extractor{set}
	} else {
		var err error
		if ex, err = Build(cfg); err != nil {
			b.Fatal(err)
		}
	}
	var dst [][]float64
	for _, e := range ex {
		names, err := e.Configure(benchInfo(), benchWindow)
		if err != nil {
			b.Fatal(err)
		}
		dst = append(dst, make([]float64, len(names)))
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, e := range ex {
			if err := e.Extract(window, dst[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
