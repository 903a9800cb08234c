package riemann

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack/gonum"
)

// eigenSolver computes the eigenvalues and eigenvectors of n x n symmetric matrices the way
// LAPACK's dsyevx does for all eigenpairs: Householder reduction to a tridiagonal matrix
// (dsytrd), its eigenvalues by the root-free QR iteration (dsterf), its eigenvectors by inverse
// iteration with re-orthogonalisation inside clusters of close eigenvalues (dstein; Dhillon 1998,
// "Current inverse iteration software can fail", BIT 38, discusses the cluster tolerance used), then
// one blocked back-transformation by the reflectors (dormtr).
//
// Why not gonum's Dsyev: it accumulates every implicit-QR rotation into the n x n eigenvector matrix
// (dsteqr), about two thirds of a 64 x 64 decomposition, while inverse iteration finds the
// tridiagonal eigenvectors in O(n²) and the back-transformation runs as matrix products. The
// Riemannian mean takes one decomposition per trial and iteration, so this is the fit's hot loop.
// All buffers are allocated once; a solver is not safe for concurrent use.
type eigenSolver struct {
	n                 int
	a                 []float64 // full symmetric input, then the Householder reflectors
	d, e, tau         []float64 // tridiagonal diagonal, off-diagonal and reflector scales
	w                 []float64 // eigenvalues, ascending
	vecs              []float64 // eigenvectors: vecs[i*n+j] is component i of eigenvector j
	rows              []float64 // eigenvectors of the tridiagonal matrix, one per row; free afterwards
	vf                []float64 // eigenvectors scaled by f(eigenvalue)
	lu, ud, ud2, mult []float64 // LU factors of T - λI (reciprocal pivots, two super-diagonals, multipliers)
	swap              []bool    // row interchanges of that factorisation
	work              []float64
}

func newEigenSolver(n int) *eigenSolver {
	m := max(n-1, 1)
	s := &eigenSolver{n: n, a: make([]float64, n*n), d: make([]float64, n), e: make([]float64, m), tau: make([]float64, m),
		w: make([]float64, n), vecs: make([]float64, n*n), rows: make([]float64, n*n), vf: make([]float64, n*n),
		lu: make([]float64, n), ud: make([]float64, n), ud2: make([]float64, n), mult: make([]float64, n), swap: make([]bool, n)}
	var impl gonum.Implementation
	var q [1]float64
	impl.Dsytrd(blas.Lower, n, s.a, n, s.d, s.e, s.tau, q[:], -1)
	lw := int(q[0])
	if n > 1 {
		impl.Dormqr(blas.Left, blas.NoTrans, n-1, n, n-1, s.a, n, s.tau, s.vecs, n, q[:], -1)
		lw = max(lw, int(q[0]))
	}
	s.work = make([]float64, max(lw, 1))
	return s
}

// tridiagonalize copies the symmetric matrix (upper triangle of data with the given stride) and
// reduces it, leaving the tridiagonal matrix in d, e and its eigenvalues in w.
func (s *eigenSolver) tridiagonalize(data []float64, stride int) error {
	n := s.n
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := data[i*stride+j]
			s.a[i*n+j], s.a[j*n+i] = v, v
		}
	}
	var impl gonum.Implementation
	impl.Dsytrd(blas.Lower, n, s.a, n, s.d, s.e, s.tau, s.work, len(s.work))
	copy(s.w, s.d)
	e := s.ud[:max(n-1, 0)] // scratch: Dsterf overwrites the off-diagonal
	copy(e, s.e)
	if !impl.Dsterf(n, s.w, e) {
		return fmt.Errorf("eigenvalues of a %dx%d matrix did not converge (non-finite values?)", n, n)
	}
	for _, v := range s.w {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("eigendecomposition of a %dx%d matrix: non-finite values", n, n)
		}
	}
	return nil
}

// values computes the eigenvalues only (in s.w).
func (s *eigenSolver) values(data []float64, stride int) error { return s.tridiagonalize(data, stride) }

