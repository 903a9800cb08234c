package riemann

import (
	"fmt"
	"math"
	"runtime"

	"github.com/neurostream/neurostream/internal/parallel"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// MeanOptions controls the iterative Riemannian mean. Zero values take pyRiemann's defaults.
type MeanOptions struct {
	Tol     float64   // stop when the Frobenius norm of the tangent-space step is below Tol (default 1e-8)
	MaxIter int       // at most this many iterations (default 50)
	Weights []float64 // one non-negative weight per matrix; nil means equal weights
}

// MeanRiemann returns the affine-invariant Riemannian (Karcher) mean of SPD matrices by the
// gradient descent with adaptive step of pyRiemann's mean_riemann, started at the arithmetic mean.
//
// pyRiemann whitens each matrix by C^(-1/2) of the current estimate C and steps to
// C^(1/2) exp(ν Σ wᵢ log(C^(-1/2) Cᵢ C^(-1/2))) C^(1/2). Any W with W C Wᵀ = I gives the same step,
// W = Q C^(-1/2) for an orthogonal Q that cancels between the logarithms and the exponential, so
// this uses the Cholesky factor C = L Lᵀ, W = L⁻¹: the new estimate is L exp(ν J) Lᵀ with
// J = Σ wᵢ log(L⁻¹ Cᵢ L⁻ᵀ) and ‖J‖ (the stopping criterion) unchanged. With Cᵢ = Lᵢ Lᵢᵀ factored once,
// L⁻¹ Cᵢ L⁻ᵀ = (L⁻¹Lᵢ)(L⁻¹Lᵢ)ᵀ is a product of triangular matrices: a sixth of the two dense products
// a congruence by C^(-1/2) takes, and no matrix square roots per iteration.
func MeanRiemann(covs []*mat.SymDense, opt MeanOptions) (*mat.SymDense, error) {
	if len(covs) == 0 {
		return nil, fmt.Errorf("riemannian mean: no matrices")
	}
	n := covs[0].SymmetricDim()
	w, err := normWeights(len(covs), opt.Weights)
	if err != nil {
		return nil, fmt.Errorf("riemannian mean: %w", err)
	}
	tol, maxIter := opt.Tol, opt.MaxIter
	if tol == 0 {
		tol = 1e-8
	}
	if maxIter == 0 {
		maxIter = 50
	}
	c := mat.NewSymDense(n, nil)
	for i, m := range covs {
		if m.SymmetricDim() != n {
			return nil, fmt.Errorf("riemannian mean: matrix %d is %dx%d, matrix 0 is %dx%d", i, m.SymmetricDim(), m.SymmetricDim(), n, n)
		}
		addScaled(c, w[i], m)
	}
	// The matrix logarithms of an iteration are independent; workers each keep a workspace and a
	// partial sum, combined in worker order so the result does not depend on scheduling.
	nw := min(runtime.GOMAXPROCS(0), len(covs))
	type worker struct {
		eig     *eigenSolver
		p, m, s []float64
	}
	workers := make([]worker, nw)
	for i := range workers {
		workers[i] = worker{eig: newEigenSolver(n), p: make([]float64, n*n), m: make([]float64, n*n), s: make([]float64, n*n)}
	}
	factors := make([][]float64, len(covs))
	err = parallel.For(len(covs), nw, func(_, i int) error {
		factors[i] = make([]float64, n*n)
		if err := cholesky(factors[i], covs[i]); err != nil {
			return fmt.Errorf("matrix %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("riemannian mean: %w", err)
	}
	l, g := make([]float64, n*n), make([]float64, n*n)
	j, e := make([]float64, n*n), make([]float64, n*n)
	expSolver := newEigenSolver(n)
	nu, tau := 1.0, math.MaxFloat64
	for it := 0; it < maxIter; it++ {
		if err := cholesky(l, c); err != nil {
			return nil, fmt.Errorf("riemannian mean: iteration %d: %w", it, err)
		}
		copy(g, l)
		if !lapack64.Trtri(blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: n, Stride: n, Data: g}) {
			return nil, fmt.Errorf("riemannian mean: iteration %d: estimate is singular", it)
		}
		err := parallel.For(len(covs), nw, func(wi, i int) error {
			wk := &workers[wi]
			whitenTriangular(wk.m, wk.p, g, factors[i], n)
			if err := wk.eig.decompose(wk.m, n); err != nil {
				return fmt.Errorf("matrix %d: %w", i, err)
			}
			if err := wk.eig.apply(wk.s, n, w[i], 1, math.Log, true); err != nil {
				return fmt.Errorf("matrix %d: %w", i, err)
			}
			return nil
		}, func(wi int) { clear(workers[wi].s) })
		if err != nil {
			return nil, fmt.Errorf("riemannian mean: iteration %d: %w", it, err)
		}
		clear(j)
		for wi := range workers {
			floats.Add(j, workers[wi].s)
		}
		crit := floats.Norm(j, 2)
		h := nu * crit
		floats.Scale(nu, j)
		if err := expSolver.decompose(j, n); err != nil {
			return nil, fmt.Errorf("riemannian mean: iteration %d: %w", it, err)
		}
		if err := expSolver.apply(e, n, 1, 0, math.Exp, false); err != nil {
			return nil, err
		}
		// c = L e Lᵀ
		lt := blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: n, Stride: n, Data: l}
		ge := blas64.General{Rows: n, Cols: n, Stride: n, Data: e}
		blas64.Trmm(blas.Left, blas.NoTrans, 1, lt, ge)
		blas64.Trmm(blas.Right, blas.Trans, 1, lt, ge)
		raw := c.RawSymmetric()
		for r := 0; r < n; r++ {
			for k := r; k < n; k++ {
				raw.Data[r*raw.Stride+k] = 0.5 * (e[r*n+k] + e[k*n+r])
			}
		}
		if crit <= tol || nu <= tol {
			break
		}
		if h < tau {
			nu *= 0.95
			tau = h
		} else {
			nu *= 0.5
		}
	}
	return c, nil
}

// cholesky writes the lower Cholesky factor of the SPD matrix a into l (n x n, row-major, zero
// above the diagonal).
func cholesky(l []float64, a *mat.SymDense) error {
	n := a.SymmetricDim()
	raw := a.RawSymmetric()
	for r := 0; r < n; r++ {
		for k := 0; k < r; k++ {
			l[r*n+k] = raw.Data[k*raw.Stride+r]
		}
		for k := r; k < n; k++ {
			l[r*n+k] = 0
		}
		l[r*n+r] = raw.Data[r*raw.Stride+r]
	}
	if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: n, Stride: n, Data: l}); !ok {
		return fmt.Errorf("cholesky factorisation of a %dx%d matrix failed: not positive definite; regularise the covariance first", n, n)
	}
	return nil
}

