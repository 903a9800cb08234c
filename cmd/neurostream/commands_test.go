package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/internal/shareddata"
)

// Zero (or negative, or infinite) rates, frame sizes, codebook sizes and patch lengths are refused
// with the flag's name instead of silently becoming defaults or running at +Inf.
func TestZeroArgumentsRefused(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		run  func(context.Context, []string, *bytes.Buffer) error
		args []string
		flag string
	}{
		{wrap(runDemo), []string{"--rate", "0"}, "--rate 0"},
		{wrap(runDemo), []string{"--frame", "0"}, "--frame 0"},
		{wrap(runDemo), []string{"--rate", "-250"}, "--rate -250"},
		{wrap(runDemo), []string{"--rate", "+Inf"}, "--rate +Inf"},
		{wrap(runAcquire), []string{"--frame", "0"}, "--frame 0"},
		{wrap(runReplay), []string{"--frame", "0", "x.edf"}, "--frame 0"},
		{wrap(runReplay), []string{"--speed", "0", "x.edf"}, "--speed 0"},
		{wrap(runTrainTokenizer), []string{"--codewords", "0", "--synthetic", "10"}, "--codewords 0"},
		{wrap(runTrainTokenizer), []string{"--patch", "0", "--synthetic", "10"}, "--patch 0"},
	} {
		var out bytes.Buffer
		err := c.run(ctx, c.args, &out)
		if err == nil || !strings.Contains(err.Error(), c.flag) || !strings.Contains(err.Error(), "want a positive number") {
			t.Errorf("%v: err %v, want one naming %s", c.args, err, c.flag)
		}
	}
}

func wrap(f func(context.Context, []string, io.Writer) error) func(context.Context, []string, *bytes.Buffer) error {
	return func(ctx context.Context, args []string, b *bytes.Buffer) error { return f(ctx, args, b) }
}

// train-tokenizer does not overwrite an existing file unless --force.
func TestTrainTokenizerRefusesOverwrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "codebook.json")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	args := []string{"--synthetic", "10", "--codewords", "4", "--out", path}
	err := runTrainTokenizer(ctx, args, &out)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err %v, want a refusal naming --force", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	if err := runTrainTokenizer(ctx, append(args, "--force"), &out); err != nil {
		t.Fatalf("with --force: %v\n%s", err, out.String())
	}
	if b, _ := os.ReadFile(path); string(b) == "precious" {
		t.Fatal("--force did not write the codebook")
	}
}

// demo --duration ends by itself once the last window of its signal is decoded.
func TestDemoDurationEnds(t *testing.T) {
	kc := startBroker(t, "demo-duration")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := runDemo(ctx, []string{"--duration", "5", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace,
		"--metrics-addr", "off", "--view-addr", "off"}, &out)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("demo --duration 5: err %v, ctx %v\n%s", err, ctx.Err(), out.String())
	}
	// 5 s of signal, 2-s windows every 0.5 s: windows end at 2, 2.5, ..., 5 s.
	if n := strings.Count(out.String(), "P(closed)="); n != 7 || !strings.Contains(out.String(), "t=   5.00s") {
		t.Fatalf("%d predictions, want 7 ending with the window at 5 s:\n%s", n, out.String())
	}
}

// Ctrl-C (the context ending) stops a replay quietly with exit status 0.
func TestReplayInterruptedExitsZero(t *testing.T) {
	edf := shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R04.edf"))
	kc := startBroker(t, "replay-interrupt")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runReplay(ctx, []string{"--speed", "1", "--quiet", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace, edf}, &bytes.Buffer{})
	}()
	time.Sleep(500 * time.Millisecond) // not a timing assertion: the replay is cut wherever it is
	cancel()
	err := <-done
	if code := exitCode(err, true); err != nil || code != 0 {
		t.Fatalf("interrupted replay: err %v, exit status %d", err, code)
	}
	wrapped := fmt.Errorf("publish: %w", context.Canceled)
	if exitCode(wrapped, true) != 0 || exitCode(wrapped, false) != 1 || exitCode(errors.New("boom"), true) != 1 {
		t.Fatal("exitCode: a cancellation is success only when the user interrupted")
	}
}

// A config's relative model path that is missing says where it was looked for (run from another
// directory than the repository root, configs/models/... is not found).
func TestExplainRelativePath(t *testing.T) {
	_, err := os.Open(filepath.Join("no-such-dir", "model.json"))
	got := explainRelativePath(fmt.Errorf("stage 0-decoder: load alpha model: %w", err))
	wd, _ := os.Getwd()
	if !errors.Is(got, fs.ErrNotExist) || !strings.Contains(got.Error(), "working directory, "+wd) {
		t.Fatalf("missing relative model: %v", got)
	}
	abs := fmt.Errorf("load: %w", &fs.PathError{Op: "open", Path: "/nowhere/model.json", Err: fs.ErrNotExist})
	if got := explainRelativePath(abs); got != abs {
		t.Fatalf("an absolute path needs no hint: %v", got)
	}
	if explainRelativePath(nil) != nil {
		t.Fatal("nil error changed")
	}
}
