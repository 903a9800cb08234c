//go:build !linux

package main

// physicalMemoryBytes returns 0: no memory limit is set where RAM is not known.
func physicalMemoryBytes() int64 { return 0 }
