package lsl

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The ports and groups of LSL's discovery, as liblsl configures them by default.
const (
	DiscoveryPort = 16571
	BasePort      = 16572
	PortRange     = 32
)

// discoveryGroups are the multicast groups liblsl resolvers query (link and site scope).
var discoveryGroups = []net.IP{net.IPv4(224, 0, 0, 183), net.IPv4(239, 255, 172, 215), net.IPv4(224, 0, 0, 1)}

// OutletOptions tunes an outlet; the zero value is liblsl's behaviour.
type OutletOptions struct {
	// MaxQueuedChunks bounds what is queued for one slow inlet; older chunks are dropped (and
	// counted) beyond it. Default 4096 pushes.
	MaxQueuedChunks int
	// NoDiscoveryPort skips binding the shared discovery port (tests that run several outlets);
	// resolvers still find the outlet on its service port.
	NoDiscoveryPort bool
	Log             *slog.Logger
}

// Outlet publishes one stream: it answers discovery queries, serves its description and feeds
// every connected inlet. Push methods may be called from one goroutine at a time.
type Outlet struct {
	info    StreamInfo
	short   []byte
	full    []byte
	codec   codec
	opts    OutletOptions
	log     *slog.Logger
	tcp     net.Listener
	service *net.UDPConn
	disc    *net.UDPConn
	queries queryCache

	mu      sync.Mutex
	feeds   map[*feed]struct{}
	closed  bool
	buf     []byte
	dropped atomic.Int64
	served  atomic.Int64
	wg      sync.WaitGroup
	done    chan struct{}
}

type feed struct {
	conn net.Conn
	ch   chan *pushMsg
}

// pushMsg is one encoded push shared by the feeds it was queued on; the last feed to write it
// returns it to the pool, so pushing allocates nothing in the steady state.
type pushMsg struct {
	b    []byte
	refs atomic.Int32
}

var pushPool = sync.Pool{New: func() any { return new(pushMsg) }}

func (m *pushMsg) release() {
	if m.refs.Add(-1) == 0 {
		pushPool.Put(m)
	}
}

// NewOutlet starts serving info. Name, channel count and format are required; the uid, hostname,
// session ("default"), ports and creation time are filled in.
func NewOutlet(info StreamInfo, opts OutletOptions) (*Outlet, error) {
	if info.Version == 0 {
		info.Version = 1.1
	}
	if info.SessionID == "" {
		info.SessionID = "default"
	}
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxQueuedChunks <= 0 {
		opts.MaxQueuedChunks = 4096
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	info.UID = newUID()
	info.CreatedAt = Clock()
	if info.Hostname == "" {
		info.Hostname, _ = os.Hostname()
	}
	info.V4Address, info.V6Address = "", ""
	o := &Outlet{opts: opts, log: opts.Log, feeds: map[*feed]struct{}{}, done: make(chan struct{}),
		codec: codec{format: info.Format, channels: info.ChannelCount, order: binary.LittleEndian}}
	var err error
	if o.tcp, info.V4DataPort, err = listenTCPInRange(); err != nil {
		return nil, err
	}
	if o.service, info.V4ServicePort, err = listenUDPInRange(); err != nil {
		o.tcp.Close()
		return nil, err
	}
	info.V6DataPort, info.V6ServicePort = 0, 0
	o.info = info
	o.short = []byte(info.XML(false))
	o.full = []byte(info.XML(true))
	if !opts.NoDiscoveryPort {
		lc := net.ListenConfig{Control: shareControl}
		pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", DiscoveryPort))
		if err != nil {
			o.log.Warn("lsl outlet: discovery port unavailable; resolvers will find the stream on its service port only", "port", DiscoveryPort, "err", err)
		} else {
			o.disc = pc.(*net.UDPConn)
			if joinGroups(o.disc, discoveryGroups) == 0 {
				o.log.Info("lsl outlet: no multicast group joined; discovery by broadcast, 127.0.0.1 and the service port")
			}
		}
	}
	o.wg.Add(2)
	go o.acceptLoop()
	go o.udpLoop(o.service, true)
	if o.disc != nil {
		o.wg.Add(1)
		go o.udpLoop(o.disc, false)
	}
	return o, nil
}

// Info returns the description the outlet serves (with its uid and ports).
func (o *Outlet) Info() StreamInfo { return o.info }

// Consumers returns how many inlets are connected.
func (o *Outlet) Consumers() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.feeds)
}

// Dropped returns how many pushes were dropped for inlets that did not keep up.
func (o *Outlet) Dropped() int64 { return o.dropped.Load() }

