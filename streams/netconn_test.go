package streams

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
)

// writeRecorder is a connection that records each write it is given.
type writeRecorder struct {
	net.Conn
	writes [][]byte
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

func request(size int, fill byte) []byte {
	b := make([]byte, 4+size)
	binary.BigEndian.PutUint32(b, uint32(size))
	for i := 4; i < len(b); i++ {
		b[i] = fill + byte(i)
	}
	return b
}

// Requests written in any pieces go out whole, one write each (in 64 KiB pieces beyond that), and
// unchanged.
func TestBufferedConnWritesWholeRequests(t *testing.T) {
	reqs := [][]byte{request(10, 1), request(5000, 2), request(3, 3), request(200_000, 4), request(connBufferBytes-4, 5)}
	var stream []byte
	for _, r := range reqs {
		stream = append(stream, r...)
	}
	for _, piece := range []int{1, 3, 4, 7, 4096, 100_000, len(stream)} {
		rec := &writeRecorder{}
		c := &bufferedConn{Conn: rec}
		for rest := stream; len(rest) > 0; {
			k := min(piece, len(rest))
			if n, err := c.Write(rest[:k]); n != k || err != nil {
				t.Fatalf("pieces of %d: Write = %d, %v", piece, n, err)
			}
			rest = rest[k:]
		}
		if got := bytes.Join(rec.writes, nil); !bytes.Equal(got, stream) {
			t.Fatalf("pieces of %d: the bytes written differ from the requests", piece)
		}
		// 10, 5000 and 3 bytes: one write each; 200,004: four of at most 64 KiB; 64 KiB: one.
		if len(rec.writes) != 3+4+1 {
			t.Errorf("pieces of %d: %d writes, want 8", piece, len(rec.writes))
		}
		for i, w := range rec.writes {
			if len(w) > connBufferBytes {
				t.Errorf("pieces of %d: write %d holds %d bytes, over %d", piece, i, len(w), connBufferBytes)
			}
		}
	}
}
