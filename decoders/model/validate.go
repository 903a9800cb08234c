package model

import (
	"fmt"
	"math"

	"github.com/neurostream/neurostream/decoders/riemann"
)

// A model file comes from disk, possibly from someone else: everything a decoder indexes, divides by
// or allocates from is checked when the file is loaded, so that a damaged or hostile file fails there
// with one error naming the field, not later with a panic, an out-of-memory or a warning per frame.
const (
	maxChannels      = 4096
	maxClasses       = 1024
	minRateHz        = 1
	maxRateHz        = 1e6
	maxWindowSec     = 600     // ten minutes of signal in one window
	maxWindowSamples = 1 << 22 // and never more than 4 Mi samples
	maxWindowValues  = 1 << 25 // channels x window samples held per window (256 MiB of float64)
	maxFilterOrder   = 64      // dsp.Butter's own bound
	maxHorizon       = 1 << 20
	// maxWeight bounds every weight, mean and matrix entry: data in volts make weights of 1e5-1e7,
	// while 1e308 overflows the first product to infinity.
	maxWeight = 1e30
)

// fieldErr names the offending field by its JSON path.
func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("field %s: %s", field, fmt.Sprintf(format, args...))
}

// finite checks that v is a finite number of at most maxWeight in magnitude.
func finite(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fieldErr(field, "%v is not a finite number", v)
	}
	if math.Abs(v) > maxWeight {
		return fieldErr(field, "%g is beyond ±%g: not a plausible weight", v, maxWeight)
	}
	return nil
}

func finiteVec(field string, v []float64, want int) error {
	if want >= 0 && len(v) != want {
		return fieldErr(field, "%d values, want %d", len(v), want)
	}
	for i, x := range v {
		if err := finite(fmt.Sprintf("%s[%d]", field, i), x); err != nil {
			return err
		}
	}
	return nil
}

// matrix checks rows x cols of finite values (rows or cols < 0: any, but at least one row).
func matrix(field string, m [][]float64, rows, cols int) error {
	if rows >= 0 && len(m) != rows {
		return fieldErr(field, "%d rows, want %d", len(m), rows)
	}
	if len(m) == 0 {
		return fieldErr(field, "empty")
	}
	if cols < 0 {
		cols = len(m[0])
	}
	for i, r := range m {
		if err := finiteVec(fmt.Sprintf("%s[%d]", field, i), r, cols); err != nil {
			return err
		}
	}
	return nil
}

// spd checks an n x n symmetric matrix with a positive diagonal (a covariance or a Riemannian mean;
// positive definiteness itself is checked when the decoder factorises it).
func spd(field string, m [][]float64, n int) error {
	if err := matrix(field, m, n, n); err != nil {
		return err
	}
	for i := range m {
		if !(m[i][i] > 0) {
			return fieldErr(fmt.Sprintf("%s[%d][%d]", field, i, i), "diagonal entry %g, want > 0 (not a covariance)", m[i][i])
		}
		for j := i + 1; j < n; j++ {
			if d := math.Abs(m[i][j] - m[j][i]); d > 1e-9*(math.Abs(m[i][j])+math.Abs(m[j][i])) && d > 1e-300 {
				return fieldErr(fmt.Sprintf("%s[%d][%d]", field, i, j), "%g but [%d][%d] is %g: not symmetric", m[i][j], j, i, m[j][i])
			}
		}
	}
	return nil
}

// band checks a band-pass's edges and order against the sampling rate.
func band(field string, b [2]float64, order int, rateHz float64) error {
	if order < 1 || order > maxFilterOrder {
		return fieldErr(field+".order", "%d, want 1..%d", order, maxFilterOrder)
	}
	if math.IsNaN(b[0]) || math.IsNaN(b[1]) || !(b[0] > 0) || !(b[1] > b[0]) || !(b[1] < rateHz/2) {
		return fieldErr(field+".band_hz", "%v Hz, want 0 < low < high < %g Hz (Nyquist at %g Hz)", b, rateHz/2, rateHz)
	}
	return nil
}

