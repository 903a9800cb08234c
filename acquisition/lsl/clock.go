package lsl

import "time"

// clockBase ties Go's monotonic clock to the host's monotonic clock once, so that Clock costs a
// time.Since and agrees with liblsl's lsl_local_clock on the same machine.
var clockBase, clockStart = hostMonotonic(), time.Now()

// Clock returns the LSL clock: seconds on this host's monotonic clock.
func Clock() float64 {
	return clockBase + time.Since(clockStart).Seconds()
}
