package dsp

import (
	"fmt"
	"math"
	"math/cmplx"
	"sort"
)

// SOS is a cascade of second-order sections, one row per section: b0 b1 b2 a0 a1 a2, the layout of
// scipy's sos arrays. Filters built here always have a0 == 1.
type SOS [][6]float64

// Validate reports whether the cascade can be run: at least one section, finite coefficients and
// a0 == 1 on every section (the recurrences assume a normalised denominator, as scipy.sosfilt does).
func (s SOS) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("sos has no sections: design one with Butter, Cheby1, Cheby2 or IIRNotch")
	}
	for i, row := range s {
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("sos section %d coefficient %d is %v: coefficients must be finite", i, j, v)
			}
		}
		if row[3] != 1 {
			return fmt.Errorf("sos section %d has a0 = %v: divide the section by a0 so a0 == 1", i, row[3])
		}
	}
	return nil
}

// BandType selects the pass band of an IIR design.
type BandType int

const (
	Lowpass BandType = iota
	Highpass
	Bandpass
	Bandstop
)

var bandTypeNames = [...]string{"lowpass", "highpass", "bandpass", "bandstop"}

// String returns scipy's btype name.
func (b BandType) String() string {
	if b >= 0 && int(b) < len(bandTypeNames) {
		return bandTypeNames[b]
	}
	return fmt.Sprintf("BandType(%d)", int(b))
}

// ParseBandType accepts scipy's btype names "lowpass", "highpass", "bandpass" and "bandstop".
func ParseBandType(s string) (BandType, error) {
	for i, n := range bandTypeNames {
		if n == s {
			return BandType(i), nil
		}
	}
	return 0, fmt.Errorf("unknown band type %q (want one of %v)", s, bandTypeNames)
}

// cutoffCount is how many edge frequencies the band type needs.
func (b BandType) cutoffCount() int {
	if b == Bandpass || b == Bandstop {
		return 2
	}
	return 1
}

// zpk is a system as zeros, poles and gain, the form in which scipy transforms filters before it
// splits them into sections.
type zpk struct {
	z, p []complex128
	k    float64
}

// Butter designs a digital Butterworth filter as scipy.signal.butter(order, cutoffHz, band, fs=fsHz,
// output='sos') does.
func Butter(order int, cutoffHz []float64, band BandType, fsHz float64) (SOS, error) {
	if err := checkOrder(order); err != nil {
		return nil, fmt.Errorf("butter: %w", err)
	}
	sos, err := iirDesign(buttap(order), cutoffHz, band, fsHz)
	if err != nil {
		return nil, fmt.Errorf("butter: %w", err)
	}
	return sos, nil
}

// Cheby1 designs a digital Chebyshev type I filter with rippleDB of pass-band ripple, as
// scipy.signal.cheby1(order, rippleDB, cutoffHz, band, fs=fsHz, output='sos').
func Cheby1(order int, rippleDB float64, cutoffHz []float64, band BandType, fsHz float64) (SOS, error) {
	if err := checkOrder(order); err != nil {
		return nil, fmt.Errorf("cheby1: %w", err)
	}
	if !(rippleDB > 0) || math.IsInf(rippleDB, 0) {
		return nil, fmt.Errorf("cheby1: pass-band ripple %v dB must be positive and finite", rippleDB)
	}
	sos, err := iirDesign(cheb1ap(order, rippleDB), cutoffHz, band, fsHz)
	if err != nil {
		return nil, fmt.Errorf("cheby1: %w", err)
	}
	return sos, nil
}

// Cheby2 designs a digital Chebyshev type II filter whose stop band is attenuated by at least
// stopAttenDB, as scipy.signal.cheby2(order, stopAttenDB, cutoffHz, band, fs=fsHz, output='sos').
// For Cheby2 the cutoffs are where the stop band begins.
func Cheby2(order int, stopAttenDB float64, cutoffHz []float64, band BandType, fsHz float64) (SOS, error) {
	if err := checkOrder(order); err != nil {
		return nil, fmt.Errorf("cheby2: %w", err)
	}
	if !(stopAttenDB > 0) || math.IsInf(stopAttenDB, 0) {
		return nil, fmt.Errorf("cheby2: stop-band attenuation %v dB must be positive and finite", stopAttenDB)
	}
	sos, err := iirDesign(cheb2ap(order, stopAttenDB), cutoffHz, band, fsHz)
	if err != nil {
		return nil, fmt.Errorf("cheby2: %w", err)
	}
	return sos, nil
}

