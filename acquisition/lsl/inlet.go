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
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// InletOptions tunes an inlet; the zero value behaves like liblsl's inlet.
type InletOptions struct {
	// MaxBufferSeconds is how much the outlet may queue for this inlet (default 360 s, liblsl's).
	MaxBufferSeconds float64
	// MaxStringBytes bounds one value of a string stream (default 1 MiB).
	MaxStringBytes int
	// NoRecover turns off reconnection: a lost connection ends Pull with an error.
	NoRecover bool
	// StallTimeout: a regular-rate stream silent this long is treated as lost and recovered
	// (default 15 s, liblsl's watchdog). Irregular streams are never timed out.
	StallTimeout time.Duration
	// Peers are also queried by unicast when the inlet re-resolves its stream.
	Peers []string
	// TimeProbes and TimeProbeInterval shape each time-correction measurement (default 8 probes
	// 64 ms apart, liblsl's).
	TimeProbes        int
	TimeProbeInterval time.Duration
	// Protocol 100 asks for data protocol 1.00 even from outlets that speak 1.10 (0: 1.10 where the
	// outlet's version allows it, as liblsl does).
	Protocol int
	Log      *slog.Logger
}

// Chunk holds samples pulled from an inlet. Values (numeric formats) and Strings (string format)
// are interleaved sample-major, Channels values per sample; Timestamps are on the outlet's LSL clock
// (add the inlet's time correction to map them to this host). Integer formats arrive as float64,
// exact up to 2^53.
type Chunk struct {
	N          int
	Timestamps []float64
	Values     []float64
	Strings    []string
	// Recovered says the connection was re-established (after the outlet restarted or the network
	// broke) before these samples: samples may be missing before them, and the time correction
	// should be measured again.
	Recovered bool
}

// Reset empties the chunk but keeps its buffers.
func (c *Chunk) Reset() {
	c.N, c.Recovered = 0, false
	c.Timestamps, c.Values, c.Strings = c.Timestamps[:0], c.Values[:0], c.Strings[:0]
}

// Inlet receives one stream's samples over LSL's TCP data protocol.
type Inlet struct {
	opts  InletOptions
	log   *slog.Logger
	query string // re-resolves the stream when the connection is lost

	mu     sync.Mutex
	info   StreamInfo // the full description of the current outlet
	conn   net.Conn
	closed bool

	r          *bufio.Reader
	codec      codec
	lastTS     float64
	recoveries int

	watched     context.Context
	watchedConn net.Conn
	unwatch     func() bool
}

// OpenInlet connects to the stream info describes (as Resolve returned it): it fetches the full
// description and starts the data feed, checking the outlet's test patterns.
func OpenInlet(ctx context.Context, info StreamInfo, opts InletOptions) (*Inlet, error) {
	if opts.MaxBufferSeconds <= 0 {
		opts.MaxBufferSeconds = 360
	}
	if opts.MaxStringBytes <= 0 {
		opts.MaxStringBytes = DefaultMaxStringBytes
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = 15 * time.Second
	}
	if opts.TimeProbes <= 0 {
		opts.TimeProbes = 8
	}
	if opts.TimeProbeInterval <= 0 {
		opts.TimeProbeInterval = 64 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := info.Validate(); err != nil {
		return nil, err
	}
	in := &Inlet{opts: opts, log: opts.Log, query: recoveryQuery(&info)}
	if err := in.connect(ctx, info); err != nil {
		return nil, err
	}
	return in, nil
}

// recoveryQuery finds the same stream again: by source id where the outlet has one, else by name,
// type and host (as liblsl recovers).
func recoveryQuery(s *StreamInfo) string {
	q := "name='" + s.Name + "' and type='" + s.Type + "'"
	if s.SourceID != "" {
		return q + " and source_id='" + s.SourceID + "'"
	}
	return q + " and hostname='" + s.Hostname + "'"
}

// Info returns the full description of the stream (with <desc>) as the outlet serves it.
func (in *Inlet) Info() StreamInfo {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.info
}

// Recoveries returns how many times the inlet reconnected.
func (in *Inlet) Recoveries() int { return in.recoveries }

// Close ends the feed; a blocked Pull returns.
func (in *Inlet) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	if in.conn != nil {
		return in.conn.Close()
	}
	return nil
}

