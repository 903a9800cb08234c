package main

import (
	"context"
	"fmt"
	"io"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/decoders/alpha"
)

func runCalibrateAlpha(_ context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("calibrate-alpha", "(--open FILE.edf --closed FILE.edf | --synthetic) --out MODEL.json",
		"Calibrates the eyes-open/closed decoder: relative occipital alpha (O1/Oz/O2) in 2-s windows of an\n"+
			"eyes-open and an eyes-closed recording (e.g. PhysioNet EEGMMIDB R01 and R02), threshold at the best\n"+
			"separation. --synthetic calibrates on labelled synthetic EEG instead.")
	fs.SetOutput(out)
	open := fs.String("open", "", "EDF/EDF+ recording with the eyes open")
	closed := fs.String("closed", "", "EDF/EDF+ recording with the eyes closed")
	synth := fs.Bool("synthetic", false, "calibrate on 2 minutes of synthetic EEG (32 ch, 250 Hz)")
	outPath := fs.String("out", "alpha.json", "model file to write")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var (
		m   *alpha.Model
		acc float64
		err error
	)
	switch {
	case *synth:
		m, acc, err = calibrateOnSynthetic(synthetic.Config{}, 120)
	case *open != "" && *closed != "":
		m, acc, err = calibrateOnFiles(*open, *closed)
	default:
		fs.Usage()
		return fmt.Errorf("calibrate-alpha: give --open and --closed recordings, or --synthetic")
	}
	if err != nil {
		return err
	}
	if err := m.Save(*outPath); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s: threshold %.3f on log10(alpha/total power), training accuracy %.3f\n", *outPath, m.Threshold, acc)
	return nil
}

func calibrateOnFiles(openPath, closedPath string) (*alpha.Model, float64, error) {
	m := alpha.DefaultModel()
	feats := func(path string) ([]float64, error) {
		rec, err := edf.Read(path)
		if err != nil {
			return nil, err
		}
		d := alpha.NewDecoder(&m)
		idx, err := d.Bind(rec.Info)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ext, err := alpha.NewExtractor(&m, rec.Info.SampleRateHz)
		if err != nil {
			return nil, err
		}
		n := d.WindowSamples()
		window := make([][]float64, len(idx))
		var out []float64
		for start := 0; start+n <= rec.NumSamples(); start += n {
			for i, c := range idx {
				window[i] = rec.Data[c][start : start+n]
			}
			x, err := ext.Feature(window)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, x)
		}
		return out, nil
	}
	o, err := feats(openPath)
	if err != nil {
		return nil, 0, err
	}
	c, err := feats(closedPath)
	if err != nil {
		return nil, 0, err
	}
	acc, err := m.Calibrate(o, c)
	m.CalibratedOn = openPath + " (open) vs " + closedPath + " (closed)"
	return &m, acc, err
}
