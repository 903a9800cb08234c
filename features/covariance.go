package features

import (
	"fmt"
	"math"

	"github.com/neurostream/neurostream/streams"
)

// Covariance computes the spatial covariance of a window (samples as observations, channels as
// variables, centred on the window's channel means, divided by the number of samples), optionally shrunk
// towards μ·I with μ the mean variance, exactly as scikit-learn 1.2's estimators fitted on the window
// transposed (n_samples x n_channels):
//
//   - "empirical": sklearn.covariance.EmpiricalCovariance (no shrinkage).
//   - "ledoit_wolf" (default): sklearn.covariance.LedoitWolf, the shrinkage of Ledoit & Wolf 2004
//     (J Multivar Anal 88:365), min(β, δ)/δ in scikit-learn's formulation.
//   - "oas": sklearn.covariance.OAS, Chen et al. 2010 (IEEE Trans Signal Process 58:5016) as scikit-learn
//     implements it.
//
// Names: "cov/<ch1>/<ch2>" for the upper triangle row by row (diagonal included), then "cov_shrinkage"
// (0 for "empirical"). These matrices are the input of CSP and Riemannian decoders.
type Covariance struct {
	channelSet
	estimator string
	centred   [][]float64
	cov       []float64 // p x p, row-major
	sumSq     []float64 // per sample, Σ over channels of the centred value squared (Ledoit-Wolf)
	nOut      int
}

// NewCovariance returns a covariance extractor.
func NewCovariance(c ExtractorConfig) (*Covariance, error) {
	est := c.Estimator
	switch est {
	case "":
		est = "ledoit_wolf"
	case "ledoit_wolf", "oas", "empirical":
	default:
		return nil, fmt.Errorf("covariance: estimator %q, want ledoit_wolf, oas or empirical", c.Estimator)
	}
	return &Covariance{channelSet: channelSet{want: c.Channels}, estimator: est}, nil
}

// Configure implements Extractor.
func (e *Covariance) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if err := e.configure("covariance", info, windowSamples, 2); err != nil {
		return nil, err
	}
	p := len(e.idx)
	e.centred = make([][]float64, p)
	for i := range e.centred {
		e.centred[i] = make([]float64, windowSamples)
	}
	e.cov = make([]float64, p*p)
	e.sumSq = make([]float64, windowSamples)
	var names []string
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			names = append(names, "cov/"+e.names[i]+"/"+e.names[j])
		}
	}
	names = append(names, "cov_shrinkage")
	e.nOut = len(names)
	return names, nil
}

// Matrix returns the full p x p matrix (row-major) of the last Extract, over the configured channels.
// The slice is reused by the next Extract.
func (e *Covariance) Matrix() []float64 { return e.cov }

// Extract implements Extractor.
func (e *Covariance) Extract(window [][]float64, dst []float64) error {
	if err := e.check("covariance", window, dst, e.nOut); err != nil {
		return err
	}
	p, n := len(e.idx), float64(e.nWindow)
	for i, c := range e.idx {
		mean, _ := meanVar(window[c])
		for s, v := range window[c] {
			e.centred[i][s] = v - mean
		}
	}
	e.gram(n)
	var shrinkage, mu float64
	switch e.estimator {
	case "ledoit_wolf":
		shrinkage, mu = e.ledoitWolf()
	case "oas":
		shrinkage, mu = e.oas()
	}
	if shrinkage != 0 {
		for i := 0; i < p; i++ {
			for j := 0; j < p; j++ {
				e.cov[i*p+j] *= 1 - shrinkage
			}
			e.cov[i*p+i] += shrinkage * mu
		}
	}
	k := 0
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			dst[k] = e.cov[i*p+j]
			k++
		}
	}
	dst[k] = shrinkage
	return nil
}

