//go:build unix

package fif

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps a file read-only so Decode reads the page cache directly: for a multi-gigabyte MEG
// recording this saves copying the whole file into a heap buffer before converting it. Everything
// Decode returns is copied out of the mapping, so release may be called as soon as Decode returns.
func mapFile(path string) (b []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size == 0 || size != int64(int(size)) || !st.Mode().IsRegular() {
		// Empty files cannot be mapped; pipes and odd files are read the ordinary way.
		b, err := os.ReadFile(path)
		return b, func() {}, err
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return m, func() { _ = syscall.Munmap(m) }, nil
}
