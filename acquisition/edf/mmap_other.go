//go:build !unix

package edf

import "os"

// mapFile reads the whole file; only unix systems map it (see mmap_unix.go).
func mapFile(path string) ([]byte, func() error, error) {
	b, err := os.ReadFile(path)
	return b, func() error { return nil }, err
}
