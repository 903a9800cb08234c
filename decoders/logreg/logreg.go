package logreg

import (
	"fmt"
	"math"

	"github.com/neurostream/neurostream/decoders"
)

// Model is a fitted logistic regression. For two classes Coef has one row (class 1 against 0);
// for more, one row per class (multinomial).
type Model struct {
	Coef      [][]float64 `json:"coef"`
	Intercept []float64   `json:"intercept"`
	NClasses  int         `json:"n_classes"`
}

// Options are the fit settings; zero values take scikit-learn's defaults except MaxIter, which is
// large enough to reach the optimum (the objective is strictly convex, so the solution is unique).
type Options struct {
	C       float64 // inverse regularisation strength (default 1)
	MaxIter int     // default 1000
}

// Fit trains on x[trial][feature] and y[trial] in 0..nClasses-1, minimising
// C·Σ log-loss + ½‖W‖² with L-BFGS.
func Fit(x [][]float64, y []int, nClasses int, opt Options) (*Model, error) {
	n := len(x)
	if n == 0 || n != len(y) {
		return nil, fmt.Errorf("logistic regression: %d trials for %d labels", n, len(y))
	}
	if nClasses < 2 {
		return nil, fmt.Errorf("logistic regression: %d classes; need at least 2", nClasses)
	}
	if opt.C == 0 {
		opt.C = 1
	}
	if !(opt.C > 0) {
		return nil, fmt.Errorf("logistic regression: C = %v; want a positive number", opt.C)
	}
	if opt.MaxIter == 0 {
		opt.MaxIter = 1000
	}
	p := len(x[0])
	seen := make([]bool, nClasses)
	for i, row := range x {
		if len(row) != p {
			return nil, fmt.Errorf("logistic regression: trial %d has %d features, trial 0 has %d", i, len(row), p)
		}
		if y[i] < 0 || y[i] >= nClasses {
			return nil, fmt.Errorf("logistic regression: label %d of trial %d outside 0..%d", y[i], i, nClasses-1)
		}
		seen[y[i]] = true
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("logistic regression: trial %d has a non-finite feature", i)
			}
		}
	}
	for k, s := range seen {
		if !s {
			return nil, fmt.Errorf("logistic regression: class %d has no training trials", k)
		}
	}
	rows := nClasses
	if nClasses == 2 {
		rows = 1
	}
	stride := p + 1 // per row: p weights then the intercept
	scores := make([]float64, nClasses)
	fg := func(w, grad []float64) float64 {
		f, _ := objective(w, grad, x, y, rows, stride, opt.C, scores)
		return f
	}
	sol, err := minimizeLBFGS(fg, make([]float64, rows*stride), opt.MaxIter)
	if err != nil {
		return nil, fmt.Errorf("logistic regression: %w", err)
	}
	m := &Model{NClasses: nClasses, Coef: make([][]float64, rows), Intercept: make([]float64, rows)}
	for r := 0; r < rows; r++ {
		m.Coef[r] = append([]float64(nil), sol[r*stride:r*stride+p]...)
		m.Intercept[r] = sol[r*stride+p]
	}
	return m, nil
}

// objective returns C·Σ loss + ½‖W‖² (intercepts unpenalised) and, if grad is non-nil, its gradient.
func objective(w, grad []float64, x [][]float64, y []int, rows, stride int, c float64, scores []float64) (float64, []float64) {
	p := stride - 1
	f := 0.0
	for i := range grad {
		grad[i] = 0
	}
	for i, xi := range x {
		if rows == 1 {
			z := w[p]
			for j, v := range xi {
				z += w[j] * v
			}
			// loss = log(1 + e^z) - t z with t = 1 for class 1, in a form that does not overflow.
			t := float64(y[i])
			f += softplus(z) - t*z
			if grad != nil {
				g := c * (sigmoid(z) - t)
				for j, v := range xi {
					grad[j] += g * v
				}
				grad[p] += g
			}
			continue
		}
		for k := 0; k < rows; k++ {
			z := w[k*stride+p]
			for j, v := range xi {
				z += w[k*stride+j] * v
			}
			scores[k] = z
		}
		m := scores[0]
		for _, s := range scores {
			m = math.Max(m, s)
		}
		sum := 0.0
		for _, s := range scores {
			sum += math.Exp(s - m)
		}
		lse := m + math.Log(sum)
		f += lse - scores[y[i]]
		if grad != nil {
			for k := 0; k < rows; k++ {
				g := math.Exp(scores[k] - lse)
				if k == y[i] {
					g--
				}
				g *= c
				for j, v := range xi {
					grad[k*stride+j] += g * v
				}
				grad[k*stride+p] += g
			}
		}
	}
	f *= c
	for r := 0; r < rows; r++ {
		for j := 0; j < p; j++ {
			v := w[r*stride+j]
			f += 0.5 * v * v
			if grad != nil {
				grad[r*stride+j] += v
			}
		}
	}
	return f, grad
}

func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// PredictProba writes class probabilities of x into proba (len = number of classes) and returns
// the most probable class. Nothing is allocated.
func (m *Model) PredictProba(proba, x []float64) (int, error) {
	if len(proba) != m.NClasses {
		return 0, fmt.Errorf("logistic regression: %d probability slots for %d classes", len(proba), m.NClasses)
	}
	for r, c := range m.Coef {
		if len(x) != len(c) {
			return 0, fmt.Errorf("logistic regression: %d features, model expects %d", len(x), len(c))
		}
		z := m.Intercept[r]
		for j, v := range x {
			z += c[j] * v
		}
		proba[r] = z
	}
	if m.NClasses == 2 {
		z := proba[0]
		// scikit-learn predicts class 1 when the decision function is strictly positive.
		proba[1] = sigmoid(z)
		proba[0] = 1 - proba[1]
		if z > 0 {
			return 1, nil
		}
		return 0, nil
	}
	return decoders.Softmax(proba), nil
}
