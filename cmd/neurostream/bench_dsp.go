package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/dsp"
)

// The dsp suite's workload, shared with tools/bench/dsp.py: 64 channels x 150,000 samples of
// PhysioNet S001 runs R03..R10 concatenated, band-passed by butter(4, [8, 30], fs=250).
var dspBenchRuns = []string{"R03", "R04", "R05", "R06", "R07", "R08", "R09", "R10"}

const (
	dspBenchChannels = 64
	dspBenchSamples  = 150000
)

func benchDSP(ctx context.Context, r *benchRun) error {
	x, err := dspBenchData(r.dataDir)
	if err != nil {
		return err
	}
	sos, err := dsp.Butter(4, []float64{8, 30}, dsp.Bandpass, 250)
	if err != nil {
		return fmt.Errorf("design band-pass: %w", err)
	}
	// Each op filters the previous op's output again: a stable band-pass keeps it in range, and the
	// timing then holds no copies.
	work := append([]float64(nil), x...)
	// The filter is built outside the measured functions so allocs/op counts only the filtering.
	f := dsp.NewSOSFilter(sos, dspBenchChannels)
	whole := r.Go(func(b *testing.B) {
		for b.Loop() {
			f.Reset()
			f.ProcessInterleaved(work)
		}
	})
	const frame = 8 * dspBenchChannels
	frames := r.Go(func(b *testing.B) {
		for b.Loop() {
			f.Reset()
			for off := 0; off < len(work); off += frame {
				f.ProcessInterleaved(work[off : off+frame])
			}
		}
	})
	ref, refErr := r.Reference(ctx, "dsp.py", r.dataDir)
	if refErr != nil {
		fmt.Fprintf(r.out, "reference unavailable: %v\n", refErr)
	}
	fmt.Fprintf(r.out, "workload: %d channels x %d samples (S001 %v), butter(4, [8, 30], fs=250) as %d sections; one op = whole array\n",
		dspBenchChannels, dspBenchSamples, dspBenchRuns, len(sos))
	r.Header()
	r.Compare("sosfilt whole array", whole, ref["sosfilt-whole"], ">= 1.4x, 0 allocs")
	r.Compare("sosfilt 8-sample frames", frames, ref["sosfilt-frames-8"], ">= 8x, 0 allocs per frame")
	return nil
}

// dspBenchData returns the workload interleaved sample-major, in volts.
func dspBenchData(dataDir string) ([]float64, error) {
	x := make([]float64, 0, dspBenchChannels*dspBenchSamples)
	for _, run := range dspBenchRuns {
		if len(x) == cap(x) {
			break
		}
		path := filepath.Join(dataDir, "physionet_eegmmidb_S001", "S001"+run+".edf")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("dsp workload: %s not found: put the shared data set beside the repo or pass --data", path)
		}
		rec, err := edf.Read(path)
		if err != nil {
			return nil, fmt.Errorf("dsp workload: %w", err)
		}
		if len(rec.Data) < dspBenchChannels {
			return nil, fmt.Errorf("dsp workload: %s has %d channels, need %d", path, len(rec.Data), dspBenchChannels)
		}
		for s := 0; s < rec.NumSamples() && len(x) < cap(x); s++ {
			for c := 0; c < dspBenchChannels; c++ {
				x = append(x, rec.Data[c][s])
			}
		}
	}
	if len(x) < cap(x) {
		return nil, fmt.Errorf("dsp workload: runs %v hold %d samples per channel, need %d", dspBenchRuns, len(x)/dspBenchChannels, dspBenchSamples)
	}
	return x, nil
}
