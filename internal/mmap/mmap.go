// Package mmap gives format readers a file's bytes without copying them: a read-only memory
// mapping on unix, a plain read elsewhere. Readers (acquisition/edf, acquisition/fif) decode from
// those bytes and copy out what they keep, then release the mapping.
package mmap

import "os"

func readAll(path string) ([]byte, func() error, error) {
	b, err := os.ReadFile(path)
	return b, func() error { return nil }, err
}
