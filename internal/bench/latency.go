package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/decoders/alpha"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
	"github.com/neurostream/neurostream/streams/metrics"
)

// benchLatency measures end-to-end latency through an embedded broker: N synthetic 64-channel 250 Hz
// streams in 8-sample frames, paced in real time, published to the raw topic; one fused pipeline
// (50 Hz notch + band-pass + eyes-open/closed decoder, 2-s window every 62.5 ms) consuming them as a consumer group
// and publishing predictions. Latency runs from just before the publish of a window's last frame to
// the acknowledgement of its prediction's publish, so it includes both Kafka round trips.
func benchLatency(ctx context.Context, r *benchRun) error {
	dur := 20 * time.Second
	if r.short {
		dur = 8 * time.Second
	}
	if r.duration > 0 {
		dur = r.duration
	}
	counts := r.streams
	if len(counts) == 0 {
		counts = []int{1, 100, 1000}
	}
	parts := cmp.Or(r.partitions, 8)
	phases := "spread over one frame period, as independent headsets deliver them (--aligned: all at once)"
	if r.aligned {
		phases = "aligned: every stream's frame released in the same instant"
	}
	fmt.Fprintf(r.out, "streams' frame phases %s\n", phases)
	fmt.Fprintf(r.out, "sources and pipeline fused in this process with the broker; the pipeline runs as %d consumer-group members (one per partition)\n", parts)
	fmt.Fprintf(r.out, "keeps up: the backlog (frames published, not yet processed) did not grow from the run's first half to its second and is under one frame per stream 2 s after the sources stop\n")
	header := func() {
		fmt.Fprintf(r.out, "%-8s %9s %12s %10s %10s %10s %14s %9s %12s %6s %7s %9s %10s\n", "streams", "frames/s", "predictions", "p50", "p99", "max", "backlog max/end", "keeps up",
			"cpu µs/frame", "GCs", "load", "heap MiB", "broker MiB")
	}
	header()
	kept := map[int]bool{} // per stream count: every run kept up
	run := func(n int) (*latencyResult, error) {
		res, err := latencyRun(ctx, n, dur, r.aligned, parts)
		if err != nil {
			return nil, err
		}
		keeps := "yes"
		if !res.keepsUp {
			keeps = "NO"
		}
		if k, seen := kept[n]; !seen || k {
			kept[n] = res.keepsUp
		}
		fmt.Fprintf(r.out, "%-8d %9.0f %12d %10s %10s %10s %7d/%-6d %9s %12.1f %6d %7s %9.1f %10.1f\n", n, res.framesPerSec, len(res.latencies),
			fmtMs(res.p(0.5)), fmtMs(res.p(0.99)), fmtMs(res.p(1)), res.backlogMax, res.backlogEnd, keeps,
			res.cpuPerFrameUs, res.gcs, loadAverage(), float64(res.heapBytes)/(1<<20), float64(res.brokerBytes)/(1<<20))
		return res, nil
	}
	for _, n := range counts {
		for i := 0; i < max(r.runs, 1); i++ {
			res, err := run(n)
			if err != nil {
				return err
			}
			switch n {
			case 1:
				verdict := "met"
				if res.p(0.5) > time.Millisecond || res.p(0.99) > 2*time.Millisecond {
					verdict = "NOT met"
				}
				fmt.Fprintf(r.out, "  1 stream target p50 <= 1 ms, p99 <= 2 ms: %s (p50 is %.2fx the target, p99 %.2fx)\n", verdict,
					float64(res.p(0.5))/float64(time.Millisecond), float64(res.p(0.99))/float64(2*time.Millisecond))
			case 100:
				verdict := "met"
				if res.p(0.99) > 5*time.Millisecond {
					verdict = "NOT met"
				}
				fmt.Fprintf(r.out, "  100 streams target p99 <= 5 ms: %s (p99 is %.2fx the target)\n", verdict, float64(res.p(0.99))/float64(5*time.Millisecond))
			case 1000:
				verdict := "keeps up"
				if !res.keepsUp {
					verdict = "does NOT keep up"
				}
				fmt.Fprintf(r.out, "  1,000 streams: %s (backlog max %d, %d at the end), p99 %s\n", verdict, res.backlogMax, res.backlogEnd, fmtMs(res.p(0.99)))
			}
		}
	}
	if !r.ceiling {
		return nil
	}
	// The ceiling: up the ladder while every run keeps up, then halve the gap between the last
	// count that kept up and the first that did not, down to ceilingStep streams.
	fmt.Fprintf(r.out, "ceiling search (%v per run):\n", dur)
	header()
	try := func(n int) (bool, error) {
		if k, seen := kept[n]; seen {
			return k, nil
		}
		_, err := run(n)
		return kept[n], err
	}
	lo, hi := 0, 0 // lo keeps up, hi does not (0: not found yet)
	for _, n := range ceilingLadder {
		ok, err := try(n)
		if err != nil {
			return err
		}
		if !ok {
			hi = n
			break
		}
		lo = n
	}
	for hi > 0 && hi-lo > ceilingStep {
		mid := (lo + hi) / 2 / ceilingStep * ceilingStep
		if mid <= lo {
			break
		}
		ok, err := try(mid)
		if err != nil {
			return err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	switch {
	case lo == 0:
		fmt.Fprintf(r.out, "ceiling: not even %d streams keep up on this machine (load %s)\n", ceilingLadder[0], loadAverage())
	case hi == 0:
		fmt.Fprintf(r.out, "ceiling: at least %d streams keep up (the most tried; load %s)\n", lo, loadAverage())
	default:
		fmt.Fprintf(r.out, "ceiling: %d streams keep up, %d do not (load %s)\n", lo, hi, loadAverage())
	}
	return nil
}

// ceilingLadder is the stream counts the ceiling search climbs; ceilingStep its resolution.
var ceilingLadder = []int{100, 200, 300, 500, 700, 1000, 1500, 2000}

const ceilingStep = 50

type latencyResult struct {
	latencies              []time.Duration
	framesPerSec           float64
	backlogMax, backlogEnd int
	keepsUp                bool
	// cpuPerFrameUs is the whole process's CPU time (sources, broker, pipeline) per published frame:
	// unlike latency it barely moves with other load on the machine.
	cpuPerFrameUs float64
	gcs           uint32 // garbage collections during the run
	// heapBytes is the live heap after a collection at the end of the run (sources, pipeline and
	// broker together); brokerBytes the records the broker held then.
	heapBytes, brokerBytes uint64
}

func (l *latencyResult) p(q float64) time.Duration {
	if len(l.latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(l.latencies)-1))
	return l.latencies[i]
}

func fmtMs(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

func latencyRun(ctx context.Context, nStreams int, dur time.Duration, aligned bool, partitions int) (*latencyResult, error) {
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	dir, err := os.MkdirTemp("", "neurostream-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sc := synthetic.Config{Channels: 64, SampleRateHz: 250, FrameSamples: 8}
	calib := sc
	calib.Seed, calib.Alpha, calib.DurationSec = 1000, synthetic.AlphaAlternate, 60
	calibSrc, err := synthetic.New(calib)
	if err != nil {
		return nil, err
	}
	model, _, err := alpha.CalibrateOn(calibSrc)
	if err != nil {
		return nil, err
	}
	modelPath := filepath.Join(dir, "alpha.json")
	if err := model.Save(modelPath); err != nil {
		return nil, err
	}
	// The streams replay one synthetic recording, each from its own point: generating pink noise
	// and alpha for every stream took a fifth of the process's CPU at 500 streams, a cost that
	// headsets, not the pipeline, bear.
	rec, err := recordSynthetic(sc, 16)
	if err != nil {
		return nil, err
	}
	period := time.Duration(float64(sc.FrameSamples) / sc.SampleRateHz * float64(time.Second))
	var srcs []pipeline.Source
	for i := 0; i < nStreams; i++ {
		// Independent headsets deliver frames at independent phases: spread the streams' first
		// frames over one frame period instead of releasing every stream's frame in the same
		// instant (which made 100 streams a burst of 100 frames every 32 ms).
		// (--aligned keeps that worst case.)
		delay := period * time.Duration(i) / time.Duration(nStreams)
		if aligned {
			delay = 0
		}
		srcs = append(srcs, &replaySource{rec: rec, id: fmt.Sprintf("bench-%03d", i), next: (i * 97) % len(rec.frames),
			frames: int(dur.Seconds() * sc.SampleRateHz / float64(sc.FrameSamples)), delay: delay})
	}
	replicas := 1
	if nStreams > 1 {
		replicas = partitions
	}
	cfg := &pipeline.Config{Kafka: streams.Config{Brokers: []string{b.Addr()}, Namespace: "bench"},
		Pipelines: []pipeline.PipelineConfig{{Name: "bench", Replicas: replicas, Stages: []pipeline.StageConfig{
			{Kind: "notch", FreqHz: 50},
			{Kind: "bandpass", LowHz: 1, HighHz: 40},
			{Kind: "decoder", Decoder: "alpha", Model: modelPath, StepSec: 0.0625},
		}}}}
	m := metrics.New()
	var mu sync.Mutex
	res := &latencyResult{keepsUp: true}
	warmup := int64(3 * sc.SampleRateHz) // group join and the first window
	onPred := func(p *streams.Prediction) {
		lat := time.Duration(time.Now().UnixNano() - p.AcquiredAtNs)
		if p.WindowEndSample < warmup {
			return
		}
		mu.Lock()
		res.latencies = append(res.latencies, lat)
		mu.Unlock()
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	srcCtx, srcCancel := context.WithCancel(runCtx)
	defer srcCancel()
	// Sources and the pipeline run as in `neurostream run`, fused in this process.
	go func() {
		loaders := pipeline.DefaultLoaders()
		errc <- pipeline.Run(runCtx, &pipeline.Config{Kafka: cfg.Kafka, Pipelines: cfg.Pipelines}, pipeline.RunOptions{
			Only: "pipelines", Partitions: partitions, Metrics: m, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Loaders: loaders, OnPrediction: onPred})
	}()
	time.Sleep(time.Second) // let the group form before frames flow
	go func() {
		_ = pipeline.Run(srcCtx, &pipeline.Config{Kafka: cfg.Kafka}, pipeline.RunOptions{Only: "sources", Partitions: partitions, Sources: srcs, Metrics: m,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	published := m.FramesOut.WithLabelValues("source")
	processed := m.FramesIn.WithLabelValues("0-notch")
	start := time.Now()
	cpu0 := CPUTime()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var half []int
	for time.Since(start) < dur+2*time.Second {
		select {
		case err := <-errc:
			if err == nil {
				err = errors.New("pipeline stopped early")
			}
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		backlog := int(counterValue(published) - counterValue(processed))
		half = append(half, backlog)
		res.backlogMax = max(res.backlogMax, backlog)
		res.backlogEnd = backlog
	}
	res.framesPerSec = counterValue(published) / dur.Seconds()
	if frames := counterValue(published); frames > 0 {
		res.cpuPerFrameUs = float64(CPUTime()-cpu0) / 1e3 / frames
	}
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	res.gcs = ms1.NumGC - ms0.NumGC
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	res.heapBytes, res.brokerBytes = ms1.HeapAlloc, uint64(max(b.HeldBytes(), 0))
	// Keeping up: the backlog two seconds after the sources stopped is (nearly) empty and it did not
	// grow from the first half of the run to the second.
	mid := len(half) / 2
	res.keepsUp = res.backlogEnd <= nStreams && slices.Max(half[mid:]) <= 2*slices.Max(half[:mid])+nStreams
	cancel()
	<-errc
	mu.Lock()
	slices.Sort(res.latencies)
	mu.Unlock()
	if len(res.latencies) == 0 {
		return nil, fmt.Errorf("no predictions arrived in %v with %d streams", dur, nStreams)
	}
	return res, nil
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// recording is a synthetic stream's first frames, generated once and replayed by every bench
// stream.
type recording struct {
	info   streams.StreamInfo
	frames []streams.Frame
	rateHz float64
}

func recordSynthetic(sc synthetic.Config, seconds float64) (*recording, error) {
	sc.StreamID, sc.Seed, sc.Alpha, sc.DurationSec, sc.Realtime = "recording", 7, synthetic.AlphaAlternate, seconds, false
	src, err := synthetic.New(sc)
	if err != nil {
		return nil, err
	}
	rec := &recording{info: src.Info(), rateHz: sc.SampleRateHz}
	for {
		var f streams.Frame
		if err := src.Next(context.Background(), &f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if f.NumSamples != sc.FrameSamples {
			break
		}
		f.Markers = nil
		rec.frames = append(rec.frames, f)
	}
	if len(rec.frames) == 0 {
		return nil, errors.New("the synthetic recording has no frames")
	}
	return rec, nil
}

// replaySource is one bench stream: the shared recording from its own starting frame, looped,
// paced in real time after a delay that sets the phase of its frames.
type replaySource struct {
	rec          *recording
	id           string
	next, frames int // the recording's frame to send next; frames to send in all
	sent         int
	delay        time.Duration
	started      bool
	pacer        acquisition.Pacer
}

func (r *replaySource) Info() streams.StreamInfo {
	info := r.rec.info
	info.StreamID = r.id
	return info
}

func (r *replaySource) Next(ctx context.Context, f *streams.Frame) error {
	if r.sent >= r.frames {
		return io.EOF
	}
	if !r.started {
		r.started = true
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		r.pacer.Speed = 1
	}
	src := &r.rec.frames[r.next]
	if err := r.pacer.Wait(ctx, float64((r.sent+1)*src.NumSamples)/r.rec.rateHz); err != nil {
		return err
	}
	f.Reset()
	f.StreamID = r.id
	f.Seq = uint64(r.sent)
	f.SourceTimeNs = int64(float64(r.sent*src.NumSamples) / r.rec.rateHz * 1e9)
	f.NumSamples, f.NumChannels = src.NumSamples, src.NumChannels
	f.Samples = append(f.Samples[:0], src.Samples...)
	r.sent++
	r.next = (r.next + 1) % len(r.rec.frames)
	return nil
}
