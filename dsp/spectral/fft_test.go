package spectral

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/dsp/fourier"
)

// naiveDFT is the O(n²) definition, each twiddle computed from its reduced exponent.
func naiveDFT(x []complex128) []complex128 {
	n := len(x)
	out := make([]complex128, n)
	for k := range out {
		var s complex128
		for t, v := range x {
			s += v * unitRoot(k*t%n, n)
		}
		out[k] = s
	}
	return out
}

// normErr returns max_k |got[k]-want[k]| / max_k |want[k]|.
func normErr(got, want []complex128) float64 {
	var d, m float64
	for k := range want {
		d = math.Max(d, cmplx.Abs(got[k]-want[k]))
		m = math.Max(m, cmplx.Abs(want[k]))
	}
	return d / m
}

// fftTolerance is the round-off allowed between two FFTs of length n, relative to the spectrum's
// norm: 1e-14 when n's prime factors are at most 5 (a few ulp per stage), growing with the largest
// prime factor p otherwise, since both plans then sum p terms directly (error ~ p·eps).
func fftTolerance(n int) float64 {
	p := 1
	for _, f := range factorize(n) {
		p = max(p, f)
	}
	return math.Max(1e-14, 2.5e-16*float64(p))
}

// The complex plan equals the DFT definition and gonum's CmplxFFT on lengths built from every radix
// (2, 3, 4, 5, primes 7..31, mixtures) up to 1000.
func TestCmplxFFTMatchesDFTAndGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 20, 25, 27, 30, 31, 32, 49, 60, 64, 77, 100, 121, 125,
		128, 135, 210, 243, 250, 256, 375, 500, 512, 625, 1000}
	for _, n := range sizes {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		f := newCmplxFFT(n)
		copy(f.buf[0], x)
		got := append([]complex128(nil), f.transform()...)
		if e := normErr(got, naiveDFT(x)); e > 1e-13 {
			t.Errorf("n=%d: error vs DFT %.3g", n, e)
		}
		ref := fourier.NewCmplxFFT(n).Coefficients(nil, x)
		if e := normErr(got, ref); e > fftTolerance(n) {
			t.Errorf("n=%d: error vs gonum %.3g > %.3g", n, e, fftTolerance(n))
		}
	}
}

// The real plan equals gonum's real FFT (numpy.fft.rfft's definition) on even and odd lengths, and
// reuses its buffers without carrying anything from one call to the next.
func TestRealFFTMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 1; n <= 300; n++ {
		checkRealFFT(t, rng, n)
	}
	for _, n := range []int{375, 500, 512, 625, 750, 1000, 1024, 1250, 2000, 2048, 2500} {
		checkRealFFT(t, rng, n)
	}
}

func checkRealFFT(t *testing.T, rng *rand.Rand, n int) {
	t.Helper()
	f, err := newRealFFT(n)
	if err != nil {
		t.Fatal(err)
	}
	ref := fourier.NewFFT(n)
	got := make([]complex128, n/2+1)
	x := make([]float64, n)
	for rep := 0; rep < 2; rep++ {
		for i := range x {
			x[i] = rng.NormFloat64() + 3
		}
		f.coefficients(got, x)
		want := ref.Coefficients(nil, x)
		if e := normErr(got, want); e > fftTolerance(n) {
			t.Errorf("n=%d: error vs gonum %.3g > %.3g", n, e, fftTolerance(n))
		}
		if imag(got[0]) != 0 || (n%2 == 0 && imag(got[n/2]) != 0) {
			t.Errorf("n=%d: DC or Nyquist bin not real: %v %v", n, got[0], got[n/2])
		}
	}
}

func TestNewRealFFTRejectsEmpty(t *testing.T) {
	if _, err := newRealFFT(0); err == nil {
		t.Fatal("length 0 accepted")
	}
}

// BenchmarkRealFFT250 / Gonum: one 250-point real transform, the Welch segment of 1 s at 250 Hz.
func BenchmarkRealFFT250(b *testing.B) {
	f, _ := newRealFFT(250)
	x := make([]float64, 250)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	dst := make([]complex128, 126)
	for b.Loop() {
		f.coefficients(dst, x)
	}
}

func BenchmarkRealFFT250Gonum(b *testing.B) {
	f := fourier.NewFFT(250)
	x := make([]float64, 250)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	dst := make([]complex128, 126)
	for b.Loop() {
		f.Coefficients(dst, x)
	}
}
