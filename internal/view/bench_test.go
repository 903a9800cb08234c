package view

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

// BenchmarkLiveView measures, in headless Chromium, how often the page redraws, how long a frame
// takes from its acquisition to the screen, and the server's CPU per viewer, for a 64-channel
// 250 Hz EEG stream and a 306-channel 1 kHz MEG stream:
//
//	go test -run XXX -bench LiveView -benchtime 1x ./internal/view
//
// CPU is this process's (broker, source, view server; not the browser's) over a few seconds with no
// viewer, one viewer and three (tabs of one browser), so per-viewer cost is the difference.
func BenchmarkLiveView(b *testing.B) {
	path := chromium(b)
	for _, tc := range []struct {
		name string
		src  func() pipeline.Source
	}{
		{"64ch-250Hz", func() pipeline.Source {
			s, err := synthetic.New(synthetic.Config{StreamID: "eeg64", Channels: 64, SampleRateHz: 250, FrameSamples: 8, Realtime: true})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"306ch-1kHz", func() pipeline.Source { return newMEGSource("meg306", 1000, 10) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				measureView(b, path, tc.src())
			}
		})
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func measureView(b *testing.B, path string, src pipeline.Source) {
	const phase = 6 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := startLive(b, ctx, []pipeline.Source{src}, nil)
	id := src.Info().StreamID
	cpuOver := func() float64 {
		c0, t0 := cpuSeconds(), time.Now()
		time.Sleep(phase)
		return (cpuSeconds() - c0) / time.Since(t0).Seconds()
	}
	time.Sleep(2 * time.Second) // the source and the feeds settle
	idle := cpuOver()

	bctx := browser(b, path)
	defer func() {
		_ = chromedp.Cancel(bctx)
		cancel()
	}()
	open := func(tab context.Context) {
		if err := chromedp.Do(tab, chromedp.Navigate(live.url+"?stream="+id)); err != nil {
			b.Fatal(err)
		}
		waitJS(b, tab, "traces", `nsView.stats().columns > 0 && nsView.stats().delays > 10`, time.Minute)
	}
	open(bctx)
	redraws := func() float64 {
		n, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`nsView.stats().redraws`))
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	r0, t0 := redraws(), time.Now()
	one := cpuOver()
	fps := (redraws() - r0) / time.Since(t0).Seconds()
	st1, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]float64](`(({markers, ...s}) => s)(nsView.stats())`))
	if err != nil {
		b.Fatal(err)
	}
	for range 2 {
		tab, cancelTab := chromedp.NewContext(bctx)
		defer cancelTab()
		open(tab)
	}
	three := cpuOver()
	st3, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]float64](`(({markers, ...s}) => s)(nsView.stats())`))
	if err != nil {
		b.Fatal(err)
	}
	if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
		shot := filepath.Join(artifactDir(b), "view-"+id+".png")
		if err := os.WriteFile(shot, png, 0o644); err == nil {
			b.Logf("screenshot %s", shot)
		}
	}
	b.ReportMetric(fps, "redraws/s")
	b.ReportMetric(100*idle, "%core-0-viewers")
	b.ReportMetric(100*(one-idle), "%core-1st-viewer")
	b.ReportMetric(100*(three-idle)/3, "%core/viewer-of-3")
	b.ReportMetric(100*(three-one)/2, "%core/added-viewer")
	b.ReportMetric(st1["delayP50"], "delay-p50-ms")
	b.ReportMetric(st1["delayP99"], "delay-p99-ms")
	b.ReportMetric(st1["serverDelayP99"], "server-part-p99-ms")
	b.ReportMetric(st3["delayP99"], "delay-p99-ms-3-viewers")
	b.Logf("%s: %d ch at %g Hz; page stats with 1 viewer %v, with 3 %v", id, len(src.Info().Channels), src.Info().SampleRateHz, st1, st3)
}

// megSource is a 306-channel 1 kHz MEG-like stream (102 magnetometers and 204 gradiometers on a
// helmet) with a 10 Hz rhythm in noise, paced in real time.
type megSource struct {
	info  streams.StreamInfo
	frame int
	seq   uint64
	n     int64
	rng   *rand.Rand
	pacer acquisition.Pacer
}

func newMEGSource(id string, rateHz float64, frame int) *megSource {
	s := &megSource{frame: frame, rng: rand.New(rand.NewPCG(1, 2)), pacer: acquisition.Pacer{Speed: 1}}
	s.info = streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: id, Device: "test-meg", SampleRateHz: rateHz}
	for i := range 102 {
		th, ph := 0.15+1.3*float64(i%17)/16, 2*math.Pi*float64(i/17)/6+float64(i%17)*0.37
		pos := [3]float64{0.1 * math.Sin(th) * math.Cos(ph), 0.1 * math.Sin(th) * math.Sin(ph), 0.1 * math.Cos(th)}
		for k, typ := range []streams.ChannelType{streams.ChannelMEGMag, streams.ChannelMEGGrad, streams.ChannelMEGGrad} {
			unit := "T"
			if typ == streams.ChannelMEGGrad {
				unit = "T/m"
			}
			s.info.Channels = append(s.info.Channels, streams.Channel{Name: fmt.Sprintf("MEG%03d%d", i+1, k+1), Type: typ, Unit: unit,
				Position: pos, HasPosition: true})
		}
	}
	return s
}

func (s *megSource) Info() streams.StreamInfo { return s.info }

func (s *megSource) Next(ctx context.Context, f *streams.Frame) error {
	rate := s.info.SampleRateHz
	if err := s.pacer.Wait(ctx, float64(s.n+int64(s.frame))/rate); err != nil {
		return err
	}
	nch := len(s.info.Channels)
	f.Reset()
	s.seq++
	f.StreamID, f.Seq, f.NumSamples, f.NumChannels = s.info.StreamID, s.seq, s.frame, nch
	f.SourceTimeNs = int64(float64(s.n) / rate * 1e9)
	f.Samples = f.Samples[:0]
	for i := range s.frame {
		a := math.Sin(2 * math.Pi * 10 * float64(s.n+int64(i)) / rate)
		for c := range nch {
			f.Samples = append(f.Samples, float32((a*float64(1+c%5)+s.rng.NormFloat64())*1e-13))
		}
	}
	s.n += int64(s.frame)
	return nil
}
