package tokenizer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/internal/shareddata"
)

func readRuns(t *testing.T, runs ...string) ([]*acquisition.Recording, []string) {
	var recs []*acquisition.Recording
	for _, r := range runs {
		rec, err := edf.Read(shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", r)))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs, runs
}

// shapeError is the share of the within-patch variance of held-out data that tokens fail to
// reconstruct: sum |x - (mean + std*codeword)|^2 / sum |x - mean|^2 over every patch.
func shapeError(t *testing.T, cb *Codebook, rec *acquisition.Recording, cfg TrainConfig) float64 {
	data, err := selectAndFilter(rec, cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	p := cb.PatchSamples
	rec2 := make([]float64, p)
	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	tokens, scratch := make([]uint16, cb.TokensPerChannel()), make([]float64, 2*p)
	var num, den float64
	for _, ch := range data {
		for s := 0; s+p <= len(ch); s += p {
			x := ch[s : s+p]
			mean, std, err := q.EncodePatch(x, tokens, scratch)
			if err != nil {
				t.Fatal(err)
			}
			q.DecodePatch(rec2, tokens, mean, std)
			for i, v := range x {
				num += (v - rec2[i]) * (v - rec2[i])
				den += (v - mean) * (v - mean)
			}
		}
	}
	return num / den
}

// A codebook learnt on two runs describes the patch shapes of a third, unseen run: more codewords
// reconstruct more of it, and far more than a single codeword (the average shape) does.
func TestTrainedCodebookGeneralises(t *testing.T) {
	recs, names := readRuns(t, "S001R01.edf", "S001R02.edf")
	test, _ := readRuns(t, "S001R03.edf")
	cfg := TrainConfig{PatchSec: 0.2, BandHz: [2]float64{1, 40}, Seed: 1, MaxPatches: 10_000}
	errs := map[int]float64{}
	for _, k := range []int{1, 16, 128} {
		cfg.Codewords = k
		cb, err := Train(context.Background(), recs, names, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if cb.PatchSamples != 32 || len(cb.Codewords) != k || cb.Training.Patches != 10_000 {
			t.Fatalf("codebook: %d-sample patches, %d codewords, %d patches", cb.PatchSamples, len(cb.Codewords), cb.Training.Patches)
		}
		errs[k] = shapeError(t, cb, test[0], cfg)
		t.Logf("K=%d: %d iterations, held-out shape error %.3f", k, cb.Training.Iterations, errs[k])
	}
	if !(errs[128] < errs[16] && errs[16] < 0.8*errs[1]) {
		t.Fatalf("held-out shape error does not fall with the codebook size: %v", errs)
	}
}
