package filebytes

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Load and Map return the file's bytes whichever way they get them; a smaller file read after a
// larger one (whose released buffer the pool may hand back) gets exactly its own bytes; empty and
// missing files.
func TestLoadAndMap(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("neurostream"), 100_000)
	path := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func(string) ([]byte, func() error, error){"Load": Load, "Map": Map} {
		b, release, err := load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("%s: %d bytes differ from the file's %d", name, len(b), len(want))
		}
		if err := release(); err != nil {
			t.Fatalf("%s release: %v", name, err)
		}
	}

	small := filepath.Join(dir, "small.bin")
	if err := os.WriteFile(small, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, release1, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	release1()
	b2, release2, err := Load(small)
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	if string(b2) != "abc" {
		t.Fatalf("second Load gave %q", b2)
	}

	empty := filepath.Join(dir, "empty.bin")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, release, err := Load(empty); err != nil || len(b) != 0 {
		t.Fatalf("empty file: %d bytes, %v", len(b), err)
	} else {
		release()
	}
	if _, _, err := Load(filepath.Join(dir, "missing.edf")); err == nil || !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}
