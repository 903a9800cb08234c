package lsl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/clock"
	"github.com/neurostream/neurostream/streams"
)

// This file turns LSL streams into neurostream frames and back: Source reads an inlet as a
// pipeline source, Markers attaches marker streams to the frames of data streams, FrameOutlet and
// PredictionOutlet re-publish frames and predictions.

// voltsPer converts an LSL/XDF unit string to its factor in volts (0 when it is not a voltage).
func voltsPer(unit string) float64 {
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "microvolts", "microvolt", "uv", "µv", "μv":
		return 1e-6
	case "millivolts", "millivolt", "mv":
		return 1e-3
	case "volts", "volt", "v":
		return 1
	case "nanovolts", "nanovolt", "nv":
		return 1e-9
	}
	return 0
}

// channelType maps an LSL channel (or stream) type to neurostream's.
func channelType(t string) streams.ChannelType {
	switch strings.ToUpper(strings.TrimSpace(t)) {
	case "EEG":
		return streams.ChannelEEG
	case "EOG":
		return streams.ChannelEOG
	case "EMG":
		return streams.ChannelEMG
	case "ECG", "EKG":
		return streams.ChannelECG
	case "STIM", "TRIGGER", "MARKERS":
		return streams.ChannelStim
	case "MEG":
		return streams.ChannelMEGMag
	case "":
		return streams.ChannelUnknown
	}
	return streams.ChannelMisc
}

// SourceOptions configures a Source.
type SourceOptions struct {
	StreamID     string // default: the LSL stream's name and source id
	FrameSamples int    // samples per frame (default 8)
	// TimeCorrectionEvery is how often the clock offset to the outlet is measured again (default 5 s).
	TimeCorrectionEvery time.Duration
	// MarkerWait is how long, with marker streams attached, a frame is held after its last sample
	// arrived, so that an event sent with the samples it marks still lands on the right sample: a
	// marker stream is a separate connection, and its event can arrive a moment after the data. An
	// event that comes later still goes on the next frame (and is counted late). Default 50 ms;
	// negative: no hold.
	MarkerWait time.Duration
	Inlet      InletOptions
	Log        *slog.Logger
}

// DefaultMarkerWait is SourceOptions.MarkerWait's default.
const DefaultMarkerWait = 50 * time.Millisecond

// Source reads one LSL data stream as neurostream frames: samples in volts where the stream
// declares a voltage unit (LSL's convention for EEG is microvolts; EEG channels without a unit are
// taken as microvolts), channel names, types and positions (millimetres in LSL, metres here) from
// the stream's description, and each frame's SourceTimeNs on this host's wall clock: the outlet's
// timestamp plus the LSL time correction, carried from the LSL clock to Unix time.
type Source struct {
	in      *Inlet
	info    streams.StreamInfo
	lsl     StreamInfo
	opts    SourceOptions
	log     *slog.Logger
	scale   []float32
	chunk   Chunk
	pending []float32
	pendTS  []float64
	// pendArrivalNs is when each pending sample arrived (Unix ns), for the marker hold.
	pendArrivalNs []int64
	hold          acquisition.Sleeper
	// correction is the time correction in seconds (float64 bits), measured in the background.
	correction atomic.Uint64
	wallOffset float64 // Unix seconds minus Clock() at start
	lastTS     float64
	lost       atomic.Int64
	markers    *Markers
	lateMarks  atomic.Int64
	lastLate   time.Time
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	gapPending int64
	seq        uint64
	// arrivals fits the outlet's sample clock against this host's arrival times, for drift and
	// jitter (LiveStats); delivered counts samples handed out.
	arrivals  *clock.Estimator
	delivered atomic.Int64
	statsMu   sync.Mutex
}

