//go:build unix

package edf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/internal/filebytes"
)

// A file truncated by another process while mapped must give an error, not crash the program.
func TestMappedFileTruncatedWhileReading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shrinking.edf")
	if err := os.WriteFile(path, smallFile(t, FormatEDF), 0o644); err != nil {
		t.Fatal(err)
	}
	b, release, err := filebytes.Map(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err = decodeMapped(path, b, ReadOptions{})
	if err == nil || !strings.Contains(err.Error(), "changed while it was being read") {
		t.Fatalf("err = %v, want a 'changed while it was being read' error", err)
	}
}
