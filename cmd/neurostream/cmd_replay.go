package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/recordings"
	"github.com/neurostream/neurostream/acquisition/replay"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
	"github.com/neurostream/neurostream/streams/pipeline"
)

// readRecording reads a file holding one recording, for the commands that take exactly one
// (train, decode); files with several numeric streams (XDF) must go through recordings.Open.
func readRecording(path string) (*acquisition.Recording, error) {
	recs, err := recordings.Open(path)
	if err != nil {
		return nil, err
	}
	if len(recs) > 1 {
		return nil, fmt.Errorf("%s holds %d numeric streams; this command takes a file with one", path, len(recs))
	}
	return recs[0], nil
}

func runReplay(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("replay", "[flags] FILE...",
		"Replays recorded sessions as live streams: frames and markers (annotations, trigger events) to the raw\n"+
			"topic, paced by the file's clock (--speed 1), N times faster, or as fast as possible (--fast).\n"+
			"Several files play one after the other as one stream each, or together with --parallel.")
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	speed := fs.Float64("speed", 1, "replay speed: 1 = real time, 10 = ten times faster")
	fast := fs.Bool("fast", false, "as fast as possible (bulk batches)")
	frame := fs.Int("frame", 8, "samples per frame")
	chans := fs.String("channels", "", "comma-separated channel names to replay (default all)")
	loop := fs.Bool("loop", false, "start each file again at its end, until Ctrl-C")
	parallel := fs.Bool("parallel", false, "replay all files at once, as separate streams")
	stream := fs.String("stream", "", "stream id (default: the file name; with several files, a suffix is added)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("replay: name at least one recording")
	}
	if *fast {
		*speed = 0
	}
	log := newLogger(os.Stderr, false)
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	topics := kc.Topics()
	if err := streams.EnsureTopics(ctx, kc, topics, 8, 1); err != nil {
		return err
	}
	mode, batch := streams.LowLatency, 1
	if *speed == 0 {
		mode, batch = streams.Bulk, 256
	}
	prod, err := streams.NewProducer(kc, mode)
	if err != nil {
		return err
	}
	defer prod.Close()
	m := metrics.New()

	play := func(i int, path string, bar *progress) error {
		rec, err := readRecording(path)
		if err != nil {
			return err
		}
		cfg := replay.Config{FrameSamples: *frame, Speed: *speed, Loop: *loop}
		cfg.StreamID = *stream
		if cfg.StreamID == "" {
			cfg.StreamID = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		} else if fs.NArg() > 1 {
			cfg.StreamID = fmt.Sprintf("%s-%d", cfg.StreamID, i+1)
		}
		if *chans != "" {
			cfg.Channels = strings.Split(*chans, ",")
		}
		src, err := replay.New(rec, cfg)
		if err != nil {
			return err
		}
		bar.add(int64(rec.NumSamples()))
		info := src.Info()
		fmt.Fprintf(os.Stderr, "replaying %s as %s: %d channels, %g Hz, %.1f s\n", path, info.StreamID, len(info.Channels), info.SampleRateHz, rec.DurationSec())
		return pipeline.Publish(ctx, &counting{Source: src, bar: bar}, prod, topics, topics.Raw, batch, m)
	}
	bar := newProgress(os.Stderr, *quiet || *loop)
	defer bar.finish()
	if *parallel {
		var wg sync.WaitGroup
		errs := make([]error, fs.NArg())
		for i, p := range fs.Args() {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = play(i, p, bar) }()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	for i, p := range fs.Args() {
		if err := play(i, p, bar); err != nil {
			return err
		}
	}
	return nil
}

// counting passes frames through and advances the progress bar.
type counting struct {
	pipeline.Source
	bar *progress
}

func (c *counting) Next(ctx context.Context, f *streams.Frame) error {
	err := c.Source.Next(ctx, f)
	if err == nil {
		c.bar.done(int64(f.NumSamples))
	}
	return err
}

// progress draws a one-line progress bar with throughput and ETA on a terminal-ish writer.
type progress struct {
	w            io.Writer
	off          bool
	total, sofar atomic.Int64
	start        time.Time
	last         atomic.Int64 // unix ns of the last draw
}

func newProgress(w io.Writer, off bool) *progress {
	return &progress{w: w, off: off, start: time.Now()}
}

func (p *progress) add(n int64) { p.total.Add(n) }

func (p *progress) done(n int64) {
	s := p.sofar.Add(n)
	now := time.Now().UnixNano()
	if p.off || now-p.last.Load() < int64(200*time.Millisecond) {
		return
	}
	p.last.Store(now)
	p.draw(s)
}

func (p *progress) draw(s int64) {
	total := p.total.Load()
	if total == 0 {
		return
	}
	frac := float64(s) / float64(total)
	el := time.Since(p.start)
	eta := "?"
	if frac > 0 {
		eta = (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
	}
	const width = 30
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %5.1f%%  %.0f samples/s  ETA %s   ", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		100*frac, float64(s)/el.Seconds(), eta)
}

func (p *progress) finish() {
	if !p.off {
		p.draw(p.sofar.Load())
		fmt.Fprintln(p.w)
	}
}
