package acquisition

import (
	"fmt"
	"time"

	"github.com/neurostream/neurostream/streams"
)

// Annotation is an event or labelled interval in a recording (EDF+ TAL, BrainVision marker, FIF event,
// BDF Status code, ...). Onsets are relative to the first sample of the recording.
type Annotation struct {
	OnsetSec    float64
	DurationSec float64
	OnsetSample int64 // round(OnsetSec * SampleRateHz)
	Code        int32 // trigger code where the format has one, else 0
	Description string
}

// Recording is a whole file in memory: what every format reader returns and every writer takes.
// Data is channel-major, Data[c][s], in the physical unit of Info.Channels[c].Unit (volts for EEG,
// tesla for magnetometers, tesla per metre for gradiometers), as MNE's Raw.get_data() returns it.
type Recording struct {
	Info        streams.StreamInfo
	StartTime   time.Time // measurement start (UTC); zero if the file has none
	Data        [][]float64
	Annotations []Annotation
	// Warnings are what the reader accepted but a user should hear about (a channel without a
	// calibration range, a companion file named with a path): commands log them.
	Warnings []string
	// SampleTimes are the file's own per-sample timestamps (seconds, on the recording's clock) where
	// the format stores them (XDF); nil otherwise, when samples are evenly spaced from StartTime.
	SampleTimes []float64
}

// NumSamples returns the number of samples per channel.
func (r *Recording) NumSamples() int {
	if len(r.Data) == 0 {
		return 0
	}
	return len(r.Data[0])
}

// DurationSec returns the recording's length in seconds.
func (r *Recording) DurationSec() float64 {
	if r.Info.SampleRateHz <= 0 {
		return 0
	}
	return float64(r.NumSamples()) / r.Info.SampleRateHz
}

// Validate checks that the data agrees with the stream info.
func (r *Recording) Validate() error {
	if err := r.Info.Validate(); err != nil {
		return err
	}
	if len(r.Data) != len(r.Info.Channels) {
		return fmt.Errorf("recording %q: %d data rows for %d channels", r.Info.StreamID, len(r.Data), len(r.Info.Channels))
	}
	n := r.NumSamples()
	for c, row := range r.Data {
		if len(row) != n {
			return fmt.Errorf("recording %q: channel %q has %d samples, channel %q has %d",
				r.Info.StreamID, r.Info.Channels[c].Name, len(row), r.Info.Channels[0].Name, n)
		}
	}
	return nil
}
