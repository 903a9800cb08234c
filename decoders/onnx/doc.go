// Package onnx runs deep decoders exported from PyTorch to ONNX through ONNX Runtime
// (github.com/yalue/onnxruntime_go), as decoders.WindowDecoder values the pipeline's decoder stage drives.
//
// Data flow: the decoder stage hands Decode one window of cleaned signal (channel-major, in the stream's
// physical unit: volts for EEG, tesla for MEG); the decoder normalises it into a preallocated float32
// input tensor, runs the session and turns the output into a streams.Prediction: class scores for a
// motor-imagery model, or an embedding and the top-k entries of a candidate bank (speech segments,
// gallery images, package decoders/retrieval) for the speech and visual models.
//
// Use: rt, err := NewRuntime(Config{}) once per process (Close it last); then per stream
// d, err := Load(rt, "model.onnx", WithBank("segments.json"), WithTopK(10)); d.Bind(info); d.Decode(...);
// d.Close(). Load returns *Decoder, which satisfies decoders.WindowDecoder and io.Closer; when adapting
// it to a func returning decoders.WindowDecoder, return a nil interface on error, not a nil *Decoder.
// A program that may or may not need ONNX (a pipeline config) uses a Loader instead: it starts one
// shared Runtime on the first Load and releases it on Close; `decoder: onnx` stages in configs go through
// one (cmd/neurostream; configs/onnx-*.yaml and tools/models/README.md show how to run them).
//
// The ONNX Runtime shared library is loaded at run time, so building and vetting never need it. NewRuntime
// looks for it in this order: Config.LibraryPath, $NEUROSTREAM_ONNXRUNTIME, $ONNXRUNTIME_LIB, the
// project-local cache .cache/onnxruntime/ (filled by tools/install-onnxruntime.sh) in the current
// directory or any parent, then /usr/local/lib, /usr/lib and /usr/lib/x86_64-linux-gnu.
//
// # Model contract
//
// Every model carries a JSON contract in its ONNX metadata_props under the key "neurostream.contract",
// or, when the file has none, in a sidecar file beside it (model.onnx -> model.contract.json):
//
//	{
//	  "format": "neurostream-onnx-contract/1",
//	  "name": "eegnet-imagined-lr",              // the decoder's name in predictions
//	  "task": "motor-imagery",                   // motor-imagery | speech | visual
//	  "channels": ["Fc5.", "Fc3.", ...],         // input rows, in order (matched to the stream by name)
//	  "sample_rate_hz": 160,
//	  "window_samples": 320,
//	  "preprocessing": {...},                    // what the pipeline must do before the window (informative)
//	  "normalisation": {"offset": [...], "scale": [...], "window_zscore": false},
//	  "input":  {"name": "input", "shape": [1, 1, 64, 320]},  // the last two dimensions are channels x samples
//	  "output": {"name": "logits", "kind": "logits", "labels": ["left", "right"]},
//	  "subjects": ["sim01", ...]                 // optional: the model has a second int64 input "subject" [1]
//	}
//
// Normalisation maps a sample x of channel c to (x - offset[c]) * scale[c] (offset and scale hold one value
// per channel, or one value for all); with window_zscore each channel is then z-scored over the window.
// Output kinds: "logits" (softmax gives Prediction.Scores, the arg-max Prediction.Label), "probabilities"
// (used as they are) and "embedding" (output.embedding_size values, ranked against a candidate bank).
//
// Models, training and export scripts live in tools/models; the shipped models and their PyTorch parity
// fixtures are in testdata/.
package onnx
