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

// A process holding an in-memory broker collects at Go's default GOGC=100 (its log lives in the
// heap) and keeps to the budget's memory limit, unless the user set GOGC or GOMEMLIMIT.
func TestLimitMemoryForInMemoryBroker(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetGCPercent(gcPercent)
	limitMemory(128 << 20)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC %d with an in-memory broker, want 100", got)
	}
	if got, want := debug.SetMemoryLimit(-1), int64(2*128<<20+128<<20); got != want {
		t.Fatalf("memory limit %d, want %d", got, want)
	}

	debug.SetGCPercent(250)
	t.Setenv("GOGC", "250")
	limitMemory(128 << 20)
	if got := debug.SetGCPercent(250); got != 250 {
		t.Fatalf("GOGC set by the user changed to %d", got)
	}
}
