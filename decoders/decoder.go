package decoders

import "github.com/neurostream/neurostream/streams"

// WindowDecoder turns one window of cleaned signal into a prediction. The pipeline's decoder stage
// slides the window over the stream and calls Decode for each step; Decode must not allocate in
// steady state, because it runs once per step on every stream.
type WindowDecoder interface {
	// Name identifies the decoder in predictions and metrics ("alpha-eyes", "csp-lda", "eegnet", ...).
	Name() string
	// Bind checks the decoder against the stream it will read and prepares for it. It returns the
	// stream's channel indices the decoder needs, in the order Decode expects them, or an error that
	// names what does not match (missing channel, wrong sampling rate).
	Bind(info streams.StreamInfo) (channels []int, err error)
	// WindowSamples is the window length the decoder needs, in samples at the bound stream's rate.
	WindowSamples() int
	// Decode fills out (Label, Scores, TopK and/or Embedding) from window, which is channel-major
	// (window[i] is the channel channels[i] returned by Bind) with WindowSamples() samples per channel.
	// The caller fills the stream id, timing and latency fields.
	Decode(window [][]float64, out *streams.Prediction) error
}
