package streams

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/neurostream/neurostream/streams/pb"
)

func quantisedTokens(nch, bits int) *Tokens {
	t := &Tokens{StreamID: "S001", Codebook: "kmeans-256", CodebookVersion: 0x9e3779b9, WindowEndSample: 19_680, PatchSamples: 32, Stages: 1,
		AcquiredAtNs: 1_764_921_600_000_000_000, SideBits: bits}
	for c := range nch {
		t.Tokens = append(t.Tokens, uint16((c*97+13)%256))
		t.ChannelKeys = append(t.ChannelKeys, fmt.Sprintf("eeg:C%02d.", c))
		if bits == 0 {
			t.Offsets, t.Scales = append(t.Offsets, float32(c)*1e-6-3e-5), append(t.Scales, 1e-5+float32(c)*1e-7)
		} else {
			t.OffsetCodes, t.ScaleCodes = append(t.OffsetCodes, uint8((c*5+1)%(1<<bits))), append(t.ScaleCodes, uint8((c*3+2)%(1<<bits)))
		}
	}
	return t
}

// Quantised side information survives the wire for every bit count and channel count (the packing
// crosses byte boundaries), as the hand codec and protoc's code both read it; the packed fields are
// exactly ceil(channels x bits / 8) bytes each.
func TestTokensSideCodesRoundTrip(t *testing.T) {
	var g Tokens
	for bits := 1; bits <= MaxSideBits; bits++ {
		for _, nch := range []int{1, 3, 7, 64} {
			tok := quantisedTokens(nch, bits)
			b := AppendTokens(nil, tok)
			if err := DecodeTokens(b, &g); err != nil {
				t.Fatalf("%d bits, %d channels: %v", bits, nch, err)
			}
			if !reflect.DeepEqual(g.OffsetCodes, tok.OffsetCodes) || !reflect.DeepEqual(g.ScaleCodes, tok.ScaleCodes) || g.SideBits != bits || len(g.Offsets)+len(g.Scales) != 0 {
				t.Fatalf("%d bits, %d channels: decoded %d-bit codes %v / %v, want %v / %v", bits, nch, g.SideBits, g.OffsetCodes, g.ScaleCodes, tok.OffsetCodes, tok.ScaleCodes)
			}
			var msg pb.Tokens
			if err := proto.Unmarshal(b, &msg); err != nil {
				t.Fatal(err)
			}
			if int(msg.SideBits) != bits || len(msg.OffsetCodes) != PackedCodesLen(nch, bits) || len(msg.ScaleCodes) != PackedCodesLen(nch, bits) || len(msg.Offsets) != 0 {
				t.Fatalf("%d bits, %d channels: generated code reads side_bits %d, %d + %d code bytes, %d offsets", bits, nch, msg.SideBits, len(msg.OffsetCodes), len(msg.ScaleCodes), len(msg.Offsets))
			}
			b2, err := proto.Marshal(&msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := DecodeTokens(b2, &g); err != nil || !reflect.DeepEqual(g.OffsetCodes, tok.OffsetCodes) || !reflect.DeepEqual(g.ScaleCodes, tok.ScaleCodes) {
				t.Fatalf("%d bits, %d channels: generated code's bytes: %v", bits, nch, err)
			}
		}
	}
	// 3 channels of 3 bits: codes 5, 2, 7 pack least significant bit first into 101 010 111 = 0xd5, 0x01.
	if got := appendPackedCodes(nil, 13, []uint8{5, 2, 7}, 3); !reflect.DeepEqual(got[2:], []byte{0xd5, 0x01}) {
		t.Fatalf("packed 5, 2, 7 at 3 bits as % x", got[2:])
	}
	buf := make([]byte, 0, 4096)
	tok := quantisedTokens(64, 4)
	if n := testing.AllocsPerRun(100, func() { buf = AppendTokens(buf[:0], tok) }); n != 0 {
		t.Fatalf("AppendTokens with side codes allocates %v times", n)
	}
	if err := DecodeTokens(buf, &g); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = DecodeTokens(buf, &g) }); n != 0 {
		t.Fatalf("DecodeTokens with side codes allocates %v times", n)
	}
}

