package xdf

import (
	"os"
	"testing"
)

// TestWriteForPythonCheck writes a file for tools/xdf_check.py when XDF_CHECK_OUT names a path;
// `go test` alone skips it (no Python needed).
func TestWriteForPythonCheck(t *testing.T) {
	out := os.Getenv("XDF_CHECK_OUT")
	if out == "" {
		t.Skip("set XDF_CHECK_OUT=path to write a file for tools/xdf_check.py")
	}
	if err := Write(out, synthRecording()); err != nil {
		t.Fatal(err)
	}
}
