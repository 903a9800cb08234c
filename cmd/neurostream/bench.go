package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/internal/shareddata"
)

// A benchSuite measures one area against its reference implementation in the same run. Each suite
// lives in bench_<name>.go and is listed in benchSuites.
type benchSuite struct {
	name    string
	summary string
	run     func(ctx context.Context, r *benchRun) error
}

func benchSuites() []benchSuite {
	return []benchSuite{
		{"latency", "end-to-end latency through the broker for 1 and 100 streams (issue 2 targets)", benchLatency},
		{"dsp", "streaming SOS band-pass on 64-ch real EEG vs scipy.signal.sosfilt (issue 4 targets)", benchDSP},
		{"features", "Welch PSD, band power and the filter+feature chain vs scipy/sklearn (issue 4)", benchFeatures},
		{"formats", "reading EDF/BDF (and other formats) files vs MNE read_raw_*(preload=True) (issue 3)", benchFormats},
		{"decoders", "CSP+LDA, tangent space + LR, MDM fit and one-window predict vs MNE/scikit-learn (issue 5)", benchDecoders},
		{"onnx", "EEGNet, ShallowConvNet, MVCNet, speech and visual brain modules through ONNX Runtime vs PyTorch (issue 6)", benchONNX},
	}
}

// benchRun carries what a suite needs: where the data and reference scripts are, and how to print.
type benchRun struct {
	out      io.Writer
	dataDir  string // ../shared/data or $NEUROSTREAM_DATA
	toolsDir string // the repository's tools/ directory, for tools/bench/<suite>.py
	python   string // interpreter for reference scripts; "" when references are off
	short    bool   // smaller workloads, for a quick look
}

func runBench(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("bench", "[flags] SUITE...",
		"Runs benchmark suites. Each prints Go timings (ns/op, allocs/op) next to the reference\n"+
			"implementation (scipy, MNE, scikit-learn, PyTorch) timed in the same run by tools/bench/<suite>.py,\n"+
			"and their ratio (reference time / Go time: above 1 means Go is faster). Suites:\n"+suiteList())
	fs.SetOutput(out)
	dataDir := fs.String("data", shareddata.Dir(), "directory of the shared recordings")
	toolsDir := fs.String("tools", findRepoDir("tools"), "the repository's tools/ directory (reference scripts)")
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
	r := &benchRun{out: out, dataDir: *dataDir, toolsDir: *toolsDir, python: *python, short: *short}
	if *noRef {
		r.python = ""
	}
	want := fs.Args()
	for _, s := range benchSuites() {
		if !contains(want, s.name) && !contains(want, "all") {
			continue
		}
		fmt.Fprintf(out, "== bench %s: %s\n", s.name, s.summary)
		if err := s.run(ctx, r); err != nil {
			return fmt.Errorf("bench %s: %w", s.name, err)
		}
		fmt.Fprintln(out)
	}
	for _, w := range want {
		if w != "all" && !hasSuite(w) {
			return fmt.Errorf("bench: unknown suite %q; suites:\n%s", w, suiteList())
		}
	}
	return nil
}

func suiteList() string {
	var b strings.Builder
	for _, s := range benchSuites() {
		fmt.Fprintf(&b, "  %-10s %s\n", s.name, s.summary)
	}
	return b.String()
}

func hasSuite(name string) bool {
	for _, s := range benchSuites() {
		if s.name == name {
			return true
		}
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Go measures fn like `go test -bench` does (fn must loop b.N times) and reports allocations.
func (r *benchRun) Go(fn func(b *testing.B)) testing.BenchmarkResult {
	return testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		fn(b)
	})
}

// Reference runs tools/bench/<script> with args and returns its JSON object of seconds per
// operation. An error says why no reference is available; suites print it and go on.
func (r *benchRun) Reference(ctx context.Context, script string, args ...string) (map[string]float64, error) {
	if r.python == "" {
		return nil, fmt.Errorf("references disabled (--no-reference)")
	}
	path := filepath.Join(r.toolsDir, "bench", script)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("reference script %s not found (run from the repository or pass --tools)", path)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, r.python, append([]string{path}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", r.python, path, err, lastLine(stderr.String()))
	}
	var res map[string]float64
	if err := json.Unmarshal(bytes.TrimSpace(lastLineBytes(stdout.Bytes())), &res); err != nil {
		return nil, fmt.Errorf("%s printed no JSON object of timings: %w", path, err)
	}
	return res, nil
}

// Header prints the column titles for Compare rows.
func (r *benchRun) Header() {
	fmt.Fprintf(r.out, "%-34s %14s %10s %14s %9s  %s\n", "case", "go/op", "allocs/op", "reference/op", "ratio", "target")
}

// Compare prints one row: the Go result, the reference's seconds per op (<= 0 if unavailable), the
// ratio reference/Go, and the target it is held to.
func (r *benchRun) Compare(name string, g testing.BenchmarkResult, refSecPerOp float64, target string) {
	goSec := float64(g.NsPerOp()) / 1e9
	ref, ratio := "n/a", "n/a"
	if refSecPerOp > 0 && goSec > 0 {
		ref = fmtDuration(refSecPerOp)
		ratio = fmt.Sprintf("%.2fx", refSecPerOp/goSec)
	}
	fmt.Fprintf(r.out, "%-34s %14s %10d %14s %9s  %s\n", name, fmtDuration(goSec), g.AllocsPerOp(), ref, ratio, target)
}

func fmtDuration(sec float64) string {
	return time.Duration(sec * 1e9).String()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func lastLineBytes(b []byte) []byte { return []byte(lastLine(string(b))) }

// findRepoDir walks up from the working directory to the directory holding go.mod and returns sub
// inside it ("" if there is none).
func findRepoDir(sub string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, sub)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
