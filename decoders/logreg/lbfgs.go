package logreg

import (
	"fmt"
	"math"
)

// minimizeLBFGS minimises a smooth convex function with limited-memory BFGS and a backtracking
// (Armijo) line search. It is written here because gonum's optimize package pulls in a module the
// project does not depend on. fg returns f(w) and fills grad.
func minimizeLBFGS(fg func(w, grad []float64) float64, w []float64, maxIter int) ([]float64, error) {
	const memory = 10
	n := len(w)
	g := make([]float64, n)
	f := fg(w, g)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("objective is %v at the start (non-finite features?)", f)
	}
	var sHist, yHist [][]float64
	var rho []float64
	dir := make([]float64, n)
	wNew := make([]float64, n)
	gNew := make([]float64, n)
	alpha := make([]float64, memory)
	for it := 0; it < maxIter; it++ {
		if maxAbs(g) < 1e-9*math.Max(1, math.Abs(f)) {
			break
		}
		// Two-loop recursion: dir = -H g.
		copy(dir, g)
		for k := len(sHist) - 1; k >= 0; k-- {
			alpha[k] = rho[k] * dot(sHist[k], dir)
			axpy(dir, -alpha[k], yHist[k])
		}
		if m := len(sHist); m > 0 {
			gamma := dot(sHist[m-1], yHist[m-1]) / dot(yHist[m-1], yHist[m-1])
			scale(dir, gamma)
		} else {
			scale(dir, 1/math.Max(1, math.Sqrt(dot(g, g))))
		}
		for k := range sHist {
			b := rho[k] * dot(yHist[k], dir)
			axpy(dir, alpha[k]-b, sHist[k])
		}
		scale(dir, -1)
		slope := dot(g, dir)
		if slope >= 0 { // not a descent direction: restart from steepest descent
			sHist, yHist, rho = nil, nil, nil
			copy(dir, g)
			scale(dir, -1/math.Max(1, math.Sqrt(dot(g, g))))
			slope = dot(g, dir)
		}
		step, fNew := 1.0, 0.0
		for ls := 0; ; ls++ {
			for i := range w {
				wNew[i] = w[i] + step*dir[i]
			}
			fNew = fg(wNew, gNew)
			if fNew <= f+1e-4*step*slope {
				break
			}
			if ls == 60 {
				return w, nil // no further decrease possible at machine precision
			}
			step *= 0.5
		}
		s := make([]float64, n)
		yv := make([]float64, n)
		for i := range w {
			s[i] = wNew[i] - w[i]
			yv[i] = gNew[i] - g[i]
		}
		if sy := dot(s, yv); sy > 1e-12*math.Sqrt(dot(s, s)*dot(yv, yv)) {
			if len(sHist) == memory {
				sHist, yHist, rho = sHist[1:], yHist[1:], rho[1:]
			}
			sHist, yHist, rho = append(sHist, s), append(yHist, yv), append(rho, 1/sy)
		}
		copy(w, wNew)
		copy(g, gNew)
		done := math.Abs(f-fNew) <= 1e-15*math.Max(1, math.Abs(f))
		f = fNew
		if done {
			break
		}
	}
	return w, nil
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpy(dst []float64, a float64, x []float64) {
	for i, v := range x {
		dst[i] += a * v
	}
}

func scale(x []float64, a float64) {
	for i := range x {
		x[i] *= a
	}
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}
