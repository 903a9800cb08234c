//go:build unix

package lsl

import (
	"net"
	"syscall"
)

// shareControl lets several outlets on one host bind the discovery port (multicast and broadcast
// queries reach all of them) and lets resolvers send broadcasts.
func shareControl(_, _ string, c syscall.RawConn) error {
	var err error
	cerr := c.Control(func(fd uintptr) {
		if err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			return
		}
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// broadcastControl enables sending to 255.255.255.255.
func broadcastControl(_, _ string, c syscall.RawConn) error {
	var err error
	cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// joinGroups joins the multicast groups on every interface that is up and multicast-capable (and on
// the default interface); it returns how many joins succeeded. A host without a multicast route joins
// none, and discovery then goes through 127.0.0.1, broadcast and the service ports.
func joinGroups(conn *net.UDPConn, groups []net.IP) int {
	var locals []net.IP
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifc := range ifs {
			if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagMulticast == 0 {
				continue
			}
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					locals = append(locals, ipn.IP.To4())
				}
			}
		}
	}
	locals = append(locals, net.IPv4zero.To4())
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	joined := 0
	_ = rc.Control(func(fd uintptr) {
		for _, g := range groups {
			for _, l := range locals {
				var m syscall.IPMreq
				copy(m.Multiaddr[:], g.To4())
				copy(m.Interface[:], l)
				if syscall.SetsockoptIPMreq(int(fd), syscall.IPPROTO_IP, syscall.IP_ADD_MEMBERSHIP, &m) == nil {
					joined++
				}
			}
		}
	})
	return joined
}
