package main

import (
	"os"
	"runtime/debug"
)

// gcPercent replaces Go's default GOGC=100. Readers allocate a recording's samples at once (10 MB of
// float64 for a 2-minute 64-channel PhysioNet run) while the long-lived heap stays a few MB, so at
// GOGC=100 the collector runs about once per file read, and each cycle costs a millisecond or more of
// a core on top of re-zeroing the freed memory: reading the 12 PhysioNet runs in a row
// (acquisition/edf BenchmarkReadPhysioNetAll) took 91–96 ms at GOGC=100 and 60–65 ms at 400. The
// streaming stages do not allocate per frame, so live pipelines see little difference.
const gcPercent = 400

// tuneGC sets GOGC to gcPercent and, so that the larger heap stays bounded, a soft memory limit of
// half the machine's RAM. Either is left alone when the user set GOGC or GOMEMLIMIT.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if ram := physicalMemoryBytes(); ram > 0 {
			debug.SetMemoryLimit(ram / 2)
		}
	}
}
