// Package model holds the trained native decoders as a versioned JSON model file and as
// decoders.WindowDecoder implementations built from it.
//
// Training (package decoders/train, `neurostream train`) calls Fit with band-passed epochs and
// saves the File; the pipeline's decoder stage calls Load, then Bind against the stream it reads,
// then Decode once per sliding window. The file carries everything online decoding needs: channel
// names and order, sampling rate, the band-pass the stream must have gone through (causal Butterworth
// SOS, the same one applied to the continuous recordings before epoching in training), window
// length, class labels, the decoder's parameters and the sha256 of the training epochs.
package model
