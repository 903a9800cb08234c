//go:build unix

package mmap

import (
	"fmt"
	"os"
	"syscall"
)

// Map maps a file read-only and returns its bytes and a function that unmaps them. Mapping instead
// of os.ReadFile saves zeroing and copying a buffer as large as the file: a reader decodes straight
// from the page cache. Files that cannot be mapped (empty, not regular, mmap refused) are read the
// ordinary way. The bytes must not be used after release.
func Map(path string) (b []byte, release func() error, err error) {
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
		return readAll(path)
	}
	b, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return readAll(path)
	}
	return b, func() error {
		if err := syscall.Munmap(b); err != nil {
			return fmt.Errorf("unmap %s: %w", path, err)
		}
		return nil
	}, nil
}
