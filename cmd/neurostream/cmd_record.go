package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/xdf"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

func runRecord(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("record", "--stream ID --out FILE.{bdf,edf,xdf} [flags]",
		"Records one stream from Kafka to a file: its frames, with their markers as EDF+/BDF+ annotations or an\n"+
			"XDF marker stream. Channel names, types, units and the rate come from the stream-info topic; other\n"+
			"streams on the topic are ignored. Missing frames (sequence gaps) are logged, counted and filled\n"+
			"with each channel's last value, marked by a \"neurostream gap\" annotation, so that later samples\n"+
			"keep their time. Recording stops on Ctrl-C, after --duration of signal, or when the stream has\n"+
			"sent nothing for --idle; the file is then completed and closed, so nothing received is lost.\n"+
			"EDF stores 16 bits over a fixed range (--physical-max; samples beyond it are clipped and counted),\n"+
			"BDF 24 bits, XDF float32 as received.")
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	var o recordOptions
	fs.StringVar(&o.StreamID, "stream", "", "stream id to record (required)")
	fs.StringVar(&o.OutPath, "out", "", "output file; the extension picks the format: .bdf, .edf or .xdf (required)")
	fs.StringVar(&o.Topic, "topic", "raw", "topic to read: raw, clean, or a full topic name")
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this much signal (stream time, e.g. 2m); 0: no limit")
	fs.DurationVar(&o.Idle, "idle", 5*time.Second, "stop when no frame of the stream arrived for this long after the first and the topic holds nothing unread; 0: wait for Ctrl-C")
	fs.BoolVar(&o.FromStart, "from-start", false, "start at the oldest message the topic retains instead of new ones")
	fs.Float64Var(&o.PhysicalMaxEDF, "physical-max", 0, "EDF/BDF range +-X in the channels' units (volts for EEG); 0: 3.2 mV (EDF) or 262 mV (BDF)")
	fs.Float64Var(&o.RecordSec, "record-sec", 1, "EDF/BDF data record length in seconds (rate x record-sec must be whole)")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.StreamID == "" || o.OutPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("record: --stream and --out are required, and nothing else (got %q)", fs.Args())
	}
	log := newLogger(os.Stderr, false)
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	o.Log = log
	if !*quiet {
		var last time.Time
		o.Progress = func(s *recordSummary) {
			if now := time.Now(); now.Sub(last) >= time.Second {
				last = now
				fmt.Fprintf(os.Stderr, "\rrecording %s: %d frames, %.1f s, %d markers, %d gaps   ", o.StreamID, s.Frames, s.DurationSec(), s.Markers, s.Gaps)
			}
		}
	}
	sum, err := recordStream(ctx, kc, o)
	if !*quiet {
		fmt.Fprintln(os.Stderr)
	}
	if sum.Frames > 0 || err == nil {
		fmt.Fprintln(out, sum)
	}
	return err
}

// recordOptions are the record command's settings; tests drive recordStream with them.
type recordOptions struct {
	StreamID       string
	OutPath        string        // .bdf, .edf or .xdf
	Topic          string        // raw, clean or a full topic name (default raw)
	Duration       time.Duration // stop after this much signal; 0: no limit
	Idle           time.Duration // stop this long after the last frame; 0: never
	FromStart      bool          // read the topic from its oldest retained message
	PhysicalMaxEDF float64       // EDF/BDF symmetric range in channel units; 0: the writer's default
	RecordSec      float64       // EDF/BDF record duration; 0: 1 s
	Log            *slog.Logger
	// Progress, if set, sees the running totals after every frame written.
	Progress func(*recordSummary)
}

// recordSummary counts what a recording received and wrote.
type recordSummary struct {
	Path          string
	StreamID      string
	RateHz        float64
	Channels      int
	Frames        int64 // frames of the stream written
	Samples       int64 // samples per channel in the file, gap fill included
	Markers       int64 // markers written (gap annotations excluded)
	Gaps          int64 // sequence gaps
	MissingFrames int64 // frames missing in those gaps
	FilledSamples int64 // samples per channel written in their place
	Duplicates    int64 // frames seen again (seq not above the last) and dropped
	Rejected      int64 // frames of the stream that could not be decoded or had the wrong shape
	Clipped       int64 // EDF/BDF samples outside the physical range, clipped
	FileBytes     int64
	StopReason    string
}

// DurationSec is the recorded signal's length.
func (s *recordSummary) DurationSec() float64 {
	if s.RateHz <= 0 {
		return 0
	}
	return float64(s.Samples) / s.RateHz
}

