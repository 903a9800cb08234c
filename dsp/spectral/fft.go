package spectral

import (
	"fmt"
	"math"
)

// cmplxFFT is a forward complex FFT plan for one length: a self-sorting (Stockham) mixed-radix
// decimation-in-time transform with dedicated radix-2, 3, 4 and 5 butterflies and a plain DFT
// butterfly for larger prime factors, all twiddle factors precomputed. It exists because Welch
// segments are as long as one second of signal, so lengths like 250 (2·5³) or 500 dominate, and
// gonum's fftpack port spends most of its time in bounds-checked index helpers for radix 5; this plan
// is about three times faster there and equally accurate (round-off within a few ulp of the
// spectrum's norm; see fft_test.go against gonum and numpy).
//
// Stage s combines p sub-transforms of length L into ones of length L·p: with r = n/(L·p),
//
//	new[k + L·u + L·p·j] = Σ_q w_{Lp}^{q·k} · old[k + L·(j + r·q)] · w_p^{q·u},
//
// for j < r, k < L, u < p, where w_m = exp(−2πi/m). Each stage reads one buffer and writes the other,
// and the last one leaves X[k] in natural order.
type cmplxFFT struct {
	n      int
	stages []fftStage
	buf    [2][]complex128
}

type fftStage struct {
	p, l int
	tw   []complex128 // tw[k*(p-1)+q-1] = w_{l·p}^{q·k}
	root []complex128 // generic radix: root[m] = w_p^m
}

func newCmplxFFT(n int) *cmplxFFT {
	f := &cmplxFFT{n: n, buf: [2][]complex128{make([]complex128, n), make([]complex128, n)}}
	l := 1
	for _, p := range factorize(n) {
		st := fftStage{p: p, l: l, tw: make([]complex128, l*(p-1))}
		lp := l * p
		for k := 0; k < l; k++ {
			for q := 1; q < p; q++ {
				st.tw[k*(p-1)+q-1] = unitRoot(q*k, lp)
			}
		}
		if p > 5 {
			st.root = make([]complex128, p)
			for m := range st.root {
				st.root[m] = unitRoot(m, p)
			}
		}
		f.stages = append(f.stages, st)
		l = lp
	}
	return f
}

// unitRoot returns exp(−2πi·m/n), reducing m·/n first so large arguments keep full precision.
func unitRoot(m, n int) complex128 {
	m %= n
	s, c := math.Sincos(-2 * math.Pi * float64(m) / float64(n))
	return complex(c, s)
}

// factorize splits n into the radices the plan uses: fours first, then a two, threes, fives, and the
// remaining primes.
func factorize(n int) []int {
	var out []int
	for n%4 == 0 {
		out = append(out, 4)
		n /= 4
	}
	for _, p := range []int{2, 3, 5} {
		for n%p == 0 {
			out = append(out, p)
			n /= p
		}
	}
	for p := 7; n > 1; p += 2 {
		for n%p == 0 {
			out = append(out, p)
			n /= p
		}
	}
	return out
}

// transform computes the DFT of f.buf[0] and returns the slice (one of the two buffers) holding it.
func (f *cmplxFFT) transform() []complex128 {
	src, dst := f.buf[0], f.buf[1]
	for i := range f.stages {
		st := &f.stages[i]
		switch st.p {
		case 2:
			pass2(st, src, dst, f.n)
		case 3:
			pass3(st, src, dst, f.n)
		case 4:
			pass4(st, src, dst, f.n)
		case 5:
			pass5(st, src, dst, f.n)
		default:
			passGeneric(st, src, dst, f.n)
		}
		src, dst = dst, src
	}
	return src
}

// scaleC returns c·z for real c (two multiplications, not a complex product).
func scaleC(c float64, z complex128) complex128 { return complex(c*real(z), c*imag(z)) }

// mulNegI returns −i·z.
func mulNegI(z complex128) complex128 { return complex(imag(z), -real(z)) }

func pass2(st *fftStage, src, dst []complex128, n int) {
	l := st.l
	r := n / (2 * l)
	for j := 0; j < r; j++ {
		in0 := src[l*j : l*j+l]
		in1 := src[l*(j+r) : l*(j+r)+l]
		out := dst[2*l*j : 2*l*j+2*l]
		o0, o1 := out[:l], out[l:2*l]
		tw := st.tw[:l]
		for k := range in0 {
			a0, a1 := in0[k], in1[k]*tw[k]
			o0[k] = a0 + a1
			o1[k] = a0 - a1
		}
	}
}

