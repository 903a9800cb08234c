package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/internal/shareddata"
)

// Without a configured broker, commands share a local broker that outlives them: a fast replay
// followed by record --from-start (the README's order) records the whole stream although the replay
// has exited; stopping a consumer leaves the source it read from running; broker status and stop
// find the broker through its state file.
func TestLocalBrokerOutlivesCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary as processes")
	}
	edf := shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R10.edf"))
	exe := testBinary(t)
	state := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := append(os.Environ(), "XDG_STATE_HOME="+state, "NEUROSTREAM_BROKERS=")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("neurostream %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	defer func() {
		cmd := exec.Command(exe, "broker", "stop")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("broker stop: %v\n%s", err, out)
		}
	}()

	run("replay", "--broker-addr", addr, "--fast", "--namespace", "lb", edf)
	if out := run("broker", "status"); !strings.Contains(out, "local broker running: addr "+addr) {
		t.Fatalf("after the replay exited, broker status says:\n%s", out)
	}
	out := run("record", "--broker-addr", addr, "--namespace", "lb", "--stream", "S001R10", "--from-start", "--idle", "3s",
		"--out", filepath.Join(t.TempDir(), "r.edf"))
	if !strings.Contains(out, "2500 frames") {
		t.Fatalf("record --from-start after the replay exited did not get the 2500 frames:\n%s", out)
	}

	// A source and a consumer of it: stopping the consumer leaves the source publishing.
	src := exec.CommandContext(ctx, exe, "acquire", "--broker-addr", addr, "--namespace", "lb2", "--spool-dir", "off")
	src.Env = env
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	srcDone := make(chan error, 1)
	go func() { srcDone <- src.Wait() }()
	cons := exec.CommandContext(ctx, exe, "consume", "--broker-addr", addr, "--namespace", "lb2", "--topic", "raw")
	cons.Env = env
	stdout, err := cons.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cons.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := stdout.Read(buf); err != nil { // the consumer prints frames: the source runs
		t.Fatalf("consumer printed nothing: %v", err)
	}
	_ = cons.Process.Signal(os.Interrupt)
	_ = cons.Wait()
	select {
	case err := <-srcDone:
		t.Fatalf("the source exited when its consumer stopped: %v", err)
	default:
	}
	// Still publishing: a new consumer reads new frames.
	out = run("consume", "--broker-addr", addr, "--namespace", "lb2", "--topic", "raw", "-n", "3")
	if !strings.Contains(out, "frame") {
		t.Fatalf("no new frames after the first consumer stopped:\n%s", out)
	}
	_ = src.Process.Signal(os.Interrupt)
	<-srcDone
}

// A broker killed with kill -9 is not running even while it is a zombie its parent has not reaped,
// and a pid reused by another program is not the broker.
func TestProcessAliveSeesKilledAndForeignProcesses(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here: only signal 0 is checked")
	}
	ours := exec.Command("sh", "-c", "sleep 60; exit 0", "neurostream-broker") // two commands: sh cannot exec sleep in its place
	if err := ours.Start(); err != nil {
		t.Skip("no sh here:", err)
	}
	if !processAlive(ours.Process.Pid) {
		t.Fatal("a running broker-like process: want alive")
	}
	if err := ours.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(ours.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("a killed, unreaped broker still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = ours.Wait()
	foreign := exec.Command("sleep", "60")
	if err := foreign.Start(); err != nil {
		t.Skip("no sleep here:", err)
	}
	defer func() { _ = foreign.Process.Kill(); _ = foreign.Wait() }()
	// Right after the fork the new process's command line reads empty for an instant.
	for deadline = time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", foreign.Process.Pid)); len(b) > 0 {
			break
		}
	}
	if processAlive(foreign.Process.Pid) {
		t.Fatal("a pid running another program: want not the broker")
	}
}

// After the background broker was killed with kill -9 its state file stays behind; status must say
// the broker is not running and how to start one, not that it is alive.
func TestBrokerStatusAfterKillSaysNotRunning(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	dir, stateFile, err := localBrokerPaths()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true here:", err)
	}
	if _, err := writeLocalBrokerState(stateFile, localBrokerState{PID: dead.Process.Pid, Addr: "127.0.0.1:1", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = brokerStatus(context.Background(), &out)
	if err == nil {
		t.Fatalf("status of a killed broker: want an error, got %q", out.String())
	}
	for _, want := range []string{"not running", fmt.Sprint(dead.Process.Pid), "neurostream broker start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("status of a killed broker: %q does not say %q", err, want)
		}
	}
}
