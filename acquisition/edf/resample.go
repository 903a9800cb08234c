package edf

import (
	"gonum.org/v1/gonum/dsp/fourier"
)

// upsample brings a signal with n samples per record up to m (> n) samples per record, the way
// MNE 1.3 does when one file mixes sampling rates:
//   - data signals: each record on its own is FFT-resampled (mne.filter.resample with npad=0 and
//     a boxcar window), which is exact for band-limited periodic records but rings at record
//     edges otherwise;
//   - stim signals: zero-order hold, so codes stay integers.
//
// raw holds the decoded records back to back; out receives them at samplesBefore[r].
func upsample(raw []float64, n, m int, stim bool, out []float64, samplesBefore []int) {
	nRec := len(samplesBefore)
	if n == 0 || nRec == 0 {
		return // no samples at all: leave zeros, as MNE's reshape of an empty signal does
	}
	if stim {
		for r := 0; r < nRec; r++ {
			src := raw[r*n : (r+1)*n]
			dst := out[samplesBefore[r] : samplesBefore[r]+m]
			for j := range dst {
				dst[j] = src[j*n/m]
			}
		}
		return
	}
	fwd := fourier.NewFFT(n)
	inv := fourier.NewFFT(m)
	coef := make([]complex128, n/2+1)
	padded := make([]complex128, m/2+1)
	scale := float64(m) / float64(n) / float64(m) // MNE's W = new/old, times irfft's 1/new
	for r := 0; r < nRec; r++ {
		src := raw[r*n : (r+1)*n]
		dst := out[samplesBefore[r] : samplesBefore[r]+m]
		fwd.Coefficients(coef, src)
		if n%2 == 0 {
			coef[n/2] *= 0.5
		}
		for j := range padded {
			padded[j] = 0
		}
		copy(padded, coef)
		inv.Sequence(dst, padded)
		for j := range dst {
			dst[j] *= scale
		}
	}
}
