package main

import "syscall"

// physicalMemoryBytes returns the machine's RAM, or 0 if unknown.
func physicalMemoryBytes() int64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