// gram fills e.cov with the centred channels' dot products divided by n. Each dot product is summed
// over the samples in order, as a plain loop would (so the result does not depend on the blocking),
// but two rows are paired with four columns at a time: eight independent sums hide the addition
// latency and each loaded sample serves two or four products. The lower triangle is mirrored.
func (e *Covariance) gram(n float64) {
	x, p := e.centred, len(e.centred)
	put := func(i, j int, s float64) {
		e.cov[i*p+j] = s / n
		e.cov[j*p+i] = s / n
	}
	i := 0
	for ; i+1 < p; i += 2 {
		a := x[i]
		b := x[i+1][:len(a)]
		j := i
		for ; j+3 < p; j += 4 {
			c0, c1, c2, c3 := x[j][:len(a)], x[j+1][:len(a)], x[j+2][:len(a)], x[j+3][:len(a)]
			var s00, s01, s02, s03, s10, s11, s12, s13 float64
			for t, va := range a {
				vb := b[t]
				w0, w1, w2, w3 := c0[t], c1[t], c2[t], c3[t]
				s00 += va * w0
				s01 += va * w1
				s02 += va * w2
				s03 += va * w3
				s10 += vb * w0
				s11 += vb * w1
				s12 += vb * w2
				s13 += vb * w3
			}
			put(i, j, s00)
			put(i, j+1, s01)
			put(i, j+2, s02)
			put(i, j+3, s03)
			put(i+1, j, s10)
			put(i+1, j+1, s11)
			put(i+1, j+2, s12)
			put(i+1, j+3, s13)
		}
		for ; j < p; j++ {
			c := x[j][:len(a)]
			var sa, sb float64
			for t, va := range a {
				sa += va * c[t]
				sb += b[t] * c[t]
			}
			put(i, j, sa)
			put(i+1, j, sb)
		}
	}
	if i < p {
		a := x[i]
		var s float64
		for _, v := range a {
			s += v * v
		}
		put(i, i, s)
	}
}

// ledoitWolf returns scikit-learn's ledoit_wolf_shrinkage on the centred window and μ = trace/p.
func (e *Covariance) ledoitWolf() (shrinkage, mu float64) {
	p, n := len(e.idx), float64(e.nWindow)
	if p == 1 {
		return 0, e.cov[0]
	}
	var traceSum, beta_, delta_ float64
	for i := 0; i < p; i++ {
		traceSum += e.cov[i*p+i]
	}
	mu = traceSum / float64(p)
	// beta_ = Σ_ij (X2ᵀX2)_ij = Σ_t (Σ_i x_ti²)²; delta_ = Σ_ij (XᵀX)_ij² / n². The row sums of
	// squares are accumulated channel by channel, reading memory in order (same sums, same order).
	r := e.sumSq
	clear(r)
	for _, row := range e.centred {
		row = row[:len(r)]
		for t, v := range row {
			r[t] += v * v
		}
	}
	for _, v := range r {
		beta_ += v * v
	}
	for _, c := range e.cov {
		delta_ += c * n * c * n
	}
	delta_ /= n * n
	beta := 1 / (float64(p) * n) * (beta_/n - delta_)
	delta := (delta_ - 2*mu*traceSum + float64(p)*mu*mu) / float64(p)
	beta = math.Min(beta, delta)
	if beta == 0 {
		return 0, mu
	}
	return beta / delta, mu
}

// oas returns scikit-learn's OAS shrinkage (Chen et al.'s implementation formula) and μ = trace/p.
func (e *Covariance) oas() (shrinkage, mu float64) {
	p, n := len(e.idx), float64(e.nWindow)
	if p == 1 {
		return 0, e.cov[0]
	}
	var trace, sq float64
	for i := 0; i < p; i++ {
		trace += e.cov[i*p+i]
	}
	for _, c := range e.cov {
		sq += c * c
	}
	mu = trace / float64(p)
	alpha := sq / float64(p*p)
	num := alpha + mu*mu
	den := (n + 1) * (alpha - mu*mu/float64(p))
	if den == 0 {
		return 1, mu
	}
	return math.Min(num/den, 1), mu
}
