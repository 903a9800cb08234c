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
// (dsytrd), its eigenvalues by the root-free QR iteration (dsterf), the eigenvectors of isolated
// eigenvalues by twisted factorisations (dlar1v) and those inside clusters of close eigenvalues by
// inverse iteration with re-orthogonalisation (dstein; Dhillon 1998, "Current inverse iteration
// software can fail", BIT 38, discusses the cluster tolerance used), then one blocked
// back-transformation by the reflectors (dormtr).
//
// Why not gonum's Dsyev: it accumulates every implicit-QR rotation into the n x n eigenvector matrix
// (dsteqr), about two thirds of a 64 x 64 decomposition, while twisted factorisations and inverse
// iteration find the tridiagonal eigenvectors in O(n²) and the back-transformation runs as matrix
// products. The Riemannian mean takes one decomposition per trial and iteration, so this is the
// fit's hot loop.
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
	dp, lf, uf        []float64 // twisted factorisations: pivots and multipliers, four eigenvalues interleaved
	isolated          []int     // indices of eigenvalues farther than the cluster tolerance from both neighbours
	work              []float64
}

func newEigenSolver(n int) *eigenSolver {
	m := max(n-1, 1)
	s := &eigenSolver{n: n, a: make([]float64, n*n), d: make([]float64, n), e: make([]float64, m), tau: make([]float64, m),
		w: make([]float64, n), vecs: make([]float64, n*n), rows: make([]float64, n*n), vf: make([]float64, n*n),
		lu: make([]float64, n), ud: make([]float64, n), ud2: make([]float64, n), mult: make([]float64, n), swap: make([]bool, n),
		dp: make([]float64, 4*n), lf: make([]float64, 4*n), uf: make([]float64, 4*n), isolated: make([]int, 0, n)}
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
	// differ; a zero pivot is replaced by tiny. An eigenvalue farther than ortol from both
	// neighbours is isolated: twisted factorisations give its vector directly.
	ortol, pertol, tiny := 1e-3*norm, 10*eps*norm, eps*norm
	seed := uint64(0x9E3779B97F4A7C15) // fixed start vectors: results do not vary run to run
	first := 0                         // first index of the current cluster
	shift := 0.0
	s.isolated = s.isolated[:0]
	for j := 0; j < n; j++ {
		x := s.w[j]
		if j == 0 || s.w[j]-s.w[j-1] > ortol {
			first = j
			if j == n-1 || s.w[j+1]-s.w[j] > ortol {
				s.isolated = append(s.isolated, j)
				shift = x
				continue
			}
		} else if x-shift < pertol {
			x = shift + pertol
		}
		shift = x
		if err := s.inverseIteration(j, first, x, tiny, &seed); err != nil {
			return err
		}
	}
	for k := 0; k < len(s.isolated); k += 4 {
		for _, j := range s.twisted(s.isolated[k:min(k+4, len(s.isolated))], tiny) {
			// A twisted factorisation that overflowed: inverse iteration copes with tiny pivots.
			if err := s.inverseIteration(j, j, s.w[j], tiny, &seed); err != nil {
				return err
			}
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

// inverseIteration computes row j of s.rows, the eigenvector for eigenvalue x (s.w[j], perturbed
// inside a cluster) by two solves with T - xI from a pseudo-random start, orthogonalised against the
// vectors of its cluster, rows first..j-1.
func (s *eigenSolver) inverseIteration(j, first int, x, tiny float64, seed *uint64) error {
	n := s.n
	s.factor(x, tiny)
	v := s.rows[j*n : (j+1)*n]
	for i := range v {
		*seed ^= *seed << 13
		*seed ^= *seed >> 7
		*seed ^= *seed << 17
		v[i] = float64(*seed>>11)*0x1p-52 - 1 // uniform in [-1, 1)
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
	return nil
}

// twisted computes the eigenvectors of the tridiagonal matrix for up to four isolated eigenvalues
// (indices js) by twisted factorisations of T - λI (Parlett and Dhillon 2000, "Relatively robust
// representations of symmetric tridiagonals", LAA 309; LAPACK's dlar1v): the top-down L D Lᵀ and
// bottom-up U D Uᵀ factorisations meet at the index r where the twist element γ_r is smallest, and
// the eigenvector follows from z_r = 1 by multiplications only. An eigenvalue farther than the
// cluster tolerance from its neighbours needs neither a second solve nor re-orthogonalisation (its
// vector's error is about eps·‖T‖/gap, as after inverse iteration), and the four factorisations
// run interleaved so that their divisions, one per row, overlap instead of waiting on each other.
// A pivot smaller than tiny is replaced by ±tiny, as in inverse iteration. It returns the indices
// whose vectors overflowed.
func (s *eigenSolver) twisted(js []int, tiny float64) (failed []int) {
	n := s.n
	d, e, lf, uf := s.d, s.e, s.lf, s.uf
	var lam [4]float64
	for k := range lam {
		lam[k] = s.w[js[min(k, len(js)-1)]] // unused lanes repeat the last eigenvalue
	}
	guard := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return math.Copysign(tiny, v)
		}
		return v
	}
	// Top-down L D Lᵀ: dp_{i+1} = d_{i+1} - λ - e_i·lf_i with lf_i = e_i/dp_i.
	dp := s.dp
	p0, p1, p2, p3 := guard(d[0]-lam[0]), guard(d[0]-lam[1]), guard(d[0]-lam[2]), guard(d[0]-lam[3])
	dp[0], dp[1], dp[2], dp[3] = p0, p1, p2, p3
	for i := 0; i < n-1; i++ {
		ei := e[i]
		l0, l1, l2, l3 := ei/p0, ei/p1, ei/p2, ei/p3
		lf[4*i], lf[4*i+1], lf[4*i+2], lf[4*i+3] = l0, l1, l2, l3
		di := d[i+1]
		p0, p1, p2, p3 = guard(di-lam[0]-l0*ei), guard(di-lam[1]-l1*ei), guard(di-lam[2]-l2*ei), guard(di-lam[3]-l3*ei)
		dp[4*i+4], dp[4*i+5], dp[4*i+6], dp[4*i+7] = p0, p1, p2, p3
	}
	// Bottom-up: dm_i = d_i - λ - e_i·uf_i with uf_i = e_i/dm_{i+1}; the twist element at i is
	// γ_i = dp_i + dm_i - (d_i - λ).
	var rIdx [4]int
	var rGam [4]float64
	m0, m1, m2, m3 := guard(d[n-1]-lam[0]), guard(d[n-1]-lam[1]), guard(d[n-1]-lam[2]), guard(d[n-1]-lam[3])
	j := n - 1
	for k, m := range [4]float64{m0, m1, m2, m3} {
		rIdx[k], rGam[k] = j, math.Abs(dp[4*j+k]+m-(d[j]-lam[k]))
	}
	for i := n - 2; i >= 0; i-- {
		ei := e[i]
		u0, u1, u2, u3 := ei/m0, ei/m1, ei/m2, ei/m3
		uf[4*i], uf[4*i+1], uf[4*i+2], uf[4*i+3] = u0, u1, u2, u3
		di := d[i]
		m0, m1, m2, m3 = guard(di-lam[0]-u0*ei), guard(di-lam[1]-u1*ei), guard(di-lam[2]-u2*ei), guard(di-lam[3]-u3*ei)
		for k, m := range [4]float64{m0, m1, m2, m3} {
			if g := math.Abs(dp[4*i+k] + m - (di - lam[k])); g < rGam[k] {
				rIdx[k], rGam[k] = i, g
			}
		}
	}
	for k, jj := range js {
		z := s.rows[jj*n : (jj+1)*n]
		r := rIdx[k]
		z[r] = 1
		for i := r - 1; i >= 0; i-- {
			z[i] = -lf[4*i+k] * z[i+1]
		}
		for i := r; i < n-1; i++ {
			z[i+1] = -uf[4*i+k] * z[i]
		}
		nrm := floats.Norm(z, 2)
		if !(nrm > 0) || math.IsInf(nrm, 0) {
			failed = append(failed, jj)
			continue
		}
		floats.Scale(1/nrm, z)
	}
	return failed
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