func checkOrder(order int) error {
	if order < 1 || order > 64 {
		return fmt.Errorf("order %d out of range: want 1..64 (high orders are numerically useless as sections anyway)", order)
	}
	return nil
}

// iirDesign follows scipy's iirfilter: pre-warp the normalised edges for fs = 2, transform the analog
// prototype, map it with the bilinear transform and pair poles and zeros into sections.
func iirDesign(proto zpk, cutoffHz []float64, band BandType, fsHz float64) (SOS, error) {
	if band < Lowpass || band > Bandstop {
		return nil, fmt.Errorf("unknown band type %d: use Lowpass, Highpass, Bandpass or Bandstop", int(band))
	}
	if !(fsHz > 0) || math.IsInf(fsHz, 0) {
		return nil, fmt.Errorf("sampling rate %v Hz must be positive and finite", fsHz)
	}
	if len(cutoffHz) != band.cutoffCount() {
		return nil, fmt.Errorf("%s needs %d cutoff frequencies, got %d", band, band.cutoffCount(), len(cutoffHz))
	}
	warped := make([]float64, len(cutoffHz))
	for i, f := range cutoffHz {
		if !(f > 0 && f < fsHz/2) {
			return nil, fmt.Errorf("cutoff %v Hz must be inside (0, %v) Hz, the open interval up to Nyquist", f, fsHz/2)
		}
		wn := 2 * f / fsHz
		const fs = 2.0
		warped[i] = 2 * fs * math.Tan(math.Pi*wn/fs)
	}
	if len(cutoffHz) == 2 && !(cutoffHz[0] < cutoffHz[1]) {
		return nil, fmt.Errorf("band edges %v Hz must be increasing", cutoffHz)
	}
	var sys zpk
	var err error
	switch band {
	case Lowpass:
		sys, err = lp2lp(proto, warped[0])
	case Highpass:
		sys, err = lp2hp(proto, warped[0])
	case Bandpass:
		sys, err = lp2bp(proto, math.Sqrt(warped[0]*warped[1]), warped[1]-warped[0])
	case Bandstop:
		sys, err = lp2bs(proto, math.Sqrt(warped[0]*warped[1]), warped[1]-warped[0])
	}
	if err != nil {
		return nil, err
	}
	sys, err = bilinear(sys, 2.0)
	if err != nil {
		return nil, err
	}
	return zpk2sos(sys)
}

// buttap is the analog Butterworth prototype with cutoff 1 rad/s (scipy.signal.buttap).
func buttap(n int) zpk {
	p := make([]complex128, 0, n)
	for m := -n + 1; m < n; m += 2 {
		theta := math.Pi * float64(m) / float64(2*n)
		p = append(p, -cmplx.Exp(complex(0, theta)))
	}
	return zpk{p: p, k: 1}
}

// cheb1ap is the analog Chebyshev I prototype (scipy.signal.cheb1ap).
func cheb1ap(n int, rippleDB float64) zpk {
	eps := math.Sqrt(math.Pow(10, 0.1*rippleDB) - 1)
	mu := 1.0 / float64(n) * math.Asinh(1/eps)
	p := make([]complex128, 0, n)
	for m := -n + 1; m < n; m += 2 {
		theta := math.Pi * float64(m) / float64(2*n)
		p = append(p, -cmplx.Sinh(complex(mu, theta)))
	}
	prod := complex(1, 0)
	for _, v := range p {
		prod *= -v
	}
	k := real(prod)
	if n%2 == 0 {
		k /= math.Sqrt(1 + eps*eps)
	}
	return zpk{p: p, k: k}
}

