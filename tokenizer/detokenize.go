package tokenizer

import (
	"fmt"
	"strings"

	"github.com/neurostream/neurostream/streams"
)

// Detokenize turns one tokens message back into its patch of signal: it appends PatchSamples x
// channels samples (interleaved, sample-major, in the channels' unit) to dst[:0] and returns it.
// Tokens from another codebook (name or version), or shaped unlike this codebook's, are refused.
// Quantised side information (SideBits > 0) is decoded with the codebook's side ranges.
// It allocates nothing once dst has room.
func (q *Quantizer) Detokenize(t *streams.Tokens, dst []float32, scratch []float64) ([]float32, error) {
	cb := q.cb
	if t.Codebook != cb.Name || t.CodebookVersion != q.version {
		return dst, fmt.Errorf("detokenize %s: tokens of codebook %q version %08x, this is %q version %08x: detokenize with the codebook that made them",
			t.StreamID, t.Codebook, t.CodebookVersion, cb.Name, q.version)
	}
	nch, tpc := len(t.ChannelKeys), cb.TokensPerChannel()
	if t.PatchSamples != q.p || nch == 0 || len(t.Tokens) != nch*tpc {
		return dst, fmt.Errorf("detokenize %s: %d-sample patch, %d tokens for %d channels: codebook %s wants %d-sample patches and %d tokens per channel",
			t.StreamID, t.PatchSamples, len(t.Tokens), nch, cb.Name, q.p, tpc)
	}
	if t.SideBits == 0 && (len(t.Offsets) != nch || len(t.Scales) != nch) {
		return dst, fmt.Errorf("detokenize %s: %d offsets and %d scales for %d channels: want one of each per channel", t.StreamID, len(t.Offsets), len(t.Scales), nch)
	}
	if t.SideBits != 0 {
		if err := CheckSideBits(t.SideBits); err != nil {
			return dst, fmt.Errorf("detokenize %s: %w", t.StreamID, err)
		}
		if len(t.OffsetCodes) != nch || len(t.ScaleCodes) != nch {
			return dst, fmt.Errorf("detokenize %s: %d offset and %d scale codes for %d channels: want one of each per channel", t.StreamID, len(t.OffsetCodes), len(t.ScaleCodes), nch)
		}
		for c, key := range t.ChannelKeys {
			typ, _, _ := strings.Cut(key, ":")
			if cb.SideRangeOf(typ) == nil {
				return dst, fmt.Errorf("detokenize %s: channel %s: %d-bit side codes, and codebook %s has no side range for %q channels", t.StreamID, t.ChannelKeys[c], t.SideBits, cb.Name, typ)
			}
		}
	}
	for s := range q.stages {
		for c := range nch {
			if tok := int(t.Tokens[c*tpc+s]); tok >= q.stages[s].k {
				return dst, fmt.Errorf("detokenize %s: stage %d token %d beyond its %d codewords", t.StreamID, s, tok, q.stages[s].k)
			}
		}
	}
	if q.levels > 0 {
		for _, tok := range t.Tokens {
			if int(tok) >= q.levels {
				return dst, fmt.Errorf("detokenize %s: mu-law token %d beyond its %d levels", t.StreamID, tok, q.levels)
			}
		}
	}
	n := q.p * nch
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	patch := scratch[:q.p]
	for c := range nch {
		var mean, scale float64
		if t.SideBits == 0 {
			mean, scale = float64(t.Offsets[c]), float64(t.Scales[c])
		} else {
			typ, _, _ := strings.Cut(t.ChannelKeys[c], ":")
			mean, scale = cb.SideRangeOf(typ).Dequantize(t.OffsetCodes[c], t.ScaleCodes[c], t.SideBits)
		}
		q.DecodePatch(patch, t.Tokens[c*tpc:(c+1)*tpc], mean, scale)
		for i, v := range patch {
			dst[i*nch+c] = float32(v)
		}
	}
	return dst, nil
}
