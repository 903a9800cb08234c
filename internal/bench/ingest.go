package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// benchIngest measures the ingest ceiling: how many float32 samples per second one source can push
// through the embedded broker to one consumer. For each channel count, a source publishes 32-sample
// frames as fast as it can (bulk producer, 32 frames a write) while one partition consumer reads and
// decodes them; the ceiling is the rate both sustained, the lower of the two. A second phase paces
// the source at 90% of it and checks that the consumer keeps up (backlog at the end within one write).
// Then liblsl's own ceiling on this machine, beside ours (ingestLiblsl).
func benchIngest(ctx context.Context, r *benchRun) error {
	dur := 6 * time.Second
	if r.short {
		dur = 3 * time.Second
	}
	fmt.Fprintf(r.out, "%-9s %16s %16s %16s %10s %14s %18s %8s\n", "channels", "source samples/s", "consumer samples/s", "ceiling samples/s", "MB/s", "cpu s per s", "paced 90%: backlog", "load")
	ours := map[int]*ingestResult{}
	for _, ch := range ingestChannels {
		free, err := ingestRun(ctx, ch, dur, 0)
		if err != nil {
			return err
		}
		ceiling := min(free.sourceRate, free.consumerRate)
		paced, err := ingestRun(ctx, ch, dur, 0.9*ceiling)
		if err != nil {
			return err
		}
		ours[ch] = free
		keeps := fmt.Sprintf("%d frames", paced.backlogEnd)
		fmt.Fprintf(r.out, "%-9d %16.3g %16.3g %16.3g %10.0f %14.2f %18s %8s\n", ch, free.sourceRate, free.consumerRate, ceiling,
			ceiling*4/1e6, free.cpuPerSec, keeps, loadAverage())
	}
	return ingestLiblsl(ctx, r, ours)
}

// ingestChannels: EEG, whole-head MEG, high-density arrays and the shape of liblsl's published
// figure (2,500 ch x 30 kHz).
var ingestChannels = []int{64, 306, 1024, 2500}

type ingestResult struct {
	sourceRate, consumerRate float64 // float32 samples per second
	cpuPerSec                float64 // process CPU seconds per second of the run
	backlogEnd               int64   // frames published but not yet read when the source stopped
}

// ingestRun pushes ch-channel frames for dur, as fast as possible (rate 0) or paced at rate samples/s.
func ingestRun(ctx context.Context, ch int, dur time.Duration, rate float64) (*ingestResult, error) {
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DefaultPartitions: 1})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	cfg := streams.Config{Brokers: []string{b.Addr()}, Namespace: "ingest"}
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 1, 1); err != nil {
		return nil, err
	}
	p, err := streams.NewProducer(cfg, streams.Bulk)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	const frameSamples, perWrite = 32, 32
	frames := make([]*streams.Frame, perWrite)
	for i := range frames {
		frames[i] = &streams.Frame{StreamID: "ingest", NumSamples: frameSamples, NumChannels: ch, Samples: make([]float32, frameSamples*ch)}
		for j := range frames[i].Samples {
			frames[i].Samples[j] = float32(j%997) * 1e-6
		}
	}
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, Partition: 0, FromStart: true, Bulk: true})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var published, read atomic.Int64
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	readDone := make(chan error, 1)
	go func() {
		var f streams.Frame
		for {
			if _, _, err := c.ReadFrame(runCtx, &f); err != nil {
				readDone <- err
				return
			}
			read.Add(1)
		}
	}()
	cpu0, start := CPUTime(), time.Now()
	seq := uint64(0)
	for time.Since(start) < dur {
		if rate > 0 { // pace: wait until this write's samples are due
			due := start.Add(time.Duration(float64(published.Load()*frameSamples*int64(ch)) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		for _, f := range frames {
			f.Seq = seq
			seq++
		}
		if err := p.PublishFrames(ctx, topics.Raw, frames...); err != nil {
			return nil, err
		}
		published.Add(perWrite)
	}
	elapsed := time.Since(start).Seconds()
	res := &ingestResult{backlogEnd: published.Load() - read.Load(), cpuPerSec: (CPUTime() - cpu0).Seconds() / elapsed}
	perFrame := float64(frameSamples * ch)
	res.sourceRate = float64(published.Load()) * perFrame / elapsed
	res.consumerRate = float64(read.Load()) * perFrame / elapsed
	cancel()
	<-readDone
	return res, nil
}
