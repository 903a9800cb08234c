package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The local broker is a detached `neurostream broker` process that commands start when no broker is
// configured and none is running: it keeps its data under the state directory and outlives the
// command that started it, so that stopping one command (Ctrl-C on replay, consume ending) never takes
// another command's data or connection with it. Commands find it through its state file; it stops
// after --idle-timeout without clients, or on `neurostream broker stop`; its data stays for the next one.

// localBrokerIdle is how long a detached local broker waits without clients before it stops.
const localBrokerIdle = 30 * time.Minute

// localBrokerState is the state file a detached broker writes once it listens.
type localBrokerState struct {
	PID       int       `json:"pid"`
	Addr      string    `json:"addr"`
	DataDir   string    `json:"data_dir"`
	Log       string    `json:"log"`
	StartedAt time.Time `json:"started_at"`
}

// localBrokerPaths returns the state directory of the local broker: its state file, data and log.
func localBrokerPaths() (dir, stateFile string, err error) {
	st, err := stateDir()
	if err != nil {
		return "", "", err
	}
	dir = filepath.Join(st, "broker")
	return dir, filepath.Join(dir, "broker.json"), nil
}

// readLocalBroker returns the local broker's state if its process is alive.
func readLocalBroker(stateFile string) (localBrokerState, bool) {
	var s localBrokerState
	b, err := os.ReadFile(stateFile)
	if err != nil || json.Unmarshal(b, &s) != nil || s.PID <= 0 || s.Addr == "" {
		return s, false
	}
	return s, processAlive(s.PID)
}

// processAlive reports whether pid runs. Where /proc exists it also rules out a zombie (a broker
// killed with kill -9 whose parent has not reaped it yet answers signal 0) and a pid reused by a
// program that is not neurostream.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil || p.Signal(syscall.Signal(0)) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: signal 0 is all there is to go on
	}
	// The state follows the parenthesised command name, which may itself hold ") ".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	// A process still in exec shows an empty command line for an instant: that is not another program.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(cmdline) > 0 && !bytes.Contains(cmdline, []byte("broker")) {
		return false
	}
	return true
}

func listening(ctx context.Context, addr string) bool {
	c, err := (&net.Dialer{Timeout: 300 * time.Millisecond}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ensureLocalBroker returns the address of the running local broker, starting a detached one
// (listening on addr, or a free port if addr is taken) if there is none.
func ensureLocalBroker(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	dir, stateFile, err := localBrokerPaths()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("local broker: %w", err)
	}
	// One command at a time decides whether to start it: two commands started together share one.
	unlock, err := lockFile(filepath.Join(dir, "start.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if s, ok := readLocalBroker(stateFile); ok && listening(ctx, s.Addr) {
		log.Info("using the local broker", "addr", s.Addr, "pid", s.PID, "data", s.DataDir)
		return s.Addr, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("local broker: %w", err)
	}
	logPath := filepath.Join(dir, "broker.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", fmt.Errorf("local broker: %w", err)
	}
	defer lf.Close()
	_ = os.Remove(stateFile)
	cmd := exec.Command(exe, "broker", "--addr", addr, "--data-dir", filepath.Join(dir, "data"),
		"--idle-timeout", localBrokerIdle.String(), "--state-file", stateFile)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = "/"
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("local broker: start %s broker: %w", exe, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(30 * time.Second)
	for {
		if s, ok := readLocalBroker(stateFile); ok && s.PID == cmd.Process.Pid && listening(ctx, s.Addr) {
			log.Info("started the local broker in the background: it outlives this command (neurostream broker status|stop)",
				"addr", s.Addr, "pid", s.PID, "data", s.DataDir, "idle_timeout", localBrokerIdle)
			return s.Addr, nil
		}
		select {
		case err := <-exited:
			return "", fmt.Errorf("local broker exited at start (%v); its log: %s", err, logPath)
		case <-deadline:
			return "", fmt.Errorf("local broker did not start within 30 s; its log: %s", logPath)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// writeLocalBrokerState records a running broker in stateFile (atomically) and returns a function
// that removes the file if it still names this process.
func writeLocalBrokerState(stateFile string, s localBrokerState) (func(), error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := stateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return nil, fmt.Errorf("broker state file: %w", err)
	}
	if err := os.Rename(tmp, stateFile); err != nil {
		return nil, fmt.Errorf("broker state file: %w", err)
	}
	return func() {
		if cur, _ := readLocalBroker(stateFile); cur.PID == s.PID {
			_ = os.Remove(stateFile)
		}
	}, nil
}

// brokerStatus prints the local broker's state; it fails when none runs.
func brokerStatus(ctx context.Context, out io.Writer) error {
	_, stateFile, err := localBrokerPaths()
	if err != nil {
		return err
	}
	s, alive := readLocalBroker(stateFile)
	switch {
	case alive && listening(ctx, s.Addr):
		fmt.Fprintf(out, "local broker running: addr %s, pid %d, up %v, data %s, log %s\n",
			s.Addr, s.PID, time.Since(s.StartedAt).Round(time.Second), s.DataDir, s.Log)
		return nil
	case alive:
		return fmt.Errorf("local broker pid %d runs but does not answer on %s (still starting, or stuck: `neurostream broker stop` ends it)", s.PID, s.Addr)
	}
	const start = "start one with `neurostream broker start` (any command that needs a broker also starts one)"
	if s.PID > 0 {
		// The state file outlived its broker: it was killed (kill -9, out of memory) or crashed, and
		// its pid may already belong to another program.
		return fmt.Errorf("the local broker is not running: it was last started as pid %d on %s and has since died (killed or crashed; that pid is gone or now another program's); %s",
			s.PID, s.Addr, start)
	}
	if listening(ctx, defaultBrokerAddr) {
		fmt.Fprintf(out, "no local broker in the background; something listens on %s (a `neurostream broker` in a terminal?)\n", defaultBrokerAddr)
		return nil
	}
	return errors.New("no local broker running; " + start)
}

// brokerStop stops the local broker (its data stays for the next one).
func brokerStop(out io.Writer) error {
	_, stateFile, err := localBrokerPaths()
	if err != nil {
		return err
	}
	s, alive := readLocalBroker(stateFile)
	if !alive {
		_ = os.Remove(stateFile)
		fmt.Fprintln(out, "no local broker running")
		return nil
	}
	p, err := os.FindProcess(s.PID)
	if err != nil {
		return err
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop local broker pid %d: %w", s.PID, err)
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !processAlive(s.PID) {
			fmt.Fprintf(out, "local broker (pid %d) stopped; its data stays in %s\n", s.PID, s.DataDir)
			return nil
		}
	}
	return fmt.Errorf("local broker pid %d did not stop within 15 s of SIGTERM", s.PID)
}

// runningUnderGoTest reports whether this binary is a test binary, which cannot run `broker`.
func runningUnderGoTest() bool {
	exe, err := os.Executable()
	return err == nil && strings.HasSuffix(filepath.Base(exe), ".test")
}