func (s recordSummary) String() string {
	return fmt.Sprintf("recorded %s to %s (%s): %d frames, %d samples x %d channels (%.2f s at %g Hz), %d markers, "+
		"%d gaps (%d frames missing, %d samples filled), %d duplicates dropped, %d frames rejected, %d samples clipped, %d bytes",
		s.StreamID, s.Path, s.StopReason, s.Frames, s.Samples, s.Channels, s.DurationSec(), s.RateHz, s.Markers,
		s.Gaps, s.MissingFrames, s.FilledSamples, s.Duplicates, s.Rejected, s.Clipped, s.FileBytes)
}

// frameWriter is what the EDF/BDF and XDF streaming writers have in common.
type frameWriter interface {
	WriteFrame(f *streams.Frame) error
	Close() error
}

// createRecordFile opens the streaming writer the file's extension names.
// firstSampleTime is when the first recorded sample was taken: the source's start time plus the
// frame's source time when the source says when it started (a replayed file's measurement date),
// else the frame's acquisition time less its length (a live source), else now.
func firstSampleTime(info streams.StreamInfo, f *streams.Frame) time.Time {
	switch {
	case info.StartTimeNs != 0:
		return time.Unix(0, info.StartTimeNs+f.SourceTimeNs).UTC()
	case f.AcquiredAtNs != 0:
		return time.Unix(0, f.AcquiredAtNs-int64(float64(f.NumSamples)/info.SampleRateHz*1e9)).UTC()
	}
	return time.Now().UTC()
}

func createRecordFile(path string, info streams.StreamInfo, start time.Time, o recordOptions) (frameWriter, func() int64, error) {
	none := func() int64 { return 0 }
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".edf", ".bdf":
		opts := edf.WriteOptions{Format: edf.FormatEDF, PhysicalMax: o.PhysicalMaxEDF, RecordDurationSec: o.RecordSec,
			RecordingExtra: "X X neurostream-record", StartTime: start}
		if ext == ".bdf" {
			opts.Format = edf.FormatBDF
		}
		w, err := edf.Create(path, info, opts)
		if err != nil {
			return nil, none, err
		}
		return w, w.ClippedSamples, nil
	case ".xdf":
		w, err := xdf.Create(path, info)
		return w, none, err
	default:
		return nil, none, fmt.Errorf("record: %s: unknown output format %q (write .bdf, .edf or .xdf)", path, ext)
	}
}

// errIdle ends a recording whose stream went quiet.
var errIdle = errors.New("stream idle")

// infoWaitRecord bounds how long the recorder waits for a stream's description after its first frame.
const infoWaitRecord = 10 * time.Second

