package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/fif"
)

// formatsBenchCase is one file-reading workload of the formats suite; its name is the key that
// tools/bench/formats.py prints for the same workload read by MNE (preload=True).
type formatsBenchCase struct {
	name  string
	paths []string // relative to the data directory; one op reads all of them
	read  func(path string) error
}

// formatsBenchCases lists the workloads. Other formats add their cases here and in formats.py.
func formatsBenchCases(dataDir string) []formatsBenchCase {
	readEDF := func(p string) error { _, err := edf.Read(p); return err }
	readFIF := func(p string) error { _, err := fif.Read(p); return err }
	var runs []string
	matches, _ := filepath.Glob(filepath.Join(dataDir, "physionet_eegmmidb_S001", "S001R*.edf"))
	for _, m := range matches {
		runs = append(runs, filepath.Join("physionet_eegmmidb_S001", filepath.Base(m)))
	}
	return []formatsBenchCase{
		{"edf-physionet-R01", []string{"physionet_eegmmidb_S001/S001R01.edf"}, readEDF},
		{"edf-physionet-R04", []string{"physionet_eegmmidb_S001/S001R04.edf"}, readEDF},
		{"edf-physionet-all", runs, readEDF},
		{"bdf-generator", []string{"mne_testing_formats/BDF/test_generator_2.bdf"}, readEDF},
		// FIF cases: their MNE timings come from tools/bench/formats_fif.py.
		{"fif-read/test_elekta_3ch_raw", []string{"mne_testing_formats/FIF/test_elekta_3ch_raw.fif"}, readFIF},
		{"fif-read/sample_audvis_trunc_raw_sss", []string{"mne_testing_formats/FIF/sample_audvis_trunc_raw_sss.fif"}, readFIF},
		{"fif-read/neuromag122_test_file-raw", []string{"mne_testing_formats/FIF/neuromag122_test_file-raw.fif"}, readFIF},
	}
}

func benchFormats(ctx context.Context, r *benchRun) error {
	cases := formatsBenchCases(r.dataDir)
	results := make([]testing.BenchmarkResult, len(cases))
	for i, c := range cases {
		if len(c.paths) == 0 {
			return fmt.Errorf("formats workload %s: no files found under %s", c.name, r.dataDir)
		}
		paths := make([]string, len(c.paths))
		for k, p := range c.paths {
			paths[k] = filepath.Join(r.dataDir, p)
			if _, err := os.Stat(paths[k]); err != nil {
				return fmt.Errorf("formats workload %s: %s not found: put the shared data set beside the repo or pass --data", c.name, paths[k])
			}
		}
		var readErr error
		results[i] = r.Go(func(b *testing.B) {
			for b.Loop() {
				for _, p := range paths {
					if err := c.read(p); err != nil {
						readErr = err
						b.FailNow()
					}
				}
			}
		})
		if readErr != nil {
			return fmt.Errorf("formats workload %s: %w", c.name, readErr)
		}
	}
	ref, refErr := r.Reference(ctx, "formats.py", r.dataDir)
	if refErr != nil {
		fmt.Fprintf(r.out, "reference unavailable: %v\n", refErr)
	}
	if fifRef, err := r.Reference(ctx, "formats_fif.py", filepath.Join(r.dataDir, "mne_testing_formats", "FIF")); err != nil {
		fmt.Fprintf(r.out, "FIF reference unavailable: %v\n", err)
	} else {
		if ref == nil {
			ref = map[string]float64{}
		}
		for k, v := range fifRef {
			ref[k] = v
		}
	}
	fmt.Fprintln(r.out, "workload: read whole files from disk into memory (Go: samples in volts as float64; MNE: read_raw_*(preload=True)); one op = all files of the case")
	r.Header()
	for i, c := range cases {
		r.Compare(c.name, results[i], ref[c.name], ">= 5x")
	}
	return nil
}
