package eeglab

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf16"
)

// MAT-file v5 element types and array classes (MathWorks, "MAT-File Format", 2019).
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17

	mxCELL   = 1
	mxSTRUCT = 2
	mxOBJECT = 3
	mxCHAR   = 4
	mxSPARSE = 5
	mxDOUBLE = 6
	mxUINT64 = 15

	matHeaderBytes = 128
	maxMatDepth    = 32
	// Deflate cannot expand data by more than about 1032:1; a larger claim is a bomb or garbage.
	maxInflateRatio = 1032
)

// matValue is one MATLAB array: numbers (any numeric class, as float64), a string, cells, or a
// struct array (elems[i][field]).
type matValue struct {
	class  byte
	dims   []int
	nums   []float64
	str    string
	cells  []*matValue
	fields []string
	elems  []map[string]*matValue
}

// readMat decodes the top-level variables of a MAT-file v5 (v6/v7, compressed or not).
func readMat(b []byte) (map[string]*matValue, error) {
	if len(b) < matHeaderBytes {
		return nil, fmt.Errorf("not a MAT-file: %d bytes, shorter than the 128-byte header", len(b))
	}
	text := string(b[:116])
	if (len(b) >= 520 && bytes.HasPrefix(b[512:], []byte("\x89HDF"))) || strings.Contains(text, "MATLAB 7.3") {
		return nil, fmt.Errorf("MATLAB v7.3 (HDF5) file: not supported, re-save it in MATLAB as v7 (save(..., '-v7')) or with EEGLAB's pop_saveset")
	}
	if !strings.HasPrefix(text, "MATLAB 5.0 MAT-file") {
		return nil, fmt.Errorf("not a MATLAB 5/7 MAT-file: header starts %q", strings.TrimSpace(text[:min(40, len(text))]))
	}
	var order binary.ByteOrder
	switch string(b[126:128]) {
	case "IM":
		order = binary.LittleEndian
	case "MI":
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("MAT-file header: endian indicator %q, want IM or MI", b[126:128])
	}
	r := &matReader{order: order}
	vars := map[string]*matValue{}
	rest := b[matHeaderBytes:]
	for len(rest) > 0 {
		if len(rest) < 8 {
			break // trailing padding
		}
		typ, data, next, err := r.element(rest)
		if err != nil {
			return nil, fmt.Errorf("top-level variable at byte %d: %w", len(b)-len(rest), err)
		}
		rest = next
		if typ == miCOMPRESSED {
			if data, err = inflate(data); err != nil {
				return nil, err
			}
			if typ, data, _, err = r.element(data); err != nil {
				return nil, fmt.Errorf("compressed variable: %w", err)
			}
		}
		if typ != miMATRIX {
			continue
		}
		name, v, err := r.matrix(data, 0)
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", name, err)
		}
		vars[name] = v
	}
	return vars, nil
}

func inflate(data []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("compressed element: %w", err)
	}
	limit := int64(len(data))*maxInflateRatio + 1024
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("compressed element: %w", err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("compressed element of %d bytes inflates past %d bytes: corrupt", len(data), limit)
	}
	return out, nil
}

type matReader struct{ order binary.ByteOrder }

// element splits one tagged data element off b: its type, its data, and what follows (8-byte aligned).
func (r *matReader) element(b []byte) (typ uint32, data, rest []byte, err error) {
	if len(b) < 8 {
		return 0, nil, nil, fmt.Errorf("element tag needs 8 bytes, %d left: truncated", len(b))
	}
	first := r.order.Uint32(b)
	if first>>16 != 0 {
		// Small data element: size and type share the first word, data sits in the next 4 bytes.
		n := int(first >> 16)
		if n > 4 {
			return 0, nil, nil, fmt.Errorf("small element claims %d bytes, at most 4 fit", n)
		}
		return first & 0xffff, b[4 : 4+n], b[8:], nil
	}
	n := r.order.Uint32(b[4:])
	if uint64(n) > uint64(len(b)-8) {
		return 0, nil, nil, fmt.Errorf("element of type %d claims %d bytes, %d left: truncated", first, n, len(b)-8)
	}
	end := 8 + int(n)
	data = b[8:end]
	if first != miCOMPRESSED {
		end = min((end+7)&^7, len(b))
	}
	return first, data, b[end:], nil
}