// WaitForConsumers blocks until at least n inlets are connected.
func (o *Outlet) WaitForConsumers(ctx context.Context, n int) error {
	for o.Consumers() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// PushFloat32 sends samples (interleaved, a multiple of the channel count) whose first sample was
// taken at timestamp (LSL clock seconds). At a regular rate the following samples' timestamps are
// deduced (timestamp + k/rate); at an irregular rate they all carry timestamp.
func (o *Outlet) PushFloat32(samples []float32, timestamp float64) error {
	n, err := o.samplesIn(len(samples))
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.feeds) == 0 {
		return o.closedErr()
	}
	b := o.buf[:0]
	nch := o.info.ChannelCount
	if o.info.Format == Float32 {
		for s := range n {
			b = o.codec.appendFloat32(b, o.sampleTime(s, timestamp), samples[s*nch:(s+1)*nch])
		}
	} else {
		vals := make([]float64, nch)
		for s := range n {
			for k := range vals {
				vals[k] = float64(samples[s*nch+k])
			}
			b = o.codec.appendSample(b, o.sampleTime(s, timestamp), vals, nil)
		}
	}
	o.buf = b
	o.fanOut(b)
	return nil
}

// PushFloat64 is PushFloat32 for double or integer streams (values are rounded and clamped to the
// integer formats' ranges).
func (o *Outlet) PushFloat64(samples []float64, timestamp float64) error {
	n, err := o.samplesIn(len(samples))
	if err != nil {
		return err
	}
	if o.info.Format == String {
		return fmt.Errorf("lsl outlet %q: string stream: use PushStrings", o.info.Name)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.feeds) == 0 {
		return o.closedErr()
	}
	b := o.buf[:0]
	nch := o.info.ChannelCount
	for s := range n {
		b = o.codec.appendSample(b, o.sampleTime(s, timestamp), samples[s*nch:(s+1)*nch], nil)
	}
	o.buf = b
	o.fanOut(b)
	return nil
}

// PushStrings sends one sample of a string stream (one value per channel).
func (o *Outlet) PushStrings(values []string, timestamp float64) error {
	if o.info.Format != String {
		return fmt.Errorf("lsl outlet %q: %v stream: use PushFloat32 or PushFloat64", o.info.Name, o.info.Format)
	}
	if len(values) != o.info.ChannelCount {
		return fmt.Errorf("lsl outlet %q: %d values for %d channels", o.info.Name, len(values), o.info.ChannelCount)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.feeds) == 0 {
		return o.closedErr()
	}
	o.buf = o.codec.appendSample(o.buf[:0], timestamp, nil, values)
	o.fanOut(o.buf)
	return nil
}

func (o *Outlet) closedErr() error {
	if o.closed {
		return errors.New("lsl outlet closed")
	}
	return nil
}

func (o *Outlet) samplesIn(values int) (int, error) {
	nch := o.info.ChannelCount
	if values%nch != 0 {
		return 0, fmt.Errorf("lsl outlet %q: %d values is not a whole number of %d-channel samples", o.info.Name, values, nch)
	}
	return values / nch, nil
}

func (o *Outlet) sampleTime(s int, first float64) float64 {
	if s == 0 || o.info.NominalRateHz == 0 {
		return first
	}
	return math.NaN()
}

// fanOut hands one encoded push to every feed; a feed whose queue is full loses its oldest push.
func (o *Outlet) fanOut(b []byte) {
	msg := pushPool.Get().(*pushMsg)
	msg.b = append(msg.b[:0], b...)
	msg.refs.Store(int32(len(o.feeds)))
	for f := range o.feeds {
		select {
		case f.ch <- msg:
			continue
		default:
		}
		select {
		case old := <-f.ch:
			o.dropped.Add(1)
			old.release()
		default:
		}
		select {
		case f.ch <- msg:
		default:
			o.dropped.Add(1)
			msg.release()
		}
	}
}

// Close stops serving and disconnects every inlet.
func (o *Outlet) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	close(o.done)
	for f := range o.feeds {
		f.conn.Close()
	}
	o.mu.Unlock()
	o.tcp.Close()
	o.service.Close()
	if o.disc != nil {
		o.disc.Close()
	}
	o.wg.Wait()
	return nil
}

func listenTCPInRange() (net.Listener, int, error) {
	for p := BasePort; p < BasePort+PortRange; p++ {
		if l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p)); err == nil {
			return l, p, nil
		}
	}
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		return nil, 0, fmt.Errorf("lsl outlet: no TCP port for the data feed: %w", err)
	}
	return l, l.Addr().(*net.TCPAddr).Port, nil
}

func listenUDPInRange() (*net.UDPConn, int, error) {
	for p := BasePort; p < BasePort+PortRange; p++ {
		if c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: p}); err == nil {
			return c, p, nil
		}
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return nil, 0, fmt.Errorf("lsl outlet: no UDP port for the service socket: %w", err)
	}
	return c, c.LocalAddr().(*net.UDPAddr).Port, nil
}

