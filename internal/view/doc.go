// Package view is neurostream's live view: an HTTP server that shows the streams on Kafka in a
// browser. It follows the stream-info topic for the list of streams (device, channels, rate) and
// reads the raw and clean frame topics, the predictions topic and the features topic with its own
// partition readers (no consumer group: it never takes data from a pipeline). Every frame updates
// the stream's liveness and sequence-gap counters; for the streams someone is watching it also keeps
// the last seconds of signal, computes power spectra, and decimates the samples to the watcher's
// screen (minimum and maximum per pixel column) before sending them over a WebSocket.
//
// One page (static/, embedded in the binary: plain JavaScript and canvas, no build step) draws the
// traces, markers, spectra, a scalp map of band power, the decoder's predictions, features and
// counters. Each viewer has its own screen geometry and channel selection; a viewer that cannot keep
// up is sent the newest columns only (its queue holds at most one screen), never an ever-growing
// backlog.
package view
