package lsl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
)

// Data protocol 1.00, spoken by liblsl before 1.10 and by later outlets that cannot serve an inlet
// 1.10 (a different value size, no IEEE floats): the feed is a Boost portable binary archive. Every
// number is a signed size byte n followed by |n| little-endian bytes (n < 0: the missing high bytes
// are 0xff; n = 0: the value 0); floats travel as the integer of their bits. The archive starts with
// the byte 0x7f and the archive version, then the outlet's short description as a string (length,
// bytes), the class information of the first sample (a tracking flag and a version number), then the
// samples: the tag (1 deduced, 2 transmitted), the timestamp if transmitted, the values.

const archiveMagic = 0x7f

// archiveInt parses one archive integer at b[p:]; need > 0 asks for that many bytes of b.
func archiveInt(b []byte, p int) (v uint64, next, need int, err error) {
	if len(b) < p+1 {
		return 0, 0, p + 1, nil
	}
	s := int(int8(b[p]))
	n := s
	if n < 0 {
		n = -n
	}
	if n > 8 {
		return 0, 0, 0, fmt.Errorf("corrupt archive: integer of %d bytes", n)
	}
	if len(b) < p+1+n {
		return 0, 0, p + 1 + n, nil
	}
	if s < 0 {
		v = math.MaxUint64
	}
	for i := range n {
		v = v&^(0xff<<(8*i)) | uint64(b[p+1+i])<<(8*i)
	}
	return v, p + 1 + n, 0, nil
}

// decode100 is decode for protocol 1.00.
func (c *codec) decode100(b []byte, ts *float64, vals []float64, strs []string) (n, need int, err error) {
	tag, p, need, err := archiveInt(b, 0)
	if need > 0 || err != nil {
		return 0, need, err
	}
	switch tag {
	case tagDeduced:
		*ts = math.NaN()
	case tagTransmitted:
		var bits uint64
		if bits, p, need, err = archiveInt(b, p); need > 0 || err != nil {
			return 0, need, err
		}
		*ts = math.Float64frombits(bits)
	default:
		return 0, 0, fmt.Errorf("corrupt sample: tag %d (want 1 or 2)", tag)
	}
	for k := range c.channels {
		var v uint64
		if v, p, need, err = archiveInt(b, p); need > 0 || err != nil {
			return 0, need, err
		}
		switch c.format {
		case String:
			if v > uint64(c.maxString) {
				return 0, 0, fmt.Errorf("string value of %d bytes in channel %d exceeds the %d-byte limit", v, k, c.maxString)
			}
			if len(b) < p+int(v) {
				return 0, p + int(v), nil
			}
			if strs != nil {
				strs[k] = string(b[p : p+int(v)])
			}
			p += int(v)
		case Float32:
			vals[k] = float64(math.Float32frombits(uint32(v)))
		case Double64:
			vals[k] = math.Float64frombits(v)
		case Int8:
			vals[k] = float64(int8(v))
		case Int16:
			vals[k] = float64(int16(v))
		case Int32:
			vals[k] = float64(int32(v))
		case Int64:
			vals[k] = float64(int64(v))
		}
	}
	return p, 0, nil
}

// readArchiveHeader reads the archive's start: magic, version, the short description (which must
// be the stream's) and the first sample's class information.
func readArchiveHeader(r *bufio.Reader, info *StreamInfo) error {
	magic, err := r.ReadByte()
	if err != nil {
		return err
	}
	if magic != archiveMagic {
		return fmt.Errorf("protocol 1.00 feed does not start with the archive signature (0x%02x)", magic)
	}
	readInt := func() (uint64, error) {
		need := 1
		for {
			b, err := r.Peek(need)
			if err != nil {
				return 0, err
			}
			v, next, more, err := archiveInt(b, 0)
			if err != nil {
				return 0, err
			}
			if more == 0 {
				_, _ = r.Discard(next)
				return v, nil
			}
			need = more
		}
	}
	if _, err := readInt(); err != nil { // archive version
		return err
	}
	l, err := readInt()
	if err != nil {
		return err
	}
	if l > maxInfoBytes {
		return fmt.Errorf("protocol 1.00 feed announces a %d-byte description", l)
	}
	buf := make([]byte, l)
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	short, err := ParseInfo(buf)
	if err != nil {
		return fmt.Errorf("protocol 1.00 feed: %w", err)
	}
	if short.UID != info.UID {
		return fmt.Errorf("protocol 1.00 feed is of stream %s, want %s", short.UID, info.UID)
	}
	// Class information of the sample type: a tracking flag (0, or 1 and 'T') and a version.
	track, err := r.ReadByte()
	if err != nil {
		return err
	}
	if track != 0 {
		if t, err := r.ReadByte(); err != nil || t != 'T' {
			return errors.New("corrupt archive: bad tracking flag")
		}
	}
	_, err = readInt()
	return err
}
