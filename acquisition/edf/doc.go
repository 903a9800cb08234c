// Package edf reads and writes European Data Format files: EDF, EDF+ (continuous "EDF+C" and
// discontinuous "EDF+D"), and their 24-bit BioSemi variants BDF and BDF+.
//
// Data comes from files written by clinical and research amplifiers (PhysioNet, BioSemi,
// hospital PSG systems) and goes into acquisition.Recording: samples in volts (or the channel's
// SI unit), EDF+ annotations (TALs) and BDF Status-channel trigger codes as
// acquisition.Annotation values. The writers go the other way, from a Recording or from a live
// stream of streams.Frame values, so that what neurostream records opens in MNE-Python,
// EDFbrowser and biosig.
//
// Behaviour follows MNE-Python 1.3 (mne.io.read_raw_edf / read_raw_bdf) where the file format
// leaves room for choice, so that results can be compared sample by sample; each place where
// this package deliberately differs from MNE is documented on ReadOptions and Read.
package edf
