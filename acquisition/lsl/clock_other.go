//go:build !linux

package lsl

// hostMonotonic has no portable equivalent of CLOCK_MONOTONIC outside Linux: the clock starts at 0
// when the process starts, and time correction absorbs the difference from other processes' clocks.
func hostMonotonic() float64 { return 0 }
