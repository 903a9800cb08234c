// Package brainvision reads BrainVision recordings (Brain Products' Recorder/Analyzer exchange format
// and the V-Amp variant) into an acquisition.Recording.
//
// Data comes from three files: the text header (.vhdr, or .ahdr for V-Amp), which names the binary
// data file (.eeg) and the marker file (.vmrk/.amrk) and gives rate, layout, sample format and each
// channel's resolution and unit; the binary samples (multiplexed or vectorized, int16, int32 or float32);
// and the markers. It goes out as one Recording in volts with the markers as annotations whose codes
// follow MNE-Python's events_from_annotations for BrainVision ("Stimulus/S  1" -> 1, "Response/R  1" ->
// 1001, "New Segment/" -> 99999, anything else 10001, 10002, ... in sorted order).
//
// It mirrors mne.io.read_raw_brainvision (MNE 1.3): channels named HEOGL, HEOGR or VEOGb are EOG,
// channels whose unit is not a voltage are misc, the rest EEG. Electrode coordinates in the header are
// not converted to positions; ASCII data files are not supported.
package brainvision
