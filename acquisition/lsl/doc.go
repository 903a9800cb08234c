// Package lsl speaks the Lab Streaming Layer protocol in Go, both ways, without liblsl.
//
// Data comes in from LSL outlets on the network (amplifier software, muselsl, the OpenBCI GUI, another
// neurostream): Resolve finds them with the UDP shortinfo query, an Inlet pulls their samples over the
// TCP data protocol 1.10 (or 1.00 from old outlets) and measures the clock offset with the LSL:timedata
// probes. Data goes out through an Outlet, which answers discovery, serves the stream description and
// feeds any number of inlets (liblsl's included). The package knows nothing of Kafka or frames: the
// pipeline turns inlets into sources and outlets into sinks.
//
// Clock: LSL timestamps are seconds on each host's monotonic clock (CLOCK_MONOTONIC on Linux, what
// liblsl's lsl_local_clock returns); Clock returns the same clock, so a timestamp plus an inlet's time
// correction is a time on this host's Clock.
package lsl