// NewSource opens an inlet on info (as Resolve returned it) and measures the time correction once.
func NewSource(ctx context.Context, info StreamInfo, opts SourceOptions) (*Source, error) {
	if opts.FrameSamples <= 0 {
		opts.FrameSamples = 8
	}
	if opts.TimeCorrectionEvery <= 0 {
		opts.TimeCorrectionEvery = 5 * time.Second
	}
	if opts.MarkerWait == 0 {
		opts.MarkerWait = DefaultMarkerWait
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Inlet.Log == nil {
		opts.Inlet.Log = opts.Log
	}
	if info.NominalRateHz <= 0 || info.Format == String {
		return nil, fmt.Errorf("lsl stream %q (%v, %v Hz) is a marker stream: attach it with Markers, not as a source", info.Name, info.Format, info.NominalRateHz)
	}
	in, err := OpenInlet(ctx, info, opts.Inlet)
	if err != nil {
		return nil, err
	}
	s := &Source{in: in, lsl: in.Info(), opts: opts, log: opts.Log, wallOffset: float64(time.Now().UnixNano())/1e9 - Clock()}
	if s.arrivals, err = clock.New(info.NominalRateHz, 0); err != nil {
		in.Close()
		return nil, err
	}
	s.info = s.streamInfo()
	off, _, err := in.TimeCorrection(ctx)
	if err != nil {
		in.Close()
		return nil, err
	}
	s.correction.Store(math.Float64bits(off))
	cctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.correctClock(cctx)
	return s, nil
}

// StreamIDFor is the stream id a Source gives an LSL stream by default.
func StreamIDFor(info *StreamInfo) string {
	id := "lsl-" + info.Name
	if info.SourceID != "" {
		id += "-" + info.SourceID
	}
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, id)
}

func (s *Source) streamInfo() streams.StreamInfo {
	l := &s.lsl
	id := s.opts.StreamID
	if id == "" {
		id = StreamIDFor(l)
	}
	info := streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: id, Device: "lsl:" + l.Name, SampleRateHz: l.NominalRateHz}
	if l.Desc != nil {
		if m := strings.TrimSpace(l.Desc.Value("manufacturer")); m != "" {
			info.Device += " (" + m + ")"
		}
	}
	chs := l.Channels()
	s.scale = make([]float32, l.ChannelCount)
	for k := range l.ChannelCount {
		c := streams.Channel{Name: "ch" + strconv.Itoa(k+1), Type: channelType(l.Type)}
		unit := ""
		if k < len(chs) {
			if chs[k].Label != "" {
				c.Name = chs[k].Label
			}
			if chs[k].Type != "" {
				c.Type = channelType(chs[k].Type)
			}
			unit = chs[k].Unit
			if chs[k].HasLocation {
				c.Position = [3]float64{chs[k].Location[0] * 1e-3, chs[k].Location[1] * 1e-3, chs[k].Location[2] * 1e-3}
				c.HasPosition = true
			}
		}
		f := voltsPer(unit)
		switch {
		case f > 0:
			c.Unit = "V"
		case unit == "" && (c.Type == streams.ChannelEEG || c.Type == streams.ChannelEOG || c.Type == streams.ChannelEMG || c.Type == streams.ChannelECG):
			f, c.Unit = 1e-6, "V"
		default:
			f, c.Unit = 1, unit
		}
		s.scale[k] = float32(f)
		info.Channels = append(info.Channels, c)
	}
	return info
}

func (s *Source) correctClock(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.TimeCorrectionEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if off, _, err := s.in.TimeCorrection(ctx); err == nil {
				s.correction.Store(math.Float64bits(off))
			} else if ctx.Err() == nil {
				s.log.Debug("lsl source: time correction failed", "stream", s.info.StreamID, "err", err)
			}
		}
	}
}

// Info describes the stream.
func (s *Source) Info() streams.StreamInfo { return s.info }

// LSLInfo is the LSL stream's full description.
func (s *Source) LSLInfo() StreamInfo { return s.lsl }

// TimeCorrection is the latest measured offset (seconds) added to the outlet's timestamps.
func (s *Source) TimeCorrection() float64 { return math.Float64frombits(s.correction.Load()) }

// LostSamples counts samples missing between timestamps (the outlet dropped them, or the connection
// was interrupted).
func (s *Source) LostSamples() int64 { return s.lost.Load() }

// LiveStats reports the link for the acquisition metrics: samples delivered and lost, and the
// clock: OffsetSec is the LSL time correction (seconds added to the outlet's timestamps to put them
// on this host's clock); DriftPPM and JitterSec come from a fit of sample arrivals on this host
// against the stream's nominal rate (how fast the outlet's device really samples, and how irregularly
// its samples arrive).
func (s *Source) LiveStats() acquisition.LiveStats {
	s.statsMu.Lock()
	st := s.arrivals.Stats()
	s.statsMu.Unlock()
	st.OffsetSec = s.TimeCorrection()
	lost := s.lost.Load()
	return acquisition.LiveStats{Samples: s.delivered.Load() + lost, LostSamples: lost, LateMarkers: s.lateMarks.Load(), Clock: st}
}

