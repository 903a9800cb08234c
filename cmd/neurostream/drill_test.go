package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var built struct {
	once sync.Once
	exe  string
	err  error
	out  []byte
}

// testBinary builds the neurostream binary once per test run, for tests that run it as processes.
func testBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "neurostream-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.exe = filepath.Join(dir, "neurostream")
		built.out, built.err = exec.Command("go", "build", "-o", built.exe, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.exe
}

// The broker drill with the real binary: a persistent broker is killed with SIGKILL three times while
// the source, filter and decode stages run as separate processes. Every process recovers by itself,
// frames acquired while the broker is dead reach it from the source's spool, and no frame or
// prediction is lost or duplicated on any topic.
func TestDrillBrokerKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes for ~30 s")
	}
	exe := testBinary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := drillBrokerRestart(ctx, exe, dir, 3, 3*time.Second, 2*time.Second, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var table bytes.Buffer
	res.print(&table)
	t.Logf("\n%s", table.String())
	if len(res.survived) != 3 {
		t.Errorf("processes that recovered by themselves: %v of %v (logs in %s)", res.survived, res.processes, dir)
	}
	for _, tc := range res.topics {
		if tc.distinct == 0 || tc.lost != 0 || tc.duplicated != 0 || tc.epochs != 1 {
			t.Errorf("%s: %d distinct, %d lost, %d duplicated, %d source runs", tc.name, tc.distinct, tc.lost, tc.duplicated, tc.epochs)
		}
	}
	if res.outageFrames == 0 {
		t.Error("no raw frame was acquired while the broker was dead: the spool was not exercised")
	}
}
