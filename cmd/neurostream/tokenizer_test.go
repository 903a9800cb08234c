package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/tokenizer"
)

// train-tokenizer writes a codebook the tokenizer stage loads, from synthetic EEG or a recording,
// and refuses to run with neither.
func TestTrainTokenizerCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var out bytes.Buffer
	synth := filepath.Join(dir, "synth.json")
	if err := runTrainTokenizer(ctx, []string{"--synthetic", "20", "--codewords", "8", "--out", synth}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	cb, err := tokenizer.Load(synth)
	if err != nil {
		t.Fatal(err)
	}
	if len(cb.Codewords) != 8 || cb.PatchSamples != 50 || cb.SampleRateHz != 250 || cb.BandHz != [2]float64{1, 40} {
		t.Fatalf("codebook: %d codewords of %d samples at %g Hz, band %v", len(cb.Codewords), cb.PatchSamples, cb.SampleRateHz, cb.BandHz)
	}
	if r := cb.SideRangeOf("eeg"); r == nil || len(cb.SideRanges) != 1 || !(r.LogScaleHi > r.LogScaleLo) {
		t.Fatalf("side ranges %+v: want one for EEG", cb.SideRanges)
	}
	// --side-of adds side ranges to a codebook learnt before they existed, codewords unchanged.
	old := filepath.Join("..", "..", "tokenizer", "testdata", "synthetic-kmeans-64-v1.json")
	withSide := filepath.Join(dir, "with-side.json")
	if err := runTrainTokenizer(ctx, []string{"--side-of", old, "--synthetic", "20", "--out", withSide}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	was, err := tokenizer.Load(old)
	if err != nil {
		t.Fatal(err)
	}
	now, err := tokenizer.Load(withSide)
	if err != nil || now.SideRangeOf("eeg") == nil || len(now.Codewords) != len(was.Codewords) || now.Codewords[3][7] != was.Codewords[3][7] || !strings.Contains(out.String(), "eeg scale") {
		t.Fatalf("--side-of: %v, ranges %+v\n%s", err, now.SideRanges, out.String())
	}
	if err := runTrainTokenizer(ctx, []string{"--side-of", old, "--synthetic", "5", "--out", withSide}, &out); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("--side-of over an existing file: %v", err)
	}
	if err := runTrainTokenizer(ctx, nil, &out); err == nil || !strings.Contains(err.Error(), "--synthetic") {
		t.Fatalf("no input: err %v", err)
	}
	edfPath := shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R01.edf"))
	rec := filepath.Join(dir, "r01.json")
	if err := runTrainTokenizer(ctx, []string{"--codewords", "16", "--band", "none", "--out", rec, edfPath}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if cb, err = tokenizer.Load(rec); err != nil || cb.PatchSamples != 32 || cb.SampleRateHz != 160 {
		t.Fatalf("codebook from R01: %v %+v", err, cb)
	}
	rvq := filepath.Join(dir, "rvq.json")
	if err := runTrainTokenizer(ctx, []string{"--synthetic", "20", "--codewords", "8", "--stages", "3", "--out", rvq}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if cb, err = tokenizer.Load(rvq); err != nil || cb.Stages() != 3 || cb.Name != "rvq-3x8" || cb.Modality() != "eeg" {
		t.Fatalf("residual codebook: %v %+v", err, cb)
	}
	mu := filepath.Join(dir, "mulaw.json")
	if err := runTrainTokenizer(ctx, []string{"--mulaw", "256", "--synthetic-rate", "160", "--types", "eeg", "--out", mu}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if cb, err = tokenizer.Load(mu); err != nil || cb.Method != tokenizer.MethodMuLaw || cb.PatchSamples != 32 || cb.TokenBitsPerSecond() != 1280 {
		t.Fatalf("mu-law codebook: %v %+v", err, cb)
	}
	joint := filepath.Join(dir, "joint.json")
	if err := runTrainTokenizer(ctx, []string{"--synthetic", "20", "--synthetic-channels", "8", "--joint", "2", "--out", joint}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !tokenizer.IsJointCodecFile(joint) {
		t.Fatal("--joint did not write a joint codec")
	}
	if c, err := tokenizer.LoadJoint(joint); err != nil || len(c.Channels) != 8 || c.BlockSamples != 50 || c.Step != 2 || c.BandHz != [2]float64{1, 40} {
		t.Fatalf("joint codec: %v %+v", err, c)
	}
}
