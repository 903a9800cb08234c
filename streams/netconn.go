package streams

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"time"
)

// connBufferBytes is how much a connection reads ahead and gathers before a write.
const connBufferBytes = 64 << 10

// bufferedConn cuts the system calls a kafka-go connection makes per request. kafka-go buffers a
// connection in 4 KiB both ways, so a produce request of 2-KiB frames went out in one write per
// two frames, and a fetch response came in one read per two: at 500 streams, writes alone took 15%
// of the process's CPU (loopback TCP does the receiver's work in the sender's system call). Here
// reads are served from 64 KiB read ahead, and the bytes of a request are gathered until the
// request is whole (Kafka frames every request with its length) or 64 KiB are, then written at
// once. A request is never held back once its last byte was written, so nothing waits on it.
//
// Only plaintext connections without SASL are wrapped: under TLS the bytes written are records,
// not requests.
type bufferedConn struct {
	net.Conn
	r    *bufio.Reader
	wbuf []byte // gathered bytes of the current request, at most connBufferBytes
	left int    // bytes of the current request not yet seen (after its 4-byte length)
	head int    // bytes of the current request's length prefix seen so far (4: complete)
}

func newBufferedConn(c net.Conn) *bufferedConn {
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, connBufferBytes)}
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write gathers p into the current request; it writes what is gathered when the request is whole
// or the buffer full.
func (c *bufferedConn) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.head < 4 { // the length prefix of a new request
			if c.wbuf == nil {
				c.wbuf = make([]byte, 0, connBufferBytes)
			}
			k := min(4-c.head, len(p))
			c.wbuf = append(c.wbuf, p[:k]...)
			c.head += k
			p = p[k:]
			if c.head < 4 {
				break
			}
			c.left = int(binary.BigEndian.Uint32(c.wbuf[len(c.wbuf)-4:]))
		}
		k := min(c.left, len(p), cap(c.wbuf)-len(c.wbuf))
		c.wbuf = append(c.wbuf, p[:k]...)
		c.left -= k
		p = p[k:]
		if c.left == 0 || len(c.wbuf) == cap(c.wbuf) {
			if c.left == 0 {
				c.head = 0
			}
			_, err := c.Conn.Write(c.wbuf)
			c.wbuf = c.wbuf[:0]
			if err != nil {
				c.head, c.left = 0, 0
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// dialBuffered dials as kafka-go's Dialer does by default and wraps the connection.
func dialBuffered(timeout time.Duration) func(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second, FallbackDelay: 300 * time.Millisecond}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return newBufferedConn(c), nil
	}
}