// decompose computes eigenvalues (s.w) and eigenvectors (s.vecs, column j for s.w[j]).
func (s *eigenSolver) decompose(data []float64, stride int) error {
	if err := s.tridiagonalize(data, stride); err != nil {
		return err
	}
	n := s.n
	norm := 0.0 // ‖T‖₁
	for i := 0; i < n; i++ {
		r := math.Abs(s.d[i])
		if i > 0 {
			r += math.Abs(s.e[i-1])
		}
		if i < n-1 {
			r += math.Abs(s.e[i])
		}
		norm = max(norm, r)
	}
	if norm == 0 { // the zero matrix: any orthonormal basis
		for i := range s.vecs {
			s.vecs[i] = 0
		}
		for i := 0; i < n; i++ {
			s.vecs[i*n+i] = 1
		}
		return nil
	}
	const eps = 0x1p-52
	// As dstein: eigenvalues closer than ortol form a cluster whose vectors are orthogonalised
	// against each other; equal eigenvalues are separated by pertol so that their shifted systems
	// differ; a zero pivot is replaced by tiny.
	ortol, pertol, tiny := 1e-3*norm, 10*eps*norm, eps*norm
	seed := uint64(0x9E3779B97F4A7C15) // fixed start vectors: results do not vary run to run
	first := 0                         // first index of the current cluster
	shift := 0.0
	for j := 0; j < n; j++ {
		x := s.w[j]
		if j > 0 {
			if s.w[j]-s.w[j-1] > ortol {
				first = j
			} else if x-shift < pertol {
				x = shift + pertol
			}
		}
		shift = x
		s.factor(x, tiny)
		v := s.rows[j*n : (j+1)*n]
		for i := range v {
			seed ^= seed << 13
			seed ^= seed >> 7
			seed ^= seed << 17
			v[i] = float64(seed>>11)*0x1p-52 - 1 // uniform in [-1, 1)
		}
		// Two solves: the first amplifies the wanted direction by at least gap/(eps·‖T‖) ≥ 1e12
		// relative to the others (eigenvalues are accurate to eps·‖T‖), the second takes it to
		// rounding level.
		for it := 0; it < 2; it++ {
			s.solve(v)
			for k := first; k < j; k++ {
				floats.AddScaled(v, -floats.Dot(v, s.rows[k*n:(k+1)*n]), s.rows[k*n:(k+1)*n])
			}
			nrm := floats.Norm(v, 2)
			if !(nrm > 0) || math.IsInf(nrm, 0) {
				return fmt.Errorf("inverse iteration for eigenvalue %d of a %dx%d matrix failed", j, n, n)
			}
			floats.Scale(1/nrm, v)
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			s.vecs[i*n+j] = s.rows[j*n+i]
		}
	}
	if n > 1 {
		var impl gonum.Implementation
		impl.Dormqr(blas.Left, blas.NoTrans, n-1, n, n-1, s.a[n:], n, s.tau, s.vecs[n:], n, s.work, len(s.work))
	}
	return nil
}

// factor computes the LU factorisation with partial pivoting of T - xI (LAPACK dgttrf), replacing
// pivots smaller than tiny by ±tiny as inverse iteration wants.
func (s *eigenSolver) factor(x, tiny float64) {
	n := s.n
	for i := 0; i < n; i++ {
		s.lu[i] = s.d[i] - x
		s.ud2[i] = 0
		s.swap[i] = false
		if i < n-1 {
			s.ud[i], s.mult[i] = s.e[i], s.e[i]
		}
	}
	for i := 0; i < n-1; i++ {
		if math.Abs(s.lu[i]) >= math.Abs(s.mult[i]) {
			f := 0.0
			if s.lu[i] != 0 {
				f = s.mult[i] / s.lu[i]
			}
			s.mult[i] = f
			s.lu[i+1] -= f * s.ud[i]
			continue
		}
		f := s.lu[i] / s.mult[i]
		s.lu[i], s.mult[i] = s.mult[i], f
		t := s.ud[i]
		s.ud[i] = s.lu[i+1]
		s.lu[i+1] = t - f*s.lu[i+1]
		if i < n-2 {
			s.ud2[i] = s.ud[i+1]
			s.ud[i+1] = -f * s.ud[i+1]
		}
		s.swap[i] = true
	}
	for i, v := range s.lu { // stored as reciprocals: the solves multiply
		if math.Abs(v) < tiny {
			v = math.Copysign(tiny, v)
		}
		s.lu[i] = 1 / v
	}
}

// solve overwrites b with (T - xI)⁻¹ b using the factors from factor (LAPACK dgtts2).
func (s *eigenSolver) solve(b []float64) {
	n := s.n
	for i := 0; i < n-1; i++ {
		if s.swap[i] {
			b[i], b[i+1] = b[i+1], b[i]-s.mult[i]*b[i+1]
		} else {
			b[i+1] -= s.mult[i] * b[i]
		}
	}
	b[n-1] *= s.lu[n-1]
	if n > 1 {
		b[n-2] = (b[n-2] - s.ud[n-2]*b[n-1]) * s.lu[n-2]
	}
	for i := n - 3; i >= 0; i-- {
		b[i] = (b[i] - s.ud[i]*b[i+1] - s.ud2[i]*b[i+2]) * s.lu[i]
	}
}

// apply sets dst (n x n, row stride) to beta·dst + alpha·V f(Λ) Vᵀ from the last decompose, as one
// matrix product. With needPositive a non-positive eigenvalue is an error (log, square roots).
func (s *eigenSolver) apply(dst []float64, stride int, alpha, beta float64, f func(float64) float64, needPositive bool) error {
	n := s.n
	vf := s.vf
	for j := 0; j < n; j++ {
		if needPositive && !(s.w[j] > 0) {
			return fmt.Errorf("matrix is not positive definite (eigenvalue %g); regularise the covariance first", s.w[j])
		}
		fj := f(s.w[j])
		for i := 0; i < n; i++ {
			vf[i*n+j] = s.vecs[i*n+j] * fj
		}
	}
	blas64.Gemm(blas.NoTrans, blas.Trans, alpha,
		blas64.General{Rows: n, Cols: n, Stride: n, Data: vf},
		blas64.General{Rows: n, Cols: n, Stride: n, Data: s.vecs},
		beta, blas64.General{Rows: n, Cols: n, Stride: stride, Data: dst})
	return nil
}
