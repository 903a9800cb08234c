package pipeline

import (
	"context"
	"fmt"

	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/streams"
)

// ReferenceStage re-references every frame in place, with MNE's set_eeg_reference semantics
// (data[targets] -= mean(data[refs])): by default to the common average of the stream's non-stim
// channels, or to the mean of named reference channels (one channel, or e.g. linked mastoids). The
// targets are all non-stim channels not excluded; a reference channel that is also a target becomes
// zero, as in MNE. Stim channels and excluded channels (bad or EOG channels) are neither averaged nor
// changed. The re-referencing is a weighted sum of simultaneous samples, so it keeps no state and
// costs no latency.
type ReferenceStage struct {
	refNames, excludeNames []string
	ref                    *dsp.Reference
}

// NewReferenceStage returns a re-referencing stage: to the common average when refChannels is empty,
// else to the mean of refChannels. exclude names channels left out of the average and unchanged.
func NewReferenceStage(refChannels, exclude []string) *ReferenceStage {
	return &ReferenceStage{refNames: refChannels, excludeNames: exclude}
}

// Start resolves the channel names against the stream.
func (s *ReferenceStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) {
	names := in.ChannelNames()
	excluded, err := dsp.PickChannels(names, s.excludeNames)
	if err != nil {
		return in, fmt.Errorf("reference: exclude: %w", err)
	}
	skip := make(map[int]bool, len(excluded))
	for _, c := range excluded {
		skip[c] = true
	}
	var targets []int
	for c, ch := range in.Channels {
		if ch.Type != streams.ChannelStim && !skip[c] {
			targets = append(targets, c)
		}
	}
	if len(targets) == 0 {
		return in, fmt.Errorf("reference: stream %q has no channel to re-reference (all are stim or excluded)", in.StreamID)
	}
	refs := targets
	if len(s.refNames) > 0 {
		if refs, err = dsp.PickChannels(names, s.refNames); err != nil {
			return in, fmt.Errorf("reference: ref_channels: %w", err)
		}
	}
	if s.ref, err = dsp.NewReference(len(in.Channels), refs, targets); err != nil {
		return in, fmt.Errorf("reference: %w", err)
	}
	return in, nil
}

// Process re-references f in place.
func (s *ReferenceStage) Process(_ context.Context, f *streams.Frame, _ Emitter) error {
	s.ref.ProcessInterleaved32(f.Samples[:f.NumSamples*f.NumChannels])
	return nil
}
