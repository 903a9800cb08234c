package edf

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteForExternalCheck writes files for tools/edf_writer_check.py, which opens them with
// MNE-Python and biosig (save2gdf). It runs only when NEUROSTREAM_EDF_CHECK_DIR names a directory.
func TestWriteForExternalCheck(t *testing.T) {
	dir := os.Getenv("NEUROSTREAM_EDF_CHECK_DIR")
	if dir == "" {
		t.Skip("NEUROSTREAM_EDF_CHECK_DIR not set: no files written for the MNE/biosig check")
	}
	src, err := Read(sharedData(t, "physionet_eegmmidb_S001/S001R04.edf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []Format{FormatEDF, FormatBDF} {
		path := filepath.Join(dir, "S001R04_written."+map[Format]string{FormatEDF: "edf", FormatBDF: "bdf"}[format])
		if err := Write(path, src, WriteOptions{Format: format}); err != nil {
			t.Fatal(err)
		}
	}
}
