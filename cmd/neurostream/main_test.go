package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMain gives the tests their own state directory: the sources' spools (and anything else
// neurostream keeps between commands) must not land in, or come from, the user's.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "neurostream-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	if built.exe != "" {
		os.RemoveAll(filepath.Dir(built.exe))
	}
	os.Exit(code)
}
