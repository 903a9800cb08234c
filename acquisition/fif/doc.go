// Package fif reads Neuromag/Elekta/MEGIN FIF raw recordings (the format MNE-Python writes and reads
// with mne.io.read_raw_fif) into an acquisition.Recording.
//
// Data comes from a .fif file: its tag tree (measurement info with channel descriptions, calibration,
// sensor locations; raw data buffers of float, short, int or double samples; data skips). It goes out
// as one Recording in SI units (T for magnetometers, T/m for gradiometers, V for EEG/EOG/ECG/EMG) with
// the stim channel's events as annotations, for replay into the pipeline or conversion to other formats.
//
// The reader mirrors MNE-Python 1.3 with preload=True and no projections applied: samples are the raw
// values times cal*range, SSP projectors and compensation stored in the file are ignored, and events are
// found on STI101 / STI 014 (or every stim channel) the way mne.find_events does with its defaults.
// Evoked (averaged) files hold no continuous data and are refused with an error that says so; split
// raw files (-1.fif continuations) are read one part at a time.
package fif
