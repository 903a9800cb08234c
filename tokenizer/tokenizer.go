package tokenizer

import (
	"fmt"
	"math"

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

// Tokenizer tokenizes one stream online: it collects every channel's samples into patches and,
// each time a patch is full, emits one Tokens message. It keeps the stream's state, so use one per
// stream; it allocates nothing once started.
type Tokenizer struct {
	cb      *Codebook
	centers []float64 // K x P, row-major
	norms   []float64
	nch, p  int
	buf     []float64 // nch x p, channel-major
	fill    int
	pushed  int64
	out     streams.Tokens
}

// New prepares a tokenizer for a stream; the stream's rate must be the codebook's.
func New(cb *Codebook, info streams.StreamInfo) (*Tokenizer, error) {
	if err := cb.Validate(); err != nil {
		return nil, err
	}
	if math.Abs(info.SampleRateHz-cb.SampleRateHz) > 1e-9*cb.SampleRateHz {
		return nil, fmt.Errorf("tokenizer %s: stream %s runs at %g Hz, the codebook was learnt at %g Hz (resample the stream or learn a codebook at its rate)",
			cb.Name, info.StreamID, info.SampleRateHz, cb.SampleRateHz)
	}
	nch, p := len(info.Channels), cb.PatchSamples
	if nch == 0 {
		return nil, fmt.Errorf("tokenizer %s: stream %s has no channels", cb.Name, info.StreamID)
	}
	t := &Tokenizer{cb: cb, nch: nch, p: p, buf: make([]float64, nch*p),
		centers: make([]float64, 0, len(cb.Codewords)*p), norms: make([]float64, len(cb.Codewords))}
	for k, w := range cb.Codewords {
		t.centers = append(t.centers, w...)
		t.norms[k] = dot(w, w)
	}
	t.out = streams.Tokens{StreamID: info.StreamID, Codebook: cb.Name, CodebookVersion: cb.Fingerprint(), PatchSamples: p, Stages: 1,
		Tokens: make([]uint16, nch), Offsets: make([]float32, nch), Scales: make([]float32, nch), ChannelKeys: make([]string, nch)}
	for c, ch := range info.Channels {
		t.out.ChannelKeys[c] = streams.ChannelKey(ch)
	}
	return t, nil
}

// Push adds a frame's samples (interleaved, numSamples x channels) and calls emit for every patch
// it completes; acquiredAtNs stamps those messages. The message passed to emit is reused.
func (t *Tokenizer) Push(samples []float32, numSamples int, acquiredAtNs int64, emit func(*streams.Tokens) error) error {
	if len(samples) != numSamples*t.nch {
		return fmt.Errorf("tokenizer %s: %d samples for %d x %d", t.cb.Name, len(samples), numSamples, t.nch)
	}
	for s := 0; s < numSamples; s++ {
		row := samples[s*t.nch : (s+1)*t.nch]
		for c, v := range row {
			t.buf[c*t.p+t.fill] = float64(v)
		}
		t.fill++
		t.pushed++
		if t.fill < t.p {
			continue
		}
		t.fill = 0
		for c := range t.nch {
			patch := t.buf[c*t.p : (c+1)*t.p]
			mean, std := ZScore(patch)
			t.out.Tokens[c] = uint16(nearest(patch, t.centers, t.norms))
			t.out.Offsets[c], t.out.Scales[c] = float32(mean), float32(std)
		}
		t.out.WindowEndSample = t.pushed
		t.out.AcquiredAtNs = acquiredAtNs
		if err := emit(&t.out); err != nil {
			return err
		}
	}
	return nil
}

// Encode returns the token of one patch (not modified) with its mean and standard deviation.
func (c *Codebook) Encode(patch []float64) (token int, mean, std float64) {
	z := append([]float64(nil), patch...)
	mean, std = ZScore(z)
	best, bestD := 0, math.Inf(1)
	for k, w := range c.Codewords {
		if d := sqDist(z, w); d < bestD {
			best, bestD = k, d
		}
	}
	return best, mean, std
}

// Reconstruct writes a token's patch, mean + std * codeword, to dst.
func (c *Codebook) Reconstruct(dst []float64, token int, mean, std float64) {
	for i, v := range c.Codewords[token] {
		dst[i] = mean + std*v
	}
}
