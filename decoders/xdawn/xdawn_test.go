package xdawn

import (
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"
)

type reference struct {
	Epochs  [][][]float64 `json:"epochs"`
	Labels  []int         `json:"labels"`
	NFilter int           `json:"n_filter"`
	CovEig  [][]float64   `json:"cov_eigenvalues"`
	CovDiag [][]float64   `json:"cov_diagonal"`
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/xdawn_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Filter signs are arbitrary (as in any eigensolver), so the comparison uses what they do not
// change: the eigenvalues and the diagonal of each xDAWN covariance.
func TestXdawnCovariancesMatchReference(t *testing.T) {
	r := loadReference(t)
	x, err := Fit(r.Epochs, r.Labels, 2, r.NFilter, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := x.CovDim()
	buf := x.NewBuffer(len(r.Epochs[0][0]))
	c := mat.NewSymDense(n, nil)
	var eig mat.EigenSym
	for i, ep := range r.Epochs {
		if err := x.Covariance(c, ep, buf); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < n; j++ {
			if math.Abs(c.At(j, j)-r.CovDiag[i][j]) > 1e-9*math.Max(1, r.CovDiag[i][j]) {
				t.Fatalf("epoch %d diagonal %d = %v, reference %v", i, j, c.At(j, j), r.CovDiag[i][j])
			}
		}
		if !eig.Factorize(c, false) {
			t.Fatal("eigendecomposition failed")
		}
		vals := eig.Values(nil)
		sort.Float64s(vals)
		for j, w := range r.CovEig[i] {
			if math.Abs(vals[j]-w) > 1e-9*math.Max(1, math.Abs(w)) {
				t.Fatalf("epoch %d eigenvalue %d = %v, reference %v", i, j, vals[j], w)
			}
		}
	}
	if a := testing.AllocsPerRun(50, func() { _ = x.Covariance(c, r.Epochs[0], buf) }); a != 0 {
		t.Fatalf("%v allocations per covariance", a)
	}
}

func TestXdawnBadInput(t *testing.T) {
	r := loadReference(t)
	if _, err := Fit(r.Epochs, r.Labels, 2, 0, nil); err == nil {
		t.Error("zero filters accepted")
	}
	if _, err := Fit(r.Epochs, r.Labels, 3, 2, nil); err == nil {
		t.Error("a class without epochs accepted")
	}
	x, err := Fit(r.Epochs, r.Labels, 2, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Covariance(mat.NewSymDense(x.CovDim(), nil), r.Epochs[0][:3], x.NewBuffer(len(r.Epochs[0][0]))); err == nil {
		t.Error("window with too few channels accepted")
	}
}
