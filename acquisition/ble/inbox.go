package ble

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Note is one notification with the host time it arrived (Unix ns) and the index of its
// characteristic in the driver's list.
type Note struct {
	Char      int
	Data      []byte
	ArrivalNs int64
}

// Inbox queues notifications from the Bluetooth stack's goroutine for a driver's Next, stamping
// each on arrival. A full queue drops (and counts) rather than stall the stack.
type Inbox struct {
	ch      chan Note
	dropped atomic.Int64
}

// NewInbox holds up to n notifications.
func NewInbox(n int) *Inbox { return &Inbox{ch: make(chan Note, n)} }

// Handler returns the callback for characteristic index char.
func (in *Inbox) Handler(char int) func([]byte) {
	return func(b []byte) {
		n := Note{Char: char, Data: append([]byte(nil), b...), ArrivalNs: time.Now().UnixNano()}
		select {
		case in.ch <- n:
		default:
			in.dropped.Add(1)
		}
	}
}

// Dropped counts notifications lost to a full queue.
func (in *Inbox) Dropped() int64 { return in.dropped.Load() }

// ErrSilent is returned by Next when nothing arrived within the timeout.
var ErrSilent = errors.New("no notification")

// Next waits up to timeout for the next notification.
func (in *Inbox) Next(ctx context.Context, timeout time.Duration) (Note, error) {
	select {
	case n := <-in.ch:
		return n, nil
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case n := <-in.ch:
		return n, nil
	case <-t.C:
		return Note{}, ErrSilent
	case <-ctx.Done():
		return Note{}, ctx.Err()
	}
}
