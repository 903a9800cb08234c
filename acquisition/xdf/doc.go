// Package xdf reads and writes XDF (Extensible Data Format, the Lab Streaming Layer recording format).
//
// Read takes an .xdf file with any number of streams, each with its own rate, sample format and clock
// offsets, and returns one acquisition.Recording per numeric stream; marker (string) streams become
// annotations on every numeric recording, placed on its timeline after clock-offset correction (a
// least-squares line through each stream's offsets, like pyxdf's default). Writer records a live
// stream: Create writes the headers, WriteFrame appends a streams.Frame as a samples chunk and its
// markers to a companion marker stream, Close writes the footers. Write saves whole Recordings.
package xdf