// matrix decodes the body of an miMATRIX element.
func (r *matReader) matrix(b []byte, depth int) (string, *matValue, error) {
	if len(b) == 0 {
		return "", &matValue{class: mxDOUBLE, dims: []int{0, 0}}, nil // MATLAB writes [] as an empty element
	}
	if depth > maxMatDepth {
		return "", nil, fmt.Errorf("arrays nested deeper than %d", maxMatDepth)
	}
	typ, flags, b, err := r.element(b)
	if err != nil || typ != miUINT32 || len(flags) < 8 {
		return "", nil, fmt.Errorf("array flags: want an 8-byte uint32 element (%v)", err)
	}
	v := &matValue{class: flags[r.flagIndex()]}
	typ, dimsB, b, err := r.element(b)
	if err != nil || typ != miINT32 || len(dimsB) < 8 || len(dimsB)%4 != 0 {
		return "", nil, fmt.Errorf("dimensions: want at least two int32 values (%v)", err)
	}
	total := 1
	for i := 0; i < len(dimsB); i += 4 {
		d := int(int32(r.order.Uint32(dimsB[i:])))
		if d < 0 || (d > 0 && total > math.MaxInt32/d) {
			return "", nil, fmt.Errorf("dimension %d is impossible", d)
		}
		total *= d
		v.dims = append(v.dims, d)
	}
	typ, nameB, b, err := r.element(b)
	if err != nil || typ != miINT8 {
		return "", nil, fmt.Errorf("array name: want an int8 element (%v)", err)
	}
	name := string(nameB)
	switch v.class {
	case mxCELL:
		for i := 0; i < total; i++ {
			var cb []byte
			if typ, cb, b, err = r.element(b); err != nil || typ != miMATRIX {
				return name, nil, fmt.Errorf("cell %d of %d: want a matrix element (%v)", i, total, err)
			}
			_, c, err := r.matrix(cb, depth+1)
			if err != nil {
				return name, nil, fmt.Errorf("cell %d: %w", i, err)
			}
			v.cells = append(v.cells, c)
		}
	case mxSTRUCT, mxOBJECT:
		if v.class == mxOBJECT {
			if _, _, b, err = r.element(b); err != nil { // class name
				return name, nil, fmt.Errorf("object class name: %w", err)
			}
		}
		var lenB, namesB []byte
		if typ, lenB, b, err = r.element(b); err != nil || typ != miINT32 || len(lenB) < 4 {
			return name, nil, fmt.Errorf("struct field name length: want an int32 (%v)", err)
		}
		fl := int(int32(r.order.Uint32(lenB)))
		if typ, namesB, b, err = r.element(b); err != nil || typ != miINT8 || fl <= 0 || len(namesB)%fl != 0 {
			return name, nil, fmt.Errorf("struct field names: %d bytes do not split into names of %d (%v)", len(namesB), fl, err)
		}
		for i := 0; i < len(namesB); i += fl {
			f := namesB[i : i+fl]
			if j := bytes.IndexByte(f, 0); j >= 0 {
				f = f[:j]
			}
			v.fields = append(v.fields, string(f))
		}
		if total > 0 && len(v.fields) > 0 && total > len(b)/(8*len(v.fields)) {
			return name, nil, fmt.Errorf("struct array of %d elements x %d fields cannot fit in %d bytes", total, len(v.fields), len(b))
		}
		for i := 0; i < total; i++ {
			el := make(map[string]*matValue, len(v.fields))
			for _, f := range v.fields {
				var fb []byte
				if typ, fb, b, err = r.element(b); err != nil || typ != miMATRIX {
					return name, nil, fmt.Errorf("struct element %d field %q: want a matrix element (%v)", i, f, err)
				}
				_, fv, err := r.matrix(fb, depth+1)
				if err != nil {
					return name, nil, fmt.Errorf("struct element %d field %q: %w", i, f, err)
				}
				el[f] = fv
			}
			v.elems = append(v.elems, el)
		}
	case mxCHAR:
		typ, data, _, err := r.element(b)
		if err != nil {
			return name, nil, fmt.Errorf("char data: %w", err)
		}
		v.str = r.text(typ, data)
	case mxSPARSE:
		// Sparse arrays do not occur in the fields a recording needs; keep them as empty.
	default:
		if v.class < mxDOUBLE || v.class > mxUINT64 {
			return name, nil, fmt.Errorf("array class %d is not a MATLAB class", v.class)
		}
		// Only the real part is kept: complex data does not occur in recordings.
		typ, data, _, err := r.element(b)
		if err != nil {
			return name, nil, fmt.Errorf("numeric data: %w", err)
		}
		if v.nums, err = r.numbers(typ, data); err != nil {
			return name, nil, err
		}
		if len(v.nums) != total {
			return name, nil, fmt.Errorf("numeric array of %v holds %d values, want %d", v.dims, len(v.nums), total)
		}
	}
	return name, v, nil
}

// flagIndex is where the class byte sits in the 8-byte flags element.
func (r *matReader) flagIndex() int {
	if r.order == binary.LittleEndian {
		return 0
	}
	return 3
}

func (r *matReader) numbers(typ uint32, d []byte) ([]float64, error) {
	width := map[uint32]int{miINT8: 1, miUINT8: 1, miINT16: 2, miUINT16: 2, miINT32: 4, miUINT32: 4,
		miSINGLE: 4, miDOUBLE: 8, miINT64: 8, miUINT64: 8}[typ]
	if width == 0 || len(d)%width != 0 {
		return nil, fmt.Errorf("numeric data of element type %d with %d bytes", typ, len(d))
	}
	out := make([]float64, len(d)/width)
	for i := range out {
		p := d[i*width:]
		switch typ {
		case miINT8:
			out[i] = float64(int8(p[0]))
		case miUINT8:
			out[i] = float64(p[0])
		case miINT16:
			out[i] = float64(int16(r.order.Uint16(p)))
		case miUINT16:
			out[i] = float64(r.order.Uint16(p))
		case miINT32:
			out[i] = float64(int32(r.order.Uint32(p)))
		case miUINT32:
			out[i] = float64(r.order.Uint32(p))
		case miSINGLE:
			out[i] = float64(math.Float32frombits(r.order.Uint32(p)))
		case miDOUBLE:
			out[i] = math.Float64frombits(r.order.Uint64(p))
		case miINT64:
			out[i] = float64(int64(r.order.Uint64(p)))
		case miUINT64:
			out[i] = float64(r.order.Uint64(p))
		}
	}
	return out, nil
}

func (r *matReader) text(typ uint32, d []byte) string {
	switch typ {
	case miUINT16, miUTF16:
		u := make([]uint16, len(d)/2)
		for i := range u {
			u[i] = r.order.Uint16(d[2*i:])
		}
		return string(utf16.Decode(u))
	case miUINT8, miINT8:
		rs := make([]rune, len(d))
		for i, c := range d {
			rs[i] = rune(c)
		}
		return string(rs)
	}
	return string(d)
}
