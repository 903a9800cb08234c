package lsl

import (
	"syscall"
	"unsafe"
)

// hostMonotonic reads CLOCK_MONOTONIC, the clock liblsl stamps samples with on Linux.
func hostMonotonic() float64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}
