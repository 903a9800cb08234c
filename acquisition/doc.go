// Package acquisition is where signals enter neurostream: headset drivers, the synthetic source and
// file replay. Format readers and writers live in subpackages (edf, brainvision, eeglab, fif, gdf, xdf);
// each reads a file into a Recording, the one in-memory form all of them share. Sources turn recordings
// or live devices into streams.Frame values for the pipeline and Kafka.
package acquisition