// whitenTriangular sets m (n x n, full) to (g lᵢ)(g lᵢ)ᵀ for lower-triangular g and lᵢ, using p as
// scratch for the lower-triangular product g lᵢ.
func whitenTriangular(m, p, g, li []float64, n int) {
	for r := 0; r < n; r++ {
		pr := p[r*n : r*n+r+1]
		clear(pr)
		for k := 0; k <= r; k++ {
			floats.AddScaled(pr[:k+1], g[r*n+k], li[k*n:k*n+k+1])
		}
	}
	for r := 0; r < n; r++ {
		pr := p[r*n : r*n+r+1]
		for k := r; k < n; k++ {
			v := floats.Dot(pr, p[k*n:k*n+r+1])
			m[r*n+k], m[k*n+r] = v, v
		}
	}
}

// addScaled adds w·m to dst (upper triangles).
func addScaled(dst *mat.SymDense, w float64, m *mat.SymDense) {
	d, r := dst.RawSymmetric(), m.RawSymmetric()
	n := d.N
	for i := 0; i < n; i++ {
		for k := i; k < n; k++ {
			d.Data[i*d.Stride+k] += w * r.Data[i*r.Stride+k]
		}
	}
}

func scaled(m *mat.SymDense, w float64) *mat.SymDense {
	var s mat.SymDense
	s.ScaleSym(w, m)
	return &s
}

func normWeights(n int, w []float64) ([]float64, error) {
	out := make([]float64, n)
	if w == nil {
		for i := range out {
			out[i] = 1 / float64(n)
		}
		return out, nil
	}
	if len(w) != n {
		return nil, fmt.Errorf("%d weights for %d matrices", len(w), n)
	}
	sum := 0.0
	for i, v := range w {
		if !(v >= 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("weight %d is %v; weights must be finite and non-negative", i, v)
		}
		sum += v
	}
	if !(sum > 0) {
		return nil, fmt.Errorf("weights sum to zero")
	}
	for i, v := range w {
		out[i] = v / sum
	}
	return out, nil
}

