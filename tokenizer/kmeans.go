package tokenizer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// KMeansConfig configures KMeans. The defaults are scikit-learn's KMeans defaults.
type KMeansConfig struct {
	K       int
	MaxIter int     // default 300
	Tol     float64 // relative to the mean per-dimension variance of the data, as scikit-learn; default 1e-4, <0 for 0
	Seed    uint64
	// Init, if set, are the K starting centres (row-major, K x dim); otherwise greedy k-means++.
	Init []float64
	// Progress, if set, is called after every iteration.
	Progress func(iter int, inertia float64)
}

// KMeansResult is a fitted clustering.
type KMeansResult struct {
	Centers    []float64 // K x dim, row-major
	Labels     []int32
	Inertia    float64 // sum of squared distances of the samples to their centres
	Iterations int
}

// KMeans clusters the n = len(x)/dim row-major samples of x with Lloyd's algorithm, following
// scikit-learn's KMeans(algorithm="lloyd", n_init=1): it stops when an iteration changes no label
// (strict convergence) or the centres move less than Tol in total squared distance; empty clusters
// take the samples farthest from their centres. Assignments run on all cores; the result does not
// depend on how many there are.
func KMeans(ctx context.Context, x []float64, dim int, cfg KMeansConfig) (*KMeansResult, error) {
	if dim < 1 || len(x) == 0 || len(x)%dim != 0 {
		return nil, fmt.Errorf("kmeans: %d values are not whole samples of dimension %d", len(x), dim)
	}
	n := len(x) / dim
	k := cfg.K
	if k < 1 || k > n {
		return nil, fmt.Errorf("kmeans: %d clusters for %d samples: want 1 <= K <= samples", k, n)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("kmeans: sample %d is not finite", i/dim)
		}
	}
	maxIter := cfg.MaxIter
	if maxIter <= 0 {
		maxIter = 300
	}
	tol := cfg.Tol
	switch {
	case tol == 0:
		tol = 1e-4
	case tol < 0:
		tol = 0
	}
	tol *= meanVariance(x, dim)

	centers := make([]float64, k*dim)
	if cfg.Init != nil {
		if len(cfg.Init) != k*dim {
			return nil, fmt.Errorf("kmeans: %d initial centre values, want K x dim = %d", len(cfg.Init), k*dim)
		}
		copy(centers, cfg.Init)
	} else {
		kmeansPlusPlus(x, dim, k, rand.New(rand.NewPCG(cfg.Seed, 0x6b6d65616e73)), centers)
	}
	a := newAssigner(x, dim, k)
	labels := make([]int32, n)
	old := make([]int32, n)
	for i := range old {
		old[i] = -1
	}
	next := make([]float64, k*dim)
	counts := make([]int, k)
	res := &KMeansResult{}
	strict := false
	for it := 1; it <= maxIter; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a.assign(centers, labels)
		updateCenters(x, dim, labels, centers, next, counts)
		shift := 0.0
		for i := range next {
			d := next[i] - centers[i]
			shift += d * d
		}
		centers, next = next, centers
		res.Iterations = it
		if cfg.Progress != nil {
			cfg.Progress(it, inertia(x, dim, centers, labels))
		}
		if slices.Equal(labels, old) {
			strict = true
			break
		}
		if shift <= tol {
			break
		}
		copy(old, labels)
	}
	if !strict { // labels that match the final centres
		a.assign(centers, labels)
	}
	res.Centers, res.Labels, res.Inertia = centers, labels, inertia(x, dim, centers, labels)
	return res, nil
}

func meanVariance(x []float64, dim int) float64 {
	n := float64(len(x) / dim)
	total := 0.0
	for d := 0; d < dim; d++ {
		m := 0.0
		for i := d; i < len(x); i += dim {
			m += x[i]
		}
		m /= n
		v := 0.0
		for i := d; i < len(x); i += dim {
			v += (x[i] - m) * (x[i] - m)
		}
		total += v / n
	}
	return total / float64(dim)
}

