package lsl

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Tag bytes that start every sample on the wire.
const (
	tagDeduced     = 1 // no timestamp: the previous one plus 1/rate
	tagTransmitted = 2 // an 8-byte double timestamp follows
)

// DefaultMaxStringBytes bounds one string value read from the network.
const DefaultMaxStringBytes = 1 << 20

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// codec reads and writes samples of one stream in data protocol 1.10.
type codec struct {
	format    Format
	channels  int
	order     byteOrder
	maxString int
	proto     int // 110, or 100 for the archive format
}

// dec decodes one sample in the feed's protocol (see decode).
func (c *codec) dec(b []byte, ts *float64, vals []float64, strs []string) (n, need int, err error) {
	if c.proto == 100 {
		return c.decode100(b, ts, vals, strs)
	}
	return c.decode(b, ts, vals, strs)
}

// decode parses the sample at the start of b into ts (NaN for a deduced timestamp) and vals or strs.
// It returns the bytes consumed, or 0 and the number of bytes it needs when b holds less than a
// whole sample.
func (c *codec) decode(b []byte, ts *float64, vals []float64, strs []string) (n, need int, err error) {
	if len(b) < 1 {
		return 0, 1, nil
	}
	p := 1
	switch b[0] {
	case tagDeduced:
		*ts = math.NaN()
	case tagTransmitted:
		if len(b) < 9 {
			return 0, 9, nil
		}
		*ts = math.Float64frombits(c.order.Uint64(b[1:9]))
		p = 9
	default:
		return 0, 0, fmt.Errorf("corrupt sample: tag byte %d (want 1 or 2)", b[0])
	}
	if c.format == String {
		for k := 0; k < c.channels; k++ {
			if len(b) < p+1 {
				return 0, p + 1, nil
			}
			lb := int(b[p])
			if lb != 1 && lb != 2 && lb != 4 && lb != 8 {
				return 0, 0, fmt.Errorf("corrupt sample: string length field of %d bytes (want 1, 2, 4 or 8)", lb)
			}
			if len(b) < p+1+lb {
				return 0, p + 1 + lb, nil
			}
			var l uint64
			switch lb {
			case 1:
				l = uint64(b[p+1])
			case 2:
				l = uint64(c.order.Uint16(b[p+1:]))
			case 4:
				l = uint64(c.order.Uint32(b[p+1:]))
			case 8:
				l = c.order.Uint64(b[p+1:])
			}
			if l > uint64(c.maxString) {
				return 0, 0, fmt.Errorf("string value of %d bytes in channel %d exceeds the %d-byte limit", l, k, c.maxString)
			}
			p += 1 + lb
			if len(b) < p+int(l) {
				return 0, p + int(l), nil
			}
			if strs != nil {
				strs[k] = string(b[p : p+int(l)])
			}
			p += int(l)
		}
		return p, 0, nil
	}
	size := c.format.Size()
	end := p + c.channels*size
	if len(b) < end {
		return 0, end, nil
	}
	d := b[p:end]
	switch c.format {
	case Float32:
		for k := range c.channels {
			vals[k] = float64(math.Float32frombits(c.order.Uint32(d[4*k:])))
		}
	case Double64:
		for k := range c.channels {
			vals[k] = math.Float64frombits(c.order.Uint64(d[8*k:]))
		}
	case Int8:
		for k := range c.channels {
			vals[k] = float64(int8(d[k]))
		}
	case Int16:
		for k := range c.channels {
			vals[k] = float64(int16(c.order.Uint16(d[2*k:])))
		}
	case Int32:
		for k := range c.channels {
			vals[k] = float64(int32(c.order.Uint32(d[4*k:])))
		}
	case Int64:
		for k := range c.channels {
			vals[k] = float64(int64(c.order.Uint64(d[8*k:])))
		}
	}
	return end, 0, nil
}

// appendSample encodes one sample; a NaN timestamp is sent as deduced.
func (c *codec) appendSample(b []byte, ts float64, vals []float64, strs []string) []byte {
	if math.IsNaN(ts) {
		b = append(b, tagDeduced)
	} else {
		b = append(b, tagTransmitted)
		b = c.order.AppendUint64(b, math.Float64bits(ts))
	}
	if c.format == String {
		for k := range c.channels {
			s := ""
			if k < len(strs) {
				s = strs[k]
			}
			if len(s) <= 0xff {
				b = append(b, 1, byte(len(s)))
			} else {
				b = append(b, 4)
				b = c.order.AppendUint32(b, uint32(len(s)))
			}
			b = append(b, s...)
		}
		return b
	}
	for k := range c.channels {
		v := vals[k]
		switch c.format {
		case Float32:
			b = c.order.AppendUint32(b, math.Float32bits(float32(v)))
		case Double64:
			b = c.order.AppendUint64(b, math.Float64bits(v))
		case Int8:
			b = append(b, byte(int8(clampRound(v, math.MinInt8, math.MaxInt8))))
		case Int16:
			b = c.order.AppendUint16(b, uint16(int16(clampRound(v, math.MinInt16, math.MaxInt16))))
		case Int32:
			b = c.order.AppendUint32(b, uint32(int32(clampRound(v, math.MinInt32, math.MaxInt32))))
		case Int64:
			b = c.order.AppendUint64(b, uint64(int64(clampRound(v, math.MinInt64, math.MaxInt64))))
		}
	}
	return b
}

// appendFloat32 encodes one float32 sample without a conversion through float64.
func (c *codec) appendFloat32(b []byte, ts float64, vals []float32) []byte {
	if math.IsNaN(ts) {
		b = append(b, tagDeduced)
	} else {
		b = append(b, tagTransmitted)
		b = c.order.AppendUint64(b, math.Float64bits(ts))
	}
	for _, v := range vals {
		b = c.order.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func clampRound(v, lo, hi float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return math.Max(lo, math.Min(hi, math.Round(v)))
}

// appendTestPatterns encodes the two samples a feed starts with.
func (c *codec) appendTestPatterns(b []byte) []byte {
	vals := make([]float64, c.channels)
	strs := make([]string, c.channels)
	for _, off := range []int{4, 2} {
		for k := range c.channels {
			vals[k] = testPatternValue(c.format, k, off)
			strs[k] = testPatternString(k)
		}
		b = c.appendSample(b, testPatternTimestamp, vals, strs)
	}
	return b
}

// checkTestPattern compares a decoded test-pattern sample with what the protocol prescribes.
func (c *codec) checkTestPattern(offset int, ts float64, vals []float64, strs []string) error {
	if ts != testPatternTimestamp {
		return fmt.Errorf("test-pattern sample has timestamp %v, want %v: the outlet speaks an incompatible protocol", ts, testPatternTimestamp)
	}
	for k := range c.channels {
		if c.format == String {
			if want := testPatternString(k); strs[k] != want {
				return fmt.Errorf("test-pattern channel %d is %q, want %q: the outlet speaks an incompatible protocol", k, strs[k], want)
			}
			continue
		}
		if want := testPatternValue(c.format, k, offset); vals[k] != want {
			return fmt.Errorf("test-pattern channel %d is %v, want %v: the outlet speaks an incompatible protocol (byte order or format)", k, vals[k], want)
		}
	}
	return nil
}
