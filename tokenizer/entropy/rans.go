// Package entropy codes discrete symbols (quantised levels, tokens) into bytes with range asymmetric
// numeral systems (rANS, Duda 2014) under static frequency tables the caller learnt beforehand, so
// that no table travels with a message: a few symbols cost a few bits, and the bytes a message takes
// are what its symbols' probabilities say, to within the 8-byte state flush.
//
// Data flow: a model's level counts (from training data) -> NewTable -> Encode (symbols -> bytes) on
// the sending side, Decode (bytes -> symbols) with the same tables on the receiving side. It exists
// because Go's kept entropy coders (klauspost/compress's FSE and huff0) build their table from each
// block and write it into the output, which for short real-time messages costs more than the data.
package entropy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// ScaleBits is the precision of the tables: frequencies sum to 2^ScaleBits, so a symbol can be as
// unlikely as 2^-24 and a near-certain one costs ~1e-7 bits.
const ScaleBits = 24

const (
	total  = 1 << ScaleBits
	lowest = 1 << 31 // the state's lower bound (64-bit state, 32-bit words out)
)

// Table is a static model of one symbol alphabet: symbol s has frequency freq[s] out of 2^ScaleBits.
type Table struct {
	cum []uint32 // cum[s] = sum of freq[0..s-1]; cum[len] = 2^ScaleBits
}

// NewTable makes a table from nonnegative counts (or any weights); every symbol gets a frequency of at
// least 1, so a symbol never seen still codes (at about ScaleBits bits).
func NewTable(counts []float64) (*Table, error) {
	n := len(counts)
	if n == 0 || n > total/2 {
		return nil, fmt.Errorf("entropy table: %d symbols (1 to %d)", n, total/2)
	}
	sum := 0.0
	for s, c := range counts {
		if c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
			return nil, fmt.Errorf("entropy table: count %g of symbol %d", c, s)
		}
		sum += c
	}
	freq := make([]int64, n)
	got, largest := int64(0), 0
	for s, c := range counts {
		f := int64(1)
		if sum > 0 {
			f = max(1, int64(c/sum*float64(total-n))) // total-n leaves room for the floor of 1
		}
		freq[s] = f
		got += f
		if f > freq[largest] {
			largest = s
		}
	}
	freq[largest] += total - got // rounding left over goes to the likeliest symbol
	if freq[largest] < 1 {
		return nil, errors.New("entropy table: frequencies do not fit the table's precision")
	}
	t := &Table{cum: make([]uint32, n+1)}
	for s, f := range freq {
		t.cum[s+1] = t.cum[s] + uint32(f)
	}
	return t, nil
}

// Symbols is the alphabet's size.
func (t *Table) Symbols() int { return len(t.cum) - 1 }

// Bits is what coding symbol s costs, -log2 of its probability in the table.
func (t *Table) Bits(s int) float64 {
	return -math.Log2(float64(t.cum[s+1]-t.cum[s]) / total)
}

// Encode appends to dst the coding of syms, symbol i with table(i), and returns the extended slice.
// words is scratch (reused between calls; may be nil) for the 32-bit words rANS emits last to first.
func Encode(dst []byte, syms []int, table func(i int) *Table, words []uint32) ([]byte, []uint32, error) {
	words = words[:0]
	x := uint64(lowest)
	for i := len(syms) - 1; i >= 0; i-- { // rANS decodes in the reverse of the encoding order
		t, s := table(i), syms[i]
		if s < 0 || s >= t.Symbols() {
			return dst, words, fmt.Errorf("entropy encode: symbol %d at %d outside the table's %d", s, i, t.Symbols())
		}
		start, freq := uint64(t.cum[s]), uint64(t.cum[s+1]-t.cum[s])
		if x >= ((lowest>>ScaleBits)<<32)*freq {
			words = append(words, uint32(x))
			x >>= 32
		}
		x = (x/freq)<<ScaleBits + x%freq + start
	}
	dst = binary.LittleEndian.AppendUint64(dst, x)
	for i := len(words) - 1; i >= 0; i-- {
		dst = binary.LittleEndian.AppendUint32(dst, words[i])
	}
	return dst, words, nil
}

// Decode reads len(syms) symbols coded by Encode with the same tables into syms, and the bytes read.
func Decode(src []byte, syms []int, table func(i int) *Table) (int, error) {
	if len(src) < 8 {
		return 0, fmt.Errorf("entropy decode: %d bytes, a message has at least 8", len(src))
	}
	x, p := binary.LittleEndian.Uint64(src), 8
	for i := range syms {
		t := table(i)
		slot := uint32(x & (total - 1))
		s := sort.Search(t.Symbols(), func(k int) bool { return t.cum[k+1] > slot })
		syms[i] = s
		start, freq := uint64(t.cum[s]), uint64(t.cum[s+1]-t.cum[s])
		x = freq*(x>>ScaleBits) + x&(total-1) - start
		if x < lowest {
			if p+4 > len(src) {
				return p, fmt.Errorf("entropy decode: message ends after %d of %d symbols", i+1, len(syms))
			}
			x = x<<32 | uint64(binary.LittleEndian.Uint32(src[p:]))
			p += 4
		}
	}
	if x != lowest {
		return p, errors.New("entropy decode: the state does not return to its start: wrong tables or a corrupt message")
	}
	return p, nil
}
