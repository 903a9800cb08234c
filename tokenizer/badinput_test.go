package tokenizer

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
