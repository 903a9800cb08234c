// Package pb is the Go code protoc generates from streams/proto/neurostream/v1/neurostream.proto.
// Package streams converts between these messages and its own types, and encodes frames itself on
// the hot path; other programs (any language) decode topics with code generated from the same file.
package pb
