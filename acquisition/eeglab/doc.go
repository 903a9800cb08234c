// Package eeglab reads EEGLAB continuous datasets (.set, with samples inline or in a .fdt companion)
// into an acquisition.Recording.
//
// Data comes from the .set file, a MATLAB v5/v7 MAT-file holding the EEG struct (nbchan, pnts, srate,
// chanlocs, event, data), decoded by the small MAT-file reader in matfile.go, and from the float32
// .fdt file it names. It goes out as one Recording in volts (EEGLAB stores µV) with EEG.event as
// annotations: EEGLAB latencies are 1-based samples, so onsets are latency-1; codes follow MNE's
// events_from_annotations (1, 2, ... over the sorted distinct event types).
//
// It mirrors mne.io.read_raw_eeglab (MNE 1.3). Epoched datasets (trials > 1) and MATLAB v7.3 (HDF5)
// files are refused with errors that say what to do instead.
package eeglab
