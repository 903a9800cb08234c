package streams

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tokens is one patch of a stream turned into discrete tokens by a tokenizer (pb.Tokens on the
// wire, published on the tokens topic keyed by stream id). Tokens is channel-major with the same
// number of tokens per channel, TokensPerChannel(): Stages codebook indices per channel for a patch
// tokenizer, PatchSamples for a per-sample one. Offsets[c] + Scales[c]*decoded reconstructs channel
// c's patch, in the channel's unit. With SideBits > 0 the offset and scale travel quantised instead:
// OffsetCodes[c] and ScaleCodes[c], SideBits bits each (the codebook's side ranges say what they
// stand for), and Offsets and Scales are empty. A joint codec (all channels of a montage coded
// together) sends Coded instead: one block of every channel, entropy-coded, with Tokens, Offsets and
// Scales empty. SensorPositionsM and SensorOrientations, when sent, give each channel's geometry
// from the stream info, 3 values per channel (NaN for a channel without one).
type Tokens struct {
	StreamID        string
	Codebook        string // codebook id
	CodebookVersion uint32 // fingerprint of the codebook's contents
	// WindowEndSample is the stream sample index just after the patch; PatchSamples its length.
	WindowEndSample int64
	PatchSamples    int
	Stages          int
	Tokens          []uint16
	Offsets         []float32
	Scales          []float32
	ChannelKeys     []string // "type:name" per channel (ChannelKey)
	AcquiredAtNs    int64
	Coded           []byte // a joint codec's coded block (tokenizer.JointCodec); then no Tokens
	// SideBits is 0 (float32 Offsets and Scales) or the bits of each of OffsetCodes and ScaleCodes
	// (1 to MaxSideBits), one code per channel; on the wire they are packed SideBits bits apiece.
	SideBits    int
	OffsetCodes []uint8
	ScaleCodes  []uint8
	// SensorPositionsM is x, y, z per channel, metres, device frame; SensorOrientations unit vectors.
	SensorPositionsM   []float32
	SensorOrientations []float32
}

// MaxSideBits is the most bits a quantised offset or scale code may have.
const MaxSideBits = 8

// ChannelKey names a channel in tokens: its type and name, "eeg:Cz", "mag:MEG0111".
func ChannelKey(c Channel) string { return c.Type.String() + ":" + c.Name }

// TokensPerChannel is how many tokens each channel has in the message.
func (t *Tokens) TokensPerChannel() int {
	if len(t.ChannelKeys) == 0 {
		return 0
	}
	return len(t.Tokens) / len(t.ChannelKeys)
}

// Field numbers of pb.Tokens. Tokens are encoded by hand, as frames are: they flow once per patch of
// every stream, and the generated code would allocate a message, its slices and its strings each time.
const (
	tokensStreamID     = 1
	tokensCodebook     = 2
	tokensVersion      = 3
	tokensWindowEnd    = 4
	tokensPatchSamples = 5
	tokensStages       = 6
	tokensTokens       = 7
	tokensOffsets      = 8
	tokensScales       = 9
	tokensChannelKeys  = 10
	tokensAcquiredAt   = 11
	tokensSideBits     = 12
	tokensOffsetCodes  = 13
	tokensScaleCodes   = 14
	tokensCoded        = 15
	tokensPositions    = 16
	tokensOrientations = 17
	maxTokensValues    = 1 << 24
)

// AppendTokens appends t's protobuf encoding (pb.Tokens) to dst; it does not allocate when dst has room.
func AppendTokens(dst []byte, t *Tokens) []byte {
	if t.StreamID != "" {
		dst = protowire.AppendTag(dst, tokensStreamID, protowire.BytesType)
		dst = protowire.AppendString(dst, t.StreamID)
	}
	if t.Codebook != "" {
		dst = protowire.AppendTag(dst, tokensCodebook, protowire.BytesType)
		dst = protowire.AppendString(dst, t.Codebook)
	}
	if t.CodebookVersion != 0 {
		dst = protowire.AppendTag(dst, tokensVersion, protowire.Fixed32Type)
		dst = protowire.AppendFixed32(dst, t.CodebookVersion)
	}
	if t.WindowEndSample != 0 {
		dst = protowire.AppendTag(dst, tokensWindowEnd, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t.WindowEndSample))
	}
	if t.PatchSamples != 0 {
		dst = protowire.AppendTag(dst, tokensPatchSamples, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(uint32(t.PatchSamples)))
	}
	if t.Stages != 0 {
		dst = protowire.AppendTag(dst, tokensStages, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(uint32(t.Stages)))
	}
	if len(t.Tokens) > 0 {
		n := 0
		for _, v := range t.Tokens {
			n += protowire.SizeVarint(uint64(v))
		}
		dst = protowire.AppendTag(dst, tokensTokens, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(n))
		for _, v := range t.Tokens {
			dst = protowire.AppendVarint(dst, uint64(v))
		}
	}
	dst = appendPackedFloats(dst, tokensOffsets, t.Offsets)
	dst = appendPackedFloats(dst, tokensScales, t.Scales)
	for _, k := range t.ChannelKeys {
		dst = protowire.AppendTag(dst, tokensChannelKeys, protowire.BytesType)
		dst = protowire.AppendString(dst, k)
	}
	if t.AcquiredAtNs != 0 {
		dst = protowire.AppendTag(dst, tokensAcquiredAt, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t.AcquiredAtNs))
	}
	if t.SideBits != 0 {
		dst = protowire.AppendTag(dst, tokensSideBits, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(uint32(t.SideBits)))
		dst = appendPackedCodes(dst, tokensOffsetCodes, t.OffsetCodes, t.SideBits)
		dst = appendPackedCodes(dst, tokensScaleCodes, t.ScaleCodes, t.SideBits)
	}
	if len(t.Coded) > 0 {
		dst = protowire.AppendTag(dst, tokensCoded, protowire.BytesType)
		dst = protowire.AppendBytes(dst, t.Coded)
	}
	dst = appendPackedFloats(dst, tokensPositions, t.SensorPositionsM)
	return appendPackedFloats(dst, tokensOrientations, t.SensorOrientations)
}

