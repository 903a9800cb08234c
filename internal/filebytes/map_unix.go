//go:build unix

package filebytes

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only and returns them with a function that unmaps them.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error {
		if err := syscall.Munmap(b); err != nil {
			return fmt.Errorf("unmap %s: %w", f.Name(), err)
		}
		return nil
	}, nil
}