// cheb2ap is the analog Chebyshev II prototype (scipy.signal.cheb2ap).
func cheb2ap(n int, stopAttenDB float64) zpk {
	de := 1.0 / math.Sqrt(math.Pow(10, 0.1*stopAttenDB)-1)
	mu := math.Asinh(1.0/de) / float64(n)
	var z []complex128
	for m := -n + 1; m < n; m += 2 {
		if m == 0 {
			continue // odd orders have no zero at infinity's mirror: scipy skips m == 0
		}
		s := math.Sin(float64(m) * math.Pi / (2.0 * float64(n)))
		z = append(z, -cmplx.Conj(complex(0, 1)/complex(s, 0)))
	}
	p := make([]complex128, 0, n)
	for m := -n + 1; m < n; m += 2 {
		theta := math.Pi * float64(m) / float64(2*n)
		e := -cmplx.Exp(complex(0, theta))
		v := complex(math.Sinh(mu)*real(e), math.Cosh(mu)*imag(e))
		p = append(p, 1/v)
	}
	pp, pz := complex(1, 0), complex(1, 0)
	for _, v := range p {
		pp *= -v
	}
	for _, v := range z {
		pz *= -v
	}
	return zpk{z: z, p: p, k: real(pp / pz)}
}

func relativeDegree(s zpk) (int, error) {
	d := len(s.p) - len(s.z)
	if d < 0 {
		return 0, fmt.Errorf("improper transfer function: %d zeros but only %d poles", len(s.z), len(s.p))
	}
	return d, nil
}

