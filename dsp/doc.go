// Package dsp holds the causal signal plumbing between acquisition and the feature and decoder
// stages: IIR/FIR filter design (Butterworth, Chebyshev I/II, notch, comb, windowed FIR) as scipy.signal
// computes it, offline and streaming filtering with per-channel state, re-referencing, channel
// selection, polyphase resampling, detrending, epoching and the sliding-window buffer.
//
// Data comes in as interleaved frames (sample-major, channels innermost, as streams.Frame carries them)
// or as channel-major arrays from acquisition.Recording; it goes out in the same layout to the
// spectral, features and decoders packages. Every streaming type keeps its state per channel and
// allocates nothing per frame, so one stage can run for hours on a stream.
//
// The reference for every numeric result is scipy.signal 1.10: designs go through zeros, poles and gain
// exactly as scipy does (analog prototype, frequency transform, bilinear transform, zpk2sos with
// 'nearest' pairing) so section order and gains match, and filters use the transposed direct form II
// recurrences of scipy's sosfilt, which makes outputs bit-identical on the same coefficients.
// tools/dsp_reference.py regenerates the fixtures in testdata/.
package dsp
