package riemann

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// MDM is the minimum-distance-to-mean classifier (pyRiemann's MDM, metric "riemann"): one
// Riemannian mean per class; a covariance is assigned to the class whose mean is nearest.
type MDM struct {
	Means []*mat.SymDense // per class, in class index order
	dists []*Distance
}

// FitMDM computes the class means of covs; y[i] is the class index (0..nClasses-1) of covs[i].
func FitMDM(covs []*mat.SymDense, y []int, nClasses int) (*MDM, error) {
	if len(covs) != len(y) {
		return nil, fmt.Errorf("mdm: %d covariances for %d labels", len(covs), len(y))
	}
	m := &MDM{Means: make([]*mat.SymDense, nClasses)}
	for k := 0; k < nClasses; k++ {
		var members []*mat.SymDense
		for i, c := range covs {
			if y[i] == k {
				members = append(members, c)
			}
		}
		if len(members) == 0 {
			return nil, fmt.Errorf("mdm: class %d has no training trials", k)
		}
		mean, err := MeanRiemann(members, MeanOptions{})
		if err != nil {
			return nil, fmt.Errorf("mdm class %d: %w", k, err)
		}
		m.Means[k] = mean
	}
	if err := m.Prepare(); err != nil {
		return nil, err
	}
	return m, nil
}

// Prepare builds the per-class distance state from Means (after loading a model).
func (m *MDM) Prepare() error {
	m.dists = make([]*Distance, len(m.Means))
	for k, mean := range m.Means {
		d, err := NewDistance(mean)
		if err != nil {
			return fmt.Errorf("mdm class %d: %w", k, err)
		}
		m.dists[k] = d
	}
	return nil
}

// Distances writes the distance from c to each class mean into dst (len = number of classes).
func (m *MDM) Distances(dst []float64, c *mat.SymDense) error {
	if len(dst) != len(m.dists) {
		return fmt.Errorf("mdm: %d distance slots for %d classes", len(dst), len(m.dists))
	}
	for k, d := range m.dists {
		v, err := d.To(c)
		if err != nil {
			return fmt.Errorf("mdm class %d: %w", k, err)
		}
		dst[k] = v
	}
	return nil
}

// Proba turns distances into class probabilities in place, softmax(-d²) as pyRiemann does, and
// returns the index of the nearest class.
func Proba(d []float64) int {
	best, minSq := 0, math.Inf(1)
	for k, v := range d {
		if v*v < minSq {
			best, minSq = k, v*v
		}
	}
	sum := 0.0
	for k, v := range d {
		d[k] = math.Exp(minSq - v*v)
		sum += d[k]
	}
	for k := range d {
		d[k] /= sum
	}
	return best
}
