package ble

import (
	"fmt"
	"strings"
	"sync"
)

// SimulatedLink is a Link to a simulated peripheral: the simulation calls Notify to send, and reads
// what the driver wrote with Written. For tests and demonstrations without hardware.
type SimulatedLink struct {
	mu      sync.Mutex
	chars   map[string]bool
	subs    map[string]func([]byte)
	written []string
	closed  bool
}

// NewSimulatedLink offers the given characteristics.
func NewSimulatedLink(chars ...string) *SimulatedLink {
	l := &SimulatedLink{chars: map[string]bool{}, subs: map[string]func([]byte){}}
	for _, c := range chars {
		l.chars[strings.ToLower(c)] = true
	}
	return l
}

// Subscribe implements Link.
func (l *SimulatedLink) Subscribe(char string, fn func([]byte)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.chars[strings.ToLower(char)] {
		return fmt.Errorf("ble: the device has no characteristic %s", char)
	}
	l.subs[strings.ToLower(char)] = fn
	return nil
}

// Write implements Link; the bytes are kept for Written.
func (l *SimulatedLink) Write(char string, b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.chars[strings.ToLower(char)] {
		return fmt.Errorf("ble: the device has no characteristic %s", char)
	}
	l.written = append(l.written, string(b))
	return nil
}

// Close implements Link.
func (l *SimulatedLink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// Notify sends a notification of char to its subscriber; false if nobody subscribed.
func (l *SimulatedLink) Notify(char string, b []byte) bool {
	l.mu.Lock()
	fn := l.subs[strings.ToLower(char)]
	l.mu.Unlock()
	if fn == nil {
		return false
	}
	fn(b)
	return true
}

// Written returns what the driver wrote, in order.
func (l *SimulatedLink) Written() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.written...)
}
