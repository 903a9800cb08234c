//go:build !unix

package lsl

import (
	"net"
	"syscall"
)

// shareControl: sharing the discovery port is only scripted for Unix systems.
func shareControl(_, _ string, _ syscall.RawConn) error { return nil }

func broadcastControl(_, _ string, _ syscall.RawConn) error { return nil }

// joinGroups joins nothing outside Unix: discovery goes through 127.0.0.1 and the service ports.
func joinGroups(*net.UDPConn, []net.IP) int { return 0 }
