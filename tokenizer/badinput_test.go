package tokenizer

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

func TestKMeansBadInputAndEmptyClusters(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		x   []float64
		dim int
		k   int
	}{
		"ragged":      {[]float64{1, 2, 3}, 2, 1},
		"too many K":  {[]float64{1, 2, 3, 4}, 2, 3},
		"NaN":         {[]float64{1, math.NaN(), 3, 4}, 2, 1},
		"no clusters": {[]float64{1, 2}, 2, 0},
	} {
		if _, err := KMeans(ctx, c.x, c.dim, KMeansConfig{K: c.k}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Two identical starting centres: one cluster is empty after the first assignment and takes the
	// sample farthest from its centre, so all three groups end up with a centre.
	x := []float64{0, 0, 0.1, 0, 10, 10, 10.1, 10, -10, 10, -10.1, 10}
	res, err := KMeans(ctx, x, 2, KMeansConfig{K: 3, Init: []float64{0, 0, 0, 0, 10, 10}, Tol: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inertia > 0.1 {
		t.Fatalf("inertia %g: an empty cluster was not relocated (centres %v)", res.Inertia, res.Centers)
	}
}

func TestCodebookFileChecks(t *testing.T) {
	dir := t.TempDir()
	good := &Codebook{Version: FormatVersion, Name: "t", SampleRateHz: 250, PatchSamples: 2, Normalisation: PatchZScore, Codewords: [][]float64{{-1, 1}, {1, -1}}}
	path := filepath.Join(dir, "cb.json")
	if err := good.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil || len(back.Codewords) != 2 || back.PatchSamples != 2 {
		t.Fatalf("load: %v %+v", err, back)
	}
	for name, body := range map[string]string{
		"not json":      "{",
		"wrong version": `{"version":9,"sample_rate_hz":250,"patch_samples":2,"normalisation":"patch-zscore","codewords":[[1,2]]}`,
		"ragged":        `{"version":1,"sample_rate_hz":250,"patch_samples":2,"normalisation":"patch-zscore","codewords":[[1,2,3]]}`,
		"no rate":       `{"version":1,"patch_samples":2,"normalisation":"patch-zscore","codewords":[[1,2]]}`,
		"unknown norm":  `{"version":1,"sample_rate_hz":250,"patch_samples":2,"normalisation":"minmax","codewords":[[1,2]]}`,
		"no codewords":  `{"version":1,"sample_rate_hz":250,"patch_samples":2,"normalisation":"patch-zscore","codewords":[]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err %v (want an error naming the file)", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}

// Hostile codebooks fail at load with the field named; nothing is allocated from an absurd size.
func TestHostileCodebooks(t *testing.T) {
	good := `{"version":1,"name":"t","sample_rate_hz":250,"patch_samples":2,"normalisation":"patch-zscore","band_hz":[1,40],"codewords":[[-1,1],[1,-1]]}`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ from, to, field string }{
		"rate 1e-300":          {`"sample_rate_hz":250`, `"sample_rate_hz":1e-300`, "sample_rate_hz"},
		"patch of 1e9 samples": {`"patch_samples":2`, `"patch_samples":1000000000`, "patch_samples"},
		"band above Nyquist":   {`"band_hz":[1,40]`, `"band_hz":[1,400]`, "band_hz"},
		"inverted band":        {`"band_hz":[1,40]`, `"band_hz":[40,1]`, "band_hz"},
		"1e308 codeword":       {`[[-1,1]`, `[[-1,1e308]`, "codewords[0]"},
		"ragged codeword":      {`[1,-1]]`, `[1]]`, "codewords[1]"},
		"NaN is not JSON":      {`[[-1,1]`, `[[-1,NaN]`, "not a codebook file"},
	} {
		_, err := Parse([]byte(strings.Replace(good, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, c.field)
		}
	}
	if _, err := Load("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("/dev/zero as a codebook: got %v", err)
	}
}

// FuzzCodebook: any bytes either fail Parse or give a codebook that tokenizes a stream at its rate
// without panicking.
func FuzzCodebook(f *testing.F) {
	f.Add([]byte(`{"version":1,"name":"t","sample_rate_hz":250,"patch_samples":2,"normalisation":"patch-zscore","band_hz":[1,40],"codewords":[[-1,1],[1,-1]]}`))
	f.Add([]byte(`{"version":1,"sample_rate_hz":100,"patch_samples":3,"normalisation":"patch-zscore","codewords":[[0,0,0]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cb, err := Parse(b)
		if err != nil {
			return
		}
		if cb.PatchSamples*len(cb.Codewords) > 1<<16 {
			return // valid, but too big to run per input
		}
		info := streams.StreamInfo{StreamID: "fuzz", SampleRateHz: cb.SampleRateHz,
			Channels: []streams.Channel{{Name: "a", Type: streams.ChannelEEG}, {Name: "b", Type: streams.ChannelMEGMag}}}
		tk, err := New(cb, info)
		if err != nil {
			return // a modality contract this stream does not meet
		}
		n := 2 * cb.PatchSamples
		samples := make([]float32, 2*n)
		for i := range samples {
			samples[i] = float32(math.Sin(float64(i)))
		}
		if err := tk.Push(samples, n, 1, func(*streams.Tokens) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
}
