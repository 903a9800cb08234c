package streams

import (
	"fmt"
	"math"
)

// SchemaVersion is the version of the wire schema written in every StreamInfo.
// Bump it on any incompatible change to proto/neurostream/v1/neurostream.proto.
const SchemaVersion = 1

// ChannelType says what a channel measures; the values equal the protobuf enum's.
type ChannelType int32

const (
	ChannelUnknown ChannelType = 0
	ChannelEEG     ChannelType = 1
	ChannelMEGMag  ChannelType = 2 // magnetometer, tesla
	ChannelMEGGrad ChannelType = 3 // planar gradiometer, tesla per metre
	ChannelEOG     ChannelType = 4
	ChannelEMG     ChannelType = 5
	ChannelECG     ChannelType = 6
	ChannelStim    ChannelType = 7 // trigger/status lines; values are codes, not physical units
	ChannelMisc    ChannelType = 8
)

var channelTypeNames = [...]string{"unknown", "eeg", "mag", "grad", "eog", "emg", "ecg", "stim", "misc"}

// String returns the MNE-style short name ("eeg", "mag", "grad", ...).
func (t ChannelType) String() string {
	if t >= 0 && int(t) < len(channelTypeNames) {
		return channelTypeNames[t]
	}
	return fmt.Sprintf("ChannelType(%d)", int32(t))
}

// ParseChannelType is the inverse of String.
func ParseChannelType(s string) (ChannelType, error) {
	for i, n := range channelTypeNames {
		if n == s {
			return ChannelType(i), nil
		}
	}
	return ChannelUnknown, fmt.Errorf("unknown channel type %q (want one of %v)", s, channelTypeNames[1:])
}

// Channel describes one sensor. Unit is the SI unit of the samples after decoding ("V", "T", "T/m"),
// so an EEG sample of 1e-5 means 10 µV. Position and orientation are in metres in the device frame
// (MNE's convention) and valid only when HasPosition/HasOrientation is set.
type Channel struct {
	Name           string
	Type           ChannelType
	Unit           string
	Position       [3]float64
	HasPosition    bool
	Orientation    [3]float64
	HasOrientation bool
}

// StreamInfo describes a stream once; it is published, compacted, on the stream-info topic.
type StreamInfo struct {
	SchemaVersion int32
	StreamID      string
	Device        string
	Subject       string
	Session       string
	SampleRateHz  float64
	Channels      []Channel
	// Epoch identifies the run of the source that published this description (see Frame.Epoch).
	Epoch uint64
	// StartTimeNs is the wall-clock time (Unix ns) of source time 0: a replayed file's measurement
	// start, a live source's start of acquisition; 0 if unknown. A frame's first sample was taken at
	// StartTimeNs + Frame.SourceTimeNs.
	StartTimeNs int64
}

// ChannelNames returns the channel names in stream order.
func (s *StreamInfo) ChannelNames() []string {
	names := make([]string, len(s.Channels))
	for i, c := range s.Channels {
		names[i] = c.Name
	}
	return names
}

