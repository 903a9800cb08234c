package streams

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Tokens is one patch of a stream turned into discrete tokens by a tokenizer: one codebook index per
// channel, with the patch's mean (Offsets) and standard deviation (Scales) in the channel's unit, so
// that Offsets[c] + Scales[c]*codeword[Tokens[c]] reconstructs the patch. It is published as JSON on
// the tokens topic, keyed by stream id, like predictions, for any consumer to read.
type Tokens struct {
	StreamID  string `json:"stream_id"`
	Tokenizer string `json:"tokenizer"`
	// PatchEndSample is the stream sample index just after the patch; PatchSamples its length.
	PatchEndSample int64     `json:"patch_end_sample"`
	PatchSamples   int       `json:"patch_samples"`
	Tokens         []uint16  `json:"tokens"`
	Offsets        []float32 `json:"offsets"`
	Scales         []float32 `json:"scales"`
	AcquiredAtNs   int64     `json:"acquired_at_ns"`
}

// AppendJSON appends t as a JSON object to dst without allocating (the encoding/json form of the
// same struct, which UnmarshalTokens reads).
func (t *Tokens) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"stream_id":`...)
	dst = strconv.AppendQuote(dst, t.StreamID)
	dst = append(dst, `,"tokenizer":`...)
	dst = strconv.AppendQuote(dst, t.Tokenizer)
	dst = append(dst, `,"patch_end_sample":`...)
	dst = strconv.AppendInt(dst, t.PatchEndSample, 10)
	dst = append(dst, `,"patch_samples":`...)
	dst = strconv.AppendInt(dst, int64(t.PatchSamples), 10)
	dst = append(dst, `,"tokens":[`...)
	for i, v := range t.Tokens {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	dst = append(dst, `],"offsets":`...)
	dst = appendFloats(dst, t.Offsets)
	dst = append(dst, `,"scales":`...)
	dst = appendFloats(dst, t.Scales)
	dst = append(dst, `,"acquired_at_ns":`...)
	dst = strconv.AppendInt(dst, t.AcquiredAtNs, 10)
	return append(dst, '}')
}

// appendFloats writes float32 values in the shortest form that reads back exactly; non-finite
// values (which JSON cannot carry) become null.
func appendFloats(dst []byte, xs []float32) []byte {
	dst = append(dst, '[')
	for i, v := range xs {
		if i > 0 {
			dst = append(dst, ',')
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			dst = append(dst, "null"...)
			continue
		}
		dst = strconv.AppendFloat(dst, float64(v), 'g', -1, 32)
	}
	return append(dst, ']')
}

// UnmarshalTokens decodes a tokens message and checks that its arrays agree.
func UnmarshalTokens(b []byte) (*Tokens, error) {
	var t Tokens
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("decode tokens: %w", err)
	}
	if len(t.Offsets) != len(t.Tokens) || len(t.Scales) != len(t.Tokens) {
		return nil, fmt.Errorf("decode tokens of %q: %d tokens, %d offsets, %d scales", t.StreamID, len(t.Tokens), len(t.Offsets), len(t.Scales))
	}
	return &t, nil
}
