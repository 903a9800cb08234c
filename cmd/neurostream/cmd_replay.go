package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/neurostream/neurostream/acquisition/lsl"
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
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// readRecording reads a file holding one recording, for the commands that take exactly one
// (train, decode); files with several numeric streams (XDF) must go through recordings.Open.
func readRecording(path string) (*acquisition.Recording, error) {
	recs, err := openRecordings(path)
	if err != nil {
		return nil, err
	}
	if len(recs) > 1 {
		return nil, fmt.Errorf("%s holds %d numeric streams; this command takes a file with one", path, len(recs))
	}
	return recs[0], nil
}

// openRecordings reads a recording file and prints, on stderr, what its reader accepted with doubts
// (a truncated-looking file, a channel without a calibration range).
func openRecordings(path string) ([]*acquisition.Recording, error) {
	recs, err := recordings.Open(path)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		for _, w := range r.Warnings {
			fmt.Fprintf(os.Stderr, "warning: %s: %s\n", path, w)
		}
	}
	return recs, nil
}

func runReplay(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("replay", "[flags] FILE...",
		"Replays recorded sessions as live streams: frames and markers (annotations, trigger events) to the raw\n"+
			"topic, paced by the file's clock (--speed 1), N times faster, or as fast as possible (--fast).\n"+
			"Several files play one after the other as one stream each, or together with --parallel; the numeric\n"+
			"streams of one XDF file always play together, each as its own stream, with the file's marker streams\n"+
			"as their markers. Reads "+strings.Join(recordings.Extensions(), " ")+".")
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	var o replayOptions
	fs.Float64Var(&o.Speed, "speed", 1, "replay speed: 1 = real time, 10 = ten times faster")
	fast := fs.Bool("fast", false, "as fast as possible (bulk batches)")
	fs.IntVar(&o.FrameSamples, "frame", 8, "samples per frame")
	chans := fs.String("channels", "", "comma-separated channel names to replay (default all)")
	fs.BoolVar(&o.Loop, "loop", false, "start each file again at its end, until Ctrl-C")
	fs.BoolVar(&o.Parallel, "parallel", false, "replay all files at once, as separate streams")
	fs.StringVar(&o.StreamID, "stream", "", "stream id (default: the file name; with several files, a suffix is added;\n"+
		"an XDF file's streams get \"-<XDF stream name>\" appended)")
	fs.StringVar(&o.XDFStream, "xdf-stream", "", "replay only the XDF stream with this name (default: every numeric stream)")
	fs.StringVar(&o.LSLOut, "lsl-out", "", "also play each stream as an LSL outlet named after this (LabRecorder, MNE-LSL and\n"+
		"OpenViBE see the recording as a live headset)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := positiveFlags(fs, "frame", "speed"); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("replay: name at least one recording")
	}
	if *fast {
		o.Speed = 0
	}
	if *chans != "" {
		o.Channels = strings.Split(*chans, ",")
	}
	// Faster than real time, an embedded broker keeps its log in a temporary directory: replay then
	// publishes at a rate where kfake's in-memory log would be the bottleneck (broker.Config.TempLog).
	kf.bulk = o.Speed == 0 || o.Speed > 1
	log := newLogger(os.Stderr, false)
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	bar := newProgress(os.Stderr, *quiet || o.Loop)
	defer bar.finish()
	err = replayFiles(ctx, kc, fs.Args(), o, bar, os.Stderr)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "replay stopped")
		return nil // Ctrl-C is how a replay is stopped
	}
	return err
}

// replayOptions are the replay command's settings; tests and benchmarks drive replayFiles with them.
type replayOptions struct {
	Speed        float64  // 1 = real time, N = N times faster, 0 = as fast as possible
	FrameSamples int      // samples per frame
	Channels     []string // replay only these channels (default all)
	Loop         bool     // start each recording again at its end, until ctx ends
	Parallel     bool     // play all files at once instead of one after the other
	StreamID     string   // stream id; default the file name (see streamIDs)
	XDFStream    string   // play only the XDF stream of this name
	LSLOut       string   // also publish each stream as an LSL outlet named "<LSLOut> <stream id>"
}

