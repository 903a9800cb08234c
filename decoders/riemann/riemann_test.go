package riemann

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"gonum.org/v1/gonum/mat"
)

type reference struct {
	Covs       [][][]float64 `json:"covs"`
	Labels     []int         `json:"labels"`
	Epoch0     [][]float64   `json:"epoch0"`
	Mean       [][]float64   `json:"mean_riemann"`
	Distance01 float64       `json:"distance_0_1"`
	Logm0      [][]float64   `json:"logm_0"`
	Expm0      [][]float64   `json:"expm_0"`
	Sqrtm0     [][]float64   `json:"sqrtm_0"`
	InvSqrtm0  [][]float64   `json:"invsqrtm_0"`
	GenEig01   []float64     `json:"gen_eig_0_1"`
	Tangent    [][]float64   `json:"tangent"`
	MDMMeans   [][][]float64 `json:"mdm_means"`
	MDMProba   [][]float64   `json:"mdm_proba"`
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/riemann_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func sym(a [][]float64) *mat.SymDense {
	n := len(a)
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, a[i][j])
		}
	}
	return s
}

func assertMatClose(t *testing.T, what string, got mat.Matrix, want [][]float64, tol float64) {
	t.Helper()
	for i := range want {
		for j := range want[i] {
			g, w := got.At(i, j), want[i][j]
			if math.Abs(g-w) > tol*math.Max(1, math.Abs(w)) {
				t.Fatalf("%s[%d][%d] = %.12g, reference %.12g", what, i, j, g, w)
			}
		}
	}
}

func TestCovMatchesReference(t *testing.T) {
	r := loadReference(t)
	c := mat.NewSymDense(len(r.Epoch0), nil)
	if err := Cov(c, r.Epoch0); err != nil {
		t.Fatal(err)
	}
	assertMatClose(t, "cov", c, r.Covs[0], 1e-12)
}

func TestMatrixFunctionsMatchScipy(t *testing.T) {
	r := loadReference(t)
	a := sym(r.Covs[0])
	n := a.SymmetricDim()
	ws := NewWorkspace(n)
	out := mat.NewSymDense(n, nil)
	for _, tc := range []struct {
		name string
		f    func(dst, a *mat.SymDense) error
		in   *mat.SymDense
		want [][]float64
	}{
		{"logm", ws.Log, a, r.Logm0},
		{"sqrtm", ws.Sqrt, a, r.Sqrtm0},
		{"invsqrtm", ws.InvSqrt, a, r.InvSqrtm0},
		{"expm", ws.Exp, scaled(a, 1/mat.Trace(a)), r.Expm0},
	} {
		if err := tc.f(out, tc.in); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		assertMatClose(t, tc.name, out, tc.want, 1e-10)
	}
}

func TestGenEigSymMatchesScipy(t *testing.T) {
	r := loadReference(t)
	a, b := sym(r.Covs[0]), sym(r.Covs[1])
	vals, vecs, err := GenEigSym(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range r.GenEig01 {
		if math.Abs(vals[i]-w) > 1e-10*math.Max(1, w) {
			t.Fatalf("eigenvalue %d = %v, scipy %v", i, vals[i], w)
		}
	}
	// Vᵀ B V = I and Vᵀ A V = Λ, as scipy.linalg.eigh(a, b) normalises.
	var vbv, vav, tmp mat.Dense
	tmp.Mul(b, vecs)
	vbv.Mul(vecs.T(), &tmp)
	tmp.Mul(a, vecs)
	vav.Mul(vecs.T(), &tmp)
	n := len(vals)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			wantB, wantA := 0.0, 0.0
			if i == j {
				wantB, wantA = 1, vals[i]
			}
			if math.Abs(vbv.At(i, j)-wantB) > 1e-10 || math.Abs(vav.At(i, j)-wantA) > 1e-10 {
				t.Fatalf("VᵀBV[%d][%d]=%v VᵀAV=%v", i, j, vbv.At(i, j), vav.At(i, j))
			}
		}
	}
}

func TestMeanDistanceTangentMDMMatchReference(t *testing.T) {
	r := loadReference(t)
	covs := make([]*mat.SymDense, len(r.Covs))
	for i, c := range r.Covs {
		covs[i] = sym(c)
	}
	mean, err := MeanRiemann(covs, MeanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMatClose(t, "mean_riemann", mean, r.Mean, 1e-8)

	d, err := NewDistance(covs[1])
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.To(covs[0])
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-r.Distance01) > 1e-10 {
		t.Fatalf("distance %v, reference %v", got, r.Distance01)
	}

	ts, err := NewTangentSpace(mean)
	if err != nil {
		t.Fatal(err)
	}
	vec := make([]float64, TangentDim(mean.SymmetricDim()))
	for i, c := range covs {
		if err := ts.Transform(vec, c); err != nil {
			t.Fatal(err)
		}
		for j, w := range r.Tangent[i] {
			if math.Abs(vec[j]-w) > 1e-7 {
				t.Fatalf("tangent vector %d[%d] = %v, reference %v", i, j, vec[j], w)
			}
		}
	}

	mdm, err := FitMDM(covs, r.Labels, 2)
	if err != nil {
		t.Fatal(err)
	}
	for k := range mdm.Means {
		assertMatClose(t, "mdm mean", mdm.Means[k], r.MDMMeans[k], 1e-8)
	}
	p := make([]float64, 2)
	for i, c := range covs {
		if err := mdm.Distances(p, c); err != nil {
			t.Fatal(err)
		}
		Proba(p)
		for k := range p {
			if math.Abs(p[k]-r.MDMProba[i][k]) > 1e-8 {
				t.Fatalf("mdm proba %d = %v, reference %v", i, p, r.MDMProba[i])
			}
		}
	}
}

