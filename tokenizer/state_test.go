package tokenizer

import (
	"math"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// A tokenizer restored from a snapshot taken in the middle of a patch emits what an uninterrupted one
// does (the stim channel is not tokenized, so not kept either), with float32 and with quantised side
// information: the snapshot holds samples only, side_bits is the stage's configuration.
func TestTokenizerStateRestore(t *testing.T) {
	for _, bits := range []int{0, 3} {
		tokenizerStateRestore(t, bits)
	}
}

func tokenizerStateRestore(t *testing.T, sideBits int) {
	cb := &Codebook{Version: FormatVersion, Normalisation: PatchZScore, Name: "t", SampleRateHz: 100, ChannelTypes: []string{"eeg"}, PatchSamples: 5, Codewords: [][]float64{{-1, -0.5, 0, 0.5, 1}, {1, 0.5, 0, -0.5, -1}},
		SideRanges: []SideRange{{ChannelType: "eeg", LogScaleLo: -2, LogScaleHi: 0, OffsetMaxZ: 1}}}
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: 100, Channels: []streams.Channel{{Name: "a", Type: streams.ChannelEEG}, {Name: "stim", Type: streams.ChannelStim}, {Name: "b", Type: streams.ChannelEEG}}}
	newTk := func() *Tokenizer {
		tk, err := New(cb, info)
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.SetSideBits(sideBits); err != nil {
			t.Fatal(err)
		}
		return tk
	}
	x := make([]float32, 3*23)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.7))
	}
	collect := func(out *[]string) func(*streams.Tokens) error {
		return func(tk *streams.Tokens) error {
			*out = append(*out, string(streams.AppendTokens(nil, tk)))
			return nil
		}
	}
	var whole, split []string
	a := newTk()
	if err := a.Push(x, 23, 0, collect(&whole)); err != nil {
		t.Fatal(err)
	}
	b := newTk()
	if err := b.Push(x[:3*12], 12, 0, collect(&split)); err != nil {
		t.Fatal(err)
	}
	c := newTk()
	if rest, err := c.RestoreState(b.AppendState(nil)); err != nil || len(rest) != 0 {
		t.Fatalf("restore: %v, %d bytes left", err, len(rest))
	}
	if err := c.Push(x[3*12:], 11, 0, collect(&split)); err != nil {
		t.Fatal(err)
	}
	if len(split) != len(whole) || len(whole) != 4 {
		t.Fatalf("%d token messages after a restore, %d without (want 4)", len(split), len(whole))
	}
	var first streams.Tokens
	if err := streams.DecodeTokens([]byte(whole[0]), &first); err != nil || first.SideBits != sideBits || len(first.ScaleCodes) != 2*min(sideBits, 1) {
		t.Fatalf("side bits %d: first message has %d-bit side information, %d scale codes (%v)", sideBits, first.SideBits, len(first.ScaleCodes), err)
	}
	for i := range whole {
		if split[i] != whole[i] {
			t.Fatalf("message %d: %s, uninterrupted %s", i, split[i], whole[i])
		}
	}
}