func (in *Inlet) addr(info *StreamInfo) string {
	host := info.V4Address
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(info.V4DataPort))
}

// fetchFullInfo asks the outlet for its description with <desc>.
func (in *Inlet) fetchFullInfo(ctx context.Context, info *StreamInfo) (StreamInfo, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp4", in.addr(info))
	if err != nil {
		return StreamInfo{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "LSL:fullinfo\r\n"); err != nil {
		return StreamInfo{}, err
	}
	data, err := io.ReadAll(io.LimitReader(conn, maxInfoBytes+1))
	if err != nil {
		return StreamInfo{}, err
	}
	full, err := ParseInfo(data)
	if err != nil {
		return StreamInfo{}, err
	}
	if full.UID != info.UID {
		return StreamInfo{}, fmt.Errorf("outlet at %s now serves stream %s, not %s", in.addr(info), full.UID, info.UID)
	}
	full.V4Address = info.V4Address
	return full, nil
}

// connect opens the data feed of the outlet info describes.
func (in *Inlet) connect(ctx context.Context, info StreamInfo) error {
	full, err := in.fetchFullInfo(ctx, &info)
	if err != nil {
		return fmt.Errorf("lsl inlet %q: stream description from %s: %w", info.Name, in.addr(&info), err)
	}
	if full.Format != info.Format || full.ChannelCount != info.ChannelCount {
		return fmt.Errorf("lsl inlet %q: full description (%d x %v) disagrees with the announced one (%d x %v)",
			info.Name, full.ChannelCount, full.Format, info.ChannelCount, info.Format)
	}
	var conn net.Conn
	var r *bufio.Reader
	var c codec
	sizes := []int{full.Format.Size()}
	if full.Format == String {
		sizes = stringValueSizes
	}
	for i, size := range sizes {
		d := net.Dialer{Timeout: 5 * time.Second}
		if conn, err = d.DialContext(ctx, "tcp4", in.addr(&info)); err != nil {
			return fmt.Errorf("lsl inlet %q: %w", info.Name, err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
			_ = tc.SetReadBuffer(4 << 20)
		}
		r, c, err = in.handshake(conn, &full, size, i == len(sizes)-1)
		if err == nil {
			break
		}
		conn.Close()
		if !errors.Is(err, errProtocol100) || i == len(sizes)-1 {
			return fmt.Errorf("lsl inlet %q at %s: %w", info.Name, in.addr(&info), err)
		}
	}
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		conn.Close()
		return net.ErrClosed
	}
	in.info, in.conn, in.r, in.codec, in.lastTS = full, conn, r, c, 0
	in.mu.Unlock()
	return nil
}

func (in *Inlet) handshake(conn net.Conn, info *StreamInfo, valueSize int, allow100 bool) (*bufio.Reader, codec, error) {
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})
	rate := info.NominalRateHz
	if rate == 0 {
		rate = 100
	}
	size := 1 << 16
	if info.Format == String {
		size = max(size, min(info.ChannelCount*(in.opts.MaxStringBytes+9)+9, 64<<20))
	} else {
		size = max(size, 4*(9+info.ChannelCount*(1+info.Format.Size())))
	}
	r := bufio.NewReaderSize(conn, size)
	c := codec{format: info.Format, channels: info.ChannelCount, order: binary.LittleEndian, maxString: in.opts.MaxStringBytes, proto: 110}
	if in.opts.Protocol == 100 || info.Version > 0 && info.Version < 1.095 {
		// An outlet of liblsl before 1.10: ask for the archive feed directly.
		if _, err := fmt.Fprintf(conn, "LSL:streamfeed\r\n%d 0\r\n", int(math.Ceil(in.opts.MaxBufferSeconds*rate))); err != nil {
			return nil, codec{}, err
		}
		c.proto = 100
		if err := readArchiveHeader(r, info); err != nil {
			return nil, codec{}, fmt.Errorf("protocol 1.00 feed: %w", err)
		}
	} else if err := in.request110(conn, r, info, valueSize, rate, &c); err != nil {
		if !errors.Is(err, errProtocol100) || !allow100 {
			return nil, codec{}, err
		}
		// The outlet answered in protocol 1.00 on this connection.
		c.proto = 100
		if err := readArchiveHeader(r, info); err != nil {
			return nil, codec{}, fmt.Errorf("protocol 1.00 feed: %w", err)
		}
	}
	vals := make([]float64, info.ChannelCount)
	strs := make([]string, info.ChannelCount)
	for _, off := range []int{4, 2} {
		var ts float64
		if err := readSample(r, &c, &ts, vals, strs); err != nil {
			return nil, codec{}, fmt.Errorf("test-pattern sample: %w", err)
		}
		if err := c.checkTestPattern(off, ts, vals, strs); err != nil {
			return nil, codec{}, err
		}
	}
	return r, c, nil
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// readLine reads one CRLF- or LF-terminated header line (at most 16 KB).
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		b = append(b, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) || len(b) > 16<<10 {
			if errors.Is(err, bufio.ErrBufferFull) {
				return "", errors.New("header line longer than 16 KB")
			}
			return "", err
		}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// readSample reads one whole sample, blocking.
