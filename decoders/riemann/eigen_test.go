package riemann

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// The inverse-iteration eigensolver must give what gonum's Dsyev gives on the matrices the
// decoders meet: SPD covariances (64 channels), matrices with repeated or clustered eigenvalues
// (the identity, re-centred sets), rank-deficient ones and the zero matrix.
func TestEigenSolverMatchesEigenSym(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n, ns int) *mat.SymDense {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, ns)
			for j := range x[i] {
				x[i][j] = rng.NormFloat64()
			}
		}
		c := mat.NewSymDense(n, nil)
		if err := Cov(c, x); err != nil {
			t.Fatal(err)
		}
		return c
	}
	diag := func(v ...float64) *mat.SymDense {
		d := mat.NewSymDense(len(v), nil)
		for i, x := range v {
			d.SetSym(i, i, x)
		}
		return d
	}
	// An orthogonal rotation of a diagonal matrix with a cluster of three close eigenvalues.
	clustered := func() *mat.SymDense {
		n := 8
		var q mat.QR
		g := mat.NewDense(n, n, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				g.Set(i, j, rng.NormFloat64())
			}
		}
		q.Factorize(g)
		var qm, tmp, out mat.Dense
		q.QTo(&qm)
		tmp.Mul(&qm, diag(1, 2, 2+1e-9, 2+2e-9, 2+1e-13, 5, 5, 9))
		out.Mul(&tmp, qm.T())
		s := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				s.SetSym(i, j, 0.5*(out.At(i, j)+out.At(j, i)))
			}
		}
		return s
	}
	cases := map[string]*mat.SymDense{
		"cov 64x64":      random(64, 321),
		"cov 16x16":      random(16, 100),
		"rank-deficient": random(12, 5),
		"identity":       diag(1, 1, 1, 1, 1),
		"repeated diag":  diag(3, 1, 3, 2, 1, 3),
		"zero":           mat.NewSymDense(4, nil),
		"1x1":            diag(7),
		"clustered":      clustered(),
		"scaled volts²":  func() *mat.SymDense { c := random(20, 60); c.ScaleSym(1e-11, c); return c }(),
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			n := a.SymmetricDim()
			s := newEigenSolver(n)
			raw := a.RawSymmetric()
			if err := s.decompose(raw.Data, raw.Stride); err != nil {
				t.Fatal(err)
			}
			var ref mat.EigenSym
			if !ref.Factorize(a, false) {
				t.Fatal("gonum EigenSym failed")
			}
			want := ref.Values(nil)
			scale := math.Max(math.Abs(want[0]), math.Abs(want[n-1]))
			if scale == 0 {
				scale = 1
			}
			v := mat.NewDense(n, n, s.vecs)
			for j := 0; j < n; j++ {
				if math.Abs(s.w[j]-want[j]) > 1e-13*scale {
					t.Fatalf("eigenvalue %d = %v, EigenSym %v", j, s.w[j], want[j])
				}
				// residual ‖A v - λ v‖ relative to ‖A‖
				var av mat.VecDense
				av.MulVec(a, v.ColView(j))
				av.AddScaledVec(&av, -s.w[j], v.ColView(j))
				if r := mat.Norm(&av, 2); r > 1e-12*scale {
					t.Fatalf("eigenvector %d residual %g (scale %g)", j, r, scale)
				}
			}
			var vtv mat.Dense
			vtv.Mul(v.T(), v)
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					want := 0.0
					if i == j {
						want = 1
					}
					if math.Abs(vtv.At(i, j)-want) > 1e-12 {
						t.Fatalf("VᵀV[%d,%d] = %v, want %v", i, j, vtv.At(i, j), want)
					}
				}
			}
		})
	}
}

func TestEigenSolverRejectsNaN(t *testing.T) {
	a := mat.NewSymDense(3, []float64{1, 0, 0, 0, math.NaN(), 0, 0, 0, 1})
	s := newEigenSolver(3)
	raw := a.RawSymmetric()
	if err := s.decompose(raw.Data, raw.Stride); err == nil {
		t.Fatal("decomposition of a matrix with NaN succeeded")
	}
}
