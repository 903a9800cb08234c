package csp

import (
	"fmt"
	"log/slog"
	"math"
	"sort"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/neurostream/neurostream/decoders/riemann"
)

// CSP holds fitted spatial filters.
type CSP struct {
	// Filters[k] is the k-th spatial filter (one weight per channel), in MNE's component order.
	Filters [][]float64 `json:"filters"`
	// Eigenvalues[k] is the generalized eigenvalue of component k (share of class-0 variance).
	Eigenvalues []float64 `json:"eigenvalues"`
}

// Fit computes CSP filters from epochs[i][channel][sample] with labels y[i] in 0..K-1, keeping
// nComponents components. Two classes use the generalized eigenproblem; more use MNE's approximate
// joint diagonalization of the class covariances (Pham's algorithm) with mutual-information ordering. Class covariances that are not positive definite are regularised and
// reported through log (may be nil).
func Fit(epochs [][][]float64, y []int, nComponents int, log *slog.Logger) (*CSP, error) {
	return FitShrunk(epochs, y, nComponents, 0, log)
}

// FitShrunk is Fit with each class covariance shrunk towards a multiple of the identity,
// (1-shrinkage)·C + shrinkage·trace(C)/n·I, as MNE's CSP(reg=shrinkage). Narrow-band CSP on few
// trials (filter-bank CSP) needs it: otherwise 64 spatial weights fit noise in 15 trials.
func FitShrunk(epochs [][][]float64, y []int, nComponents int, shrinkage float64, log *slog.Logger) (*CSP, error) {
	if !(shrinkage >= 0 && shrinkage <= 1) {
		return nil, fmt.Errorf("csp: shrinkage %v; want a value in [0, 1]", shrinkage)
	}
	if len(epochs) == 0 {
		return nil, fmt.Errorf("csp: no epochs")
	}
	if len(epochs) != len(y) {
		return nil, fmt.Errorf("csp: %d epochs for %d labels", len(epochs), len(y))
	}
	nCh := len(epochs[0])
	if nComponents < 1 || nComponents > nCh {
		return nil, fmt.Errorf("csp: %d components requested for %d channels (want 1..%d)", nComponents, nCh, nCh)
	}
	nClasses := 0
	for i, v := range y {
		if v < 0 {
			return nil, fmt.Errorf("csp: negative label %d of epoch %d", v, i)
		}
		nClasses = max(nClasses, v+1)
	}
	if nClasses < 2 {
		return nil, fmt.Errorf("csp: every epoch has label %d; CSP needs at least two classes", nClasses-1)
	}
	covs := make([]*mat.SymDense, nClasses)
	for k := range covs {
		covs[k] = mat.NewSymDense(nCh, nil)
	}
	counts := make([]int, nClasses)
	one := mat.NewSymDense(nCh, nil)
	for i, ep := range epochs {
		if len(ep) != nCh {
			return nil, fmt.Errorf("csp: epoch %d has %d channels, epoch 0 has %d", i, len(ep), nCh)
		}
		if err := riemann.Cov(one, ep); err != nil {
			return nil, fmt.Errorf("csp epoch %d: %w", i, err)
		}
		// The covariance of concatenated epochs is the sample-weighted mean of epoch covariances.
		dst, src := covs[y[i]].RawSymmetric(), one.RawSymmetric()
		n := float64(len(ep[0]))
		for r := 0; r < nCh; r++ {
			for c := r; c < nCh; c++ {
				dst.Data[r*dst.Stride+c] += n * src.Data[r*src.Stride+c]
			}
		}
		counts[y[i]] += len(ep[0])
	}
	for k := range covs {
		if counts[k] < 2 {
			return nil, fmt.Errorf("csp: class %d has fewer than 2 samples", k)
		}
		// MNE's estimate divides by N-1 (though it does not centre); matching it keeps the
		// features, not just the decisions, equal to MNE's.
		covs[k].ScaleSym(1/float64(counts[k]-1), covs[k])
		if shrinkage > 0 {
			mu := mat.Trace(covs[k]) / float64(nCh)
			covs[k].ScaleSym(1-shrinkage, covs[k])
			for d := 0; d < nCh; d++ {
				covs[k].SetSym(d, d, covs[k].At(d, d)+shrinkage*mu)
			}
		}
		if _, err := riemann.Regularize(covs[k], fmt.Sprintf("csp class %d covariance", k), log); err != nil {
			return nil, err
		}
	}
	if nClasses > 2 {
		return fitMulticlass(covs, nComponents)
	}
	var sum mat.SymDense
	sum.AddSym(covs[0], covs[1])
	vals, vecs, err := riemann.GenEigSym(covs[0], &sum)
	if err != nil {
		return nil, fmt.Errorf("csp: %w", err)
	}
	order := make([]int, nCh)
	for i := range order {
		order[i] = i
	}
	// numpy's argsort(|λ-0.5|)[::-1]: descending, ties in reverse index order.
	sort.SliceStable(order, func(a, b int) bool {
		da, db := math.Abs(vals[order[a]]-0.5), math.Abs(vals[order[b]]-0.5)
		if da != db {
			return da > db
		}
		return order[a] > order[b]
	})
	c := &CSP{Filters: make([][]float64, nComponents), Eigenvalues: make([]float64, nComponents)}
	for k := 0; k < nComponents; k++ {
		c.Filters[k] = mat.Col(nil, order[k], vecs)
		c.Eigenvalues[k] = vals[order[k]]
	}
	return c, nil
}

// Transform writes the log-variance feature of each component for the window x[channel][sample]
// into dst (len = number of components). scratch must hold len(x[0]) values; nothing is allocated.
func (c *CSP) Transform(dst []float64, x [][]float64, scratch []float64) error {
	if len(dst) != len(c.Filters) {
		return fmt.Errorf("csp: %d feature slots for %d components", len(dst), len(c.Filters))
	}
	if len(x) != len(c.Filters[0]) {
		return fmt.Errorf("csp: window has %d channels, filters expect %d", len(x), len(c.Filters[0]))
	}
	ns := len(x[0])
	if ns == 0 || len(scratch) < ns {
		return fmt.Errorf("csp: window of %d samples with scratch of %d", ns, len(scratch))
	}
	s := scratch[:ns]
	for k, w := range c.Filters {
		floats.ScaleTo(s, w[0], x[0])
		for ch := 1; ch < len(w); ch++ {
			if len(x[ch]) != ns {
				return fmt.Errorf("csp: channel %d has %d samples, channel 0 has %d", ch, len(x[ch]), ns)
			}
			floats.AddScaled(s, w[ch], x[ch])
		}
		p := floats.Dot(s, s) / float64(ns)
		if !(p > 0) {
			return fmt.Errorf("csp: component %d has zero power in this window (flat signal?)", k)
		}
		dst[k] = math.Log(p)
	}
	return nil
}