// recordStream consumes o.StreamID's frames from kc and writes them to o.OutPath until ctx ends, the
// duration is reached or the stream goes idle. Cancelling ctx is a normal stop: the file is completed
// and the summary returned with a nil error.
func recordStream(ctx context.Context, kc streams.Config, o recordOptions) (recordSummary, error) {
	sum := recordSummary{Path: o.OutPath, StreamID: o.StreamID}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Topic == "" {
		o.Topic = "raw"
	}
	if ext := strings.ToLower(filepath.Ext(o.OutPath)); ext != ".edf" && ext != ".bdf" && ext != ".xdf" {
		return sum, fmt.Errorf("record: %s: unknown output format %q (write .bdf, .edf or .xdf)", o.OutPath, ext)
	}
	topics := kc.Topics()
	topic, err := topics.Resolve(o.Topic)
	if err != nil {
		return sum, fmt.Errorf("record: %w", err)
	}
	kind := topic
	switch topic {
	case topics.Raw:
		kind = "raw"
	case topics.Clean:
		kind = "clean"
	}
	if err := streams.EnsureTopics(ctx, kc, topics, 8, 1); err != nil {
		return sum, err
	}

	// readCtx ends the reads: Ctrl-C (ctx), or the idle watchdog.
	readCtx, cancelRead := context.WithCancelCause(ctx)
	defer cancelRead(nil)
	reg, err := pipeline.NewInfoRegistry(readCtx, kc, o.Log)
	if err != nil {
		return sum, err
	}
	defer reg.Close()
	// The stream's frames are all in one partition (keyed by stream id): read it directly, from now
	// on, instead of joining a consumer group, whose join (~1 s) would miss the frames sent meanwhile.
	part, err := kc.PartitionOf(ctx, topic, o.StreamID)
	if err != nil {
		return sum, err
	}
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topic, Partition: part, FromStart: o.FromStart, Bulk: true})
	if err != nil {
		return sum, err
	}
	defer c.Close()

	var lastFrameNs atomic.Int64 // wall clock of the last frame of the stream; 0 before the first
	if o.Idle > 0 {
		go func() {
			tick := time.NewTicker(max(min(o.Idle/4, 250*time.Millisecond), time.Millisecond))
			defer tick.Stop()
			for {
				select {
				case <-readCtx.Done():
					return
				case <-tick.C:
					if last := lastFrameNs.Load(); last != 0 && time.Since(time.Unix(0, last)) > o.Idle {
						// Quiet is not idle while the partition holds messages we have not read: a
						// slow broker (a log on disk, a loaded machine) must not end a recording early.
						if behind, err := c.Behind(readCtx); err != nil || behind > 0 {
							continue
						}
						cancelRead(errIdle)
						return
					}
				}
			}
		}()
	}

	r := recorder{o: o, sum: &sum}
	defer func() {
		if r.w != nil {
			r.closeFile()
		}
	}()
	var f streams.Frame
	for {
		m, err := c.Fetch(readCtx)
		if err != nil {
			switch {
			case errors.Is(context.Cause(readCtx), errIdle):
				sum.StopReason = fmt.Sprintf("idle for %v", o.Idle)
			case ctx.Err() != nil:
				sum.StopReason = "interrupted"
			default:
				return sum, fmt.Errorf("record %s from %s: %w", o.StreamID, topic, err)
			}
			return sum, r.closeFile()
		}
		if string(m.Key) != o.StreamID {
			continue
		}
		if t := streams.MessageType(m); t != streams.TypeFrame && t != "" {
			continue
		}
		lastFrameNs.Store(time.Now().UnixNano())
		if err := streams.DecodeFrame(m.Value, &f); err != nil {
			sum.Rejected++
			o.Log.Warn("skipping undecodable frame", "stream", o.StreamID, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
			continue
		}
		if r.w == nil {
			info, err := reg.Wait(readCtx, streams.StreamInfoKey(kind, o.StreamID), infoWaitRecord)
			if err != nil {
				if ctx.Err() != nil {
					sum.StopReason = "interrupted"
					return sum, nil
				}
				return sum, fmt.Errorf("record %s: %w", o.StreamID, err)
			}
			if err := r.open(info, &f); err != nil {
				return sum, err
			}
		}
		done, err := r.frame(&f)
		if err != nil {
			return sum, err
		}
		if o.Progress != nil {
			o.Progress(&sum)
		}
		if done {
			sum.StopReason = "duration reached"
			return sum, r.closeFile()
		}
	}
}

// recorder writes one stream's frames to a file, keeping sample time across gaps.
type recorder struct {
	o         recordOptions
	sum       *recordSummary
	w         frameWriter
	clipped   func() int64
	info      streams.StreamInfo
	maxSample int64 // stop after this many samples; 0: no limit
	seq       streams.SeqTracker
	started   bool
	t0Ns      int64 // SourceTimeNs of the first frame
	hold      []float32
	fill      streams.Frame
	closed    bool
}

// open creates the file for the stream described by info, whose first frame to record is first.
func (r *recorder) open(info streams.StreamInfo, first *streams.Frame) error {
	if err := info.Validate(); err != nil {
		return fmt.Errorf("record %s: stream info: %w", r.o.StreamID, err)
	}
	w, clipped, err := createRecordFile(r.o.OutPath, info, firstSampleTime(info, first), r.o)
	if err != nil {
		return err
	}
	r.w, r.clipped, r.info = w, clipped, info
	r.sum.RateHz, r.sum.Channels = info.SampleRateHz, len(info.Channels)
	if r.o.Duration > 0 {
		r.maxSample = int64(math.Round(r.o.Duration.Seconds() * info.SampleRateHz))
	}
	r.hold = make([]float32, len(info.Channels))
	return nil
}

