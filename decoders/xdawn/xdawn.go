package xdawn

import (
	"fmt"
	"log/slog"
	"math"
	"sort"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/neurostream/neurostream/decoders/riemann"
)

// Xdawn holds, for every class in index order, NFilter spatial filters and the class prototype
// seen through them.
type Xdawn struct {
	NFilter int `json:"n_filter"`
	// Filters[k*NFilter+f] is filter f of class k (one weight per channel).
	Filters [][]float64 `json:"filters"`
	// Evokeds[k*NFilter+f] is class k's mean epoch filtered by Filters[k*NFilter+f].
	Evokeds [][]float64 `json:"evokeds"`
}

// Fit computes xDAWN filters from epochs[i][channel][sample] with labels y[i] in 0..nClasses-1:
// for each class, the generalized eigenvectors of (cov of the class mean epoch, cov of all the
// signal), largest first, each scaled to unit Euclidean norm (pyRiemann's convention).
func Fit(epochs [][][]float64, y []int, nClasses, nFilter int, log *slog.Logger) (*Xdawn, error) {
	if len(epochs) == 0 || len(epochs) != len(y) {
		return nil, fmt.Errorf("xdawn: %d epochs for %d labels", len(epochs), len(y))
	}
	nCh, nT := len(epochs[0]), len(epochs[0][0])
	if nFilter < 1 || nFilter > nCh {
		return nil, fmt.Errorf("xdawn: %d filters requested for %d channels (want 1..%d)", nFilter, nCh, nCh)
	}
	signal := mat.NewSymDense(nCh, nil)
	one := mat.NewSymDense(nCh, nil)
	means := make([][][]float64, nClasses)
	counts := make([]int, nClasses)
	for k := range means {
		means[k] = make([][]float64, nCh)
		for c := range means[k] {
			means[k][c] = make([]float64, nT)
		}
	}
	for i, ep := range epochs {
		if y[i] < 0 || y[i] >= nClasses {
			return nil, fmt.Errorf("xdawn: label %d of epoch %d outside 0..%d", y[i], i, nClasses-1)
		}
		if len(ep) != nCh || len(ep[0]) != nT {
			return nil, fmt.Errorf("xdawn: epoch %d is %dx%d, epoch 0 is %dx%d", i, len(ep), len(ep[0]), nCh, nT)
		}
		if err := riemann.Cov(one, ep); err != nil {
			return nil, fmt.Errorf("xdawn epoch %d: %w", i, err)
		}
		signal.AddSym(signal, one)
		for c, row := range ep {
			floats.Add(means[y[i]][c], row)
		}
		counts[y[i]]++
	}
	signal.ScaleSym(1/float64(len(epochs)), signal)
	if _, err := riemann.Regularize(signal, "xdawn signal covariance", log); err != nil {
		return nil, err
	}
	x := &Xdawn{NFilter: nFilter}
	for k := range means {
		if counts[k] == 0 {
			return nil, fmt.Errorf("xdawn: class %d has no epochs", k)
		}
		for c := range means[k] {
			floats.Scale(1/float64(counts[k]), means[k][c])
		}
		proto := mat.NewSymDense(nCh, nil)
		if err := riemann.Cov(proto, means[k]); err != nil {
			return nil, fmt.Errorf("xdawn class %d prototype: %w", k, err)
		}
		vals, vecs, err := riemann.GenEigSym(proto, signal)
		if err != nil {
			return nil, fmt.Errorf("xdawn class %d: %w", k, err)
		}
		order := make([]int, nCh)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
		for f := 0; f < nFilter; f++ {
			w := mat.Col(nil, order[f], vecs)
			floats.Scale(1/math.Sqrt(floats.Dot(w, w)), w)
			ev := make([]float64, nT)
			for c, wc := range w {
				floats.AddScaled(ev, wc, means[k][c])
			}
			x.Filters = append(x.Filters, w)
			x.Evokeds = append(x.Evokeds, ev)
		}
	}
	return x, nil
}

// CovDim is the size of the xDAWN covariance: prototypes plus filtered signal.
func (x *Xdawn) CovDim() int { return 2 * len(x.Filters) }

// NewBuffer allocates the rows Covariance needs for windows of nSamples, with the prototypes
// already in place; reuse it for every window.
func (x *Xdawn) NewBuffer(nSamples int) [][]float64 {
	rows := make([][]float64, x.CovDim())
	for i := range rows {
		rows[i] = make([]float64, nSamples)
		if i < len(x.Evokeds) {
			copy(rows[i], x.Evokeds[i])
		}
	}
	return rows
}

// Covariance sets dst (CovDim x CovDim) to the covariance of [prototypes; filtered window], as
// pyRiemann's XdawnCovariances, for the window w[channel][sample]. buf comes from NewBuffer.
func (x *Xdawn) Covariance(dst *mat.SymDense, w [][]float64, buf [][]float64) error {
	nf := len(x.Filters)
	if len(buf) != 2*nf {
		return fmt.Errorf("xdawn: buffer has %d rows, want %d (use NewBuffer)", len(buf), 2*nf)
	}
	if len(w) != len(x.Filters[0]) {
		return fmt.Errorf("xdawn: window has %d channels, filters expect %d", len(w), len(x.Filters[0]))
	}
	nT := len(buf[0])
	if len(x.Evokeds[0]) != nT {
		return fmt.Errorf("xdawn: window buffer of %d samples, prototypes have %d", nT, len(x.Evokeds[0]))
	}
	for f, filt := range x.Filters {
		out := buf[nf+f]
		for i := range out {
			out[i] = 0
		}
		for c, wc := range filt {
			if len(w[c]) != nT {
				return fmt.Errorf("xdawn: channel %d has %d samples, want %d", c, len(w[c]), nT)
			}
			floats.AddScaled(out, wc, w[c])
		}
	}
	return riemann.Cov(dst, buf)
}