// Close ends the inlet.
func (s *Source) Close() error {
	s.cancel()
	err := s.in.Close()
	s.wg.Wait()
	return err
}

// Next fills f with the next FrameSamples samples.
func (s *Source) Next(ctx context.Context, f *streams.Frame) error {
	nch := len(s.info.Channels)
	n := s.opts.FrameSamples
	for len(s.pendTS) < n {
		if err := s.in.Pull(ctx, &s.chunk, 0); err != nil {
			return err
		}
		c := &s.chunk
		if c.Recovered {
			if off, _, err := s.in.TimeCorrection(ctx); err == nil {
				s.correction.Store(math.Float64bits(off))
			}
		}
		arrived := time.Now().UnixNano()
		for i := range c.N {
			ts := c.Timestamps[i]
			if s.lastTS != 0 && s.lsl.NominalRateHz > 0 {
				if gap := int64(math.Round((ts-s.lastTS)*s.lsl.NominalRateHz)) - 1; gap > 0 {
					s.lost.Add(gap)
					s.gapPending += gap
					s.log.Warn("lsl source: samples missing", "stream", s.info.StreamID, "lost", gap)
				}
			}
			s.lastTS = ts
			for k := range nch {
				s.pending = append(s.pending, float32(c.Values[i*nch+k])*s.scale[k])
			}
			s.pendTS = append(s.pendTS, ts)
			s.pendArrivalNs = append(s.pendArrivalNs, arrived)
		}
		if c.N > 0 {
			s.delivered.Add(int64(c.N))
			s.statsMu.Lock()
			s.arrivals.Observe(s.delivered.Load()+s.lost.Load()-1, time.Now().UnixNano())
			s.statsMu.Unlock()
		}
	}
	if s.markers != nil && s.opts.MarkerWait > 0 {
		// Frames that were already waiting in the inlet are past the wait and go at once, so the
		// hold adds at most MarkerWait of latency.
		if err := s.hold.Sleep(ctx, time.Duration(s.pendArrivalNs[n-1]+int64(s.opts.MarkerWait)-time.Now().UnixNano())); err != nil {
			return err
		}
	}
	f.Reset()
	f.StreamID, f.Seq = s.info.StreamID, s.seq
	s.seq++
	f.NumSamples, f.NumChannels = n, nch
	f.Samples = append(f.Samples, s.pending[:n*nch]...)
	corr := s.TimeCorrection()
	t0 := s.pendTS[0] + corr
	f.SourceTimeNs = int64(math.Round((t0 + s.wallOffset) * 1e9))
	if s.gapPending > 0 {
		f.Markers = append(f.Markers, streams.Marker{Label: fmt.Sprintf("neurostream gap: %d samples lost", s.gapPending)})
		s.gapPending = 0
	}
	if s.markers != nil {
		end := s.pendTS[n-1] + corr
		var late int
		f.Markers, late = s.markers.take(s, f.Markers, t0, end, s.lsl.NominalRateHz)
		if late > 0 && f.Seq > 0 {
			s.lateMarks.Add(int64(late))
			if now := time.Now(); now.Sub(s.lastLate) >= time.Minute {
				s.lastLate = now
				s.log.Warn("lsl markers: an event arrived after the frame it belongs on was sent; it is on the next frame's first sample instead",
					"stream", s.info.StreamID, "late_events", s.lateMarks.Load(), "marker_wait", max(s.opts.MarkerWait, 0),
					"hint", "hold frames longer for their markers with --lsl-marker-wait (a pipeline source's marker_wait)")
			}
		}
	}
	s.pending = append(s.pending[:0], s.pending[n*nch:]...)
	s.pendTS = append(s.pendTS[:0], s.pendTS[n:]...)
	s.pendArrivalNs = append(s.pendArrivalNs[:0], s.pendArrivalNs[n:]...)
	return nil
}

// LateMarkers counts marker events that arrived after the frame they belong on had been sent.
func (s *Source) LateMarkers() int64 { return s.lateMarks.Load() }