func pass3(st *fftStage, src, dst []complex128, n int) {
	const s3 = 0.86602540378443864676 // sin(2π/3)
	l := st.l
	r := n / (3 * l)
	for j := 0; j < r; j++ {
		in0 := src[l*j : l*j+l]
		in1 := src[l*(j+r) : l*(j+r)+l]
		in2 := src[l*(j+2*r) : l*(j+2*r)+l]
		out := dst[3*l*j : 3*l*j+3*l]
		o0, o1, o2 := out[:l], out[l:2*l], out[2*l:3*l]
		tw := st.tw[:2*l]
		for k := range in0 {
			a0 := in0[k]
			a1 := in1[k] * tw[2*k]
			a2 := in2[k] * tw[2*k+1]
			t1 := a1 + a2
			b := a0 - scaleC(0.5, t1)
			d := mulNegI(scaleC(s3, a1-a2))
			o0[k] = a0 + t1
			o1[k] = b + d
			o2[k] = b - d
		}
	}
}

func pass4(st *fftStage, src, dst []complex128, n int) {
	l := st.l
	r := n / (4 * l)
	for j := 0; j < r; j++ {
		in0 := src[l*j : l*j+l]
		in1 := src[l*(j+r) : l*(j+r)+l]
		in2 := src[l*(j+2*r) : l*(j+2*r)+l]
		in3 := src[l*(j+3*r) : l*(j+3*r)+l]
		out := dst[4*l*j : 4*l*j+4*l]
		o0, o1, o2, o3 := out[:l], out[l:2*l], out[2*l:3*l], out[3*l:4*l]
		tw := st.tw[:3*l]
		for k := range in0 {
			a0 := in0[k]
			a1 := in1[k] * tw[3*k]
			a2 := in2[k] * tw[3*k+1]
			a3 := in3[k] * tw[3*k+2]
			t0, t1 := a0+a2, a0-a2
			t2, t3 := a1+a3, mulNegI(a1-a3)
			o0[k] = t0 + t2
			o1[k] = t1 + t3
			o2[k] = t0 - t2
			o3[k] = t1 - t3
		}
	}
}

// The radix-5 butterfly's constants.
const (
	fft5c1 = 0.30901699437494742410  // cos(2π/5)
	fft5c2 = -0.80901699437494742410 // cos(4π/5)
	fft5s1 = 0.95105651629515357212  // sin(2π/5)
	fft5s2 = 0.58778525229247312917  // sin(4π/5)
)

func pass5(st *fftStage, src, dst []complex128, n int) {
	const c1, c2, s1, s2 = fft5c1, fft5c2, fft5s1, fft5s2
	l := st.l
	r := n / (5 * l)
	if l == 1 {
		pass5First(src, dst, r)
		return
	}
	for j := 0; j < r; j++ {
		in0 := src[l*j : l*j+l]
		in1 := src[l*(j+r) : l*(j+r)+l]
		in2 := src[l*(j+2*r) : l*(j+2*r)+l]
		in3 := src[l*(j+3*r) : l*(j+3*r)+l]
		in4 := src[l*(j+4*r) : l*(j+4*r)+l]
		out := dst[5*l*j : 5*l*j+5*l]
		o0, o1, o2, o3, o4 := out[:l], out[l:2*l], out[2*l:3*l], out[3*l:4*l], out[4*l:5*l]
		tw := st.tw[:4*l]
		for k := range in0 {
			a0 := in0[k]
			a1 := in1[k] * tw[4*k]
			a2 := in2[k] * tw[4*k+1]
			a3 := in3[k] * tw[4*k+2]
			a4 := in4[k] * tw[4*k+3]
			t1, t2 := a1+a4, a2+a3
			t3, t4 := a1-a4, a2-a3
			b1 := a0 + scaleC(c1, t1) + scaleC(c2, t2)
			b2 := a0 + scaleC(c2, t1) + scaleC(c1, t2)
			d1 := mulNegI(scaleC(s1, t3) + scaleC(s2, t4))
			d2 := mulNegI(scaleC(s2, t3) - scaleC(s1, t4))
			o0[k] = a0 + t1 + t2
			o1[k] = b1 + d1
			o4[k] = b1 - d1
			o2[k] = b2 + d2
			o3[k] = b2 - d2
		}
	}
}

