package lsl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// ResolveOptions tunes discovery.
type ResolveOptions struct {
	// Wait is how long to collect replies (default 1 s, liblsl's lsl_resolve_all default). With
	// Minimum > 0, Resolve returns as soon as that many streams answered.
	Wait    time.Duration
	Minimum int
	// Peers are hosts (names or addresses) queried by unicast on the discovery port and every
	// service port, for networks that drop multicast; 127.0.0.1 is always queried.
	Peers []string
	// Session is the LSL session id to match (default "default", as every outlet uses unless
	// configured otherwise).
	Session string
}

// Resolve finds the streams that match the query (an XPath-style predicate such as "type='EEG'",
// "" for all) by sending the shortinfo query to the discovery groups, to the broadcast address, and to
// the discovery and service ports of 127.0.0.1 and the peers. Each stream is returned once, with
// V4Address set to the host it answered from.
func Resolve(ctx context.Context, query string, opts ResolveOptions) ([]StreamInfo, error) {
	if _, err := ParseQuery(query); err != nil {
		return nil, err
	}
	if opts.Wait <= 0 {
		opts.Wait = time.Second
	}
	if opts.Session == "" {
		opts.Session = "default"
	}
	full := "session_id='" + opts.Session + "'"
	if strings.TrimSpace(query) != "" {
		full += " and (" + query + ")"
	}
	lc := net.ListenConfig{Control: broadcastControl}
	pc, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:0")
	if err != nil {
		return nil, fmt.Errorf("lsl resolve: %w", err)
	}
	conn := pc.(*net.UDPConn)
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	id := strconv.FormatUint(uint64(time.Now().UnixNano())&0xffffffffffff, 10)
	msg := []byte("LSL:shortinfo\r\n" + full + "\r\n" + strconv.Itoa(port) + " " + id + "\r\n")

	targets := resolveTargets(opts.Peers)
	deadline := time.Now().Add(opts.Wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var found []StreamInfo
	seen := map[string]bool{}
	buf := make([]byte, 65536)
	nextWave := time.Now()
	for {
		now := time.Now()
		if !now.Before(deadline) || ctx.Err() != nil {
			break
		}
		if !now.Before(nextWave) {
			sent := 0
			for _, t := range targets {
				if _, err := conn.WriteToUDP(msg, t); err == nil {
					sent++
				}
			}
			if sent == 0 {
				return nil, errors.New("lsl resolve: could not send a query anywhere (no network?)")
			}
			nextWave = now.Add(250 * time.Millisecond)
		}
		_ = conn.SetReadDeadline(minTime(nextWave, deadline))
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		info, ok := parseReply(buf[:n], id)
		if !ok || seen[info.UID] {
			continue
		}
		seen[info.UID] = true
		if info.V4Address == "" {
			info.V4Address = from.IP.String()
		}
		found = append(found, info)
		if opts.Minimum > 0 && len(found) >= opts.Minimum {
			break
		}
	}
	return found, ctx.Err()
}

// parseReply reads a shortinfo reply: the query id, CRLF, the short description.
func parseReply(b []byte, id string) (StreamInfo, bool) {
	head, body, ok := strings.Cut(string(b), "\n")
	if !ok || strings.TrimSpace(head) != id {
		return StreamInfo{}, false
	}
	info, err := ParseInfo([]byte(body))
	if err != nil || info.Validate() != nil {
		return StreamInfo{}, false
	}
	return info, true
}

func resolveTargets(peers []string) []*net.UDPAddr {
	var t []*net.UDPAddr
	for _, g := range discoveryGroups {
		t = append(t, &net.UDPAddr{IP: g, Port: DiscoveryPort})
	}
	t = append(t, &net.UDPAddr{IP: net.IPv4bcast, Port: DiscoveryPort})
	hosts := []net.IP{net.IPv4(127, 0, 0, 1)}
	for _, p := range peers {
		if ip := net.ParseIP(p); ip != nil {
			hosts = append(hosts, ip)
		} else if ips, err := net.LookupIP(p); err == nil {
			for _, ip := range ips {
				if ip.To4() != nil {
					hosts = append(hosts, ip)
				}
			}
		}
	}
	for _, h := range hosts {
		t = append(t, &net.UDPAddr{IP: h, Port: DiscoveryPort})
		for p := BasePort; p < BasePort+PortRange; p++ {
			t = append(t, &net.UDPAddr{IP: h, Port: p})
		}
	}
	return t
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
