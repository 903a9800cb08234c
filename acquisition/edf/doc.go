// Package edf reads and writes European Data Format files: EDF, EDF+ (continuous "EDF+C" and
// discontinuous "EDF+D"), and their 24-bit BioSemi variants BDF and BDF+.
//
// Data comes from files written by clinical and research amplifiers (PhysioNet, BioSemi,
// hospital PSG systems) and goes into acquisition.Recording: samples in volts (or the channel's
// SI unit), EDF+ annotations (TALs) and stim-channel trigger codes as acquisition.Annotation
// values. The writers go the other way, from a Recording (Write) or from a live stream of
// streams.Frame values (Create, Writer.WriteFrame, Writer.Close), so that what neurostream records
// opens in MNE-Python, EDFbrowser and biosig.
//
// Reading follows MNE-Python 1.3 (mne.io.read_raw_edf / read_raw_bdf with default arguments)
// wherever the format leaves room for choice, so that results agree sample by sample (the tests
// compare every EDF/BDF fixture and PhysioNet run with MNE summaries, bit-identical where no
// resampling is involved):
//   - Channel names are the labels with trailing spaces removed and nothing else: PhysioNet's
//     "Fc5." keeps its dots, as MNE 1.3 does; duplicates become "label-0", "label-1", ...
//     Header.Signals keeps every raw label. All channels are EEG except stim channels.
//   - Samples are ((digital * cal) + offset) * unit in MNE's order; unit is 1e-6 for uV/µV,
//     1e-3 for mV, 1 for V and (unlike MNE, which leaves it unscaled) 1e-9 for nV. Other
//     dimensions are kept as the channel's Unit without scaling.
//   - Channels labelled "Status" or "Trigger" (ReadOptions.StimChannels) are stim channels: BDF
//     values are raw digital codes, all masked to their low 17 bits; their upward steps in the
//     low 16 bits become annotations with Code set (StimEvents, equal to mne.find_events with
//     mask=0xFFFF, consecutive='increasing').
//   - Signals with fewer samples per record than the fastest are FFT-resampled record by record
//     (stim channels: sample-and-hold), as MNE does; such files agree with MNE to ~1e-15 V
//     rather than bit for bit.
//   - Annotation onsets are relative to the first sample (the first record's time-keeping TAL is
//     subtracted); annotations are clipped to the data's time span as MNE's set_annotations does.
//     Recording.StartTime includes the EDF+ sub-second start, which MNE 1.3 drops.
//   - EDF+D gaps: see GapMode; File.Segments always says where the contiguous parts are.
//   - A header whose record count disagrees with the file length is an error (MNE warns and
//     guesses), except the count -1 that an unfinished recording leaves.
package edf