// Distance computes the affine-invariant Riemannian distance between SPD matrices, as
// pyRiemann's distance_riemann: sqrt(Σ log² λᵢ) with λ the eigenvalues of b^(-1/2) a b^(-1/2),
// which are those of L⁻¹ a L⁻ᵀ for the Cholesky factor b = L Lᵀ: with a = Lₐ Lₐᵀ factored per call,
// that is a product of triangular matrices instead of two dense ones. It reuses preallocated
// state, so online MDM does not allocate.
type Distance struct {
	n        int
	eig      *eigenSolver
	g        []float64 // L⁻¹, lower triangular
	la, p, m []float64
}

// NewDistance prepares distances to the fixed reference b.
func NewDistance(b *mat.SymDense) (*Distance, error) {
	n := b.SymmetricDim()
	d := &Distance{n: n, eig: newEigenSolver(n), g: make([]float64, n*n), la: make([]float64, n*n), p: make([]float64, n*n), m: make([]float64, n*n)}
	if err := cholesky(d.g, b); err != nil {
		return nil, fmt.Errorf("riemannian distance reference: %w", err)
	}
	if !lapack64.Trtri(blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: n, Stride: n, Data: d.g}) {
		return nil, fmt.Errorf("riemannian distance reference: singular matrix")
	}
	return d, nil
}

// To returns the distance from a to the reference.
func (d *Distance) To(a *mat.SymDense) (float64, error) {
	if a.SymmetricDim() != d.n {
		return 0, fmt.Errorf("riemannian distance: matrix is %dx%d, reference is %dx%d", a.SymmetricDim(), a.SymmetricDim(), d.n, d.n)
	}
	if err := cholesky(d.la, a); err != nil {
		return 0, fmt.Errorf("riemannian distance: %w", err)
	}
	whitenTriangular(d.m, d.p, d.g, d.la, d.n)
	if err := d.eig.values(d.m, d.n); err != nil {
		return 0, err
	}
	s := 0.0
	for _, v := range d.eig.w {
		if !(v > 0) {
			return 0, fmt.Errorf("riemannian distance: matrix is not positive definite (eigenvalue %g)", v)
		}
		l := math.Log(v)
		s += l * l
	}
	return math.Sqrt(s), nil
}

// TangentDim is the length of a tangent vector of an n x n matrix: the upper triangle.
func TangentDim(n int) int { return n * (n + 1) / 2 }

// TangentSpace projects SPD matrices onto the tangent space at a reference point, as pyRiemann's
// TangentSpace (metric "riemann"): log(ref^(-1/2) C ref^(-1/2)), upper triangle in row-major order,
// off-diagonal entries weighted by √2 so that the Euclidean norm of the vector equals the
// Riemannian norm at the reference.
type TangentSpace struct {
	ws     *Workspace
	whiten *mat.SymDense
	t, lg  *mat.SymDense
}

// NewTangentSpace prepares projection at ref (usually the Riemannian mean of the training covariances).
func NewTangentSpace(ref *mat.SymDense) (*TangentSpace, error) {
	n := ref.SymmetricDim()
	ts := &TangentSpace{ws: NewWorkspace(n), whiten: mat.NewSymDense(n, nil), t: mat.NewSymDense(n, nil), lg: mat.NewSymDense(n, nil)}
	if err := ts.ws.InvSqrt(ts.whiten, ref); err != nil {
		return nil, fmt.Errorf("tangent space reference: %w", err)
	}
	return ts, nil
}

// Transform writes the tangent vector of c into dst (length TangentDim(n)).
func (ts *TangentSpace) Transform(dst []float64, c *mat.SymDense) error {
	n := ts.ws.n
	if len(dst) != TangentDim(n) {
		return fmt.Errorf("tangent space: destination has %d values, want %d", len(dst), TangentDim(n))
	}
	if err := ts.ws.Congruence(ts.t, ts.whiten, c); err != nil {
		return err
	}
	if err := ts.ws.Log(ts.lg, ts.t); err != nil {
		return fmt.Errorf("tangent space: %w", err)
	}
	raw := ts.lg.RawSymmetric()
	k := 0
	for i := 0; i < n; i++ {
		dst[k] = raw.Data[i*raw.Stride+i]
		k++
		for j := i + 1; j < n; j++ {
			dst[k] = math.Sqrt2 * raw.Data[i*raw.Stride+j]
			k++
		}
	}
	return nil
}

