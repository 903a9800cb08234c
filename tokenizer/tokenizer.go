package tokenizer

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/neurostream/neurostream/streams"
)

// flatStd is the standard deviation under which a patch counts as flat (a disconnected or clipped
// channel): it has no shape to quantise, so its codeword is the one nearest to a flat line and
// training skips it. Real EEG/MEG patches in SI units sit many orders of magnitude above it.
const flatStd = 1e-13

// ZScore normalises patch in place, returning its mean and (population) standard deviation; a flat
// patch becomes all zeros.
func ZScore(patch []float64) (mean, std float64) {
	n := float64(len(patch))
	for _, v := range patch {
		mean += v
	}
	mean /= n
	for _, v := range patch {
		std += (v - mean) * (v - mean)
	}
	std = math.Sqrt(std / n)
	if std < flatStd {
		clear(patch)
		return mean, std
	}
	inv := 1 / std
	for i, v := range patch {
		patch[i] = (v - mean) * inv
	}
	return mean, std
}

// Patches cuts every channel of data (channel-major) into consecutive non-overlapping patches of
// patchSamples, z-scores each, and appends the non-flat ones to dst (row-major, patchSamples per
// row). A trailing partial patch is left out.
func Patches(dst []float64, data [][]float64, patchSamples int) []float64 {
	for _, ch := range data {
		for s := 0; s+patchSamples <= len(ch); s += patchSamples {
			n := len(dst)
			dst = append(dst, ch[s:s+patchSamples]...)
			if _, std := ZScore(dst[n:]); std < flatStd {
				dst = dst[:n]
			}
		}
	}
	return dst
}

// SelectChannels applies a codebook's modality contract to a stream: it returns the indices of the
// channels to tokenize, or an error that says why the stream does not fit (a rate other than the
// codebook's, channels of a modality the codebook was not learnt on, or none it was).
func SelectChannels(cb *Codebook, info streams.StreamInfo) ([]int, error) {
	if math.Abs(info.SampleRateHz-cb.SampleRateHz) > 1e-9*cb.SampleRateHz {
		return nil, fmt.Errorf("tokenizer %s: stream %s runs at %g Hz, the codebook was learnt at %g Hz (resample the stream or learn a codebook at its rate)",
			cb.Name, info.StreamID, info.SampleRateHz, cb.SampleRateHz)
	}
	if len(info.Channels) == 0 {
		return nil, fmt.Errorf("tokenizer %s: stream %s has no channels", cb.Name, info.StreamID)
	}
	var keep []int
	var foreign []string
	for c, ch := range info.Channels {
		t := ch.Type.String()
		switch {
		case len(cb.ChannelTypes) == 0 || slices.Contains(cb.ChannelTypes, t):
			keep = append(keep, c)
		case slices.Contains(signalTypes, t):
			foreign = append(foreign, streams.ChannelKey(ch))
		}
	}
	if len(foreign) > 0 {
		return nil, fmt.Errorf("tokenizer %s: stream %s has %d channel(s) of a modality the codebook was not learnt on (%s; codebook modality %s): learn a codebook on those channel types or drop them before the tokenizer",
			cb.Name, info.StreamID, len(foreign), strings.Join(foreign[:min(len(foreign), 4)], ", "), cb.Modality())
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("tokenizer %s: stream %s has no channel of the codebook's modality (%s)", cb.Name, info.StreamID, cb.Modality())
	}
	return keep, nil
}

// Tokenizer tokenizes one stream online: it collects the samples of every channel the codebook's
// contract selects into patches and, each time a patch is full, emits one Tokens message. It keeps
// the stream's state, so use one per stream; it allocates nothing once started.
type Tokenizer struct {
	q      *Quantizer
	chans  []int // tokenized channels' indices in the frame
	nch, p int
	tpc    int       // tokens per channel
	buf    []float64 // len(chans) x p, channel-major
	fill   int
	pushed int64
	out    streams.Tokens
	ctypes []string     // tokenized channels' types
	side   []*SideRange // per tokenized channel, when the side information is quantised
}

// New prepares a tokenizer for a stream with its own quantizer; NewTokenizer shares one.
func New(cb *Codebook, info streams.StreamInfo) (*Tokenizer, error) {
	q, err := NewQuantizer(cb)
	if err != nil {
		return nil, err
	}
	return q.NewTokenizer(info)
}

