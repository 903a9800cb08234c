// Package filebytes gives format readers (acquisition/edf, acquisition/fif) a whole file's bytes:
// files up to ReadLimit are read into a reused buffer, larger ones memory-mapped (on unix). Readers
// decode from those bytes, copy out what they keep, and then call release, after which the bytes
// must not be used.
package filebytes

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// ReadLimit is the largest file Load reads into a buffer instead of mapping. Touching a fresh
// mapping's pages cost about 0.45 ms per MB on the 2-core VM this was measured on, copying the same
// page-cache pages into a buffer the process has already touched 0.1–0.2 ms per MB: reading the 12
// PhysioNet runs (acquisition/edf BenchmarkReadPhysioNetAll) took 48–54 ms mapped and 26–30 ms
// read, the FIF test files 10–30% less. Past this size a copy would double the memory a recording
// needs, and mapping costs little next to decoding it.
const ReadLimit = 64 << 20

// buffers holds read buffers between Loads (as *[]byte), so that consecutive reads reuse memory the
// process has already faulted in instead of zeroing and faulting in a new buffer per file.
var buffers sync.Pool

// Load returns the bytes of the file at path and a function that releases them.
func Load(path string) (b []byte, release func() error, err error) { return load(path, ReadLimit) }

// Map maps the file at path read-only where the platform can (Load does for large files) and reads
// it otherwise. The bytes must not be used after release.
func Map(path string) (b []byte, release func() error, err error) { return load(path, 0) }

// load maps files larger than readLimit, where mapping works, and reads the others.
func load(path string, readLimit int64) ([]byte, func() error, error) {
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
	if !st.Mode().IsRegular() || size != int64(int(size)) {
		b, err := io.ReadAll(f)
		return b, func() error { return nil }, err
	}
	if size > readLimit {
		if b, release, err := mapFile(f, size); err == nil {
			return b, release, nil
		}
	}
	bp, _ := buffers.Get().(*[]byte)
	if bp == nil || cap(*bp) < int(size) {
		nb := make([]byte, size)
		bp = &nb
	}
	b := (*bp)[:size]
	if _, err := io.ReadFull(f, b); err != nil {
		buffers.Put(bp)
		return nil, nil, fmt.Errorf("read %s: %w (did the file change while it was being read?)", path, err)
	}
	return b, func() error { buffers.Put(bp); return nil }, nil
}