// ChannelIndex returns the index of the named channel or -1.
func (s *StreamInfo) ChannelIndex(name string) int {
	for i, c := range s.Channels {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Validate reports the first thing that makes the description unusable.
func (s *StreamInfo) Validate() error {
	switch {
	case s.StreamID == "":
		return fmt.Errorf("stream info: empty stream id")
	case len(s.StreamID) > MaxStreamIDBytes:
		return fmt.Errorf("stream info: stream id of %d bytes, longer than %d", len(s.StreamID), MaxStreamIDBytes)
	case !(s.SampleRateHz >= 1e-3 && s.SampleRateHz <= 1e7):
		return fmt.Errorf("stream info %q: sampling rate %v Hz is not a rate between 0.001 Hz and 10 MHz", s.StreamID, s.SampleRateHz)
	case len(s.Channels) == 0 || len(s.Channels) > MaxChannels:
		return fmt.Errorf("stream info %q: %d channels, want 1..%d", s.StreamID, len(s.Channels), MaxChannels)
	}
	return nil
}

// MaxChannels bounds a stream's channels: a whole-head MEG system has about 400.
const MaxChannels = 1 << 16

// MaxStreamIDBytes bounds a stream id: ids are names people type, and a consumer keeps state per id.
const MaxStreamIDBytes = 256

// Marker is an event attached to a frame: a trigger code and/or a label at a sample of that frame.
type Marker struct {
	SampleOffset int32 // index of the sample within the frame, 0 <= SampleOffset < Frame.NumSamples
	Code         int32
	Label        string
	DurationSec  float64 // how long the event lasts (an EDF+ annotation's duration); 0 for an instant
}

// Frame is a block of consecutive samples from one stream.
//
// Samples are interleaved sample-major: Samples[s*NumChannels+c] is channel c at sample s, in the
// channel's unit (see Channel.Unit). Seq increases by one per frame of a stream within an Epoch, so
// consumers can detect gaps and duplicates; Epoch identifies one run of the source (its start time in
// Unix ns), so a restarted source begins a new sequence instead of repeating old numbers. SourceTimeNs is the time of the first sample on the source's clock (the device or
// the file); AcquiredAtNs is the wall-clock time (Unix ns) at which the frame was acquired, which is where
// end-to-end latency is measured from.
type Frame struct {
	StreamID     string
	Epoch        uint64
	Seq          uint64
	SourceTimeNs int64
	AcquiredAtNs int64
	NumSamples   int
	NumChannels  int
	Samples      []float32
	Markers      []Marker
}

// Validate checks the frame's shape and rejects non-finite samples, which would poison every
// filter state downstream.
func (f *Frame) Validate() error {
	if f.StreamID == "" {
		return fmt.Errorf("frame #%d: no stream id", f.Seq)
	}
	if len(f.StreamID) > MaxStreamIDBytes {
		return fmt.Errorf("frame #%d: stream id of %d bytes, longer than %d", f.Seq, len(f.StreamID), MaxStreamIDBytes)
	}
	if f.NumChannels <= 0 || f.NumSamples <= 0 {
		return fmt.Errorf("frame %s#%d: shape %d samples x %d channels", f.StreamID, f.Seq, f.NumSamples, f.NumChannels)
	}
	if len(f.Samples) != f.NumSamples*f.NumChannels {
		return fmt.Errorf("frame %s#%d: %d sample values, want %d samples x %d channels = %d",
			f.StreamID, f.Seq, len(f.Samples), f.NumSamples, f.NumChannels, f.NumSamples*f.NumChannels)
	}
	if !allFinite(f.Samples) {
		for i, v := range f.Samples {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("frame %s#%d: non-finite sample %v at sample %d channel %d",
					f.StreamID, f.Seq, v, i/f.NumChannels, i%f.NumChannels)
			}
		}
	}
	for _, m := range f.Markers {
		if m.SampleOffset < 0 || int(m.SampleOffset) >= f.NumSamples {
			return fmt.Errorf("frame %s#%d: marker %q at sample %d outside the frame's %d samples",
				f.StreamID, f.Seq, m.Label, m.SampleOffset, f.NumSamples)
		}
		if !(m.DurationSec >= 0) || math.IsInf(m.DurationSec, 0) {
			return fmt.Errorf("frame %s#%d: marker %q has duration %v s, want a finite number >= 0",
				f.StreamID, f.Seq, m.Label, m.DurationSec)
		}
	}
	return nil
}

// Reset empties the frame but keeps its buffers, so a reused frame does not allocate.
func (f *Frame) Reset() {
	*f = Frame{Samples: f.Samples[:0], Markers: f.Markers[:0]}
}

// CopyFrom makes f a deep copy of src, reusing f's buffers.
func (f *Frame) CopyFrom(src *Frame) {
	samples := append(f.Samples[:0], src.Samples...)
	markers := append(f.Markers[:0], src.Markers...)
	*f = *src
	f.Samples, f.Markers = samples, markers
}

// allFinite reports whether no value is NaN or infinite, without a branch per value: every frame
// a pipeline takes is checked, and the per-value test with two branches took 4% of the CPU at
// 1,000 streams. A float32 is not finite when its exponent bits are all ones; adding one to the
// exponent field then carries into the sign bit's place.
func allFinite(xs []float32) bool {
	const exp, one = 0x7f800000, 0x00800000
	var acc uint32
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		acc |= (math.Float32bits(xs[i])&exp + one) | (math.Float32bits(xs[i+1])&exp + one) |
			(math.Float32bits(xs[i+2])&exp + one) | (math.Float32bits(xs[i+3])&exp + one)
	}
	for ; i < len(xs); i++ {
		acc |= math.Float32bits(xs[i])&exp + one
	}
	return acc&0x80000000 == 0
}
