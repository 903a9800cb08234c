package edf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/internal/shareddata"
)

// Workloads match tools/bench/formats.py: one op reads a whole file from disk into a Recording.
func benchmarkRead(b *testing.B, paths ...string) {
	var size int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range paths {
			if _, err := Read(p); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkReadPhysioNetR01(b *testing.B) {
	benchmarkRead(b, shareddata.Path(b, "physionet_eegmmidb_S001/S001R01.edf"))
}

func BenchmarkReadPhysioNetR04(b *testing.B) {
	benchmarkRead(b, shareddata.Path(b, "physionet_eegmmidb_S001/S001R04.edf"))
}

func BenchmarkReadPhysioNetAll(b *testing.B) {
	paths, err := filepath.Glob(filepath.Join(filepath.Dir(shareddata.Path(b, "physionet_eegmmidb_S001/S001R01.edf")), "S001R*.edf"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no PhysioNet runs: %v", err)
	}
	benchmarkRead(b, paths...)
}

func BenchmarkReadBDFGenerator(b *testing.B) {
	benchmarkRead(b, shareddata.Path(b, "mne_testing_formats/BDF/test_generator_2.bdf"))
}
