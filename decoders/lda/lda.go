package lda

import (
	"fmt"
	"math"

	"github.com/neurostream/neurostream/decoders"
	"gonum.org/v1/gonum/mat"
)

// Shrinkage selects the covariance estimate: Auto is Ledoit-Wolf on standardised features (what
// scikit-learn's shrinkage='auto' does), a value in [0, 1] is a fixed shrinkage, None the empirical
// covariance.
const (
	Auto = -1.0
	None = 0.0
)

// LDA is a fitted linear discriminant. For two classes the decision is one score
// Coef·x + Intercept (positive means class 1); for more, one row per class.
type LDA struct {
	Coef      [][]float64 `json:"coef"`      // 1 x nFeatures for two classes, else nClasses x nFeatures
	Intercept []float64   `json:"intercept"` // 1 or nClasses
	Priors    []float64   `json:"priors"`
	Shrinkage []float64   `json:"shrinkage"` // Ledoit-Wolf coefficient used per class
}

// Fit trains on x[trial][feature] and y[trial] in 0..nClasses-1 with the given shrinkage
// (Auto, None or a value in [0, 1]).
func Fit(x [][]float64, y []int, nClasses int, shrinkage float64) (*LDA, error) {
	n := len(x)
	if n == 0 || n != len(y) {
		return nil, fmt.Errorf("lda: %d trials for %d labels", n, len(y))
	}
	if nClasses < 2 {
		return nil, fmt.Errorf("lda: %d classes; need at least 2", nClasses)
	}
	if shrinkage != Auto && !(shrinkage >= 0 && shrinkage <= 1) {
		return nil, fmt.Errorf("lda: shrinkage %v; want lda.Auto or a value in [0, 1]", shrinkage)
	}
	p := len(x[0])
	groups := make([][][]float64, nClasses)
	for i, row := range x {
		if len(row) != p {
			return nil, fmt.Errorf("lda: trial %d has %d features, trial 0 has %d", i, len(row), p)
		}
		if y[i] < 0 || y[i] >= nClasses {
			return nil, fmt.Errorf("lda: label %d of trial %d outside 0..%d", y[i], i, nClasses-1)
		}
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("lda: trial %d has a non-finite feature", i)
			}
		}
		groups[y[i]] = append(groups[y[i]], row)
	}
	l := &LDA{Priors: make([]float64, nClasses), Shrinkage: make([]float64, nClasses)}
	means := mat.NewDense(nClasses, p, nil)
	cov := mat.NewSymDense(p, nil)
	for k, g := range groups {
		if len(g) < 2 {
			return nil, fmt.Errorf("lda: class %d has %d trials; need at least 2", k, len(g))
		}
		l.Priors[k] = float64(len(g)) / float64(n)
		for _, row := range g {
			for j, v := range row {
				means.Set(k, j, means.At(k, j)+v/float64(len(g)))
			}
		}
		ck, s := shrunkCov(g, shrinkage)
		l.Shrinkage[k] = s
		var w mat.SymDense
		w.ScaleSym(l.Priors[k], ck)
		cov.AddSym(cov, &w)
	}
	// coef = (Σ⁻¹ μₖ)ᵀ, intercept = -½ μₖ·coefₖ + log πₖ, as scikit-learn's lsqr solver.
	var chol mat.Cholesky
	var sol mat.Dense
	if chol.Factorize(cov) {
		if err := chol.SolveTo(&sol, means.T()); err != nil {
			return nil, fmt.Errorf("lda: solving with the class covariance: %w", err)
		}
	} else if err := sol.Solve(cov, means.T()); err != nil {
		return nil, fmt.Errorf("lda: class covariance is singular (constant or duplicated features?); use shrinkage: %w", err)
	}
	coef := make([][]float64, nClasses)
	icpt := make([]float64, nClasses)
	for k := range coef {
		coef[k] = mat.Col(nil, k, &sol)
		icpt[k] = -0.5*mat.Dot(means.RowView(k), mat.NewVecDense(p, coef[k])) + math.Log(l.Priors[k])
	}
	if nClasses == 2 {
		d := make([]float64, p)
		for j := range d {
			d[j] = coef[1][j] - coef[0][j]
		}
		l.Coef, l.Intercept = [][]float64{d}, []float64{icpt[1] - icpt[0]}
	} else {
		l.Coef, l.Intercept = coef, icpt
	}
	return l, nil
}

