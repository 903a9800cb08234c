package dsp

import (
	"fmt"
)

// Reference subtracts, frame by frame, the mean of a set of reference channels from a set of target
// channels, in place: MNE's set_eeg_reference semantics (data[targets] -= mean(data[refs])). Common
// average, a single reference channel and linked mastoids are all this with different sets.
type Reference struct {
	nChannels int
	refs      []int
	targets   []int
}

func checkChannels(what string, idx []int, nChannels int) error {
	seen := make(map[int]bool, len(idx))
	for _, c := range idx {
		if c < 0 || c >= nChannels {
			return fmt.Errorf("%s channel %d out of range [0, %d)", what, c, nChannels)
		}
		if seen[c] {
			return fmt.Errorf("%s channel %d listed twice", what, c)
		}
		seen[c] = true
	}
	return nil
}

// NewReference returns a re-referencer subtracting the mean of refs from every channel in targets.
// A reference channel that is also a target becomes zero, as in MNE.
func NewReference(nChannels int, refs, targets []int) (*Reference, error) {
	if nChannels < 1 {
		return nil, fmt.Errorf("new reference: %d channels: need at least 1", nChannels)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("new reference: no reference channels")
	}
	if err := checkChannels("reference", refs, nChannels); err != nil {
		return nil, fmt.Errorf("new reference: %w", err)
	}
	if err := checkChannels("target", targets, nChannels); err != nil {
		return nil, fmt.Errorf("new reference: %w", err)
	}
	return &Reference{nChannels: nChannels, refs: append([]int(nil), refs...), targets: append([]int(nil), targets...)}, nil
}

// NewCommonAverage returns the common average reference over all channels except exclude (bad,
// stimulus, EOG, ... channels), which neither contribute to the average nor are changed.
func NewCommonAverage(nChannels int, exclude []int) (*Reference, error) {
	if err := checkChannels("excluded", exclude, max(nChannels, 0)); err != nil {
		return nil, fmt.Errorf("common average: %w", err)
	}
	skip := make(map[int]bool, len(exclude))
	for _, c := range exclude {
		skip[c] = true
	}
	var keep []int
	for c := 0; c < nChannels; c++ {
		if !skip[c] {
			keep = append(keep, c)
		}
	}
	r, err := NewReference(nChannels, keep, keep)
	if err != nil {
		return nil, fmt.Errorf("common average: %w", err)
	}
	return r, nil
}

// ProcessInterleaved re-references x in place (whole frames; a trailing partial frame is left as is).
func (r *Reference) ProcessInterleaved(x []float64) { rereference(r, x) }

// ProcessInterleaved32 is ProcessInterleaved on float32 frames; the mean is accumulated in float64.
func (r *Reference) ProcessInterleaved32(x []float32) { rereference(r, x) }

func rereference[T float32 | float64](r *Reference, x []T) {
	nc := r.nChannels
	inv := 1 / float64(len(r.refs))
	for off := 0; off+nc <= len(x); off += nc {
		frame := x[off : off+nc]
		s := 0.0
		for _, c := range r.refs {
			s += float64(frame[c])
		}
		m := s * inv
		for _, c := range r.targets {
			frame[c] = T(float64(frame[c]) - m)
		}
	}
}

// Bipolar derives one channel per (anode, cathode) pair, anode minus cathode, as MNE's
// set_bipolar_reference; the output frames have len(pairs) channels.
type Bipolar struct {
	nChannels int
	pairs     [][2]int
}

// NewBipolar returns the bipolar montage of pairs over nChannels input channels.
func NewBipolar(nChannels int, pairs [][2]int) (*Bipolar, error) {
	if nChannels < 1 {
		return nil, fmt.Errorf("bipolar: %d channels: need at least 1", nChannels)
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("bipolar: no channel pairs")
	}
	for _, p := range pairs {
		if err := checkChannels("bipolar", p[:], nChannels); err != nil {
			return nil, fmt.Errorf("bipolar pair %v: %w", p, err)
		}
	}
	return &Bipolar{nChannels: nChannels, pairs: append([][2]int(nil), pairs...)}, nil
}

// NumOutputChannels is len(pairs).
func (b *Bipolar) NumOutputChannels() int { return len(b.pairs) }

// ProcessInterleaved writes the derived frames of src to dst and returns how many frames it wrote:
// as many whole frames as both src and dst hold.
func (b *Bipolar) ProcessInterleaved(dst, src []float64) int {
	nc, no := b.nChannels, len(b.pairs)
	n := min(len(src)/nc, len(dst)/no)
	for f := 0; f < n; f++ {
		in := src[f*nc : f*nc+nc]
		out := dst[f*no : f*no+no]
		for i, p := range b.pairs {
			out[i] = in[p[0]] - in[p[1]]
		}
	}
	return n
}

// ChannelSelector copies a subset of channels, in a chosen order, out of interleaved frames.
type ChannelSelector struct {
	nChannels int
	picks     []int
}

// NewChannelSelector selects picks (indices into nChannels input channels; repeats allowed).
func NewChannelSelector(nChannels int, picks []int) (*ChannelSelector, error) {
	if len(picks) == 0 {
		return nil, fmt.Errorf("channel selector: no channels picked")
	}
	for _, c := range picks {
		if c < 0 || c >= nChannels {
			return nil, fmt.Errorf("channel selector: channel %d out of range [0, %d)", c, nChannels)
		}
	}
	return &ChannelSelector{nChannels: nChannels, picks: append([]int(nil), picks...)}, nil
}

// PickChannels returns the indices of want in names, in want's order, or an error naming each
// missing channel.
func PickChannels(names, want []string) ([]int, error) {
	idx := make(map[string]int, len(names))
	for i, n := range names {
		if _, dup := idx[n]; !dup {
			idx[n] = i
		}
	}
	picks := make([]int, 0, len(want))
	var missing []string
	for _, w := range want {
		i, ok := idx[w]
		if !ok {
			missing = append(missing, w)
			continue
		}
		picks = append(picks, i)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("channels %q not in the stream (it has %d channels, e.g. %q)", missing, len(names), names[:min(len(names), 5)])
	}
	return picks, nil
}

// ProcessInterleaved32 copies the picked channels of src's frames to dst, returning the frames
// written (as many whole frames as both hold).
func (s *ChannelSelector) ProcessInterleaved32(dst, src []float32) int {
	return pickFrames(s.picks, s.nChannels, dst, src)
}

// ProcessInterleaved is ProcessInterleaved32 on float64 frames.
func (s *ChannelSelector) ProcessInterleaved(dst, src []float64) int {
	return pickFrames(s.picks, s.nChannels, dst, src)
}

func pickFrames[T float32 | float64](picks []int, nc int, dst, src []T) int {
	no := len(picks)
	n := min(len(src)/nc, len(dst)/no)
	for f := 0; f < n; f++ {
		in := src[f*nc : f*nc+nc]
		out := dst[f*no : f*no+no]
		for i, c := range picks {
			out[i] = in[c]
		}
	}
	return n
}
