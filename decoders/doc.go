// Package decoders holds the contract every decoder meets (WindowDecoder) and, in subpackages, the
// decoders themselves: native Go ones trained from recordings and ONNX models run through ONNX Runtime.
// Decoders read windows of cleaned frames handed over by the pipeline's decoder stage and return
// predictions, which the pipeline publishes on the predictions topic.
package decoders
