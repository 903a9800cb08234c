//go:build linux

package serialport

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// Bytes written on either side of a pty pair arrive unchanged on the other (raw mode: no echo, no
// CR/LF translation), and a read deadline ends a read on a silent port.
func TestPTYRawBothWays(t *testing.T) {
	ctl, path, err := OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ctl.Close()
	port, err := Open(path, 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	go ctl.Write(all)
	got := make([]byte, len(all))
	port.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(port, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("device -> port: bytes changed on the way:\n%v", got)
	}
	if _, err := port.Write([]byte("b\r\nv")); err != nil {
		t.Fatal(err)
	}
	cmd := make([]byte, 4)
	ctl.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(ctl, cmd); err != nil {
		t.Fatal(err)
	}
	if string(cmd) != "b\r\nv" {
		t.Fatalf("port -> device: got %q", cmd)
	}
	port.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := port.Read(got); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a silent port: %v, want a deadline error", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("/nonexistent/ttyUSB9", 115200); err == nil {
		t.Fatal("opened a missing device")
	}
	if _, err := Open(os.DevNull, 115200); err == nil {
		t.Fatal("opened /dev/null as a serial port")
	}
	if _, err := Open("/dev/null", 12345); err == nil {
		t.Fatal("accepted baud 12345")
	}
}
