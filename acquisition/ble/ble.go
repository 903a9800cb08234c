// Package ble is the Bluetooth LE side of the headset drivers (OpenBCI Ganglion, Muse): a Link to a
// connected peripheral delivers the notifications of the characteristics a driver subscribes to and
// writes its commands. Connect finds and connects a peripheral through the host's Bluetooth stack
// (BlueZ over D-Bus on Linux, via tinygo.org/x/bluetooth; no cgo). Drivers are tested against Links
// that replay synthesised notifications; the real transport has not been run against hardware.
package ble

import (
	"context"
	"time"
)

// Link is a connected peripheral.
type Link interface {
	// Subscribe enables notifications of the characteristic (a 128-bit UUID string); fn gets each
	// notification's bytes, which it must copy if it keeps them.
	Subscribe(char string, fn func(b []byte)) error
	// Write writes to the characteristic without waiting for a response.
	Write(char string, b []byte) error
	Close() error
}

// Target says which peripheral to connect to.
type Target struct {
	Service string // the GATT service the device advertises (UUID)
	// Match is a MAC address (AA:BB:..), or a prefix of the advertised name ("Muse", "Ganglion-1a2b");
	// empty: the first device advertising Service or named NamePrefix.
	Match      string
	NamePrefix string        // the product's advertised name prefix, used when Match is empty
	Timeout    time.Duration // how long to scan [15s]
}

// Connector opens Links; Connect is the host's, tests supply their own.
type Connector func(ctx context.Context, t Target) (Link, error)
