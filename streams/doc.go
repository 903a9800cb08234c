// Package streams defines neurostream's data on the wire and how it moves through Kafka.
//
// Acquisition drivers (package acquisition and its format subpackages) describe a stream once with a
// StreamInfo and then emit Frames: short blocks of interleaved samples in physical units. This package
// encodes both in the versioned protobuf schema in proto/neurostream/v1/neurostream.proto, names the
// topics they travel on (Topics), and wraps kafka-go with producers and consumers tuned for low latency
// (or for bulk replay) that key every message by stream id and check sequence numbers on the way in.
// Stages in package pipeline consume frames from here and publish their results back here.
package streams