// PackedCodesLen is the bytes n codes of bits bits take packed.
func PackedCodesLen(n, bits int) int { return (n*bits + 7) / 8 }

// appendPackedCodes appends codes as one bytes field, bits bits per code, least significant bit
// first: code i occupies bits [i*bits, (i+1)*bits) of the field (bit j of the field is bit j%8 of
// byte j/8). Only the low bits bits of each code are written.
func appendPackedCodes(dst []byte, num protowire.Number, codes []uint8, bits int) []byte {
	if bits < 1 || bits > MaxSideBits {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(PackedCodesLen(len(codes), bits)))
	var acc uint32
	n := 0
	for _, c := range codes {
		acc |= uint32(c&(1<<bits-1)) << n
		n += bits
		for n >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	if n > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// UnpackCodes appends the n codes of bits bits packed in b (as appendPackedCodes writes them) to dst.
func UnpackCodes(dst []uint8, b []byte, n, bits int) ([]uint8, error) {
	if bits < 1 || bits > MaxSideBits {
		return dst, fmt.Errorf("side information of %d bits: want 1 to %d", bits, MaxSideBits)
	}
	if len(b) != PackedCodesLen(n, bits) {
		return dst, fmt.Errorf("%d bytes of %d-bit codes for %d channels: want %d", len(b), bits, n, PackedCodesLen(n, bits))
	}
	var acc uint32
	have := 0
	mask := uint32(1)<<bits - 1
	for range n {
		for have < bits {
			acc |= uint32(b[0]) << have
			b = b[1:]
			have += 8
		}
		dst = append(dst, uint8(acc&mask))
		acc >>= bits
		have -= bits
	}
	return dst, nil
}

func appendPackedFloats(dst []byte, num protowire.Number, xs []float32) []byte {
	if len(xs) == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(4*len(xs)))
	for _, v := range xs {
		dst = protowire.AppendFixed32(dst, math.Float32bits(v))
	}
	return dst
}

// DecodeTokens decodes a pb.Tokens into t, reusing t's slices and, when unchanged, its strings, so
// that decoding a stream's tokens into one Tokens does not allocate. It checks that the arrays agree:
// one offset, scale and key per channel, the same number of tokens for each.
func DecodeTokens(b []byte, t *Tokens) error {
	*t = Tokens{StreamID: t.StreamID, Codebook: t.Codebook, Tokens: t.Tokens[:0], Offsets: t.Offsets[:0],
		Scales: t.Scales[:0], ChannelKeys: t.ChannelKeys[:0], Coded: t.Coded[:0], OffsetCodes: t.OffsetCodes[:0], ScaleCodes: t.ScaleCodes[:0],
		SensorPositionsM: t.SensorPositionsM[:0], SensorOrientations: t.SensorOrientations[:0]}
	keys := t.ChannelKeys[:cap(t.ChannelKeys)]
	var sawID, sawCodebook bool
	var offsetCodes, scaleCodes []byte // packed, unpacked once the channel count and side bits are known
	var sawOffsetCodes, sawScaleCodes bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("decode tokens: %w", errTruncated)
		}
		b = b[n:]
		switch {
		case num == tokensStreamID && typ == protowire.BytesType, num == tokensCodebook && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			if num == tokensStreamID {
				t.StreamID, sawID = reuseString(t.StreamID, v), true
			} else {
				t.Codebook, sawCodebook = reuseString(t.Codebook, v), true
			}
			b = b[n:]
		case num == tokensVersion && typ == protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			t.CodebookVersion = v
			b = b[n:]
		case (num == tokensOffsetCodes || num == tokensScaleCodes) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			if num == tokensOffsetCodes {
				offsetCodes, sawOffsetCodes = v, true
			} else {
				scaleCodes, sawScaleCodes = v, true
			}
			b = b[n:]
		case (num == tokensWindowEnd || num == tokensPatchSamples || num == tokensStages || num == tokensAcquiredAt || num == tokensSideBits) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			switch num {
			case tokensWindowEnd:
				t.WindowEndSample = int64(v)
			case tokensPatchSamples:
				t.PatchSamples = int(uint32(v))
			case tokensStages:
				t.Stages = int(uint32(v))
			case tokensSideBits:
				if v > MaxSideBits {
					return fmt.Errorf("decode tokens: side_bits %d: want 0 (float32 offsets and scales) to %d", v, MaxSideBits)
				}
				t.SideBits = int(v)
			default:
				t.AcquiredAtNs = int64(v)
			}
			b = b[n:]
		case num == tokensTokens && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			for len(v) > 0 {
				x, m := protowire.ConsumeVarint(v)
				if m < 0 {
					return fmt.Errorf("decode tokens: %w", errTruncated)
				}
				if x > math.MaxUint16 {
					return fmt.Errorf("decode tokens: token %d is beyond the 65,536 codes a codebook can have", x)
				}
				if len(t.Tokens) >= maxTokensValues {
					return fmt.Errorf("decode tokens: more than %d tokens", maxTokensValues)
				}
				t.Tokens = append(t.Tokens, uint16(x))
				v = v[m:]
			}
			b = b[n:]
		case num == tokensTokens && typ == protowire.VarintType: // unpacked, as proto allows
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			if x > math.MaxUint16 {
				return fmt.Errorf("decode tokens: token %d is beyond the 65,536 codes a codebook can have", x)
			}
			t.Tokens = append(t.Tokens, uint16(x))
			b = b[n:]
		case (num == tokensOffsets || num == tokensScales || num == tokensPositions || num == tokensOrientations) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || len(v)%4 != 0 || len(v)/4 > maxTokensValues {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			dst := &t.Offsets
			switch num {
			case tokensScales:
				dst = &t.Scales
			case tokensPositions:
				dst = &t.SensorPositionsM
			case tokensOrientations:
				dst = &t.SensorOrientations
			}
			for i := 0; i < len(v); i += 4 {
				*dst = append(*dst, math.Float32frombits(uint32(v[i])|uint32(v[i+1])<<8|uint32(v[i+2])<<16|uint32(v[i+3])<<24))
			}
			b = b[n:]
		case num == tokensCoded && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			t.Coded = append(t.Coded, v...)
			b = b[n:]
		case num == tokensChannelKeys && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			i := len(t.ChannelKeys)
			if i >= maxTokensValues {
				return fmt.Errorf("decode tokens: more than %d channels", maxTokensValues)
			}
			prev := ""
			if i < len(keys) {
				prev = keys[i]
			}
			t.ChannelKeys = append(t.ChannelKeys, reuseString(prev, v))
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("decode tokens: %w", errTruncated)
			}
			b = b[n:]
		}
	}
	if !sawID {
		t.StreamID = ""
	}
	if !sawCodebook {
		t.Codebook = ""
	}
	nch := len(t.ChannelKeys)
	if len(t.Coded) > 0 {
		if nch == 0 || len(t.Tokens) > 0 || len(t.Offsets) > 0 || len(t.Scales) > 0 || t.SideBits > 0 || sawOffsetCodes || sawScaleCodes {
			return fmt.Errorf("decode tokens of %q: a coded block with %d channel keys, %d tokens, %d offsets, %d scales: want keys only", t.StreamID, nch, len(t.Tokens), len(t.Offsets), len(t.Scales))
		}
		return t.checkGeometry()
	}
	switch {
	case nch == 0 && len(t.Tokens) > 0:
		return fmt.Errorf("decode tokens of %q: %d tokens without channel keys", t.StreamID, len(t.Tokens))
	case nch > 0 && (len(t.Tokens)%nch != 0 || len(t.Tokens) == 0):
		return fmt.Errorf("decode tokens of %q: %d tokens for %d channels: want the same number for each", t.StreamID, len(t.Tokens), nch)
	case t.SideBits == 0 && (sawOffsetCodes || sawScaleCodes):
		return fmt.Errorf("decode tokens of %q: offset or scale codes without side_bits", t.StreamID)
	case t.SideBits == 0 && (len(t.Offsets) != nch || len(t.Scales) != nch):
		return fmt.Errorf("decode tokens of %q: %d channels, %d offsets, %d scales: want one of each per channel", t.StreamID, nch, len(t.Offsets), len(t.Scales))
	case t.SideBits > 0 && (len(t.Offsets) > 0 || len(t.Scales) > 0):
		return fmt.Errorf("decode tokens of %q: float32 offsets and scales with %d-bit side codes: want one or the other", t.StreamID, t.SideBits)
	}
	if t.SideBits > 0 {
		var err error
		if t.OffsetCodes, err = UnpackCodes(t.OffsetCodes, offsetCodes, nch, t.SideBits); err != nil {
			return fmt.Errorf("decode tokens of %q: offset codes: %w", t.StreamID, err)
		}
		if t.ScaleCodes, err = UnpackCodes(t.ScaleCodes, scaleCodes, nch, t.SideBits); err != nil {
			return fmt.Errorf("decode tokens of %q: scale codes: %w", t.StreamID, err)
		}
	}
	return t.checkGeometry()
}

// checkGeometry checks that sensor positions and orientations, when sent, have 3 values per channel.
func (t *Tokens) checkGeometry() error {
	nch := len(t.ChannelKeys)
	if (len(t.SensorPositionsM) > 0 && len(t.SensorPositionsM) != 3*nch) || (len(t.SensorOrientations) > 0 && len(t.SensorOrientations) != 3*nch) {
		return fmt.Errorf("decode tokens of %q: %d sensor position and %d orientation values for %d channels: want 3 per channel (x, y, z)",
			t.StreamID, len(t.SensorPositionsM), len(t.SensorOrientations), nch)
	}
	return nil
}

// reuseString returns old when it already holds b (no allocation), else string(b).
func reuseString(old string, b []byte) string {
	if old == string(b) {
		return old
	}
	return string(b)
}
