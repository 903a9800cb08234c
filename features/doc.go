// Package features turns windows of cleaned multichannel data into named feature values: band power,
// spectral edge and peak alpha frequency, the aperiodic (1/f) exponent, shrunk covariance, connectivity
// (coherence, phase-locking value, weighted phase-lag index), phase–amplitude coupling, and time-domain
// and dynamics measures (variance, Hjorth parameters, line length, DFA, Lempel–Ziv complexity,
// neuronal-avalanche statistics).
//
// Input comes from the pipeline's windowing stage after the dsp filters and re-referencing: one window
// at a time, channel-major (window[c] is stream channel c), in the channel's physical unit (volts for
// EEG). Output goes back to that stage as a flat []float64 whose names Configure returned once; the
// stage publishes them on the features topic. Each extractor is configured once per stream and then
// extracts without allocating. Definitions follow the cited papers and equal the numpy/scipy/
// scikit-learn computations in tools/features_reference.py, whose outputs on real EEG are the fixtures
// in testdata/.
package features
