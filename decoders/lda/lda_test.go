package lda

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

type fit struct {
	X         [][]float64 `json:"x"`
	Y         []int       `json:"y"`
	Coef      [][]float64 `json:"coef"`
	Intercept []float64   `json:"intercept"`
	Proba     [][]float64 `json:"proba"`
}

func loadReference(t *testing.T) (binary, multi fit) {
	t.Helper()
	b, err := os.ReadFile("testdata/lda_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Binary, Multi fit }
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Binary, r.Multi
}

func checkFit(t *testing.T, name string, ref fit, nClasses int) {
	l, err := Fit(ref.X, ref.Y, nClasses, Auto)
	if err != nil {
		t.Fatal(err)
	}
	for k := range ref.Coef {
		for j, w := range ref.Coef[k] {
			if math.Abs(l.Coef[k][j]-w) > 1e-8*math.Max(1, math.Abs(w)) {
				t.Fatalf("%s coef[%d][%d] = %.12g, scikit-learn %.12g", name, k, j, l.Coef[k][j], w)
			}
		}
		if math.Abs(l.Intercept[k]-ref.Intercept[k]) > 1e-8*math.Max(1, math.Abs(ref.Intercept[k])) {
			t.Fatalf("%s intercept[%d] = %.12g, scikit-learn %.12g", name, k, l.Intercept[k], ref.Intercept[k])
		}
	}
	p := make([]float64, nClasses)
	for i, x := range ref.X {
		if _, err := l.PredictProba(p, x); err != nil {
			t.Fatal(err)
		}
		for k := range p {
			if math.Abs(p[k]-ref.Proba[i][k]) > 1e-9 {
				t.Fatalf("%s proba %d = %v, scikit-learn %v", name, i, p, ref.Proba[i])
			}
		}
	}
}

func TestLDAMatchesScikitLearn(t *testing.T) {
	binary, multi := loadReference(t)
	checkFit(t, "binary", binary, 2)
	checkFit(t, "3-class", multi, 3)
}

func TestLDABadInputAndAllocs(t *testing.T) {
	binary, _ := loadReference(t)
	if _, err := Fit(binary.X, binary.Y, 2, 1.5); err == nil {
		t.Error("shrinkage 1.5 accepted")
	}
	bad := append([][]float64(nil), binary.X...)
	bad[0] = []float64{math.NaN(), 0, 0, 0}
	if _, err := Fit(bad, binary.Y, 2, Auto); err == nil {
		t.Error("NaN feature accepted")
	}
	l, err := Fit(binary.X, binary.Y, 2, Auto)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.PredictProba(make([]float64, 2), []float64{1}); err == nil {
		t.Error("wrong feature count accepted")
	}
	p := make([]float64, 2)
	if a := testing.AllocsPerRun(100, func() { _, _ = l.PredictProba(p, binary.X[0]) }); a != 0 {
		t.Fatalf("%v allocations per prediction", a)
	}
}
