package tokenizer

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strings"

	"github.com/neurostream/neurostream/streams"
)

// IsJointCodecFile reports whether path holds a joint codec (LoadJoint) rather than a codebook (Load):
// the tokenizer and detokenize stages take either as their model.
func IsJointCodecFile(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var head struct {
		Format string `json:"format"`
	}
	return json.Unmarshal(b, &head) == nil && head.Format == jointFormat
}

// Fingerprint identifies the codec's contents, carried in every message as the codebook version:
// a detokenizer refuses blocks another codec made.
func (c *JointCodec) Fingerprint() uint32 { return c.version }

// fingerprint hashes the exported fields, which are the codec (computed once, when its tables are
// built: every stream's tokenizer asks for it).
func (c *JointCodec) fingerprint() uint32 {
	h := fnv.New32a()
	b, _ := json.Marshal(c)
	h.Write(b)
	return h.Sum32()
}

// Clone returns a codec sharing c's (read-only) model with scratch buffers of its own, for use
// beside c in another goroutine.
func (c *JointCodec) Clone() *JointCodec {
	d := *c
	d.words = nil
	d.prepare()
	d.dct = c.dct
	return &d
}

// JointTokenizer codes one stream online with a joint codec: it collects the samples of the
// montage's channels into blocks and emits one Tokens message carrying each coded block. It keeps
// the stream's state, so use one per stream; it allocates nothing once started.
type JointTokenizer struct {
	c       *JointCodec
	version uint32
	chans   []int // the montage's channels' indices in the frame
	nch     int
	block   [][]float64
	fill    int
	pushed  int64
	out     streams.Tokens
}

// NewTokenizer prepares a tokenizer for a stream, refusing one at another rate or without every
// channel of the montage (by type and name); channels beyond the montage are left out.
func (c *JointCodec) NewTokenizer(info streams.StreamInfo) (*JointTokenizer, error) {
	if math.Abs(info.SampleRateHz-c.SampleRateHz) > 1e-9*c.SampleRateHz {
		return nil, fmt.Errorf("joint codec %s: stream %s runs at %g Hz, the codec was learnt at %g Hz (resample the stream or learn a codec at its rate)",
			c.Name, info.StreamID, info.SampleRateHz, c.SampleRateHz)
	}
	index := map[string]int{}
	for i, ch := range info.Channels {
		index[streams.ChannelKey(ch)] = i
	}
	t := &JointTokenizer{c: c.Clone(), version: c.Fingerprint(), nch: len(info.Channels), block: make([][]float64, len(c.Channels))}
	var missing []string
	for _, key := range c.Channels {
		i, ok := index[key]
		if !ok {
			missing = append(missing, key)
		}
		t.chans = append(t.chans, i)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("joint codec %s: stream %s lacks %d of the montage's %d channels (%s): a joint codec codes the montage it was learnt on; learn one on this stream's channels",
			c.Name, info.StreamID, len(missing), len(c.Channels), strings.Join(missing[:min(len(missing), 4)], ", "))
	}
	for ch := range t.block {
		t.block[ch] = make([]float64, c.BlockSamples)
	}
	t.out = streams.Tokens{StreamID: info.StreamID, Codebook: c.Name, CodebookVersion: t.version, PatchSamples: c.BlockSamples,
		ChannelKeys: append([]string(nil), c.Channels...)}
	return t, nil
}

// Push adds a frame's samples (interleaved, numSamples x channels) and calls emit for every block
// it completes; acquiredAtNs stamps those messages. The message passed to emit is reused.
func (t *JointTokenizer) Push(samples []float32, numSamples int, acquiredAtNs int64, emit func(*streams.Tokens) error) error {
	if len(samples) != numSamples*t.nch {
		return fmt.Errorf("joint codec %s: %d samples for %d x %d", t.c.Name, len(samples), numSamples, t.nch)
	}
	for s := range numSamples {
		row := samples[s*t.nch : (s+1)*t.nch]
		for i, c := range t.chans {
			t.block[i][t.fill] = float64(row[c])
		}
		t.fill++
		t.pushed++
		if t.fill < t.c.BlockSamples {
			continue
		}
		t.fill = 0
		var err error
		if t.out.Coded, err = t.c.EncodeBlock(t.out.Coded[:0], t.block, nil); err != nil {
			return err
		}
		t.out.WindowEndSample = t.pushed
		t.out.AcquiredAtNs = acquiredAtNs
		if err := emit(&t.out); err != nil {
			return err
		}
	}
	return nil
}

// JointDetokenizer turns a joint codec's messages back into signal.
type JointDetokenizer struct {
	c       *JointCodec
	version uint32
	out     [][]float64
}

// NewDetokenizer prepares a detokenizer (its own scratch; one per goroutine).
func (c *JointCodec) NewDetokenizer() *JointDetokenizer {
	d := &JointDetokenizer{c: c.Clone(), version: c.Fingerprint(), out: make([][]float64, len(c.Channels))}
	for ch := range d.out {
		d.out[ch] = make([]float64, c.BlockSamples)
	}
	return d
}

// Detokenize decodes one message's block: it appends BlockSamples x channels samples
// (interleaved, sample-major, in the channels' unit) to dst[:0] and returns it. Messages of another
// codec, or not shaped as this codec's, are refused.
func (d *JointDetokenizer) Detokenize(t *streams.Tokens, dst []float32) ([]float32, error) {
	c := d.c
	if t.Codebook != c.Name || t.CodebookVersion != d.version {
		return dst, fmt.Errorf("detokenize %s: tokens of codec %q version %08x, this is %q version %08x: detokenize with the codec that made them",
			t.StreamID, t.Codebook, t.CodebookVersion, c.Name, d.version)
	}
	nch := len(c.Channels)
	if len(t.Coded) == 0 || t.PatchSamples != c.BlockSamples || len(t.ChannelKeys) != nch {
		return dst, fmt.Errorf("detokenize %s: %d coded bytes, %d-sample block of %d channels: codec %s codes %d-sample blocks of %d channels",
			t.StreamID, len(t.Coded), t.PatchSamples, len(t.ChannelKeys), c.Name, c.BlockSamples, nch)
	}
	if err := c.DecodeBlock(t.Coded, d.out); err != nil {
		return dst, fmt.Errorf("detokenize %s: %w", t.StreamID, err)
	}
	n := c.BlockSamples * nch
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	for ch, x := range d.out {
		for i, v := range x {
			dst[i*nch+ch] = float32(v)
		}
	}
	return dst, nil
}
