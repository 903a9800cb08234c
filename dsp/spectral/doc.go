// Package spectral estimates spectra of sampled signals: Welch power spectral density, cross-spectral
// density, magnitude-squared coherence and the analytic signal (Hilbert transform), offline on whole
// arrays and, for the Hilbert envelope and instantaneous phase/frequency, causally on streams.
//
// Input is channel data in physical units (volts for EEG, as acquisition.Recording and the dsp stages
// deliver it), one channel per slice; output is in the unit squared per hertz (density scaling) or the
// unit squared (spectrum scaling), matching scipy.signal 1.10 (welch, csd, coherence, hilbert), which
// is the reference the tests compare against (fixtures from tools/spectral_reference.py). The
// features package and the decoders call these per window, so every estimator is built once from its
// configuration and then computes into caller-owned slices without allocating.
package spectral
