package lsl

import (
	"fmt"
	"strconv"
)

// Format is an LSL channel format; the values are liblsl's.
type Format int

const (
	FormatUndefined Format = 0
	Float32         Format = 1
	Double64        Format = 2
	String          Format = 3
	Int32           Format = 4
	Int16           Format = 5
	Int8            Format = 6
	Int64           Format = 7
)

var formatNames = [...]string{"undefined", "float32", "double64", "string", "int32", "int16", "int8", "int64"}

// valueSizes is the wire size of one value; 0 for strings, whose values carry their own length.
var valueSizes = [...]int{0, 4, 8, 0, 4, 2, 1, 8}

func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

// Size is the wire size of one value in bytes (0 for strings).
func (f Format) Size() int {
	if f >= 0 && int(f) < len(valueSizes) {
		return valueSizes[f]
	}
	return 0
}

// ParseFormat reads a channel_format element's text.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if i > 0 && n == s {
			return Format(i), nil
		}
	}
	return FormatUndefined, fmt.Errorf("unknown channel format %q (want float32, double64, string, int32, int16, int8 or int64)", s)
}

// testPatternTimestamp is the timestamp of the two test-pattern samples sent before the data.
const testPatternTimestamp = 123456.789

// testPatternValue is value k of the test-pattern sample with the given offset (4 then 2), as
// liblsl's sample::assign_test_pattern defines it; integers wrap at the format's maximum.
func testPatternValue(f Format, k, offset int) float64 {
	sign := 1.0
	if k%2 == 1 {
		sign = -1
	}
	switch f {
	case Float32:
		return sign * float64(float32(k)+float32(offset))
	case Double64:
		return sign * float64(k+offset+16777217)
	case Int32:
		return sign * float64((k+offset+65537)%2147483647)
	case Int16:
		return sign * float64((k+offset+257)%32767)
	case Int8:
		return sign * float64((k+offset+1)%127)
	case Int64:
		return sign * float64(int64(k)+int64(offset)+2147483649)
	}
	return 0
}

// testPatternString is string channel k of either test-pattern sample.
func testPatternString(k int) string {
	if k%2 == 1 {
		return strconv.Itoa(-(k + 10))
	}
	return strconv.Itoa(k + 10)
}
