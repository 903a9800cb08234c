package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

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
	streamCounts := fs.String("streams", "1,100,1000", "latency: comma-separated stream counts")
	runs := fs.Int("runs", 1, "latency: consecutive runs of each stream count")
	duration := fs.Duration("duration", 0, "latency: length of each run (default 20s, 8s with --short)")
	aligned := fs.Bool("aligned", false, "latency: release every stream's frames in the same instant (default: phases spread over a frame period)")
	ceiling := fs.Bool("ceiling", false, "latency: then search the highest stream count that keeps up (backlog bounded, empty at the end)")
	partitions := fs.Int("partitions", 8, "latency: partitions of the topics, one consumer-group member each")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("bench: name at least one suite (or `all`)")
	}
	opts := bench.Options{Out: out, DataDir: *dataDir, ToolsDir: *toolsDir, Python: *python, Short: *short}
	for _, f := range strings.Split(*streamCounts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("bench: --streams %q: want positive counts separated by commas", *streamCounts)
		}
		opts.Streams = append(opts.Streams, n)
	}
	opts.Runs, opts.Duration, opts.Aligned, opts.Partitions, opts.Ceiling = *runs, *duration, *aligned, *partitions, *ceiling
	if *noRef {
		opts.Python = ""
	}
	if exe, err := os.Executable(); err == nil {
		opts.BrokerExe = exe
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return bench.Run(ctx, opts, fs.Args())
}
