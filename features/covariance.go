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
	for i := 0; i < p; i++ {
		xi := e.centred[i]
		for j := i; j < p; j++ {
			xj := e.centred[j]
			var s float64
			for t := range xi {
				s += xi[t] * xj[t]
			}
			e.cov[i*p+j] = s / n
			e.cov[j*p+i] = s / n
		}
	}
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
	// beta_ = Σ_ij (X2ᵀX2)_ij = Σ_t (Σ_i x_ti²)²; delta_ = Σ_ij (XᵀX)_ij² / n².
	for t := 0; t < e.nWindow; t++ {
		var r float64
		for i := 0; i < p; i++ {
			v := e.centred[i][t]
			r += v * v
		}
		beta_ += r * r
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
