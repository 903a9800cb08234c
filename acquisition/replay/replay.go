// Package replay turns a recording read from a file (EDF, BDF, FIF, ...) into a live stream: a
// pipeline.Source that cuts it into frames, converts annotations into frame markers and paces the
// frames by the file's clock (real time, N times faster, or as fast as the consumer takes them).
package replay

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

// Config sets how a recording is replayed.
type Config struct {
	StreamID     string   // default: the recording's stream id
	FrameSamples int      // samples per frame (default 8)
	Speed        float64  // 1 = real time, 10 = ten times faster, 0 = as fast as possible
	Channels     []string // replay only these channels, in this order (default: all)
	Loop         bool     // start again at the end, forever
}

// Source replays one recording. Not safe for concurrent use.
type Source struct {
	rec     *acquisition.Recording
	cfg     Config
	info    streams.StreamInfo
	chans   []int
	markers []marker // sorted by sample
	next    int      // index of the next marker to emit
	pos     int      // next sample
	seq     uint64
	loops   int64
	pacer   acquisition.Pacer
}

type marker struct {
	sample      int64
	code        int32
	label       string
	durationSec float64
}

// New prepares a replay of rec.
func New(rec *acquisition.Recording, cfg Config) (*Source, error) {
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if rec.NumSamples() == 0 {
		return nil, fmt.Errorf("replay %q: the recording has no samples", rec.Info.StreamID)
	}
	if cfg.FrameSamples <= 0 {
		cfg.FrameSamples = 8
	}
	if cfg.Speed < 0 || math.IsNaN(cfg.Speed) {
		return nil, fmt.Errorf("replay: speed %v must be >= 0 (0 = as fast as possible)", cfg.Speed)
	}
	s := &Source{rec: rec, cfg: cfg, info: rec.Info, pacer: acquisition.Pacer{Speed: cfg.Speed}}
	if cfg.StreamID != "" {
		s.info.StreamID = cfg.StreamID
	}
	if !rec.StartTime.IsZero() {
		s.info.StartTimeNs = rec.StartTime.UnixNano() // frames' source times count from the file's start
	}
	if len(cfg.Channels) == 0 {
		for i := range rec.Info.Channels {
			s.chans = append(s.chans, i)
		}
	} else {
		s.info.Channels = nil
		for _, name := range cfg.Channels {
			i := rec.Info.ChannelIndex(name)
			if i < 0 {
				return nil, fmt.Errorf("replay: no channel %q in %s (channels: %v)", name, rec.Info.StreamID, rec.Info.ChannelNames())
			}
			s.chans = append(s.chans, i)
			s.info.Channels = append(s.info.Channels, rec.Info.Channels[i])
		}
	}
	for _, a := range rec.Annotations {
		s.markers = append(s.markers, marker{sample: a.OnsetSample, code: a.Code, label: a.Description, durationSec: a.DurationSec})
	}
	sort.SliceStable(s.markers, func(i, j int) bool { return s.markers[i].sample < s.markers[j].sample })
	return s, nil
}

// Info describes the replayed stream.
func (s *Source) Info() streams.StreamInfo { return s.info }

// NumSamples returns the samples per channel of one pass through the recording.
func (s *Source) NumSamples() int { return s.rec.NumSamples() }

// Next fills f with the next frame; io.EOF at the end unless looping.
func (s *Source) Next(ctx context.Context, f *streams.Frame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	total := s.rec.NumSamples()
	if s.pos >= total {
		if !s.cfg.Loop {
			return io.EOF
		}
		s.pos, s.next = 0, 0
		s.loops++
	}
	n := min(s.cfg.FrameSamples, total-s.pos)
	fs := s.info.SampleRateHz
	absStart := s.loops*int64(total) + int64(s.pos)
	if err := s.pacer.Wait(ctx, float64(absStart+int64(n))/fs); err != nil {
		return err
	}
	nch := len(s.chans)
	f.Reset()
	f.StreamID = s.info.StreamID
	f.Seq = s.seq
	f.SourceTimeNs = int64(float64(absStart) / fs * 1e9)
	f.NumSamples, f.NumChannels = n, nch
	if cap(f.Samples) < n*nch {
		f.Samples = make([]float32, n*nch)
	}
	f.Samples = f.Samples[:n*nch]
	for t := 0; t < n; t++ {
		row := f.Samples[t*nch : (t+1)*nch]
		for i, c := range s.chans {
			row[i] = float32(s.rec.Data[c][s.pos+t])
		}
	}
	for s.next < len(s.markers) && s.markers[s.next].sample < int64(s.pos+n) {
		m := s.markers[s.next]
		if m.sample >= int64(s.pos) {
			f.Markers = append(f.Markers, streams.Marker{SampleOffset: int32(m.sample - int64(s.pos)), Code: m.code, Label: m.label, DurationSec: m.durationSec})
		}
		s.next++
	}
	s.pos += n
	s.seq++
	return nil
}
