//go:build !unix

package mmap

// Map reads the whole file where memory mapping is not available.
func Map(path string) ([]byte, func() error, error) { return readAll(path) }
