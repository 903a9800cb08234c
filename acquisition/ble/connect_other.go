//go:build !linux

package ble

import (
	"context"
	"fmt"
	"runtime"
)

// Connect is implemented on Linux (BlueZ) only.
func Connect(ctx context.Context, t Target) (Link, error) {
	return nil, fmt.Errorf("ble: Bluetooth LE headsets are supported on Linux only (this is %s)", runtime.GOOS)
}
