// Package bench measures neurostream against the reference implementations (scipy, MNE,
// scikit-learn, PyTorch) in the same run and prints ratios; `neurostream bench` calls it. Each suite
// lives in a file named for it and is listed in benchSuites.
package bench

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
)

// A benchSuite measures one area against its reference implementation in the same run.
type benchSuite struct {
	name    string
	summary string
	run     func(ctx context.Context, r *benchRun) error
}

func benchSuites() []benchSuite {
	return []benchSuite{
		{"latency", "end-to-end latency through the broker for 1, 100 and 1,000 streams; --ceiling: the most streams that keep up", benchLatency},
		{"clients", "Kafka clients side by side: kafka-go (our transport) vs franz-go's kgo, same frames, same broker: throughput, CPU, allocs, latency", benchClients},
		{"ingest", "ingest ceiling: float32 samples/s one source pushes through the broker to one consumer (64, 306, 1,024, 2,500 ch), beside liblsl outlet -> inlet", benchIngest},
		{"dsp", "streaming SOS band-pass on 64-ch real EEG vs scipy.signal.sosfilt", benchDSP},
		{"features", "Welch PSD, band power and the filter+feature chain vs scipy/sklearn", benchFeatures},
		{"formats", "reading EDF/BDF (and other formats) files vs MNE read_raw_*(preload=True)", benchFormats},
		{"decoders", "CSP+LDA, tangent space + LR, MDM fit and one-window predict vs MNE/scikit-learn", benchDecoders},
		{"lsl", "Lab Streaming Layer: liblsl outlet -> liblsl's inlet vs neurostream's inlet; LSL -> Kafka -> prediction", benchLSL},
		{"tokens", "tokenizers (k-means, residual VQ, mu-law, learnt VQ) on held-out EEG and MEG: reconstruction, usage, bits/s, streams/core", benchTokens},
		{"onnx", "EEGNet, ShallowConvNet, MVCNet, speech and visual brain modules through ONNX Runtime vs PyTorch", benchONNX},
	}
}

// benchRun carries what a suite needs: where the data and reference scripts are, and how to print.
type benchRun struct {
	out      io.Writer
	dataDir  string // ../shared/data or $NEUROSTREAM_DATA
	toolsDir string // the repository's tools/ directory, for tools/bench/<suite>.py
	python   string // interpreter for reference scripts; "" when references are off
	short    bool   // smaller workloads, for a quick look
	streams  []int  // stream counts for the latency suite (default 1, 100 and 1,000)
	runs     int    // consecutive runs per stream count in the latency suite (default 1)
	aligned  bool   // latency: release every stream's frames in the same instant
	ceiling  bool   // latency: search the highest stream count that keeps up
	// partitions of the latency suite's topics, one consumer-group member each (default 8)
	partitions int
	duration   time.Duration
	brokerExe  string // the neurostream binary, to run the broker in its own process ("": in this one)
}

// Options says where the data and reference scripts are and how to print.
type Options struct {
	Out      io.Writer
	DataDir  string // ../shared/data or $NEUROSTREAM_DATA
	ToolsDir string // the repository's tools/ directory, for tools/bench/<suite>.py
	Python   string // interpreter for reference scripts; "" turns references off
	Short    bool   // smaller workloads, for a quick look
	// Streams, Runs and Duration shape the latency suite: how many streams (default 1, 100 and 1,000), how
	// many consecutive runs of each (default 1) and how long each runs (default 20 s, 8 s with Short).
	Streams    []int
	Runs       int
	Aligned    bool
	Partitions int
	// Ceiling makes the latency suite search the highest stream count that keeps up.
	Ceiling  bool
	Duration time.Duration
	// BrokerExe is the neurostream binary: suites that compare Kafka clients run its `broker` in a
	// process of its own, so that client and broker CPU are measured apart ("": in this process).
	BrokerExe string
}

// Run runs the named suites ("all" for every one) in the order Suites lists them.
func Run(ctx context.Context, opts Options, names []string) error {
	for _, w := range names {
		if w != "all" && !hasSuite(w) {
			return fmt.Errorf("bench: unknown suite %q; suites:\n%s", w, SuiteList())
		}
	}
	r := &benchRun{out: opts.Out, dataDir: opts.DataDir, toolsDir: opts.ToolsDir, python: opts.Python, short: opts.Short,
		streams: opts.Streams, runs: max(opts.Runs, 1), duration: opts.Duration, aligned: opts.Aligned, ceiling: opts.Ceiling, partitions: opts.Partitions, brokerExe: opts.BrokerExe}
	for _, s := range benchSuites() {
		if !contains(names, s.name) && !contains(names, "all") {
			continue
		}
		fmt.Fprintf(r.out, "== bench %s: %s\n", s.name, s.summary)
		if err := s.run(ctx, r); err != nil {
			return fmt.Errorf("bench %s: %w", s.name, err)
		}
		fmt.Fprintln(r.out)
	}
	return nil
}

// SuiteList describes every suite, one per line, for --help.
func SuiteList() string {
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

// FindRepoDir walks up from the working directory to the directory holding go.mod and returns sub
// inside it ("" if there is none).
func FindRepoDir(sub string) string {
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