// Validate checks the whole file: every dimension consistent with the channels, classes and window,
// every number finite and in range, every size bounded. The error names the first offending field.
func (f *File) Validate() error {
	if _, err := ParseKind(string(f.Decoder)); err != nil {
		return fieldErr("decoder", "%v", err)
	}
	nCh, nCl := len(f.Channels), len(f.Classes)
	if nCh == 0 || nCh > maxChannels {
		return fieldErr("channels", "%d channels, want 1..%d", nCh, maxChannels)
	}
	seen := make(map[string]int, nCh)
	for i, c := range f.Channels {
		if c == "" {
			return fieldErr(fmt.Sprintf("channels[%d]", i), "empty name")
		}
		// Bind matches names ignoring case, spaces and trailing dots: two names equal that way
		// would both bind to one stream channel.
		if j, dup := seen[normName(c)]; dup {
			return fieldErr(fmt.Sprintf("channels[%d]", i), "%q repeats channels[%d] %q", c, j, f.Channels[j])
		}
		seen[normName(c)] = i
	}
	if math.IsNaN(f.SampleRateHz) || f.SampleRateHz < minRateHz || f.SampleRateHz > maxRateHz {
		return fieldErr("sample_rate_hz", "%v Hz, want %g..%g", f.SampleRateHz, float64(minRateHz), maxRateHz)
	}
	maxWin := min(maxWindowSamples, int(maxWindowSec*f.SampleRateHz), maxWindowValues/nCh)
	if f.WindowSamples < 2 || f.WindowSamples > maxWin {
		return fieldErr("window_samples", "%d, want 2..%d (%d channels at %g Hz)", f.WindowSamples, maxWin, nCh, f.SampleRateHz)
	}
	for _, t := range []struct {
		name string
		v    float64
	}{{"tmin_sec", f.TminSec}, {"tmax_sec", f.TmaxSec}} {
		if math.IsNaN(t.v) || math.Abs(t.v) > 1e6 {
			return fieldErr(t.name, "%v s is not a plausible epoch time", t.v)
		}
	}
	if nCl < 2 || nCl > maxClasses {
		return fieldErr("classes", "%d classes, want 2..%d", nCl, maxClasses)
	}
	classSeen := make(map[string]int, nCl)
	for i, c := range f.Classes {
		if j, dup := classSeen[c]; dup {
			return fieldErr(fmt.Sprintf("classes[%d]", i), "%q repeats classes[%d]", c, j)
		}
		classSeen[c] = i
	}
	if f.Filter != (Filter{}) {
		if f.Filter.Type != "butter" {
			return fieldErr("filter.type", "%q, want \"butter\"", f.Filter.Type)
		}
		if err := band("filter", f.Filter.BandHz, f.Filter.Order, f.SampleRateHz); err != nil {
			return err
		}
	}
	if f.RecenterHorizon < 0 || f.RecenterHorizon > maxHorizon {
		return fieldErr("recenter_horizon", "%d windows, want 0..%d", f.RecenterHorizon, maxHorizon)
	}
	if f.Recenter && f.Decoder != MDM && f.Decoder != TSLR {
		return fieldErr("recenter", "re-centering applies to mdm and ts-lr, not %s", f.Decoder)
	}
	missing := func(what string) error { return fieldErr(what, "missing: a %s model needs it", f.Decoder) }
	switch f.Decoder {
	case CSPLDA:
		if f.CSP == nil {
			return missing("csp")
		}
		if err := f.checkCSP("csp", f.CSP.Filters, f.CSP.Eigenvalues); err != nil {
			return err
		}
		return f.checkLDA(len(f.CSP.Filters))
	case FBCSP:
		if len(f.Bands) == 0 {
			return missing("bands")
		}
		total := 0
		for i, b := range f.Bands {
			field := fmt.Sprintf("bands[%d]", i)
			if err := band(field, b.BandHz, b.Order, f.SampleRateHz); err != nil {
				return err
			}
			if b.CSP == nil {
				return fieldErr(field+".csp", "missing")
			}
			if err := f.checkCSP(field+".csp", b.CSP.Filters, b.CSP.Eigenvalues); err != nil {
				return err
			}
			total += len(b.CSP.Filters)
		}
		if len(f.Selected) == 0 {
			return missing("selected_features")
		}
		for i, j := range f.Selected {
			if j < 0 || j >= total {
				return fieldErr(fmt.Sprintf("selected_features[%d]", i), "%d outside the %d filter-bank features", j, total)
			}
		}
		return f.checkLDA(len(f.Selected))
	case MDM:
		if len(f.Means) != nCl {
			return fieldErr("class_means", "%d means for %d classes", len(f.Means), nCl)
		}
		for k, m := range f.Means {
			if err := spd(fmt.Sprintf("class_means[%d]", k), m, nCh); err != nil {
				return err
			}
		}
	case TSLR:
		if f.Reference == nil {
			return missing("reference")
		}
		if err := spd("reference", f.Reference, nCh); err != nil {
			return err
		}
		return f.checkLogReg(riemann.TangentDim(nCh))
	case XdawnTS:
		x := f.Xdawn
		if x == nil {
			return missing("xdawn")
		}
		if x.NFilter < 1 || x.NFilter > nCh {
			return fieldErr("xdawn.n_filter", "%d, want 1..%d (the channels)", x.NFilter, nCh)
		}
		nf := nCl * x.NFilter
		if err := matrix("xdawn.filters", x.Filters, nf, nCh); err != nil {
			return err
		}
		if err := matrix("xdawn.evokeds", x.Evokeds, nf, f.WindowSamples); err != nil {
			return err
		}
		if f.Reference == nil {
			return missing("reference")
		}
		if err := spd("reference", f.Reference, 2*nf); err != nil {
			return err
		}
		return f.checkLogReg(riemann.TangentDim(2 * nf))
	}
	return nil
}

