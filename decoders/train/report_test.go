package train

import (
	"math"
	"strings"
	"testing"
)

func TestScoreKappaAUCConfusion(t *testing.T) {
	truth := []int{0, 0, 0, 0, 1, 1, 1, 1, 1, 1}
	pred := []int{0, 0, 0, 1, 1, 1, 1, 1, 0, 1}
	p1 := []float64{0.1, 0.2, 0.3, 0.6, 0.9, 0.8, 0.7, 0.6, 0.2, 0.55}
	r := Score([]string{"a", "b"}, truth, pred, p1)
	// sklearn: accuracy_score 0.8, cohen_kappa_score 0.5833..., roc_auc_score 0.8333 (one tie at 0.6).
	if r.Accuracy != 0.8 || math.Abs(r.Kappa-0.58333333333) > 1e-9 || r.ROCAUC == nil || math.Abs(*r.ROCAUC-0.8333333333333333) > 1e-12 {
		t.Fatalf("accuracy %v kappa %v auc %v", r.Accuracy, r.Kappa, *r.ROCAUC)
	}
	if r.Confusion[0][0] != 3 || r.Confusion[0][1] != 1 || r.Confusion[1][0] != 1 || r.Confusion[1][1] != 5 {
		t.Fatalf("confusion %v", r.Confusion)
	}
	if _, ok := ROCAUC([]int{1, 1}, []float64{0.2, 0.3}); ok {
		t.Fatal("AUC with one class reported")
	}
	var b strings.Builder
	r.Print(&b)
	if !strings.Contains(b.String(), "kappa 0.583") {
		t.Fatalf("printed report: %s", b.String())
	}
}

func TestParseEvents(t *testing.T) {
	ev, err := ParseEvents("T1=left, T2=right")
	if err != nil || len(ev) != 2 || ev[1].Match != "T2" || ev[1].Label != "right" {
		t.Fatalf("%v %v", ev, err)
	}
	for _, bad := range []string{"T1", "T1=left", "=left,T2=right", ""} {
		if _, err := ParseEvents(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if Fold(0, 10, 5) != 0 || Fold(9, 10, 5) != 4 || Fold(5, 10, 5) != 2 {
		t.Fatal("folds are not contiguous blocks")
	}
}
