package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
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

// A source killed with SIGKILL while the broker is down loses nothing it had spooled: its next run
// publishes the earlier run's frames first, and the first run's stream is whole, up to frames
// acquired after the broker died.
func TestSpoolSurvivesSourceKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary as processes")
	}
	exe := testBinary(t)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "NEUROSTREAM_BROKERS=")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	startBroker := func(i int) *drillProc {
		b, err := startDrillProc(exe, dir, fmt.Sprintf("broker-%d", i), env, "broker", "--addr", addr, "--data-dir", filepath.Join(dir, "data"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := waitListening(ctx, addr, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := startBroker(0)
	src, err := startDrillProc(exe, dir, "source-1", env, "acquire", "--brokers", addr, "--namespace", "kill", "--channels", "8")
	if err != nil {
		t.Fatal(err)
	}
	kc := streams.Config{Brokers: []string{addr}, Namespace: "kill", Outages: streams.NewOutages(newLogger(io.Discard, false))}
	if err := waitFirst(ctx, kc, kc.Topics().Raw, time.Minute); err != nil {
		t.Fatal(err)
	}
	b.kill()
	brokerDied := time.Now().UnixNano()
	spoolDir := filepath.Join(dir, "state", "neurostream", "spool", "kill.raw", "synthetic-1")
	for spooled := int64(0); spooled < 20_000; { // a few dozen frames wait in the spool
		time.Sleep(100 * time.Millisecond)
		segs, _ := filepath.Glob(filepath.Join(spoolDir, "*.seg"))
		spooled = 0
		for _, s := range segs {
			if fi, err := os.Stat(s); err == nil {
				spooled += fi.Size()
			}
		}
		if src.exited() {
			t.Fatalf("the source exited while the broker was down: %v", src.err)
		}
	}
	src.kill()
	b = startBroker(1)
	defer func() { _ = b.stop(10 * time.Second) }()
	src2, err := startDrillProc(exe, dir, "source-2", env, "acquire", "--brokers", addr, "--namespace", "kill", "--channels", "8", "--duration", "1")
	if err != nil {
		t.Fatal(err)
	}
	<-src2.done
	if src2.err != nil {
		t.Fatalf("second run: %v", src2.err)
	}
	msgs, err := readTopic(ctx, kc, kc.Topics().Raw)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[uint64][]uint64{}
	var order []uint64
	var lastAcquired int64
	var f streams.Frame
	for _, m := range msgs {
		if streams.MessageType(m) != streams.TypeFrame {
			continue
		}
		if err := streams.DecodeFrame(m.Value, &f); err != nil {
			t.Fatal(err)
		}
		if _, ok := runs[f.Epoch]; !ok {
			order = append(order, f.Epoch)
		}
		runs[f.Epoch] = append(runs[f.Epoch], f.Seq)
		if len(order) == 1 {
			lastAcquired = max(lastAcquired, f.AcquiredAtNs)
		}
	}
	if len(order) != 2 {
		t.Fatalf("%d source runs on the raw topic, want 2", len(order))
	}
	for i, e := range order {
		s := runs[e]
		d, gaps := distinctAndGaps(s, 1)
		if d != len(s) || gaps != 0 || s[0] != 0 {
			t.Errorf("run %d: %d frames, %d distinct, %d missing, first seq %d", i+1, len(s), d, gaps, s[0])
		}
	}
	if lastAcquired <= brokerDied {
		t.Errorf("the first run's frames end before the broker died: the spooled ones were not published")
	}
	t.Logf("first run: %d frames (the last acquired %v after the broker died), second run: %d",
		len(runs[order[0]]), time.Duration(lastAcquired-brokerDied).Round(time.Millisecond), len(runs[order[1]]))
}