// Markers reads LSL marker streams (string or irregular-rate streams) and hands their events to the
// data sources given to NewMarkers: each source puts an event on the frame whose samples span the
// event's time (both on this host's clock, after time correction), or on its next frame if the
// event came late.
type Markers struct {
	mu      sync.Mutex
	queues  map[*Source][]timedMarker
	inlets  []*Inlet
	log     *slog.Logger
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	counted atomic.Int64
}

type timedMarker struct {
	t float64 // host LSL clock
	m streams.Marker
}

// NewMarkers measures each marker stream's time correction and starts reading them onto the frames
// of the sources to. The sources are given here, not later, so that no event read before they are
// known is dropped: an outlet may push an event the moment our inlet connects.
func NewMarkers(ctx context.Context, infos []StreamInfo, to []*Source, opts InletOptions, log *slog.Logger) (*Markers, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Markers{queues: map[*Source][]timedMarker{}, log: log}
	for _, s := range to {
		m.queues[s] = nil
		s.markers = m
	}
	rctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	for _, info := range infos {
		in, err := OpenInlet(ctx, info, opts)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.inlets = append(m.inlets, in)
		corr := new(atomic.Uint64)
		if off, _, err := in.TimeCorrection(ctx); err == nil {
			corr.Store(math.Float64bits(off))
		} else {
			log.Warn("lsl markers: no time correction yet; using the outlet's clock as is", "stream", info.Name, "err", err)
		}
		m.wg.Add(2)
		go m.read(rctx, in, corr)
		go m.correctClock(rctx, in, corr)
	}
	return m, nil
}

// Count returns how many events were read.
func (m *Markers) Count() int64 { return m.counted.Load() }

// Close stops reading.
func (m *Markers) Close() error {
	m.cancel()
	var errs []error
	for _, in := range m.inlets {
		errs = append(errs, in.Close())
	}
	m.wg.Wait()
	return errors.Join(errs...)
}

func (m *Markers) correctClock(ctx context.Context, in *Inlet, corr *atomic.Uint64) {
	defer m.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if off, _, err := in.TimeCorrection(ctx); err == nil {
				corr.Store(math.Float64bits(off))
			}
		}
	}
}