// pass5First is pass5 for the first stage (sub-transforms of length 1): no twiddle factors.
func pass5First(src, dst []complex128, r int) {
	in0, in1, in2, in3, in4 := src[:r], src[r:2*r], src[2*r:3*r], src[3*r:4*r], src[4*r:5*r]
	dst = dst[:5*r]
	for j := range in0 {
		a0, a1, a2, a3, a4 := in0[j], in1[j], in2[j], in3[j], in4[j]
		t1, t2 := a1+a4, a2+a3
		t3, t4 := a1-a4, a2-a3
		b1 := a0 + scaleC(fft5c1, t1) + scaleC(fft5c2, t2)
		b2 := a0 + scaleC(fft5c2, t1) + scaleC(fft5c1, t2)
		d1 := mulNegI(scaleC(fft5s1, t3) + scaleC(fft5s2, t4))
		d2 := mulNegI(scaleC(fft5s2, t3) - scaleC(fft5s1, t4))
		o := dst[5*j : 5*j+5]
		o[0] = a0 + t1 + t2
		o[1] = b1 + d1
		o[4] = b1 - d1
		o[2] = b2 + d2
		o[3] = b2 - d2
	}
}

// passGeneric is the plain p-point DFT butterfly for prime radices above 5.
func passGeneric(st *fftStage, src, dst []complex128, n int) {
	p, l := st.p, st.l
	r := n / (p * l)
	for j := 0; j < r; j++ {
		for k := 0; k < l; k++ {
			for u := 0; u < p; u++ {
				sum := src[k+l*j]
				for q := 1; q < p; q++ {
					a := src[k+l*(j+r*q)] * st.tw[k*(p-1)+q-1]
					sum += a * st.root[(q*u)%p]
				}
				dst[k+l*u+l*p*j] = sum
			}
		}
	}
}

// realFFT is a forward FFT plan for real input of one length n, returning the n/2+1 non-negative
// frequency bins as numpy.fft.rfft does. For even n the signal is packed as z[m] = x[2m] + i·x[2m+1]
// into one complex transform of n/2 points, which is then split into the spectra of the even and odd
// samples and recombined (X[k] = E[k] + w_n^k·O[k]); odd n runs a full complex transform. Callers
// may write the (detrended, windowed) signal straight into the packed input (see input), so preparing
// a segment and transforming it need no extra copy. Not safe for concurrent use.
type realFFT struct {
	n    int
	cfft *cmplxFFT
	tw   []complex128 // even n: tw[k] = w_n^k for k <= n/4
}

func newRealFFT(n int) (*realFFT, error) {
	if n < 1 {
		return nil, fmt.Errorf("real fft: length %d, want at least 1", n)
	}
	f := &realFFT{n: n}
	if n%2 == 0 {
		f.cfft = newCmplxFFT(n / 2)
		f.tw = make([]complex128, n/4+1)
		for k := range f.tw {
			f.tw[k] = unitRoot(k, n)
		}
	} else {
		f.cfft = newCmplxFFT(n)
	}
	return f, nil
}

// input returns the packed input buffer: for even n, sample 2m goes to real(in[m]) and sample 2m+1 to
// imag(in[m]); for odd n, sample m goes to real(in[m]) (and imag must be 0). pack does this.
func (f *realFFT) input() []complex128 { return f.cfft.buf[0] }

// pack writes x (len n) into the packed input.
func (f *realFFT) pack(x []float64) {
	in := f.input()
	if f.n%2 == 0 {
		for m := range in {
			in[m] = complex(x[2*m], x[2*m+1])
		}
		return
	}
	for m, v := range x[:f.n] {
		in[m] = complex(v, 0)
	}
}

// transform computes the spectrum of the packed input into dst (len n/2+1); the input is consumed.
func (f *realFFT) transform(dst []complex128) {
	z := f.cfft.transform()
	if f.n%2 == 1 {
		copy(dst, z[:len(dst)])
		return
	}
	h := f.n / 2
	z0 := z[0]
	dst[0] = complex(real(z0)+imag(z0), 0)
	dst[h] = complex(real(z0)-imag(z0), 0)
	// Bins k and h−k come from the same pair Z[k], Z[h−k]: with E = (Z[k] + conj(Z[h−k]))/2 and
	// O = −i(Z[k] − conj(Z[h−k]))/2, X[k] = E + w^k·O and X[h−k] = conj(E − w^k·O), since
	// w^(h−k) = −conj(w^k).
	for k := 1; 2*k <= h; k++ {
		a, b := z[k], z[h-k]
		bc := complex(real(b), -imag(b))
		e := scaleC(0.5, a+bc)
		o := mulNegI(scaleC(0.5, a-bc))
		wo := f.tw[k] * o
		dst[k] = e + wo
		d := e - wo
		dst[h-k] = complex(real(d), -imag(d))
	}
}

// coefficients computes the rfft of x (len n) into dst (len n/2+1).
func (f *realFFT) coefficients(dst []complex128, x []float64) {
	f.pack(x)
	f.transform(dst)
}
