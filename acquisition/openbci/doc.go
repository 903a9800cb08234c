// Package openbci reads OpenBCI amplifiers. The Cyton (8 channels, 250 Hz) and Cyton + Daisy
// (16 channels, 125 Hz) stream 33-byte packets over the USB dongle's serial port at 115200 baud; the
// Ganglion (4 channels, 200 Hz) sends compressed 20-byte Bluetooth LE notifications. Packets are
// decoded into volts, lost packets are counted from the boards' sample counters and filled and
// marked (acquisition.SampleQueue), and every sample is stamped on the host clock
// (acquisition/clock). The packet formats are OpenBCI's, as their firmware and BrainFlow document
// them; none of this was run against a physical board, only against simulated ones (see Simulator).
package openbci