func scaled(v []complex128, f complex128) []complex128 {
	out := make([]complex128, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}

func prodNeg(v []complex128) complex128 {
	r := complex(1, 0)
	for _, x := range v {
		r *= -x
	}
	return r
}

func lp2lp(s zpk, wo float64) (zpk, error) {
	d, err := relativeDegree(s)
	if err != nil {
		return zpk{}, err
	}
	return zpk{z: scaled(s.z, complex(wo, 0)), p: scaled(s.p, complex(wo, 0)), k: s.k * math.Pow(wo, float64(d))}, nil
}

func lp2hp(s zpk, wo float64) (zpk, error) {
	d, err := relativeDegree(s)
	if err != nil {
		return zpk{}, err
	}
	z := make([]complex128, 0, len(s.z)+d)
	for _, v := range s.z {
		z = append(z, complex(wo, 0)/v)
	}
	for i := 0; i < d; i++ {
		z = append(z, 0)
	}
	p := make([]complex128, len(s.p))
	for i, v := range s.p {
		p[i] = complex(wo, 0) / v
	}
	return zpk{z: z, p: p, k: s.k * real(prodNeg(s.z)/prodNeg(s.p))}, nil
}

// splitBand maps each root r of the low-pass prototype to the pair r ± sqrt(r² - wo²), first all
// "+" roots then all "-" roots, the order scipy's lp2bp/lp2bs concatenate them in.
func splitBand(v []complex128, wo float64) []complex128 {
	out := make([]complex128, 2*len(v))
	w2 := complex(wo*wo, 0)
	for i, r := range v {
		d := cmplx.Sqrt(r*r - w2)
		out[i] = r + d
		out[len(v)+i] = r - d
	}
	return out
}

func lp2bp(s zpk, wo, bw float64) (zpk, error) {
	d, err := relativeDegree(s)
	if err != nil {
		return zpk{}, err
	}
	half := complex(bw/2, 0)
	z := splitBand(scaled(s.z, half), wo)
	for i := 0; i < d; i++ {
		z = append(z, 0)
	}
	p := splitBand(scaled(s.p, half), wo)
	return zpk{z: z, p: p, k: s.k * math.Pow(bw, float64(d))}, nil
}

func lp2bs(s zpk, wo, bw float64) (zpk, error) {
	d, err := relativeDegree(s)
	if err != nil {
		return zpk{}, err
	}
	inv := func(v []complex128) []complex128 {
		out := make([]complex128, len(v))
		for i, x := range v {
			out[i] = complex(bw/2, 0) / x
		}
		return out
	}
	z := splitBand(inv(s.z), wo)
	for i := 0; i < d; i++ {
		z = append(z, complex(0, wo))
	}
	for i := 0; i < d; i++ {
		z = append(z, complex(0, -wo))
	}
	p := splitBand(inv(s.p), wo)
	return zpk{z: z, p: p, k: s.k * real(prodNeg(s.z)/prodNeg(s.p))}, nil
}

// bilinear maps an analog zpk system to the z-plane (scipy.signal.bilinear_zpk); zeros at infinity
// land at z = -1.
func bilinear(s zpk, fs float64) (zpk, error) {
	d, err := relativeDegree(s)
	if err != nil {
		return zpk{}, err
	}
	fs2 := complex(2*fs, 0)
	z := make([]complex128, 0, len(s.z)+d)
	num, den := complex(1, 0), complex(1, 0)
	for _, v := range s.z {
		z = append(z, (fs2+v)/(fs2-v))
		num *= fs2 - v
	}
	for i := 0; i < d; i++ {
		z = append(z, -1)
	}
	p := make([]complex128, len(s.p))
	for i, v := range s.p {
		p[i] = (fs2 + v) / (fs2 - v)
		den *= fs2 - v
	}
	return zpk{z: z, p: p, k: s.k * real(num/den)}, nil
}

// cplxreal splits roots into one representative (positive imaginary part) of each conjugate pair
// followed by the real roots, ordered as scipy's _cplxreal orders them, because zpk2sos's pairing
// breaks ties by position.
func cplxreal(v []complex128) ([]complex128, error) {
	const tol = 100 * 2.220446049250313e-16
	s := append([]complex128(nil), v...)
	sort.SliceStable(s, func(i, j int) bool {
		if real(s[i]) != real(s[j]) {
			return real(s[i]) < real(s[j])
		}
		return math.Abs(imag(s[i])) < math.Abs(imag(s[j]))
	})
	var reals, zp, zn []complex128
	for _, x := range s {
		switch {
		case math.Abs(imag(x)) <= tol*cmplx.Abs(x):
			reals = append(reals, complex(real(x), 0))
		case imag(x) > 0:
			zp = append(zp, x)
		default:
			zn = append(zn, x)
		}
	}
	if len(zp) != len(zn) {
		return nil, fmt.Errorf("roots contain a complex value with no conjugate")
	}
	// Runs of (nearly) equal real part are ordered by |imag| so that conjugates line up.
	for start := 0; start < len(zp); {
		stop := start + 1
		for stop < len(zp) && real(zp[stop])-real(zp[stop-1]) <= tol*cmplx.Abs(zp[stop-1]) {
			stop++
		}
		byImag := func(c []complex128) {
			sort.SliceStable(c, func(i, j int) bool { return math.Abs(imag(c[i])) < math.Abs(imag(c[j])) })
		}
		byImag(zp[start:stop])
		byImag(zn[start:stop])
		start = stop
	}
	out := make([]complex128, 0, len(zp)+len(reals))
	for i := range zp {
		if cmplx.Abs(zp[i]-cmplx.Conj(zn[i])) > tol*cmplx.Abs(zn[i]) {
			return nil, fmt.Errorf("roots contain a complex value with no conjugate")
		}
		out = append(out, (zp[i]+cmplx.Conj(zn[i]))/2)
	}
	return append(out, reals...), nil
}

func isReal(x complex128) bool { return imag(x) == 0 }

func countReal(v []complex128) int {
	n := 0
	for _, x := range v {
		if isReal(x) {
			n++
		}
	}
	return n
}

// worst is the index of the root closest to the unit circle (first on ties, like numpy's argmin).
func worst(v []complex128, idx []int) int {
	best, bestD := -1, math.Inf(1)
	for _, i := range idx {
		d := math.Abs(1 - cmplx.Abs(v[i]))
		if d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

func allIdx(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// nearest returns the index in from of the root nearest to to, restricted to real roots, complex
// roots or any, as scipy's _nearest_real_complex_idx.
func nearest(from []complex128, to complex128, which string) (int, error) {
	order := allIdx(len(from))
	sort.SliceStable(order, func(a, b int) bool { return cmplx.Abs(from[order[a]]-to) < cmplx.Abs(from[order[b]]-to) })
	for _, i := range order {
		if which == "any" || (which == "real") == isReal(from[i]) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("zpk2sos: no %s zero left to pair with pole %v", which, to)
}

func remove(v []complex128, i int) []complex128 { return append(v[:i:i], v[i+1:]...) }

// poly2 returns the monic polynomial with the given (at most two) roots, right-aligned in three
// coefficients, as scipy's _single_zpksos places numpy.poly's result.
func poly2(roots ...complex128) [3]float64 {
	var c [3]float64
	switch len(roots) {
	case 0:
		c[2] = 1
	case 1:
		c[1], c[2] = 1, -real(roots[0])
	case 2:
		c[0] = 1
		c[1] = real(-roots[1] + -roots[0])
		c[2] = real(-roots[0] * -roots[1])
	}
	return c
}

func section(zs []complex128, ps []complex128) [6]float64 {
	b, a := poly2(zs...), poly2(ps...)
	return [6]float64{b[0], b[1], b[2], a[0], a[1], a[2]}
}

// zpk2sos pairs poles with their nearest zeros into sections, the section with poles closest to the
// unit circle last, exactly as scipy.signal.zpk2sos(pairing='nearest') for digital filters.
func zpk2sos(s zpk) (SOS, error) {
	if len(s.z) == 0 && len(s.p) == 0 {
		return SOS{{s.k, 0, 0, 1, 0, 0}}, nil
	}
	z := append([]complex128(nil), s.z...)
	p := append([]complex128(nil), s.p...)
	for len(p) < len(z) {
		p = append(p, 0)
	}
	for len(z) < len(p) {
		z = append(z, 0)
	}
	nSections := (len(p) + 1) / 2
	if len(p)%2 == 1 {
		p = append(p, 0)
		z = append(z, 0)
	}
	var err error
	if z, err = cplxreal(z); err != nil {
		return nil, fmt.Errorf("zpk2sos zeros: %w", err)
	}
	if p, err = cplxreal(p); err != nil {
		return nil, fmt.Errorf("zpk2sos poles: %w", err)
	}
	sos := make(SOS, nSections)
	for si := nSections - 1; si >= 0; si-- {
		if len(p) == 0 {
			return nil, fmt.Errorf("zpk2sos: ran out of poles at section %d", si)
		}
		i1 := worst(p, allIdx(len(p)))
		p1 := p[i1]
		p = remove(p, i1)
		switch {
		case isReal(p1) && countReal(p) == 0:
			j, err := nearest(z, p1, "real")
			if err != nil {
				return nil, err
			}
			z1 := z[j]
			z = remove(z, j)
			sos[si] = section([]complex128{z1, 0}, []complex128{p1, 0})
		case len(p)+1 == len(z) && !isReal(p1) && countReal(p) == 1 && countReal(z) == 1:
			// One real pole and one real zero remain: this complex pole must take a complex zero.
			j, err := nearest(z, p1, "complex")
			if err != nil {
				return nil, err
			}
			z1 := z[j]
			z = remove(z, j)
			sos[si] = section([]complex128{z1, cmplx.Conj(z1)}, []complex128{p1, cmplx.Conj(p1)})
		default:
			var p2 complex128
			if isReal(p1) {
				var realIdx []int
				for i, v := range p {
					if isReal(v) {
						realIdx = append(realIdx, i)
					}
				}
				i2 := worst(p, realIdx)
				p2 = p[i2]
				p = remove(p, i2)
			} else {
				p2 = cmplx.Conj(p1)
			}
			if len(z) == 0 {
				sos[si] = section(nil, []complex128{p1, p2})
				break
			}
			j, err := nearest(z, p1, "any")
			if err != nil {
				return nil, err
			}
			z1 := z[j]
			z = remove(z, j)
			if !isReal(z1) {
				sos[si] = section([]complex128{z1, cmplx.Conj(z1)}, []complex128{p1, p2})
				break
			}
			if len(z) == 0 {
				sos[si] = section([]complex128{z1}, []complex128{p1, p2})
				break
			}
			j2, err := nearest(z, p1, "real")
			if err != nil {
				return nil, err
			}
			z2 := z[j2]
			z = remove(z, j2)
			sos[si] = section([]complex128{z1, z2}, []complex128{p1, p2})
		}
	}
	if len(p) != 0 || len(z) != 0 {
		return nil, fmt.Errorf("zpk2sos: %d poles and %d zeros left unpaired", len(p), len(z))
	}
	for i := 0; i < 3; i++ {
		sos[0][i] *= s.k
	}
	return sos, nil
}
