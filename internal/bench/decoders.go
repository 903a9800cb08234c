package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/decoders/model"
	"github.com/neurostream/neurostream/decoders/train"
	"github.com/neurostream/neurostream/streams"
)

// The decoders suite's workload, shared with tools/bench/decoders.py: PhysioNet S001 R03+R07 (real
// left/right fist), 64 channels at 160 Hz, butter(4, [8, 30]) applied causally, epochs 0.5-2.5 s
// after T1/T2: 30 epochs of 64 ch x 321 samples. Fits use all 30; predict is one window.
func benchDecoders(ctx context.Context, r *benchRun) error {
	cfg := train.Config{Events: []train.Event{{Match: "T1", Label: "left"}, {Match: "T2", Label: "right"}},
		BandHz: [2]float64{8, 30}, TminSec: 0.5, TmaxSec: 2.5}
	var ds train.Dataset
	for _, run := range []string{"R03", "R07"} {
		path := filepath.Join(r.dataDir, "physionet_eegmmidb_S001", "S001"+run+".edf")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("decoders workload: %s not found: put the shared data set beside the repo or pass --data", path)
		}
		rec, err := edf.Read(path)
		if err != nil {
			return fmt.Errorf("decoders workload: %w", err)
		}
		d, err := train.EpochRecording(rec, path, cfg)
		if err != nil {
			return fmt.Errorf("decoders workload: %w", err)
		}
		if err := ds.Append(d); err != nil {
			return fmt.Errorf("decoders workload: %w", err)
		}
	}
	type result struct {
		kind       model.Kind
		fit, pred  testing.BenchmarkResult
		fitTarget  string
		predTarget string
	}
	var results []result
	for _, kind := range []model.Kind{model.CSPLDA, model.TSLR, model.MDM} {
		if err := ctx.Err(); err != nil {
			return err
		}
		spec := ds.Spec(kind, cfg)
		fit := r.Go(func(b *testing.B) {
			for b.Loop() {
				if _, err := model.Fit(spec, ds.Epochs, ds.Labels, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		m, err := model.Fit(spec, ds.Epochs, ds.Labels, nil)
		if err != nil {
			return fmt.Errorf("fit %s: %w", kind, err)
		}
		dec, err := model.New(m)
		if err != nil {
			return err
		}
		var p streams.Prediction
		window := ds.Epochs[0]
		pred := r.Go(func(b *testing.B) {
			for b.Loop() {
				if err := dec.Decode(window, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
		res := result{kind: kind, fit: fit, pred: pred, fitTarget: ">= 5x", predTarget: "0 allocs"}
		if kind == model.CSPLDA {
			res.predTarget = "<= 20us, 0 allocs"
		}
		results = append(results, res)
	}
	ref, refErr := r.Reference(ctx, "decoders.py", r.dataDir)
	if refErr != nil {
		fmt.Fprintf(r.out, "reference unavailable: %v\n", refErr)
	}
	fmt.Fprintf(r.out, "workload: S001 R03+R07, %d epochs x %d ch x %d samples, butter(4, [8, 30]) causal; "+
		"reference: MNE CSP + sklearn LDA, numpy tangent space / MDM + sklearn LR\n",
		len(ds.Epochs), len(ds.Channels), len(ds.Epochs[0][0]))
	fmt.Fprintf(r.out, "both sides: plain fit on the same %d epochs (covariances included, no CV), predict one window; "+
		"Python times exclude import and file reading; Go GOMAXPROCS=%d; load average at the end %s\n",
		len(ds.Epochs), runtime.GOMAXPROCS(0), loadAverage())
	r.Header()
	for _, res := range results {
		r.Compare("fit "+string(res.kind), res.fit, ref["fit-"+string(res.kind)], res.fitTarget)
	}
	for _, res := range results {
		r.Compare("predict one window "+string(res.kind), res.pred, ref["predict-"+string(res.kind)], res.predTarget)
	}
	return nil
}

// loadAverage is the 1-minute load average (Linux), "n/a" elsewhere: timings on a shared machine
// are only comparable within one run, and the load says how far to trust them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "n/a"
}
