package csp

import (
	"fmt"
	"math"
	"sort"
)

// MutualInfo returns, for each feature column of x (x[trial][feature]), the mutual information
// in bits between the feature and the class label y[trial] in 0..nClasses-1, estimated with
// Gaussian Parzen windows (bandwidth by Silverman's rule) as in the MIBIF step of FBCSP.
func MutualInfo(x [][]float64, y []int, nClasses int) ([]float64, error) {
	n := len(x)
	if n < 2 || n != len(y) {
		return nil, fmt.Errorf("mutual information: %d trials for %d labels (need at least 2)", n, len(y))
	}
	nf := len(x[0])
	prior := make([]float64, nClasses)
	for _, k := range y {
		if k < 0 || k >= nClasses {
			return nil, fmt.Errorf("mutual information: label %d outside 0..%d", k, nClasses-1)
		}
		prior[k]++
	}
	hClass := 0.0
	for k := range prior {
		prior[k] /= float64(n)
		if prior[k] > 0 {
			hClass -= prior[k] * math.Log2(prior[k])
		}
	}
	mi := make([]float64, nf)
	cond := make([]float64, nClasses)
	for j := 0; j < nf; j++ {
		mean, sq := 0.0, 0.0
		for i := range x {
			mean += x[i][j]
		}
		mean /= float64(n)
		for i := range x {
			sq += (x[i][j] - mean) * (x[i][j] - mean)
		}
		sd := math.Sqrt(sq / float64(n-1))
		if sd == 0 {
			continue // a constant feature carries no information
		}
		h := math.Pow(4/(3*float64(n)), 0.2) * sd
		hCond := 0.0
		for i := range x {
			total := 0.0
			for k := range cond {
				cond[k] = 0
			}
			for m := range x {
				d := (x[i][j] - x[m][j]) / h
				cond[y[m]] += math.Exp(-0.5 * d * d)
			}
			for k := range cond {
				if prior[k] > 0 {
					// p(f|k) P(k) with p(f|k) the class-k kernel density: the kernel sum / n_k times n_k / n.
					cond[k] /= float64(n)
				}
				total += cond[k]
			}
			for k := range cond {
				if p := cond[k] / total; p > 0 {
					hCond -= p * math.Log2(p)
				}
			}
		}
		mi[j] = hClass - hCond/float64(n)
	}
	return mi, nil
}

// SelectBest returns the indices of the k largest scores, best first.
func SelectBest(scores []float64, k int) ([]int, error) {
	if k < 1 || k > len(scores) {
		return nil, fmt.Errorf("feature selection: %d features requested of %d", k, len(scores))
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	return idx[:k], nil
}