func (m *Markers) read(ctx context.Context, in *Inlet, corr *atomic.Uint64) {
	defer m.wg.Done()
	var c Chunk
	nch := in.Info().ChannelCount
	for ctx.Err() == nil {
		if err := in.Pull(ctx, &c, 0); err != nil {
			if ctx.Err() == nil {
				m.log.Warn("lsl markers: stream ended", "stream", in.Info().Name, "err", err)
			}
			return
		}
		if c.Recovered {
			if off, _, err := in.TimeCorrection(ctx); err == nil {
				corr.Store(math.Float64bits(off))
			}
		}
		off := math.Float64frombits(corr.Load())
		m.mu.Lock()
		for i := range c.N {
			var mk streams.Marker
			if c.Strings != nil && len(c.Strings) >= (i+1)*nch {
				mk.Label = strings.Join(c.Strings[i*nch:(i+1)*nch], "/")
				if code, err := strconv.ParseInt(strings.TrimSpace(c.Strings[i*nch]), 10, 32); err == nil {
					mk.Code = int32(code)
				}
			} else if len(c.Values) >= (i+1)*nch {
				v := c.Values[i*nch]
				mk.Code = int32(clampRound(v, math.MinInt32, math.MaxInt32))
				mk.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			for s := range m.queues {
				m.queues[s] = append(m.queues[s], timedMarker{t: c.Timestamps[i] + off, m: mk})
			}
			m.counted.Add(1)
		}
		m.mu.Unlock()
	}
}

// take moves the events up to end (host LSL clock) onto a frame starting at t0; late counts those
// that belong before t0.
func (m *Markers) take(s *Source, dst []streams.Marker, t0, end, rate float64) (_ []streams.Marker, late int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.queues[s]
	kept := q[:0]
	last := int32(math.Round((end - t0) * rate))
	for _, tm := range q {
		if tm.t > end+0.5/rate {
			kept = append(kept, tm)
			continue
		}
		off := int32(math.Round((tm.t - t0) * rate))
		if off < 0 {
			late++
		}
		off = max(0, min(off, last))
		mk := tm.m
		mk.SampleOffset = off
		dst = append(dst, mk)
	}
	m.queues[s] = kept
	return dst, late
}

// FrameOutlet re-publishes one neurostream stream over LSL as a float32 stream: voltage channels
// in microvolts (LSL's convention), with labels, types, units and positions (millimetres) in the
// description. A frame's first sample is stamped on the LSL clock from the frame's AcquiredAtNs
// (when its last sample was acquired).
type FrameOutlet struct {
	out   *Outlet
	scale []float32
	buf   []float32
	rate  float64
}

// NewFrameOutlet starts an outlet named name (type EEG unless the channels say otherwise).
func NewFrameOutlet(info *streams.StreamInfo, name string, opts OutletOptions) (*FrameOutlet, error) {
	typ := "EEG"
	li := StreamInfo{Name: name, Type: typ, ChannelCount: len(info.Channels), NominalRateHz: info.SampleRateHz, Format: Float32, SourceID: "neurostream-" + info.StreamID}
	fo := &FrameOutlet{scale: make([]float32, len(info.Channels)), rate: info.SampleRateHz}
	chs := make([]Channel, len(info.Channels))
	for k, c := range info.Channels {
		chs[k] = Channel{Label: c.Name, Type: strings.ToUpper(c.Type.String()), Unit: c.Unit}
		fo.scale[k] = 1
		if c.Unit == "V" {
			chs[k].Unit, fo.scale[k] = "microvolts", 1e6
		}
		if c.HasPosition {
			chs[k].Location = [3]float64{c.Position[0] * 1e3, c.Position[1] * 1e3, c.Position[2] * 1e3}
			chs[k].HasLocation = true
		}
	}
	li.SetChannels(chs)
	li.Desc.Append("manufacturer", "neurostream")
	out, err := NewOutlet(li, opts)
	if err != nil {
		return nil, err
	}
	fo.out = out
	return fo, nil
}

// Outlet returns the underlying outlet.
func (fo *FrameOutlet) Outlet() *Outlet { return fo.out }

// Close stops the outlet.
func (fo *FrameOutlet) Close() error { return fo.out.Close() }

// lslTimeOf maps a Unix-ns wall-clock time to this host's LSL clock.
func lslTimeOf(unixNs int64) float64 {
	if unixNs == 0 {
		return Clock()
	}
	return Clock() - float64(time.Now().UnixNano()-unixNs)/1e9
}

// PushFrame sends a frame's samples.
func (fo *FrameOutlet) PushFrame(f *streams.Frame) error {
	nch := len(fo.scale)
	if f.NumChannels != nch {
		return fmt.Errorf("lsl outlet %q: frame of %d channels, stream has %d", fo.out.info.Name, f.NumChannels, nch)
	}
	fo.buf = fo.buf[:0]
	for i, v := range f.Samples[:f.NumSamples*nch] {
		fo.buf = append(fo.buf, v*fo.scale[i%nch])
	}
	ts := lslTimeOf(f.AcquiredAtNs)
	if fo.rate > 0 {
		ts -= float64(f.NumSamples-1) / fo.rate
	}
	return fo.out.PushFloat32(fo.buf, ts)
}

// PredictionOutlet publishes predictions as an LSL string marker stream (one JSON object per
// prediction, the JSON `consume --json` prints), stamped with the acquisition time of the window's
// last sample.
type PredictionOutlet struct{ out *Outlet }

// NewPredictionOutlet starts the marker outlet.
func NewPredictionOutlet(name string, opts OutletOptions) (*PredictionOutlet, error) {
	li := StreamInfo{Name: name, Type: "Markers", ChannelCount: 1, Format: String, SourceID: "neurostream-" + name}
	li.SetChannels([]Channel{{Label: "prediction", Type: "Markers"}})
	li.Desc.Append("manufacturer", "neurostream")
	out, err := NewOutlet(li, opts)
	if err != nil {
		return nil, err
	}
	return &PredictionOutlet{out: out}, nil
}

// Outlet returns the underlying outlet.
func (po *PredictionOutlet) Outlet() *Outlet { return po.out }

// Close stops the outlet.
func (po *PredictionOutlet) Close() error { return po.out.Close() }

// Push sends one prediction.
func (po *PredictionOutlet) Push(p *streams.Prediction) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return po.out.PushStrings([]string{string(b)}, lslTimeOf(p.AcquiredAtNs))
}