// shrunkCov is scikit-learn's discriminant_analysis._cov: the biased covariance of the rows, with
// 'auto' computed as Ledoit-Wolf on standardised features and scaled back.
func shrunkCov(rows [][]float64, shrinkage float64) (*mat.SymDense, float64) {
	n, p := len(rows), len(rows[0])
	mean := make([]float64, p)
	for _, r := range rows {
		for j, v := range r {
			mean[j] += v / float64(n)
		}
	}
	scale := make([]float64, p)
	for _, r := range rows {
		for j, v := range r {
			scale[j] += (v - mean[j]) * (v - mean[j]) / float64(n)
		}
	}
	for j := range scale {
		scale[j] = math.Sqrt(scale[j])
		if scale[j] < 10*math.SmallestNonzeroFloat64*float64(n) || scale[j] == 0 {
			scale[j] = 1 // scikit-learn's StandardScaler leaves constant features unscaled
		}
	}
	z := mat.NewDense(n, p, nil)
	for i, r := range rows {
		for j, v := range r {
			z.Set(i, j, (v-mean[j])/scale[j])
		}
	}
	emp := mat.NewSymDense(p, nil)
	emp.SymOuterK(1/float64(n), z.T())
	s := shrinkage
	if shrinkage == Auto {
		s = ledoitWolfShrinkage(z)
	}
	mu := mat.Trace(emp) / float64(p)
	out := mat.NewSymDense(p, nil)
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			v := (1 - s) * emp.At(i, j)
			if i == j {
				v += s * mu
			}
			out.SetSym(i, j, v*scale[i]*scale[j])
		}
	}
	return out, s
}

// ledoitWolfShrinkage is scikit-learn's ledoit_wolf_shrinkage for centred data z (n x p).
func ledoitWolfShrinkage(z *mat.Dense) float64 {
	n, p := z.Dims()
	if p == 1 {
		return 0
	}
	var z2 mat.Dense
	z2.MulElem(z, z)
	traceTerms := make([]float64, p)
	for j := 0; j < p; j++ {
		for i := 0; i < n; i++ {
			traceTerms[j] += z2.At(i, j) / float64(n)
		}
	}
	mu := 0.0
	for _, v := range traceTerms {
		mu += v
	}
	traceSum := mu
	mu /= float64(p)
	var xtx, x2tx2 mat.Dense
	xtx.Mul(z.T(), z)
	x2tx2.Mul(z2.T(), &z2)
	delta, beta := 0.0, 0.0
	for i := 0; i < p; i++ {
		for j := 0; j < p; j++ {
			v := xtx.At(i, j)
			delta += v * v
			beta += x2tx2.At(i, j)
		}
	}
	nf := float64(n)
	delta /= nf * nf
	b := (beta/nf - delta) / (float64(p) * nf)
	d := (delta - 2*mu*traceSum + float64(p)*mu*mu) / float64(p)
	b = math.Min(b, d)
	if b == 0 {
		return 0
	}
	return b / d
}

// NumClasses is the number of classes the discriminant separates.
func (l *LDA) NumClasses() int { return len(l.Priors) }

// DecisionFunction writes the class scores of x into dst: one value for two classes, else one
// per class. Nothing is allocated.
func (l *LDA) DecisionFunction(dst, x []float64) error {
	if len(dst) != len(l.Coef) {
		return fmt.Errorf("lda: %d score slots for %d decision rows", len(dst), len(l.Coef))
	}
	for k, c := range l.Coef {
		if len(x) != len(c) {
			return fmt.Errorf("lda: %d features, model expects %d", len(x), len(c))
		}
		s := l.Intercept[k]
		for j, v := range x {
			s += c[j] * v
		}
		dst[k] = s
	}
	return nil
}

// PredictProba writes class probabilities of x into proba (len = number of classes) and returns
// the most probable class: the logistic of the score for two classes, softmax otherwise, as
// scikit-learn. Nothing is allocated.
func (l *LDA) PredictProba(proba, x []float64) (int, error) {
	k := len(l.Priors)
	if len(proba) != k {
		return 0, fmt.Errorf("lda: %d probability slots for %d classes", len(proba), k)
	}
	if k == 2 {
		if err := l.DecisionFunction(proba[:1], x); err != nil {
			return 0, err
		}
		p1 := 1 / (1 + math.Exp(-proba[0]))
		proba[0], proba[1] = 1-p1, p1
		if proba[0] >= proba[1] {
			return 0, nil
		}
		return 1, nil
	}
	if err := l.DecisionFunction(proba, x); err != nil {
		return 0, err
	}
	return decoders.Softmax(proba), nil
}