// Recenter whitens each matrix by the Riemannian mean of the set (ref^(-1/2) C ref^(-1/2)), so
// that the set's mean becomes the identity. Applying it per session removes the session-specific
// shift between recordings (session transfer, Zanini et al. 2018); the returned matrices are new.
func Recenter(covs []*mat.SymDense) ([]*mat.SymDense, error) {
	ref, err := MeanRiemann(covs, MeanOptions{})
	if err != nil {
		return nil, fmt.Errorf("re-centering: %w", err)
	}
	n := ref.SymmetricDim()
	ws := NewWorkspace(n)
	w := mat.NewSymDense(n, nil)
	if err := ws.InvSqrt(w, ref); err != nil {
		return nil, fmt.Errorf("re-centering: %w", err)
	}
	out := make([]*mat.SymDense, len(covs))
	for i, c := range covs {
		out[i] = mat.NewSymDense(n, nil)
		if err := ws.Congruence(out[i], w, c); err != nil {
			return nil, fmt.Errorf("re-centering matrix %d: %w", i, err)
		}
	}
	return out, nil
}

// RunningMean tracks the Riemannian mean of a stream of SPD matrices online, for re-centering a
// new session without labels: each update moves the estimate along the geodesic towards the new
// matrix by 1/k (k = updates so far, capped at horizon, which turns the mean into an exponential
// forgetting average). It holds all its buffers, so Update and Whiten do not allocate.
type RunningMean struct {
	ws               *Workspace
	mean, sq, isq, t *mat.SymDense
	n, horizon       int
}

// NewRunningMean tracks n x n matrices; horizon bounds the weight of history (e.g. 100 windows).
func NewRunningMean(n, horizon int) *RunningMean {
	return &RunningMean{ws: NewWorkspace(n), mean: mat.NewSymDense(n, nil), sq: mat.NewSymDense(n, nil),
		isq: mat.NewSymDense(n, nil), t: mat.NewSymDense(n, nil), horizon: max(horizon, 1)}
}

// Update moves the mean towards c: M ← M^½ (M^-½ c M^-½)^(1/k) M^½.
func (r *RunningMean) Update(c *mat.SymDense) error {
	if r.n < r.horizon {
		r.n++
	}
	if r.n == 1 {
		r.mean.CopySym(c)
	} else {
		if err := r.ws.Congruence(r.t, r.isq, c); err != nil {
			return err
		}
		alpha := 1 / float64(r.n)
		if err := r.ws.Func(r.t, r.t, func(x float64) float64 { return math.Pow(x, alpha) }, true); err != nil {
			return fmt.Errorf("running mean: %w", err)
		}
		if err := r.ws.Congruence(r.mean, r.sq, r.t); err != nil {
			return err
		}
	}
	if err := r.ws.Sqrt(r.sq, r.mean); err != nil {
		return fmt.Errorf("running mean: %w", err)
	}
	return r.ws.InvSqrt(r.isq, r.mean)
}

// Whiten sets dst = M^-½ c M^-½ (re-centering c on the current mean).
func (r *RunningMean) Whiten(dst, c *mat.SymDense) error { return r.ws.Congruence(dst, r.isq, c) }

// RecenterGroups re-centres each group of matrices (a session or recording: groups[i] names the
// group of covs[i]) on its own Riemannian mean, in place.
func RecenterGroups(covs []*mat.SymDense, groups []int) error {
	if len(groups) != len(covs) {
		return fmt.Errorf("re-centering: %d group labels for %d matrices", len(groups), len(covs))
	}
	members := map[int][]int{}
	var order []int
	for i, g := range groups {
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		members[g] = append(members[g], i)
	}
	for _, g := range order {
		idx := members[g]
		set := make([]*mat.SymDense, len(idx))
		for j, i := range idx {
			set[j] = covs[i]
		}
		rc, err := Recenter(set)
		if err != nil {
			return fmt.Errorf("group %d: %w", g, err)
		}
		for j, i := range idx {
			covs[i] = rc[j]
		}
	}
	return nil
}