// udpLoop answers shortinfo queries (and, on the service port, time probes).
func (o *Outlet) udpLoop(c *net.UDPConn, timeService bool) {
	defer o.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDP(buf)
		t1 := Clock()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		method, rest, _ := strings.Cut(string(buf[:n]), "\n")
		switch strings.TrimSpace(method) {
		case "LSL:shortinfo":
			query, tail, _ := strings.Cut(rest, "\n")
			f := strings.Fields(tail)
			if len(f) < 2 {
				continue
			}
			port, err := strconv.Atoi(f[0])
			if err != nil || port <= 0 || port > 65535 {
				continue
			}
			if !o.matches(strings.TrimSpace(query)) {
				continue
			}
			reply := append([]byte(f[1]+"\r\n"), o.short...)
			_, _ = c.WriteToUDP(reply, &net.UDPAddr{IP: from.IP, Port: port})
		case "LSL:timedata":
			if !timeService {
				continue
			}
			f := strings.Fields(rest)
			if len(f) < 2 {
				continue
			}
			reply := fmt.Sprintf(" %s %s %s %s", f[0], f[1], strconv.FormatFloat(t1, 'g', 16, 64), strconv.FormatFloat(Clock(), 'g', 16, 64))
			_, _ = c.WriteToUDP([]byte(reply), from)
		}
	}
}

func (o *Outlet) matches(query string) bool {
	q, err := o.queries.get(query)
	if err != nil {
		o.log.Debug("lsl outlet: bad query", "err", err)
		return false
	}
	return q.Matches(o.info.node(true))
}

// queryCache keeps compiled queries: resolvers repeat the same query several times a second.
type queryCache struct {
	mu sync.Mutex
	m  map[string]*Query
}

func (c *queryCache) get(src string) (*Query, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.m[src]; ok {
		return q, nil
	}
	q, err := ParseQuery(src)
	if err != nil {
		return nil, err
	}
	if c.m == nil || len(c.m) > 256 {
		c.m = map[string]*Query{}
	}
	c.m[src] = q
	return q, nil
}

func (o *Outlet) acceptLoop() {
	defer o.wg.Done()
	for {
		conn, err := o.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			defer conn.Close()
			if err := o.serve(conn); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				o.log.Debug("lsl outlet: session ended", "remote", conn.RemoteAddr(), "err", err)
			}
		}()
	}
}

// maxRequestBytes bounds a TCP request's header lines.
const maxRequestBytes = 64 << 10

func (o *Outlet) serve(conn net.Conn) error {
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReaderSize(io.LimitReader(conn, maxRequestBytes), 4096)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	method := strings.TrimSpace(line)
	switch {
	case method == "LSL:shortinfo":
		q, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if o.matches(strings.TrimSpace(q)) {
			_, err = conn.Write(o.short)
		}
		return err
	case method == "LSL:fullinfo":
		_, err := conn.Write(o.full)
		return err
	case method == "LSL:streamfeed":
		// Protocol 1.00 (liblsl before 1.10) needs Boost's portable archive; 1.10 clients never ask for it.
		return errors.New("protocol 1.00 feed requested: not served")
	case strings.HasPrefix(method, "LSL:streamfeed/"):
		return o.serveFeed(conn, r, method)
	}
	return fmt.Errorf("unknown request %q", method)
}

func (o *Outlet) serveFeed(conn net.Conn, r *bufio.Reader, method string) error {
	parts := strings.Fields(method)
	version, err := strconv.Atoi(strings.TrimPrefix(parts[0], "LSL:streamfeed/"))
	if err != nil {
		return fmt.Errorf("bad feed request %q", method)
	}
	valueSize := o.info.Format.Size()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v, _, _ = strings.Cut(v, ";")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "value-size":
			valueSize, _ = strconv.Atoi(strings.TrimSpace(v))
		case "has-ieee754-floats":
			if strings.TrimSpace(v) == "0" {
				valueSize = -1
			}
		}
	}
	switch {
	case version/100 > 1:
		_, err = io.WriteString(conn, "LSL/110 505 Version not supported\r\n\r\n")
		return err
	case len(parts) > 1 && parts[1] != o.info.UID:
		_, err = io.WriteString(conn, "LSL/110 404 Not found\r\n\r\n")
		return err
	case version < 110 || (o.info.Format != String && valueSize != o.info.Format.Size()):
		_, err = io.WriteString(conn, "LSL/110 505 Version not supported\r\n\r\n")
		return err
	}
	_ = conn.SetReadDeadline(time.Time{})
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	hdr := fmt.Sprintf("LSL/110 200 OK\r\nUID: %s\r\nByte-Order: 1234\r\nSuppress-Subnormals: 0\r\nData-Protocol-Version: 110\r\n\r\n", o.info.UID)
	b := o.codec.appendTestPatterns([]byte(hdr))
	f := &feed{conn: conn, ch: make(chan *pushMsg, o.opts.MaxQueuedChunks)}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return net.ErrClosed
	}
	o.feeds[f] = struct{}{}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.feeds, f)
		o.mu.Unlock()
	}()
	if _, err := conn.Write(b); err != nil {
		return err
	}
	o.served.Add(1)
	// A reader notices the inlet hanging up even while nothing is pushed.
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(gone)
	}()
	for {
		select {
		case msg := <-f.ch:
			_, err := conn.Write(msg.b)
			msg.release()
			if err != nil {
				return err
			}
		case <-gone:
			return io.EOF
		case <-o.done:
			return net.ErrClosed
		}
	}
}
