package riemann

import (
	"fmt"
	"log/slog"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Cov sets dst to the sample covariance X Xᵀ / nSamples of a channel-major window (x[c][s]),
// without removing the mean: windows reaching a decoder are band-passed, so their mean is noise,
// and this is what MNE's CSP (empirical, assume_centered) uses. dst must be len(x) x len(x).
func Cov(dst *mat.SymDense, x [][]float64) error {
	n := len(x)
	if n == 0 || len(x[0]) == 0 {
		return fmt.Errorf("covariance: empty window (%d channels)", n)
	}
	if dst.SymmetricDim() != n {
		return fmt.Errorf("covariance: destination is %dx%d for %d channels", dst.SymmetricDim(), dst.SymmetricDim(), n)
	}
	ns := len(x[0])
	for c := range x {
		if len(x[c]) != ns {
			return fmt.Errorf("covariance: channel %d has %d samples, channel 0 has %d", c, len(x[c]), ns)
		}
	}
	raw := dst.RawSymmetric()
	inv := 1 / float64(ns)
	for i := 0; i < n; i++ {
		row := raw.Data[i*raw.Stride:]
		for j := i; j < n; j++ {
			row[j] = floats.Dot(x[i], x[j]) * inv
		}
	}
	return nil
}

// minEigRatio is the smallest eigenvalue, relative to the largest, that a covariance may have before
// it is treated as not positive definite: below it the logarithm and inverse square root amplify
// rounding noise into the features.
const minEigRatio = 1e-10

// regRatio is the ridge, relative to the mean eigenvalue (trace / n), added to a covariance that is
// not positive definite. Small enough to leave well-conditioned directions untouched.
const regRatio = 1e-6

// Regularize makes c positive definite if it is not (rank-deficient data after a common average
// reference, flat channels): it adds regRatio·trace(c)/n to the diagonal and logs a warning naming
// what, so that a bad recording is visible instead of crashing the fit. It reports whether c changed.
// A zero matrix (all channels flat) cannot be repaired and is an error.
func Regularize(c *mat.SymDense, what string, log *slog.Logger) (bool, error) {
	n := c.SymmetricDim()
	var eig mat.EigenSym
	if !eig.Factorize(c, false) {
		return false, fmt.Errorf("%s: eigendecomposition of the %dx%d covariance failed (non-finite values?)", what, n, n)
	}
	vals := eig.Values(nil)
	lo, hi := vals[0], vals[n-1]
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(hi, 0) {
		return false, fmt.Errorf("%s: covariance has non-finite values", what)
	}
	if lo > minEigRatio*hi {
		return false, nil
	}
	tr := mat.Trace(c)
	if !(tr > 0) {
		return false, fmt.Errorf("%s: covariance is zero (every channel flat); check the recording and channel selection", what)
	}
	ridge := regRatio * tr / float64(n)
	for i := 0; i < n; i++ {
		c.SetSym(i, i, c.At(i, i)+ridge)
	}
	if log != nil {
		log.Warn("covariance not positive definite; regularised",
			"what", what, "min_eig", lo, "max_eig", hi, "ridge", ridge)
	}
	return true, nil
}

// GenEigSym solves the generalized symmetric-definite eigenproblem A v = λ B v, as
// scipy.linalg.eigh(a, b) does: eigenvalues ascending, eigenvectors (columns of vecs) normalised so
// that Vᵀ B V = I. B must be positive definite.
func GenEigSym(a, b mat.Symmetric) (vals []float64, vecs *mat.Dense, err error) {
	n := a.SymmetricDim()
	if b.SymmetricDim() != n {
		return nil, nil, fmt.Errorf("generalized eigenproblem: A is %dx%d, B is %dx%d", n, n, b.SymmetricDim(), b.SymmetricDim())
	}
	var chol mat.Cholesky
	if !chol.Factorize(b) {
		return nil, nil, fmt.Errorf("generalized eigenproblem: B (%dx%d) is not positive definite", n, n)
	}
	var l mat.TriDense
	chol.LTo(&l)
	// C = L⁻¹ A L⁻ᵀ has the same eigenvalues; its eigenvectors W give V = L⁻ᵀ W.
	var linvA mat.Dense
	if err := linvA.Solve(&l, a); err != nil {
		return nil, nil, fmt.Errorf("generalized eigenproblem: %w", err)
	}
	var cT mat.Dense
	if err := cT.Solve(&l, linvA.T()); err != nil {
		return nil, nil, fmt.Errorf("generalized eigenproblem: %w", err)
	}
	c := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			c.SetSym(i, j, 0.5*(cT.At(i, j)+cT.At(j, i)))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(c, true) {
		return nil, nil, fmt.Errorf("generalized eigenproblem: eigendecomposition failed")
	}
	vals = eig.Values(nil)
	var w mat.Dense
	eig.VectorsTo(&w)
	vecs = mat.NewDense(n, n, nil)
	if err := vecs.Solve(l.T(), &w); err != nil {
		return nil, nil, fmt.Errorf("generalized eigenproblem: %w", err)
	}
	return vals, vecs, nil
}

// Workspace holds the buffers for matrix functions of n x n SPD matrices, so that online decoding
// (one eigendecomposition per window) does not allocate. A Workspace is not safe for concurrent use.
type Workspace struct {
	n   int
	eig *eigenSolver
	sq  []float64 // full square copy of a symmetric operand
	vf  []float64 // eigenvectors scaled by f(eigenvalue), or a second full operand
	tmp []float64 // n x n product scratch
}

// NewWorkspace makes a workspace for n x n matrices.
func NewWorkspace(n int) *Workspace {
	return &Workspace{n: n, eig: newEigenSolver(n), sq: make([]float64, n*n), vf: make([]float64, n*n), tmp: make([]float64, n*n)}
}

// Size is the matrix dimension the workspace serves.
func (ws *Workspace) Size() int { return ws.n }

func (ws *Workspace) check(ms ...*mat.SymDense) error {
	for _, m := range ms {
		if m.SymmetricDim() != ws.n {
			return fmt.Errorf("matrix function: matrix is %dx%d, workspace is for %dx%d", m.SymmetricDim(), m.SymmetricDim(), ws.n, ws.n)
		}
	}
	return nil
}

// Func sets dst = V f(Λ) Vᵀ where a = V Λ Vᵀ. f receives each eigenvalue; for log, sqrt and inverse
// sqrt a non-positive eigenvalue is an error naming the matrix as not positive definite.
func (ws *Workspace) Func(dst, a *mat.SymDense, f func(float64) float64, needPositive bool) error {
	if err := ws.check(dst, a); err != nil {
		return err
	}
	raw := a.RawSymmetric()
	if err := ws.eig.decompose(raw.Data, raw.Stride); err != nil {
		return err
	}
	out := dst.RawSymmetric()
	return ws.eig.apply(out.Data, out.Stride, 1, 0, f, needPositive)
}

func invSqrt(x float64) float64 { return 1 / math.Sqrt(x) }

// Log sets dst to the matrix logarithm of the SPD matrix a.
func (ws *Workspace) Log(dst, a *mat.SymDense) error { return ws.Func(dst, a, math.Log, true) }

// Exp sets dst to the matrix exponential of the symmetric matrix a.
func (ws *Workspace) Exp(dst, a *mat.SymDense) error { return ws.Func(dst, a, math.Exp, false) }

// Sqrt sets dst to the SPD square root of a.
func (ws *Workspace) Sqrt(dst, a *mat.SymDense) error { return ws.Func(dst, a, math.Sqrt, true) }

// InvSqrt sets dst to a^(-1/2).
func (ws *Workspace) InvSqrt(dst, a *mat.SymDense) error { return ws.Func(dst, a, invSqrt, true) }

// Congruence sets dst = m a m for symmetric m (whitening a by m = ref^(-1/2)), using the
// workspace's scratch. dst may not alias a or m.
func (ws *Workspace) Congruence(dst, m, a *mat.SymDense) error {
	if err := ws.check(dst, m, a); err != nil {
		return err
	}
	n := ws.n
	full := func(s *mat.SymDense, to []float64) {
		raw := s.RawSymmetric()
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				v := raw.Data[i*raw.Stride+j]
				to[i*n+j], to[j*n+i] = v, v
			}
		}
	}
	// ws.sq holds full m, ws.vf full a; tmp = m a; dst = tmp m.
	full(m, ws.sq)
	full(a, ws.vf)
	gm := blas64.General{Rows: n, Cols: n, Stride: n, Data: ws.sq}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gm, blas64.General{Rows: n, Cols: n, Stride: n, Data: ws.vf},
		0, blas64.General{Rows: n, Cols: n, Stride: n, Data: ws.tmp})
	out := dst.RawSymmetric()
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, blas64.General{Rows: n, Cols: n, Stride: n, Data: ws.tmp}, gm,
		0, blas64.General{Rows: n, Cols: n, Stride: out.Stride, Data: out.Data})
	return nil
}

// Eigenvalues returns the eigenvalues of the symmetric matrix a, ascending, in the workspace's
// buffer (valid until the next call).
func (ws *Workspace) Eigenvalues(a *mat.SymDense) ([]float64, error) {
	if err := ws.check(a); err != nil {
		return nil, err
	}
	raw := a.RawSymmetric()
	if err := ws.eig.values(raw.Data, raw.Stride); err != nil {
		return nil, err
	}
	return ws.eig.w, nil
}
