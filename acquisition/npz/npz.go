package npz

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Array is one n-dimensional array in C order, converted to float64.
type Array struct {
	Dtype string // numpy descr, e.g. "<f4"
	Shape []int
	Data  []float64
}

// Read reads every array of an .npz archive, keyed by name without the ".npy" suffix.
func Read(path string) (map[string]*Array, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("npz %s: %w", path, err)
	}
	defer zr.Close()
	out := map[string]*Array{}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("npz %s: member %s: %w", path, f.Name, err)
		}
		a, err := ReadNpy(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("npz %s: member %s: %w", path, f.Name, err)
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = a
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("npz %s: no .npy members", path)
	}
	return out, nil
}

// maxElements bounds what a header may claim, so a corrupt shape cannot exhaust memory.
const maxElements = 1 << 30

// ReadNpy reads one .npy stream (format versions 1-3; little- or big-endian integers and floats,
// C or Fortran order; the result is always in C order).
func ReadNpy(r io.Reader) (*Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy header: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("not a .npy stream (magic %q)", pre[:6])
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
		if hlen > 1<<20 {
			return nil, fmt.Errorf("npy header of %d bytes is implausible", hlen)
		}
	default:
		return nil, fmt.Errorf("npy format version %d.%d not supported", pre[6], pre[7])
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("npy header: %w", err)
	}
	descr, fortran, shape, err := parseHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxElements/d) {
			return nil, fmt.Errorf("npy shape %v too large", shape)
		}
		n *= d
	}
	size, order, conv, err := decoderFor(descr)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, n*size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("npy data: %d values of %s expected: %w", n, descr, err)
	}
	a := &Array{Dtype: descr, Shape: shape, Data: make([]float64, n)}
	for i := range a.Data {
		a.Data[i] = conv(order, raw[i*size:(i+1)*size])
	}
	if fortran && len(shape) > 1 {
		a.Data = fortranToC(a.Data, shape)
	}
	return a, nil
}

// fortranToC reorders column-major values into row-major order.
func fortranToC(f []float64, shape []int) []float64 {
	out := make([]float64, len(f))
	idx := make([]int, len(shape))
	for c := range out {
		// idx is the multi-index of C-order position c; its Fortran offset has the first axis fastest.
		off, stride := 0, 1
		for d := range shape {
			off += idx[d] * stride
			stride *= shape[d]
		}
		out[c] = f[off]
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

func parseHeader(h string) (descr string, fortran bool, shape []int, err error) {
	field := func(key string) (string, error) {
		i := strings.Index(h, "'"+key+"'")
		if i < 0 {
			return "", fmt.Errorf("npy header %q has no %q", h, key)
		}
		rest := strings.TrimSpace(h[i+len(key)+2:])
		rest = strings.TrimSpace(strings.TrimPrefix(rest, ":"))
		return rest, nil
	}
	v, err := field("descr")
	if err != nil {
		return "", false, nil, err
	}
	if len(v) < 2 || v[0] != '\'' || strings.IndexByte(v[1:], '\'') < 0 {
		return "", false, nil, fmt.Errorf("npy header: descr %q is not a simple type (structured arrays are not supported)", v)
	}
	descr = v[1 : 1+strings.IndexByte(v[1:], '\'')]
	v, err = field("fortran_order")
	if err != nil {
		return "", false, nil, err
	}
	fortran = strings.HasPrefix(v, "True")
	v, err = field("shape")
	if err != nil {
		return "", false, nil, err
	}
	end := strings.IndexByte(v, ')')
	if !strings.HasPrefix(v, "(") || end < 0 {
		return "", false, nil, fmt.Errorf("npy header: shape %q", v)
	}
	for _, p := range strings.Split(v[1:end], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil {
			return "", false, nil, fmt.Errorf("npy header: shape %q: %w", v[:end+1], err)
		}
		shape = append(shape, d)
	}
	return descr, fortran, shape, nil
}

func decoderFor(descr string) (int, binary.ByteOrder, func(binary.ByteOrder, []byte) float64, error) {
	if len(descr) < 3 {
		return 0, nil, nil, fmt.Errorf("npy dtype %q not supported", descr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if descr[0] == '>' {
		order = binary.BigEndian
	}
	kind, size := descr[1], descr[2:]
	type conv = func(binary.ByteOrder, []byte) float64
	table := map[string]struct {
		n int
		f conv
	}{
		"f4": {4, func(o binary.ByteOrder, b []byte) float64 { return float64(math.Float32frombits(o.Uint32(b))) }},
		"f8": {8, func(o binary.ByteOrder, b []byte) float64 { return math.Float64frombits(o.Uint64(b)) }},
		"i1": {1, func(o binary.ByteOrder, b []byte) float64 { return float64(int8(b[0])) }},
		"u1": {1, func(o binary.ByteOrder, b []byte) float64 { return float64(b[0]) }},
		"i2": {2, func(o binary.ByteOrder, b []byte) float64 { return float64(int16(o.Uint16(b))) }},
		"u2": {2, func(o binary.ByteOrder, b []byte) float64 { return float64(o.Uint16(b)) }},
		"i4": {4, func(o binary.ByteOrder, b []byte) float64 { return float64(int32(o.Uint32(b))) }},
		"u4": {4, func(o binary.ByteOrder, b []byte) float64 { return float64(o.Uint32(b)) }},
		"i8": {8, func(o binary.ByteOrder, b []byte) float64 { return float64(int64(o.Uint64(b))) }},
	}
	t, ok := table[string(kind)+size]
	if !ok {
		return 0, nil, nil, fmt.Errorf("npy dtype %q not supported (want float32/64 or integers)", descr)
	}
	return t.n, order, t.f, nil
}

// Encode writes a float64 array as a version-1 .npy stream, so tests can make fixtures without numpy.
func Encode(w io.Writer, shape []int, data []float64) error {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	h := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }", sh)
	pad := 64 - (10+len(h)+1)%64
	h += strings.Repeat(" ", pad%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(h)))
	buf.WriteString(h)
	for _, v := range data {
		binary.Write(&buf, binary.LittleEndian, math.Float64bits(v))
	}
	_, err := w.Write(buf.Bytes())
	return err
}
