package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestTuneGCRespectsEnvironment(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	tuneGC()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Fatalf("GOGC %d after tuneGC, want %d", got, gcPercent)
	}
	if ram := physicalMemoryBytes(); ram > 0 {
		if got := debug.SetMemoryLimit(-1); got != ram/2 {
			t.Fatalf("memory limit %d, want half of %d", got, ram)
		}
	}

	debug.SetGCPercent(77)
	debug.SetMemoryLimit(1 << 40)
	t.Setenv("GOGC", "77")
	t.Setenv("GOMEMLIMIT", "1TiB")
	tuneGC()
	if got := debug.SetGCPercent(77); got != 77 {
		t.Fatalf("GOGC set by the user changed to %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Fatalf("GOMEMLIMIT set by the user changed to %d", got)
	}
}