// updateCenters sets next to the mean of each cluster's samples; a cluster left empty takes the
// sample farthest from its current centre, which leaves its old cluster (scikit-learn's relocation).
func updateCenters(x []float64, dim int, labels []int32, centers, next []float64, counts []int) {
	clear(next)
	clear(counts)
	for i, l := range labels {
		counts[l]++
		row := x[i*dim : (i+1)*dim]
		dst := next[int(l)*dim : (int(l)+1)*dim]
		for d, v := range row {
			dst[d] += v
		}
	}
	var empty []int
	for c, n := range counts {
		if n == 0 {
			empty = append(empty, c)
		}
	}
	if len(empty) > 0 {
		far := farthest(x, dim, centers, labels, len(empty))
		for j, c := range empty {
			i := far[j]
			row := x[i*dim : (i+1)*dim]
			from := int(labels[i])
			for d, v := range row {
				next[from*dim+d] -= v
				next[c*dim+d] = v
			}
			counts[from]--
			counts[c] = 1
		}
	}
	for c, n := range counts {
		if n > 0 {
			inv := 1 / float64(n)
			for d := range dim {
				next[c*dim+d] *= inv
			}
		}
	}
}

// farthest returns the m samples farthest from their centres, farthest first.
func farthest(x []float64, dim int, centers []float64, labels []int32, m int) []int {
	idx := make([]int, len(labels))
	dist := make([]float64, len(labels))
	for i := range labels {
		idx[i] = i
		dist[i] = sqDist(x[i*dim:(i+1)*dim], centers[int(labels[i])*dim:])
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case dist[a] > dist[b]:
			return -1
		case dist[a] < dist[b]:
			return 1
		}
		return 0
	})
	return idx[:m]
}

func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

func inertia(x []float64, dim int, centers []float64, labels []int32) float64 {
	s := 0.0
	for i, l := range labels {
		s += sqDist(x[i*dim:(i+1)*dim], centers[int(l)*dim:])
	}
	return s
}

// assigner labels samples with their nearest centre, in parallel over blocks of samples.
type assigner struct {
	x        []float64
	dim, k   int
	norms    []float64 // squared norms of the centres
	nWorkers int
}

func newAssigner(x []float64, dim, k int) *assigner {
	return &assigner{x: x, dim: dim, k: k, norms: make([]float64, k), nWorkers: runtime.GOMAXPROCS(0)}
}

func (a *assigner) assign(centers []float64, labels []int32) {
	for c := range a.k {
		a.norms[c] = dot(centers[c*a.dim:(c+1)*a.dim], centers[c*a.dim:])
	}
	n := len(labels)
	block := (n + a.nWorkers - 1) / a.nWorkers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				labels[i] = int32(nearest(a.x[i*a.dim:(i+1)*a.dim], centers, a.norms))
			}
		}()
	}
	wg.Wait()
}

// nearest returns the index of the centre closest to v: argmin |c|^2 - 2 c.v (|v|^2 is common).
func nearest(v, centers, norms []float64) int {
	dim := len(v)
	best, bestD := 0, math.Inf(1)
	for c, nc := range norms {
		d := nc - 2*dot(v, centers[c*dim:(c+1)*dim])
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// kmeansPlusPlus picks k starting centres by greedy k-means++ (Arthur & Vassilvitskii 2007, with
// 2 + ln k local trials per centre as scikit-learn).
func kmeansPlusPlus(x []float64, dim, k int, rng *rand.Rand, centers []float64) {
	n := len(x) / dim
	trials := 2 + int(math.Log(float64(k)))
	first := rng.IntN(n)
	copy(centers, x[first*dim:(first+1)*dim])
	closest := make([]float64, n)
	pot := 0.0
	for i := range n {
		closest[i] = sqDist(x[i*dim:(i+1)*dim], centers)
		pot += closest[i]
	}
	cum := make([]float64, n)
	cand := make([]float64, n)
	best := make([]float64, n)
	for c := 1; c < k; c++ {
		s := 0.0
		for i, d := range closest {
			s += d
			cum[i] = s
		}
		bestPot, bestID := math.Inf(1), 0
		for range trials {
			id, _ := slices.BinarySearch(cum, rng.Float64()*pot)
			id = min(id, n-1)
			p := 0.0
			row := x[id*dim : (id+1)*dim]
			for i := range n {
				cand[i] = min(closest[i], sqDist(x[i*dim:(i+1)*dim], row))
				p += cand[i]
			}
			if p < bestPot {
				bestPot, bestID = p, id
				copy(best, cand)
			}
		}
		copy(centers[c*dim:(c+1)*dim], x[bestID*dim:(bestID+1)*dim])
		copy(closest, best)
		pot = bestPot
	}
}