// Messages whose side information does not add up are refused with an error saying what is wrong.
func TestDecodeTokensRefusesBadSideInformation(t *testing.T) {
	base := AppendTokens(nil, quantisedTokens(5, 4))
	withField := func(b []byte, num int, v uint64) []byte {
		b = append([]byte(nil), b...)
		return append(b, byte(num<<3), byte(v)) // varint field, value < 128
	}
	float := AppendTokens(nil, quantisedTokens(5, 0))
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"side_bits 9":             {withField(base, tokensSideBits, 9), "side_bits 9"},
		"codes without side_bits": {append(append([]byte(nil), float...), AppendTokens(nil, &Tokens{SideBits: 4, OffsetCodes: []uint8{1, 2, 3, 4, 5}})...), "float32 offsets and scales with"},
		"floats and codes":        {append(append([]byte(nil), base...), appendPackedFloats(nil, tokensOffsets, make([]float32, 5))...), "float32 offsets and scales with"},
		"short codes":             {AppendTokens(nil, &Tokens{StreamID: "s", Tokens: []uint16{1, 2}, ChannelKeys: []string{"eeg:a", "eeg:b"}, SideBits: 8, OffsetCodes: []uint8{1}, ScaleCodes: []uint8{1, 2}}), "offset codes: 1 bytes of 8-bit codes for 2 channels"},
		"codes, side_bits 0":      {append(append([]byte(nil), float...), appendPackedCodes(nil, tokensScaleCodes, []uint8{1, 2, 3, 4, 5}, 4)...), "codes without side_bits"},
	} {
		var g Tokens
		if err := DecodeTokens(c.b, &g); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}

// The wire size of one patch of 64 EEG channels (k-means 256: one token per channel), with the side
// information as float32 and quantised: printed for the record, and checked to shrink by what the
// packing promises (8 bytes a channel down to 2 x bits / 8).
func TestTokensWireSizePerPatch(t *testing.T) {
	size := func(bits int) int { return len(AppendTokens(nil, quantisedTokens(64, bits))) }
	f32 := size(0)
	noSide := len(AppendTokens(nil, &Tokens{StreamID: "S001", Codebook: "kmeans-256", CodebookVersion: 0x9e3779b9, WindowEndSample: 19_680, PatchSamples: 32, Stages: 1,
		AcquiredAtNs: 1_764_921_600_000_000_000, Tokens: quantisedTokens(64, 0).Tokens, ChannelKeys: quantisedTokens(64, 0).ChannelKeys}))
	line := fmt.Sprintf("Tokens message, 64 channels, k-means 256 (1 token each), keys \"eeg:C00.\": %d bytes without side information; float32 side %d bytes (+%d)", noSide, f32, f32-noSide)
	for _, bits := range []int{1, 2, 3, 4, 8} {
		q := size(bits)
		line += fmt.Sprintf("; %d+%d-bit side %d (+%d)", bits, bits, q, q-noSide)
		// side_bits field (2 bytes) + two packed fields (tag, length, bytes)
		if want := 2 + 2*(1+len(protowireLen(PackedCodesLen(64, bits)))+PackedCodesLen(64, bits)); q-noSide != want {
			t.Fatalf("%d bits: side information takes %d bytes, want %d", bits, q-noSide, want)
		}
	}
	if want := 2 * (1 + 2 + 4*64); f32-noSide != want {
		t.Fatalf("float32 side information takes %d bytes, want %d", f32-noSide, want)
	}
	t.Log(line)
}

func protowireLen(n int) []byte {
	var b []byte
	for {
		if n < 0x80 {
			return append(b, byte(n))
		}
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
}
