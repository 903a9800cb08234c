// Package npz reads NumPy .npy arrays and .npz archives (a zip of .npy files), the format some
// public EEG data sets ship in (e.g. the bi2012 P300 recordings: a float32 data matrix and an int16
// stimulus vector).
//
// Arrays come from files on disk and go to callers (training code, tests) as float64 values in C
// (row-major) order with their shape; building an acquisition.Recording from them is up to the
// caller, because an .npz carries no channel names or sampling rate.
package npz
