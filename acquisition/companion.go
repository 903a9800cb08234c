package acquisition

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Companion files are the data and marker files a header names (BrainVision's DataFile and
// MarkerFile, EEGLAB's .fdt). A header is data, possibly from elsewhere, so what it names must not
// steer a reader out of the recording: only the base name counts, looked up beside the header (a
// path from another machine, such as C:\rec\s01.eeg, finds s01.eeg), and the file must be a regular
// file — /dev/zero would be read forever, /etc/passwd published as samples.

// CompanionName returns the base name a header's companion reference is looked up under, and
// whether the reference said more than that (a directory part: worth a warning).
func CompanionName(ref string) (base string, rewritten bool, err error) {
	base = filepath.Base(strings.ReplaceAll(ref, `\`, "/"))
	if base == "." || base == ".." || base == "/" || base == "" {
		return "", false, fmt.Errorf("%q names no file", ref)
	}
	return base, base != ref, nil
}

// ReadCompanion reads the regular file base in dir, refusing anything larger than maxBytes.
func ReadCompanion(dir, base string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, base))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", filepath.Join(dir, base), st.Mode().Type())
	}
	if st.Size() > maxBytes {
		return nil, fmt.Errorf("%s holds %d bytes, more than the %d this reader takes", filepath.Join(dir, base), st.Size(), maxBytes)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, base), err)
	}
	return b, nil
}
