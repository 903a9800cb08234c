//go:build !linux

package serialport

import (
	"fmt"
	"os"
	"runtime"
)

// Open is implemented on Linux only.
func Open(path string, baud int) (*os.File, error) {
	return nil, fmt.Errorf("serial %s: serial ports are supported on Linux only (this is %s)", path, runtime.GOOS)
}

// OpenPTY is implemented on Linux only.
func OpenPTY() (*os.File, string, error) {
	return nil, "", fmt.Errorf("pseudo-terminals are supported on Linux only (this is %s)", runtime.GOOS)
}