// frame writes one received frame (after filling a gap before it); done reports that the duration
// limit was reached.
func (r *recorder) frame(f *streams.Frame) (done bool, err error) {
	s := r.sum
	nch := len(r.info.Channels)
	if f.NumChannels != nch || f.Validate() != nil {
		s.Rejected++
		r.o.Log.Warn("rejecting frame", "stream", f.StreamID, "seq", f.Seq, "channels", f.NumChannels, "want", nch, "err", f.Validate())
		return false, nil
	}
	res := r.seq.Check(f.Epoch, f.Seq)
	switch {
	case res.Duplicate:
		s.Duplicates++
		return false, nil
	case res.Rejected != "":
		s.Rejected++
		r.o.Log.Warn("rejecting frame: implausible sequence number", "stream", f.StreamID, "epoch", f.Epoch, "seq", f.Seq, "reason", res.Rejected)
		return false, nil
	case res.Restart:
		r.o.Log.Warn("the source restarted: a new sequence begins; recording goes on", "stream", f.StreamID, "epoch", f.Epoch, "seq", f.Seq)
	}
	if !r.started {
		r.started, r.t0Ns = true, f.SourceTimeNs
	} else if missing := res.Missing; missing > 0 {
		// The frame's source time says where it starts; without a usable one, assume missing frames
		// were as long as this one. A source time far from what the missing frames could hold (a
		// corrupt or forged frame) would make the fill arbitrarily long, so it is not believed.
		gap := int64(missing) * int64(f.NumSamples)
		if at := int64(math.Round(float64(f.SourceTimeNs-r.t0Ns) * r.info.SampleRateHz / 1e9)); f.SourceTimeNs != 0 && at > s.Samples &&
			at-s.Samples <= 2*gap+int64(r.info.SampleRateHz) {
			gap = at - s.Samples
		}
		s.Gaps++
		s.MissingFrames += int64(missing)
		r.o.Log.Warn("sequence gap", "stream", f.StreamID, "seq", f.Seq, "missing_frames", missing, "filled_samples", gap)
		if done, err := r.writeFill(gap, fmt.Sprintf("neurostream gap: %d frames missing", missing)); err != nil || done {
			return done, err
		}
	}
	n := int64(f.NumSamples)
	if r.maxSample > 0 && s.Samples+n >= r.maxSample {
		n = r.maxSample - s.Samples
		done = true
		f.NumSamples = int(n)
		f.Samples = f.Samples[:int(n)*nch]
		kept := f.Markers[:0]
		for _, m := range f.Markers {
			if int64(m.SampleOffset) < n {
				kept = append(kept, m)
			}
		}
		f.Markers = kept
	}
	if n > 0 {
		if err := r.w.WriteFrame(f); err != nil {
			return true, fmt.Errorf("record %s: %w", r.o.StreamID, err)
		}
		copy(r.hold, f.Samples[(int(n)-1)*nch:])
		s.Frames++
		s.Samples += n
		s.Markers += int64(len(f.Markers))
	}
	return done, nil
}

// writeFill writes n samples holding each channel's last value, the first one carrying label as a
// marker that spans the filled samples.
func (r *recorder) writeFill(n int64, label string) (done bool, err error) {
	s := r.sum
	spanSec := float64(n) / r.info.SampleRateHz
	nch := len(r.info.Channels)
	const chunk = 256
	first := true
	for n > 0 {
		k := min(n, chunk)
		if r.maxSample > 0 && s.Samples+k >= r.maxSample {
			k, done = r.maxSample-s.Samples, true
		}
		if k <= 0 {
			return true, nil
		}
		r.fill.Reset()
		r.fill.StreamID, r.fill.NumSamples, r.fill.NumChannels = r.o.StreamID, int(k), nch
		r.fill.SourceTimeNs = r.t0Ns + int64(math.Round(float64(s.Samples)/r.info.SampleRateHz*1e9))
		for range k {
			r.fill.Samples = append(r.fill.Samples, r.hold...)
		}
		if first {
			r.fill.Markers = append(r.fill.Markers, streams.Marker{Label: label, DurationSec: spanSec})
			first = false
		}
		if err := r.w.WriteFrame(&r.fill); err != nil {
			return true, fmt.Errorf("record %s: gap fill: %w", r.o.StreamID, err)
		}
		s.Samples += k
		s.FilledSamples += k
		n -= k
		if done {
			return true, nil
		}
	}
	return false, nil
}

// closeFile completes and closes the file once and fills in the summary's file facts.
func (r *recorder) closeFile() error {
	if r.w == nil || r.closed {
		return nil
	}
	r.closed = true
	err := r.w.Close()
	r.sum.Clipped = r.clipped()
	if st, serr := os.Stat(r.o.OutPath); serr == nil {
		r.sum.FileBytes = st.Size()
	}
	if r.sum.Clipped > 0 {
		r.o.Log.Warn("samples clipped to the EDF/BDF physical range; widen --physical-max or record .bdf/.xdf",
			"stream", r.o.StreamID, "clipped", r.sum.Clipped)
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", r.o.StreamID, err)
	}
	return nil
}
