//go:build unix

package edf

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps a file read-only and returns its bytes and a function that unmaps them. Mapping
// instead of os.ReadFile saves zeroing and copying a buffer as large as the file: the decoder
// reads the page cache directly. The bytes must not be used after release.
func mapFile(path string) (b []byte, release func() error, err error) {
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
		// Nothing to map (or not a plain file): read it the ordinary way.
		b, err := os.ReadFile(path)
		return b, func() error { return nil }, err
	}
	b, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		b, err := os.ReadFile(path)
		return b, func() error { return nil }, err
	}
	return b, func() error {
		if err := syscall.Munmap(b); err != nil {
			return fmt.Errorf("unmap: %w", err)
		}
		return nil
	}, nil
}
