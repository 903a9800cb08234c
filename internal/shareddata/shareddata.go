// Package shareddata locates the public recordings that tests and benchmarks read. They are never part
// of the repository: they live in $NEUROSTREAM_DATA or, by default, in ../shared/data beside the
// repository root (the layout CI uses). Tests that need a file skip, with a message saying where to
// put it, when it is absent.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns $NEUROSTREAM_DATA, else ../shared/data beside the repository root found by walking up
// from the working directory to go.mod (../shared/data relative to the working directory if none).
func Dir() string {
	if d := os.Getenv("NEUROSTREAM_DATA"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("..", "shared", "data")
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join("..", "shared", "data")
		}
		dir = parent
	}
}

// Path returns the path of rel inside Dir, skipping tb if it does not exist.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(Dir(), rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("%s: not found; put the shared data set beside the repository (../shared/data) or set NEUROSTREAM_DATA", p)
	}
	return p
}
