package gdf

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedData returns the path of a file in the shared recordings directory ($NEUROSTREAM_DATA, or
// ../shared/data beside the repository root), skipping the test if it is absent.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("NEUROSTREAM_DATA")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatalf("getwd: %v", err)
		}
		for {
			if _, err := os.Stat(filepath.Join(wd, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(wd)
			if parent == wd {
				t.Skip("repository root (go.mod) not found")
			}
			wd = parent
		}
		dir = filepath.Join(wd, "..", "shared", "data")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s: not found; put the shared data set beside the repo", p)
	}
	return p
}