func TestRecenterMakesMeanIdentity(t *testing.T) {
	r := loadReference(t)
	covs := make([]*mat.SymDense, len(r.Covs))
	for i, c := range r.Covs {
		covs[i] = sym(c)
	}
	rc, err := Recenter(covs)
	if err != nil {
		t.Fatal(err)
	}
	m, err := MeanRiemann(rc, MeanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := m.SymmetricDim()
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(m.At(i, j)-want) > 1e-7 {
				t.Fatalf("mean after re-centering [%d][%d] = %v, want %v", i, j, m.At(i, j), want)
			}
		}
	}
}

func TestRegularizeRankDeficient(t *testing.T) {
	// Common average reference makes the channels sum to zero: rank n-1.
	x := [][]float64{{1, 2, -1, 0.5}, {-2, 1, 0.3, 1}, {1, -3, 0.7, -1.5}}
	c := mat.NewSymDense(3, nil)
	if err := Cov(c, x); err != nil {
		t.Fatal(err)
	}
	changed, err := Regularize(c, "test", nil)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v; want a regularised matrix", changed, err)
	}
	var chol mat.Cholesky
	if !chol.Factorize(c) {
		t.Fatal("regularised covariance is still not positive definite")
	}
	ws := NewWorkspace(3)
	if err := ws.Log(mat.NewSymDense(3, nil), c); err != nil {
		t.Fatalf("log of regularised covariance: %v", err)
	}
	flat := mat.NewSymDense(3, nil)
	if _, err := Regularize(flat, "flat", nil); err == nil {
		t.Fatal("all-flat covariance accepted")
	}
}

func TestLogOfNonPDIsError(t *testing.T) {
	ws := NewWorkspace(2)
	a := mat.NewSymDense(2, []float64{1, 2, 2, 1})
	if err := ws.Log(mat.NewSymDense(2, nil), a); err == nil {
		t.Fatal("log of an indefinite matrix returned no error")
	}
}

func TestTangentTransformDoesNotAllocate(t *testing.T) {
	r := loadReference(t)
	ref := sym(r.Mean)
	ts, err := NewTangentSpace(ref)
	if err != nil {
		t.Fatal(err)
	}
	c := sym(r.Covs[0])
	vec := make([]float64, TangentDim(ref.SymmetricDim()))
	d, _ := NewDistance(ref)
	allocs := testing.AllocsPerRun(50, func() {
		if err := ts.Transform(vec, c); err != nil {
			t.Fatal(err)
		}
		if _, err := d.To(c); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per transform", allocs)
	}
}

func TestRunningMeanOfCommutingMatricesIsTheRiemannianMean(t *testing.T) {
	// Diagonal matrices commute: their Riemannian mean is exp(mean(log)), which the 1/k geodesic
	// updates reach exactly.
	var covs []*mat.SymDense
	rm := NewRunningMean(3, 1000)
	for i := 0; i < 7; i++ {
		c := mat.NewSymDense(3, []float64{1 + float64(i), 0, 0, 0, 2 + float64(i*i)/3, 0, 0, 0, 0.5 + 0.1*float64(i)})
		covs = append(covs, c)
		if err := rm.Update(c); err != nil {
			t.Fatal(err)
		}
	}
	want, err := MeanRiemann(covs, MeanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := mat.NewSymDense(3, nil)
	if err := rm.Whiten(got, want); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			w := 0.0
			if i == j {
				w = 1
			}
			if math.Abs(got.At(i, j)-w) > 1e-9 {
				t.Fatalf("mean whitened by the running mean [%d][%d] = %v, want identity", i, j, got.At(i, j))
			}
		}
	}
	c := sym(loadReference(t).Covs[0])
	r := NewRunningMean(c.SymmetricDim(), 50)
	out := mat.NewSymDense(c.SymmetricDim(), nil)
	if a := testing.AllocsPerRun(20, func() { _ = r.Update(c); _ = r.Whiten(out, c) }); a != 0 {
		t.Fatalf("%v allocations per update", a)
	}
}
