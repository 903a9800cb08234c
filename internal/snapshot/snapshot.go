// Package snapshot encodes the state of streaming stages (filter memory, window buffers, patch
// buffers) as bytes, so a pipeline can store it on Kafka and a restarted or rebalanced stage can
// resume exactly where the last one stopped. Values are little-endian and length-prefixed; float
// values keep every bit, so a restored filter continues bit for bit.
package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// AppendUint appends v as a uvarint.
func AppendUint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendInt appends v as a varint.
func AppendInt(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendBytes appends p with its length.
func AppendBytes(b, p []byte) []byte { return append(AppendUint(b, uint64(len(p))), p...) }

// AppendString appends s with its length.
func AppendString(b []byte, s string) []byte { return append(AppendUint(b, uint64(len(s))), s...) }

// AppendFloat64s appends xs with its length, every value's bits unchanged.
func AppendFloat64s(b []byte, xs []float64) []byte {
	b = AppendUint(b, uint64(len(xs)))
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// AppendFloat32s appends xs with its length.
func AppendFloat32s(b []byte, xs []float64) []byte {
	b = AppendUint(b, uint64(len(xs)))
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(x)))
	}
	return b
}

// ErrShort is returned when the bytes end before the state does.
var ErrShort = errors.New("snapshot: truncated state")

// Reader reads what the Append functions wrote. The first error sticks: check Err once at the end.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Rest returns the unread bytes.
func (r *Reader) Rest() []byte { return r.b }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// Uint reads a uvarint.
func (r *Reader) Uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(ErrShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Int reads a varint.
func (r *Reader) Int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(ErrShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// length reads a length and checks that size bytes per element remain.
func (r *Reader) length(size int) int {
	n := r.Uint()
	if r.err == nil && n > uint64(len(r.b)/size) {
		r.fail(fmt.Errorf("%w: %d elements announced, %d bytes left", ErrShort, n, len(r.b)))
		return 0
	}
	return int(n)
}

// Bytes reads a length-prefixed byte slice (a sub-slice of the input).
func (r *Reader) Bytes() []byte {
	n := r.length(1)
	if r.err != nil {
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// String reads a length-prefixed string.
func (r *Reader) String() string { return string(r.Bytes()) }

// Float64s reads values written by AppendFloat64s into dst, which must have exactly their count.
func (r *Reader) Float64s(dst []float64) {
	n := r.length(8)
	if r.err != nil {
		return
	}
	if n != len(dst) {
		r.fail(fmt.Errorf("snapshot: %d values stored, %d expected", n, len(dst)))
		return
	}
	for i := range dst {
		dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(r.b[8*i:]))
	}
	r.b = r.b[8*n:]
}

// Float32s reads values written by AppendFloat32s into dst[:n] and returns n; more than len(dst)
// values is an error.
func (r *Reader) Float32s(dst []float64) int {
	n := r.length(4)
	if r.err != nil {
		return 0
	}
	if n > len(dst) {
		r.fail(fmt.Errorf("snapshot: %d values stored, room for %d", n, len(dst)))
		return 0
	}
	for i := range n {
		dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(r.b[4*i:])))
	}
	r.b = r.b[4*n:]
	return n
}

// Expect checks a stored value against the one this process expects (a channel count, a window
// length): a snapshot taken under another configuration must not be restored.
func (r *Reader) Expect(what string, want uint64) {
	if got := r.Uint(); r.err == nil && got != want {
		r.fail(fmt.Errorf("snapshot: %s is %d, this stage has %d", what, got, want))
	}
}
