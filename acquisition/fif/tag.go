package fif

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Tag kinds, block kinds and data types of the FIF format (values from the FIFF specification, as
// listed in MNE-Python's mne/io/constants.py).
const (
	kindFileID         = 100
	kindDirPointer     = 101
	kindDir            = 102
	kindBlockStart     = 104
	kindBlockEnd       = 105
	kindNChan          = 200
	kindSFreq          = 201
	kindChInfo         = 203
	kindMeasDate       = 204
	kindComment        = 206
	kindFirstSample    = 208
	kindChDacqName     = 258
	kindDataBuffer     = 300
	kindDataSkip       = 301
	kindMNEBaselineMin = 3568
	kindMNEBaselineMax = 3569

	blockMeas           = 100
	blockMeasInfo       = 101
	blockRawData        = 102
	blockProcessedData  = 103
	blockEvoked         = 104
	blockContinuousData = 112
	blockChInfo         = 113
	blockIASRawData     = 119
	blockMNEAnnotations = 3810

	typeShort       = 2
	typeInt         = 3
	typeFloat       = 4
	typeDouble      = 5
	typeString      = 10
	typeDauPack16   = 16
	typeChInfo      = 30
	typeIDStruct    = 31
	tagHeaderBytes  = 16
	chInfoBytes     = 96
	chNameBytes     = 16
	fileIDBytes     = 20
	maxBlockNesting = 64
)

// tag is one FIF tag; data aliases the file's bytes.
type tag struct {
	kind, typ int32
	pos       int
	data      []byte
}

// block is a FIF block: its own tags in file order and its nested blocks.
type block struct {
	kind     int32
	tags     []tag
	children []*block
	dirPos   int32 // the root only: the file's directory pointer (-1: none)
}

// parseTree walks the tag chain from the start of the file, the way MNE does for files without a
// directory (and every file can be read this way), and builds the block tree.
func parseTree(b []byte) (*block, error) {
	root := &block{kind: -1, dirPos: -1}
	stack := []*block{root}
	var err error
	pos := 0
	for i := 0; pos < len(b); i++ {
		if len(b)-pos < tagHeaderBytes {
			// MNE also stops at a trailing fragment shorter than a tag header.
			break
		}
		kind := int32(binary.BigEndian.Uint32(b[pos:]))
		typ := int32(binary.BigEndian.Uint32(b[pos+4:]))
		size := int32(binary.BigEndian.Uint32(b[pos+8:]))
		next := int32(binary.BigEndian.Uint32(b[pos+12:]))
		if i == 0 && (kind != kindFileID || typ != typeIDStruct || size != fileIDBytes) {
			return nil, fmt.Errorf("not a FIF file: first tag is kind %d type %d size %d, want a file id tag (kind %d type %d size %d)",
				kind, typ, size, kindFileID, typeIDStruct, fileIDBytes)
		}
		if size < 0 || int64(size) > int64(len(b)-pos-tagHeaderBytes) {
			return nil, fmt.Errorf("tag %d (kind %d) at byte %d declares %d data bytes but only %d remain: file truncated or corrupt",
				i, kind, pos, size, len(b)-pos-tagHeaderBytes)
		}
		t := tag{kind: kind, typ: typ, pos: pos, data: b[pos+tagHeaderBytes : pos+tagHeaderBytes+int(size)]}
		if i == 1 && kind != kindDirPointer {
			return nil, fmt.Errorf("not a FIF file: second tag is kind %d, want the directory pointer (kind %d)", kind, kindDirPointer)
		}
		if i == 1 {
			if root.dirPos, err = t.int32(); err != nil {
				return nil, fmt.Errorf("directory pointer: %w", err)
			}
		}
		switch kind {
		case kindBlockStart:
			v, err := t.int32()
			if err != nil {
				return nil, fmt.Errorf("block start at byte %d: %w", pos, err)
			}
			if len(stack) > maxBlockNesting {
				return nil, fmt.Errorf("block start at byte %d: blocks nested deeper than %d", pos, maxBlockNesting)
			}
			nb := &block{kind: v}
			top := stack[len(stack)-1]
			top.children = append(top.children, nb)
			stack = append(stack, nb)
		case kindBlockEnd:
			if len(stack) == 1 {
				return nil, fmt.Errorf("block end at byte %d without a matching block start", pos)
			}
			stack = stack[:len(stack)-1]
		default:
			top := stack[len(stack)-1]
			top.tags = append(top.tags, t)
		}
		switch {
		case next == 0:
			pos += tagHeaderBytes + int(size)
		case next > 0:
			// A forward jump only: a pointer back into the file would loop forever.
			if int(next) <= pos {
				return nil, fmt.Errorf("tag %d at byte %d points back to byte %d: corrupt tag chain", i, pos, next)
			}
			pos = int(next)
		default:
			return root, nil
		}
	}
	return root, nil
}

// find returns the first block of the given kind below b (depth first, b itself included).
func (b *block) find(kind int32) *block {
	if b.kind == kind {
		return b
	}
	for _, c := range b.children {
		if f := c.find(kind); f != nil {
			return f
		}
	}
	return nil
}

func (t tag) int32() (int32, error) {
	if t.typ != typeInt || len(t.data) < 4 {
		return 0, fmt.Errorf("tag kind %d: want a 32-bit int, got type %d with %d bytes", t.kind, t.typ, len(t.data))
	}
	return int32(binary.BigEndian.Uint32(t.data)), nil
}

func (t tag) ints() ([]int32, error) {
	if t.typ != typeInt || len(t.data)%4 != 0 {
		return nil, fmt.Errorf("tag kind %d: want 32-bit ints, got type %d with %d bytes", t.kind, t.typ, len(t.data))
	}
	out := make([]int32, len(t.data)/4)
	for i := range out {
		out[i] = int32(binary.BigEndian.Uint32(t.data[4*i:]))
	}
	return out, nil
}

// floats decodes a float or double array tag into float64.
func (t tag) floats() ([]float64, error) {
	switch {
	case t.typ == typeFloat && len(t.data)%4 == 0:
		out := make([]float64, len(t.data)/4)
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.BigEndian.Uint32(t.data[4*i:])))
		}
		return out, nil
	case t.typ == typeDouble && len(t.data)%8 == 0:
		out := make([]float64, len(t.data)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.BigEndian.Uint64(t.data[8*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("tag kind %d: want floats or doubles, got type %d with %d bytes", t.kind, t.typ, len(t.data))
}

func (t tag) float() (float64, error) {
	v, err := t.floats()
	if err != nil {
		return 0, err
	}
	if len(v) == 0 {
		return 0, fmt.Errorf("tag kind %d: empty", t.kind)
	}
	return v[0], nil
}

func (t tag) string() (string, error) {
	if t.typ != typeString {
		return "", fmt.Errorf("tag kind %d: want a string, got type %d", t.kind, t.typ)
	}
	return string(t.data), nil
}
