package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/npz"
	"github.com/neurostream/neurostream/decoders/model"
	"github.com/neurostream/neurostream/internal/shareddata"
)

func loadP300(t *testing.T) *acquisition.Recording {
	rec, err := npz.ReadEEGLE(filepath.Join(shareddata.Path(t, "eegle_bi2012_p300"), "subject_01_session_01.npz"))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestP300XdawnTangentSpaceCV cross-validates xDAWN covariances + tangent space + logistic
// regression on bi2012 and compares per-fold ROC-AUC with the same pipeline in numpy/scikit-learn
// (tools/decoders_reference.py p300).
func TestP300XdawnTangentSpaceCV(t *testing.T) {
	rec := loadP300(t)
	b, err := os.ReadFile("testdata/p300_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		NEpochs int       `json:"n_epochs"`
		NTarget int       `json:"n_target"`
		FoldAUC []float64 `json:"fold_auc"`
		MeanAUC float64   `json:"mean_auc"`
		Proba   []float64 `json:"proba"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Events: []Event{{"nontarget", "nontarget"}, {"target", "target"}}, BandHz: [2]float64{1, 20},
		TminSec: 0, TmaxSec: 127.0 / 128}
	ds, err := EpochRecording(rec, "bi2012 subject 1 session 1", cfg)
	if err != nil {
		t.Fatal(err)
	}
	nt := 0
	for _, l := range ds.Labels {
		nt += l
	}
	if len(ds.Epochs) != ref.NEpochs || nt != ref.NTarget {
		t.Fatalf("%d epochs (%d targets); reference %d (%d)", len(ds.Epochs), nt, ref.NEpochs, ref.NTarget)
	}
	r, err := CrossValidate(ds.Spec(model.XdawnTS, cfg), ds, 5, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for f, auc := range r.FoldAUC {
		if math.Abs(auc-ref.FoldAUC[f]) > 0.002 {
			t.Errorf("fold %d ROC-AUC %.4f, Python %.4f", f+1, auc, ref.FoldAUC[f])
		}
	}
	maxDiff := 0.0
	for i, p := range r.ProbaClass1 {
		maxDiff = math.Max(maxDiff, math.Abs(p-ref.Proba[i]))
	}
	t.Logf("xdawn-ts 5-fold ROC-AUC %.4f (Python %.4f); folds %.3f; max |P(target) - Python| %.2g",
		*r.ROCAUC, ref.MeanAUC, r.FoldAUC, maxDiff)
	if maxDiff > 1e-3 {
		t.Errorf("per-trial target probability differs from Python by up to %.3f", maxDiff)
	}
}
