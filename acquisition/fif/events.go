package fif

import (
	"math"
	"slices"

	"github.com/neurostream/neurostream/streams"
)

// StimChannels returns the channels mne.find_events reads by default: STI101 on newer Neuromag
// systems, else STI 014, else every stim channel.
func StimChannels(info streams.StreamInfo) []int {
	for _, name := range []string{"STI101", "STI 014"} {
		if i := info.ChannelIndex(name); i >= 0 {
			return []int{i}
		}
	}
	var out []int
	for i, c := range info.Channels {
		if c.Type == streams.ChannelStim {
			out = append(out, i)
		}
	}
	return out
}

// FindEvents finds trigger onsets on one stim channel like mne.find_events with its defaults
// (output='onset', consecutive='increasing', min_duration=0): values are truncated to integers and
// made non-negative, an event starts wherever the value steps up, and an onset with no later step
// down or up is dropped. Rows are [sample + firstSamp, previous value, new value].
func FindEvents(stim []float64, firstSamp int64) [][3]int64 {
	if len(stim) < 2 {
		return nil
	}
	val := func(i int) int64 {
		v := stim[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		return abs64(int64(v))
	}
	type step struct{ sample, pre, post int64 }
	var steps []step
	prev := val(0)
	for i := 1; i < len(stim); i++ {
		v := val(i)
		if v != prev {
			steps = append(steps, step{int64(i) + firstSamp, prev, v})
		}
		prev = v
	}
	// A value still high at the end is closed at one past the last sample (MNE's pad_stop=0).
	if len(steps) > 0 && steps[len(steps)-1].post != 0 {
		steps = append(steps, step{int64(len(stim)) + firstSamp, steps[len(steps)-1].post, 0})
	}
	firstOnset, lastOnset, firstOffset, lastOffset := -1, -1, -1, -1
	for i, s := range steps {
		onset := s.post > s.pre
		offset := (onset || s.post == 0) && s.pre > 0
		if onset {
			if firstOnset < 0 {
				firstOnset = i
			}
			lastOnset = i
		}
		if offset {
			if firstOffset < 0 {
				firstOffset = i
			}
			lastOffset = i
		}
	}
	if firstOnset < 0 || firstOffset < 0 {
		return nil
	}
	var out [][3]int64
	for i, s := range steps {
		if s.post <= s.pre {
			continue
		}
		if i == lastOnset && lastOnset > lastOffset {
			continue // orphaned onset at the end of the file
		}
		out = append(out, [3]int64{s.sample, s.pre, s.post})
	}
	return out
}

// sortUniqueEvents orders events by sample and drops exact duplicates found on several stim channels.
func sortUniqueEvents(ev [][3]int64) [][3]int64 {
	slices.SortStableFunc(ev, func(a, b [3]int64) int {
		for k := range 3 {
			if a[k] != b[k] {
				if a[k] < b[k] {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	return slices.Compact(ev)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