// checkCSP checks spatial filters: at least one, one weight per channel each.
func (f *File) checkCSP(field string, filters [][]float64, eig []float64) error {
	if len(filters) == 0 || len(filters) > len(f.Channels) {
		return fieldErr(field+".filters", "%d filters, want 1..%d (the channels)", len(filters), len(f.Channels))
	}
	if err := matrix(field+".filters", filters, -1, len(f.Channels)); err != nil {
		return err
	}
	if len(eig) > 0 {
		return finiteVec(field+".eigenvalues", eig, len(filters))
	}
	return nil
}

// checkLDA checks the LDA against nFeat features and the classes.
func (f *File) checkLDA(nFeat int) error {
	l := f.LDA
	if l == nil {
		return fieldErr("lda", "missing: a %s model needs it", f.Decoder)
	}
	nCl := len(f.Classes)
	rows := nCl
	if nCl == 2 {
		rows = 1 // scikit-learn's binary LDA keeps one decision function
	}
	if err := matrix("lda.coef", l.Coef, rows, nFeat); err != nil {
		return err
	}
	if err := finiteVec("lda.intercept", l.Intercept, rows); err != nil {
		return err
	}
	if err := finiteVec("lda.priors", l.Priors, nCl); err != nil {
		return err
	}
	for i, p := range l.Priors {
		if !(p >= 0 && p <= 1) {
			return fieldErr(fmt.Sprintf("lda.priors[%d]", i), "%g is not a probability", p)
		}
	}
	return finiteVec("lda.shrinkage", l.Shrinkage, -1)
}

// checkLogReg checks the logistic regression against nFeat tangent-space features and the classes.
func (f *File) checkLogReg(nFeat int) error {
	m := f.LogReg
	if m == nil {
		return fieldErr("logreg", "missing: a %s model needs it", f.Decoder)
	}
	nCl := len(f.Classes)
	if m.NClasses != nCl {
		return fieldErr("logreg.n_classes", "%d, but the model has %d classes", m.NClasses, nCl)
	}
	rows := nCl
	if nCl == 2 {
		rows = 1
	}
	if err := matrix("logreg.coef", m.Coef, rows, nFeat); err != nil {
		return err
	}
	return finiteVec("logreg.intercept", m.Intercept, rows)
}