// NewTokenizer prepares a tokenizer for a stream, refusing a stream that does not fit the codebook
// (SelectChannels).
func (q *Quantizer) NewTokenizer(info streams.StreamInfo) (*Tokenizer, error) {
	cb := q.cb
	if cb.method() == MethodLearntVQ && q.enc == nil {
		return nil, fmt.Errorf("tokenizer %s: a learnt tokenizer encodes with its ONNX encoder %s (open it with package tokenizer/learnt)", cb.Name, cb.Encoder)
	}
	chans, err := SelectChannels(cb, info)
	if err != nil {
		return nil, err
	}
	m, p, tpc := len(chans), cb.PatchSamples, cb.TokensPerChannel()
	t := &Tokenizer{q: q, chans: chans, nch: len(info.Channels), p: p, tpc: tpc, buf: make([]float64, m*p)}
	t.out = streams.Tokens{StreamID: info.StreamID, Codebook: cb.Name, CodebookVersion: cb.Fingerprint(), PatchSamples: p, Stages: cb.Stages(),
		Tokens: make([]uint16, m*tpc), Offsets: make([]float32, m), Scales: make([]float32, m), ChannelKeys: make([]string, m)}
	t.ctypes = make([]string, m)
	for i, c := range chans {
		t.out.ChannelKeys[i] = streams.ChannelKey(info.Channels[c])
		t.ctypes[i] = info.Channels[c].Type.String()
	}
	return t, nil
}

// SetSideBits makes the tokenizer send each patch's mean and scale quantised to bits bits each
// over the codebook's side ranges (side.go) instead of as float32; 0 sets float32 back. It refuses
// bits beyond 0..MaxSideBits and a codebook without ranges for the stream's channel types.
func (t *Tokenizer) SetSideBits(bits int) error {
	if err := t.q.cb.CheckSide(bits, t.ctypes); err != nil {
		return err
	}
	m := len(t.chans)
	t.out.SideBits = bits
	if bits == 0 {
		t.out.Offsets, t.out.Scales, t.out.OffsetCodes, t.out.ScaleCodes, t.side = make([]float32, m), make([]float32, m), nil, nil, nil
		return nil
	}
	t.out.Offsets, t.out.Scales, t.out.OffsetCodes, t.out.ScaleCodes = nil, nil, make([]uint8, m), make([]uint8, m)
	t.side = make([]*SideRange, m)
	for i, typ := range t.ctypes {
		t.side[i] = t.q.cb.SideRangeOf(typ)
	}
	return nil
}

// SideBits is the bits of each quantised mean and scale, 0 when they go as float32.
func (t *Tokenizer) SideBits() int { return t.out.SideBits }

// setSide puts channel i's patch mean and scale into the outgoing message.
func (t *Tokenizer) setSide(i int, mean, std float64) error {
	if t.out.SideBits == 0 {
		t.out.Offsets[i], t.out.Scales[i] = float32(mean), float32(std)
		return nil
	}
	oc, sc, err := t.side[i].Quantize(mean, std, t.out.SideBits)
	if err != nil {
		return fmt.Errorf("tokenizer %s: channel %s: %w", t.q.cb.Name, t.out.ChannelKeys[i], err)
	}
	t.out.OffsetCodes[i], t.out.ScaleCodes[i] = oc, sc
	return nil
}

// Channels returns the indices, in the stream, of the channels it tokenizes.
func (t *Tokenizer) Channels() []int { return t.chans }

// Push adds a frame's samples (interleaved, numSamples x channels) and calls emit for every patch
// it completes; acquiredAtNs stamps those messages. The message passed to emit is reused.
func (t *Tokenizer) Push(samples []float32, numSamples int, acquiredAtNs int64, emit func(*streams.Tokens) error) error {
	if len(samples) != numSamples*t.nch {
		return fmt.Errorf("tokenizer %s: %d samples for %d x %d", t.q.cb.Name, len(samples), numSamples, t.nch)
	}
	for s := 0; s < numSamples; s++ {
		row := samples[s*t.nch : (s+1)*t.nch]
		for i, c := range t.chans {
			t.buf[i*t.p+t.fill] = float64(row[c])
		}
		t.fill++
		t.pushed++
		if t.fill < t.p {
			continue
		}
		t.fill = 0
		i := 0
		if t.q.pairs() { // two channels per pass over the codebook: the same tokens, faster
			for ; i+2 <= len(t.chans); i += 2 {
				a, b := t.buf[i*t.p:(i+1)*t.p], t.buf[(i+1)*t.p:(i+2)*t.p]
				meanA, stdA := ZScore(a)
				meanB, stdB := ZScore(b)
				t.q.encodePair(a, b, t.out.Tokens[i*t.tpc:(i+1)*t.tpc], t.out.Tokens[(i+1)*t.tpc:(i+2)*t.tpc])
				if err := t.setSide(i, meanA, stdA); err != nil {
					return err
				}
				if err := t.setSide(i+1, meanB, stdB); err != nil {
					return err
				}
			}
		}
		for ; i < len(t.chans); i++ {
			patch := t.buf[i*t.p : (i+1)*t.p]
			mean, std := ZScore(patch)
			if err := t.q.Encode(patch, t.out.Tokens[i*t.tpc:(i+1)*t.tpc]); err != nil {
				return err
			}
			if err := t.setSide(i, mean, std); err != nil {
				return err
			}
		}
		t.out.WindowEndSample = t.pushed
		t.out.AcquiredAtNs = acquiredAtNs
		if err := emit(&t.out); err != nil {
			return err
		}
	}
	return nil
}
