package main

import (
	"context"
	"fmt"
	"io"

	"github.com/neurostream/neurostream/internal/bench"
	"github.com/neurostream/neurostream/internal/shareddata"
)

func runBench(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("bench", "[flags] SUITE...",
		"Runs benchmark suites. Each prints Go timings (ns/op, allocs/op) next to the reference\n"+
			"implementation (scipy, MNE, scikit-learn, PyTorch) timed in the same run by tools/bench/<suite>.py,\n"+
			"and their ratio (reference time / Go time: above 1 means Go is faster). Suites:\n"+bench.SuiteList())
	fs.SetOutput(out)
	dataDir := fs.String("data", shareddata.Dir(), "directory of the shared recordings")
	toolsDir := fs.String("tools", bench.FindRepoDir("tools"), "the repository's tools/ directory (reference scripts)")
	python := fs.String("python", "/usr/bin/python3", "Python interpreter for reference timings (with scipy/MNE/sklearn/torch)")
	noRef := fs.Bool("no-reference", false, "skip the Python reference timings")
	short := fs.Bool("short", false, "smaller workloads")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("bench: name at least one suite (or `all`)")
	}
	opts := bench.Options{Out: out, DataDir: *dataDir, ToolsDir: *toolsDir, Python: *python, Short: *short}
	if *noRef {
		opts.Python = ""
	}
	return bench.Run(ctx, opts, fs.Args())
}
