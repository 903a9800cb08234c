package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/npz"
	"github.com/neurostream/neurostream/decoders/model"
	"github.com/neurostream/neurostream/decoders/train"
)

func runTrain(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("train", "[flags] RECORDING...",
		"Trains a native decoder from recordings with event annotations (EDF/EDF+/BDF/BDF+, FIF, Eegle .npz):\n"+
			"band-pass each recording causally (the filter the online stream goes through), cut epochs\n"+
			"around the mapped events, score by k-fold cross-validation (and on --test recordings), fit on\n"+
			"all the training epochs and write the model file for `neurostream decode` / the pipeline.")
	fs.SetOutput(out)
	events := fs.String("events", "T1=left,T2=right", "annotation=label mapping, e.g. T1=left,T2=right (codes work too: 2=target)")
	band := fs.String("band", "8,30", "band-pass LOW,HIGH in Hz (Butterworth, causal)")
	order := fs.Int("order", 4, "band-pass order")
	tmin := fs.Float64("tmin", 0.5, "epoch start after the event, seconds")
	tmax := fs.Float64("tmax", 2.5, "epoch end after the event, seconds (inclusive, as MNE)")
	decoder := fs.String("decoder", "csp-lda", "decoder: csp-lda | fbcsp | mdm | ts-lr | xdawn-ts")
	folds := fs.Int("folds", 5, "cross-validation folds (0 to skip)")
	channels := fs.String("channels", "", "comma-separated channels to use (default: every EEG channel)")
	recenter := fs.Bool("recenter", false, "mdm, ts-lr: re-centre each recording on its own Riemannian mean (session transfer; online: running mean)")
	test := fs.String("test", "", "comma-separated held-out recordings to score the final model on")
	outPath := fs.String("out", "model.json", "model file to write")
	reportPath := fs.String("report", "", "write the report as JSON here")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("train: name at least one recording")
	}
	kind, err := model.ParseKind(*decoder)
	if err != nil {
		return fmt.Errorf("train: --decoder: %w", err)
	}
	ev, err := train.ParseEvents(*events)
	if err != nil {
		return fmt.Errorf("train: --events: %w", err)
	}
	lo, hi, err := parseBand(*band)
	if err != nil {
		return fmt.Errorf("train: --band: %w", err)
	}
	cfg := train.Config{Events: ev, BandHz: [2]float64{lo, hi}, Order: *order, TminSec: *tmin, TmaxSec: *tmax, Recenter: *recenter}
	if *channels != "" {
		cfg.Channels = splitList(*channels)
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ds, err := loadEpochs(ctx, fs.Args(), cfg, out)
	if err != nil {
		return err
	}
	counts := make([]int, len(ds.Classes))
	for _, l := range ds.Labels {
		counts[l]++
	}
	fmt.Fprintf(out, "%d epochs (%s), %d channels x %d samples at %g Hz\n",
		len(ds.Epochs), classCounts(ds.Classes, counts), len(ds.Channels), len(ds.Epochs[0][0]), ds.SampleRateHz)
	spec := ds.Spec(kind, cfg)
	type fullReport struct {
		CrossValidation *train.Report `json:"cross_validation,omitempty"`
		Test            *train.Report `json:"test,omitempty"`
		Model           string        `json:"model"`
	}
	rep := fullReport{Model: *outPath}
	if *folds > 0 {
		fmt.Fprintf(out, "%d-fold cross-validation of %s:\n", *folds, kind)
		if rep.CrossValidation, err = train.CrossValidate(spec, ds, *folds, log, out); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		rep.CrossValidation.Print(out)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	spec.Training.CreatedAt = time.Now().UTC().Format(time.RFC3339)
	m, err := model.Fit(spec, ds.Epochs, ds.Labels, log)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(out, "fitted %s on %d epochs in %v\n", kind, len(ds.Epochs), time.Since(start).Round(time.Microsecond))
	if *test != "" {
		te, err := loadEpochs(ctx, splitList(*test), cfg, out)
		if err != nil {
			return err
		}
		if rep.Test, err = train.Evaluate(m, te); err != nil {
			return fmt.Errorf("train: test: %w", err)
		}
		rep.Test.Print(out)
	}
	if err := m.Save(*outPath); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(out, "wrote %s (training data sha256 %s)\n", *outPath, m.Training.DataSHA256[:16])
	if *reportPath != "" {
		b, err := json.MarshalIndent(rep, "", " ")
		if err != nil {
			return fmt.Errorf("train: report: %w", err)
		}
		if err := os.WriteFile(*reportPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("train: report: %w", err)
		}
		fmt.Fprintf(out, "wrote %s\n", *reportPath)
	}
	return nil
}

func loadEpochs(ctx context.Context, paths []string, cfg train.Config, out io.Writer) (*train.Dataset, error) {
	var ds train.Dataset
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := readTrainingRecording(p)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		d, err := train.EpochRecording(rec, p, cfg)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		fmt.Fprintf(out, "  %s: %d epochs\n", p, len(d.Epochs))
		if err := ds.Append(d); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	return &ds, nil
}

// readTrainingRecording reads what replay reads, plus Eegle .npz+.yml pairs (the bi2012 P300 set),
// which carry stimulus codes but cannot be streamed as a device would.
func readTrainingRecording(path string) (*acquisition.Recording, error) {
	if strings.EqualFold(filepath.Ext(path), ".npz") {
		return npz.ReadEEGLE(path)
	}
	return readRecording(path)
}

func parseBand(s string) (float64, float64, error) {
	parts := splitList(s)
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("%q: want LOW,HIGH in Hz, e.g. 8,30", s)
	}
	lo, err1 := strconv.ParseFloat(parts[0], 64)
	hi, err2 := strconv.ParseFloat(parts[1], 64)
	if err1 != nil || err2 != nil || !(lo > 0 && hi > lo) {
		return 0, 0, fmt.Errorf("%q: want 0 < LOW < HIGH in Hz, e.g. 8,30", s)
	}
	return lo, hi, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func classCounts(classes []string, counts []int) string {
	parts := make([]string, len(classes))
	for i, c := range classes {
		parts[i] = fmt.Sprintf("%s %d", c, counts[i])
	}
	return strings.Join(parts, ", ")
}
