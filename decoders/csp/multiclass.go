package csp

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// fitMulticlass is MNE's CSP for more than two classes: Pham's approximate joint diagonalization
// of the class covariances, each filter scaled to unit variance under the mean class covariance,
// and components ordered by decreasing mutual information (MNE's approximation). MNE 1.3 weighs
// the classes equally here (its concatenated-covariance weight is the channel count, the same for
// every class), and so does this.
func fitMulticlass(covs []*mat.SymDense, nComponents int) (*CSP, error) {
	n, k := covs[0].SymmetricDim(), len(covs)
	v, err := ajdPham(covs, 1e-6, 15)
	if err != nil {
		return nil, err
	}
	mean := mat.NewSymDense(n, nil)
	for _, c := range covs {
		mean.AddSym(mean, c)
	}
	mean.ScaleSym(1/float64(k), mean)
	filters := make([][]float64, n)
	mi := make([]float64, n)
	for j := 0; j < n; j++ {
		w := mat.NewVecDense(n, mat.Row(nil, j, v)) // rows of V are the filters (columns of Vᵀ)
		w.ScaleVec(1/math.Sqrt(mat.Inner(w, mean, w)), w)
		aa, bb := 0.0, 0.0
		for _, c := range covs {
			q := mat.Inner(w, c, w)
			aa += math.Log(math.Sqrt(q)) / float64(k)
			bb += (q*q - 1) / float64(k)
		}
		mi[j] = -(aa + 3.0/16*bb*bb)
		filters[j] = w.RawVector().Data
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	// numpy's argsort(mi)[::-1]: descending, ties in reverse index order.
	sort.SliceStable(order, func(a, b int) bool {
		if mi[order[a]] != mi[order[b]] {
			return mi[order[a]] > mi[order[b]]
		}
		return order[a] > order[b]
	})
	out := &CSP{Filters: make([][]float64, nComponents), Eigenvalues: make([]float64, nComponents)}
	for c := 0; c < nComponents; c++ {
		out.Filters[c] = filters[order[c]]
		out.Eigenvalues[c] = mi[order[c]] // mutual information, for the multiclass case
	}
	return out, nil
}

// ajdPham returns V (n x n) such that V Cₖ Vᵀ are as diagonal as possible for every k (Pham 2001),
// following MNE's _ajd_pham step for step: sweeps of 2x2 transforms over channel pairs until the
// decrease of the criterion is below n(n-1)·eps or maxIter sweeps.
func ajdPham(covs []*mat.SymDense, eps float64, maxIter int) (*mat.Dense, error) {
	n, k := covs[0].SymmetricDim(), len(covs)
	a := make([]*mat.Dense, k)
	for i, c := range covs {
		a[i] = mat.DenseCopyOf(c)
	}
	v := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		v.Set(i, i, 1)
	}
	epsilon := float64(n*(n-1)) * eps
	for it := 0; it < maxIter; it++ {
		decr := 0.0
		for ii := 1; ii < n; ii++ {
			for jj := 0; jj < ii; jj++ {
				var g12, g21, o21, o12 float64
				for _, m := range a {
					c1, c2, x := m.At(ii, ii), m.At(jj, jj), m.At(ii, jj)
					g12 += x / c1
					g21 += x / c2
					o21 += c1 / c2
					o12 += c2 / c1
				}
				kf := float64(k)
				g12, g21, o21, o12 = g12/kf, g21/kf, o21/kf, o12/kf
				omega := math.Sqrt(o12 * o21)
				t := math.Sqrt(o21 / o12)
				t1 := (t*g12 + g21) / (omega + 1)
				t2 := (t*g12 - g21) / math.Max(omega-1, 1e-9)
				h12 := t1 + t2
				h21 := (t1 - t2) / t
				decr += kf * (g12*h12 + g21*h21) / 2
				// Real part of 1 + sqrt(1 - h12·h21) with numpy's complex square root.
				d := 1 + math.Sqrt(math.Max(0, 1-h12*h21))
				t12, t21 := -h12/d, -h21/d
				if math.IsNaN(t12) || math.IsNaN(t21) || math.IsInf(t12, 0) || math.IsInf(t21, 0) {
					return nil, fmt.Errorf("csp: joint diagonalization diverged (singular class covariance?)")
				}
				// Rows then columns ii, jj of every matrix, and rows of V, by [[1, t12], [t21, 1]].
				for _, m := range append(a, v) {
					_, cols := m.Dims()
					for c := 0; c < cols; c++ {
						ri, rj := m.At(ii, c), m.At(jj, c)
						m.Set(ii, c, ri+t12*rj)
						m.Set(jj, c, t21*ri+rj)
					}
				}
				for _, m := range a {
					for r := 0; r < n; r++ {
						ci, cj := m.At(r, ii), m.At(r, jj)
						m.Set(r, ii, ci+t12*cj)
						m.Set(r, jj, t21*ci+cj)
					}
				}
			}
		}
		if decr < epsilon {
			break
		}
	}
	return v, nil
}