func readSample(r *bufio.Reader, c *codec, ts *float64, vals []float64, strs []string) error {
	need := 1
	for {
		b, err := r.Peek(need)
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return fmt.Errorf("sample of at least %d bytes does not fit the %d-byte read buffer", need, r.Size())
			}
			if len(b) > 0 && errors.Is(err, io.EOF) {
				return fmt.Errorf("connection dropped in the middle of a sample: %w", io.ErrUnexpectedEOF)
			}
			return err
		}
		b, _ = r.Peek(r.Buffered())
		n, more, err := c.dec(b, ts, vals, strs)
		if err != nil {
			return err
		}
		if n > 0 {
			_, _ = r.Discard(n)
			return nil
		}
		need = more
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// Pull fills c with the samples that have arrived, at most max (0: no limit), waiting for at least
// one. A lost connection is recovered (unless NoRecover): Pull re-resolves the stream and goes on
// with the same outlet or a single new match, marking the chunk Recovered.
func (in *Inlet) Pull(ctx context.Context, c *Chunk, maxSamples int) error {
	c.Reset()
	for {
		err := in.pull(ctx, c, maxSamples)
		if err == nil || c.N > 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.mu.Lock()
		closed := in.closed
		in.mu.Unlock()
		if closed {
			return net.ErrClosed
		}
		if in.opts.NoRecover {
			return fmt.Errorf("lsl inlet %q: %w", in.info.Name, err)
		}
		in.log.Warn("lsl inlet: stream interrupted; re-resolving", "stream", in.info.Name, "err", err)
		if err := in.recover(ctx); err != nil {
			return err
		}
		c.Recovered = true
	}
}

func (in *Inlet) pull(ctx context.Context, c *Chunk, maxSamples int) error {
	conn, r := in.conn, in.r
	if in.info.NominalRateHz > 0 {
		_ = conn.SetReadDeadline(time.Now().Add(in.opts.StallTimeout))
	} else {
		_ = conn.SetReadDeadline(time.Time{})
	}
	in.watch(ctx)
	if ctx.Err() != nil {
		// Cancelled while the deadline above was being set: do not wait out the stall timeout.
		_ = conn.SetReadDeadline(aLongTimeAgo)
	}
	nch := in.codec.channels
	var ts float64
	for maxSamples <= 0 || c.N < maxSamples {
		if c.N > 0 && r.Buffered() == 0 {
			return nil
		}
		var vals []float64
		var strs []string
		if in.codec.format == String {
			c.Strings = slices.Grow(c.Strings, nch)[:len(c.Strings)+nch]
			strs = c.Strings[len(c.Strings)-nch:]
		} else {
			c.Values = slices.Grow(c.Values, nch)[:len(c.Values)+nch]
			vals = c.Values[len(c.Values)-nch:]
		}
		var err error
		if c.N == 0 {
			err = readSample(r, &in.codec, &ts, vals, strs)
		} else {
			var n, more int
			b, _ := r.Peek(r.Buffered())
			n, more, err = in.codec.dec(b, &ts, vals, strs)
			if err == nil && n == 0 {
				if more > r.Size() {
					err = readSample(r, &in.codec, &ts, vals, strs)
				} else {
					// The rest of the sample is on its way; hand over what is whole.
					c.Values, c.Strings = c.Values[:c.N*nch*boolInt(vals != nil)], c.Strings[:c.N*nch*boolInt(strs != nil)]
					return nil
				}
			} else if n > 0 {
				_, _ = r.Discard(n)
			}
		}
		if err != nil {
			c.Values, c.Strings = c.Values[:c.N*nch*boolInt(vals != nil)], c.Strings[:c.N*nch*boolInt(strs != nil)]
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("outlet closed the connection: %w", err)
			}
			return err
		}
		if math.IsNaN(ts) {
			ts = in.lastTS
			if in.info.NominalRateHz > 0 {
				ts += 1 / in.info.NominalRateHz
			}
		}
		in.lastTS = ts
		c.Timestamps = append(c.Timestamps, ts)
		c.N++
	}
	return nil
}