// replayFiles publishes the recordings in paths to kc's raw topic (stream info first), as replayOptions
// say, and returns when they have all been played or ctx ends. bar counts samples; status lines go to
// logw.
func replayFiles(ctx context.Context, kc streams.Config, paths []string, o replayOptions, bar *progress, logw io.Writer) error {
	topics := kc.Topics()
	if err := streams.EnsureTopics(ctx, kc, topics, 8, 1); err != nil {
		return err
	}
	prod, err := newReplayProducer(kc, o.Speed)
	if err != nil {
		return err
	}
	defer prod.Close()
	m := metrics.New()

	// playFile plays every selected stream of one file at once: streams of one file were recorded together.
	playFile := func(i int, path string) error {
		srcs, err := replaySources(path, i, len(paths), o)
		if err != nil {
			return err
		}
		errs := make([]error, len(srcs))
		var wg sync.WaitGroup
		for k, src := range srcs {
			bar.add(int64(src.NumSamples()))
			info := src.Info()
			fmt.Fprintf(logw, "replaying %s as %s: %d channels, %g Hz, %.1f s\n", path, info.StreamID, len(info.Channels),
				info.SampleRateHz, float64(src.NumSamples())/info.SampleRateHz)
			counted := &counting{Source: src, bar: bar}
			if o.LSLOut != "" {
				fo, err := lsl.NewFrameOutlet(&info, o.LSLOut+" "+info.StreamID, lsl.OutletOptions{})
				if err != nil {
					return err
				}
				defer fo.Close()
				counted.lsl = fo
				fmt.Fprintf(logw, "  and as the LSL stream %q\n", o.LSLOut+" "+info.StreamID)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := replayBatch(o.Speed, info.SampleRateHz, o.FrameSamples)
				errs[k] = pipeline.Publish(ctx, counted, prod, topics, topics.Raw, batch, m)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	if o.Parallel {
		var wg sync.WaitGroup
		errs := make([]error, len(paths))
		for i, p := range paths {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = playFile(i, p) }()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	for i, p := range paths {
		if err := playFile(i, p); err != nil {
			return err
		}
	}
	return nil
}

// newReplayProducer returns the producer replay publishes with: one write per frame (lowest latency)
// up to real time, bulk batches when replaying faster (see replayBatch).
func newReplayProducer(kc streams.Config, speed float64) (*streams.Producer, error) {
	mode := streams.Bulk
	if speed > 0 && speed <= 1 {
		mode = streams.LowLatency
	}
	return streams.NewProducer(kc, mode)
}

// paceBatchWall is how much wall-clock time of frames a paced replay faster than real time publishes
// in one write. One synchronous write per frame costs ~0.1-0.3 ms on loopback (FINDINGS), so a
// 1 kHz stream in 8-sample frames at 100x (12,500 frames/s) cannot be written frame by frame.
const paceBatchWall = 5 * time.Millisecond

// fastBatch is how many frames one write carries when replaying as fast as possible. Writes are
// synchronous, so one write's encoding, transfer and storage do not overlap the next one's; on the
// 306-channel 1 kHz MEG replay through the embedded broker (BenchmarkReplayMEG/.../fast), 32, 128
// and 256 frames gave 105x, 114x and 99x real time (within the noise of each other), while 256
// with the old 1 ms batch timeout had given 44x. 32 keeps a write well under the 1 MB batch limit.
const fastBatch = 32

// replayBatch returns how many frames replay publishes per write: fastBatch as fast as possible, one at up
// to real time, and the frames due within paceBatchWall in between (at least one).
func replayBatch(speed, rateHz float64, frameSamples int) int {
	switch {
	case speed == 0:
		return fastBatch
	case speed <= 1:
		return 1
	}
	if frameSamples <= 0 {
		frameSamples = 8
	}
	return max(1, int(speed*paceBatchWall.Seconds()*rateHz/float64(frameSamples)))
}

// replaySources reads file i of n and prepares one replay source per numeric stream it holds (one,
// except for XDF). Stream ids: o.StreamID or the file name, "-<i+1>" appended when o.StreamID names
// several files, "-<stream name>" appended when the file holds several streams.
func replaySources(path string, i, n int, o replayOptions) ([]*replay.Source, error) {
	recs, err := openRecordings(path)
	if err != nil {
		return nil, err
	}
	if o.XDFStream != "" && strings.EqualFold(filepath.Ext(path), ".xdf") {
		var names []string
		var picked []*acquisition.Recording
		for _, r := range recs {
			names = append(names, r.Info.StreamID)
			if r.Info.StreamID == o.XDFStream {
				picked = append(picked, r)
			}
		}
		if len(picked) == 0 {
			return nil, fmt.Errorf("%s: no numeric XDF stream named %q (streams: %v)", path, o.XDFStream, names)
		}
		recs = picked
	}
	base := o.StreamID
	if base == "" {
		base = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	} else if n > 1 {
		base = fmt.Sprintf("%s-%d", base, i+1)
	}
	var srcs []*replay.Source
	for _, rec := range recs {
		cfg := replay.Config{FrameSamples: o.FrameSamples, Speed: o.Speed, Loop: o.Loop, Channels: o.Channels, StreamID: base}
		if len(recs) > 1 {
			cfg.StreamID = base + "-" + rec.Info.StreamID
		}
		src, err := replay.New(rec, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// counting passes frames through, advances the progress bar and, with --lsl-out, plays them over LSL.
type counting struct {
	pipeline.Source
	bar *progress
	lsl *lsl.FrameOutlet
}

func (c *counting) Next(ctx context.Context, f *streams.Frame) error {
	err := c.Source.Next(ctx, f)
	if err == nil {
		c.bar.done(int64(f.NumSamples))
		if c.lsl != nil {
			f.AcquiredAtNs = time.Now().UnixNano()
			_ = c.lsl.PushFrame(f)
		}
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