// watch makes ctx's end unblock a read. The hook is registered once per context (callers pull
// with the same one), so a pull allocates nothing.
func (in *Inlet) watch(ctx context.Context) {
	if ctx == in.watched && in.watchedConn == in.conn {
		return
	}
	if in.unwatch != nil {
		in.unwatch()
	}
	conn := in.conn
	in.watched, in.watchedConn = ctx, conn
	in.unwatch = context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(aLongTimeAgo) })
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recover re-resolves the stream until the same outlet (same uid) or a single new match answers.
func (in *Inlet) recover(ctx context.Context) error {
	in.mu.Lock()
	if in.conn != nil {
		in.conn.Close()
	}
	old := in.info
	in.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		found, err := Resolve(ctx, in.query, ResolveOptions{Wait: 500 * time.Millisecond, Peers: in.opts.Peers, Session: old.SessionID})
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		var pick *StreamInfo
		for i := range found {
			if found[i].UID == old.UID {
				pick = &found[i]
			}
		}
		if pick == nil && len(found) == 1 {
			pick = &found[0]
		}
		if pick == nil && len(found) > 1 && attempt%10 == 0 {
			in.log.Warn("lsl inlet: several streams match; waiting for the original to come back", "stream", old.Name, "matches", len(found))
		}
		if pick != nil {
			if err := in.connect(ctx, *pick); err == nil {
				in.recoveries++
				in.log.Info("lsl inlet: stream recovered", "stream", old.Name, "uid", pick.UID, "same_outlet", pick.UID == old.UID)
				return nil
			} else if errors.Is(err, net.ErrClosed) {
				return err
			} else {
				in.log.Debug("lsl inlet: reconnect failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// TimeCorrection measures the offset to add to this stream's timestamps to get this host's Clock,
// with the LSL:timedata probes (the one with the smallest round trip wins), and that round trip.
func (in *Inlet) TimeCorrection(ctx context.Context) (offset, rtt float64, err error) {
	info := in.Info()
	host := info.V4Address
	if host == "" {
		host = "127.0.0.1"
	}
	raddr, err := net.ResolveUDPAddr("udp4", net.JoinHostPort(host, strconv.Itoa(info.V4ServicePort)))
	if err != nil {
		return 0, 0, err
	}
	conn, err := net.DialUDP("udp4", nil, raddr)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	wave := rand.Int32N(1 << 30)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := 0; k < in.opts.TimeProbes; k++ {
			msg := "LSL:timedata\r\n" + strconv.Itoa(int(wave)) + " " + strconv.FormatFloat(Clock(), 'g', 16, 64) + "\r\n"
			_, _ = conn.Write([]byte(msg))
			select {
			case <-ctx.Done():
				return
			case <-time.After(in.opts.TimeProbeInterval):
			}
		}
	}()
	deadline := time.Now().Add(time.Duration(in.opts.TimeProbes)*in.opts.TimeProbeInterval + 500*time.Millisecond)
	buf := make([]byte, 512)
	best, bestOffset, got := math.Inf(1), 0.0, 0
	for got < in.opts.TimeProbes && time.Now().Before(deadline) && ctx.Err() == nil {
		_ = conn.SetReadDeadline(minTime(deadline, time.Now().Add(100*time.Millisecond)))
		n, err := conn.Read(buf)
		t3 := Clock()
		if err != nil {
			continue
		}
		f := strings.Fields(string(buf[:n]))
		if len(f) < 4 || f[0] != strconv.Itoa(int(wave)) {
			continue
		}
		var t [3]float64
		ok := true
		for i := range t {
			if t[i], err = strconv.ParseFloat(f[i+1], 64); err != nil {
				ok = false
			}
		}
		if !ok {
			continue
		}
		got++
		r := (t3 - t[0]) - (t[2] - t[1])
		if r < best {
			best, bestOffset = r, ((t[1]-t[0])+(t[2]-t3))/2
		}
	}
	<-done
	if got == 0 {
		return 0, 0, fmt.Errorf("lsl inlet %q: no answer to time probes from %s", info.Name, raddr)
	}
	return -bestOffset, best, nil
}

// request110 asks for the 1.10 feed and reads the reply's headers; errProtocol100 means the outlet
// answered with the 1.00 archive instead.
func (in *Inlet) request110(conn net.Conn, r *bufio.Reader, info *StreamInfo, valueSize int, rate float64, c *codec) error {
	host, _ := os.Hostname()
	req := fmt.Sprintf("LSL:streamfeed/110 %s\r\nNative-Byte-Order: 1234\r\nEndian-Performance: 0\r\nHas-IEEE754-Floats: 1\r\n"+
		"Supports-Subnormals: 1\r\nValue-Size: %d\r\nData-Protocol-Version: 110\r\nMax-Buffer-Length: %d\r\nMax-Chunk-Length: 0\r\n"+
		"Hostname: %s\r\nSource-Id: %s\r\nSession-Id: %s\r\n\r\n",
		info.UID, valueSize, int(math.Ceil(in.opts.MaxBufferSeconds*rate)), host, info.SourceID, info.SessionID)
	if _, err := io.WriteString(conn, req); err != nil {
		return err
	}
	status, err := readLine(r)
	if err != nil {
		return fmt.Errorf("no reply to the feed request: %w", err)
	}
	f := strings.Fields(status)
	if len(f) < 3 || !strings.HasPrefix(f[0], "LSL/") {
		return fmt.Errorf("malformed reply %q to the feed request", trunc(status))
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("malformed reply %q to the feed request", trunc(status))
	}
	if code != 200 {
		return fmt.Errorf("outlet refused the feed: %q", trunc(status))
	}
	proto := 110
	for {
		line, err := readLine(r)
		if err != nil {
			return fmt.Errorf("feed headers: %w", err)
		}
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v, _, _ = strings.Cut(v, ";")
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "byte-order":
			switch v {
			case "1234", "0":
			case "4321":
				c.order = binary.BigEndian
			default:
				return fmt.Errorf("unsupported byte order %q", v)
			}
		case "uid":
			if v != info.UID {
				return fmt.Errorf("outlet serves uid %s, want %s", v, info.UID)
			}
		case "data-protocol-version":
			if proto, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("bad Data-Protocol-Version %q", v)
			}
		}
	}
	if proto != 110 {
		if proto == 100 {
			return errProtocol100
		}
		return fmt.Errorf("outlet chose data protocol %d; 1.00 and 1.10 are spoken", proto)
	}
	return nil
}

// errProtocol100 is an outlet falling back to data protocol 1.00 (Boost's portable archive), which
// it does when the Value-Size an inlet announces differs from its own: for strings that is
// sizeof(std::string) in the outlet's build (32 with today's libstdc++, 24 with libc++, 8 with the
// pre-C++11 ABI of older liblsl builds), which an inlet cannot know, so it tries them in turn for
// the faster 1.10 and reads 1.00 from the last attempt.
var errProtocol100 = errors.New("outlet chose data protocol 1.00 (Boost portable archive)")

var stringValueSizes = []int{32, 24, 8, 40, 28, 12, 4}
