package entropy

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Symbols drawn from each position's own skewed table decode back exactly, and the message takes
// what their probabilities say (the sum of -log2 p) plus at most the 8-byte flush and one word.
func TestRoundTripCostsTheEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tables := make([]*Table, 5)
	cdfs := make([][]float64, len(tables))
	for k := range tables {
		counts := make([]float64, 1+rng.IntN(1000))
		for s := range counts {
			counts[s] = math.Exp(-float64(s) / float64(k+1)) // geometric: mostly small levels
		}
		var err error
		if tables[k], err = NewTable(counts); err != nil {
			t.Fatal(err)
		}
		cdfs[k] = counts
	}
	draw := func(k int) int {
		c := cdfs[k]
		sum := 0.0
		for _, v := range c {
			sum += v
		}
		u := rng.Float64() * sum
		for s, v := range c {
			if u -= v; u < 0 {
				return s
			}
		}
		return len(c) - 1
	}
	table := func(i int) *Table { return tables[i%len(tables)] }
	var words []uint32
	for _, n := range []int{0, 1, 7, 1000, 100_000} {
		syms := make([]int, n)
		bits := 0.0
		for i := range syms {
			syms[i] = draw(i % len(tables))
			bits += table(i).Bits(syms[i])
		}
		var msg []byte
		var err error
		msg, words, err = Encode(nil, syms, table, words)
		if err != nil {
			t.Fatal(err)
		}
		back := make([]int, n)
		read, err := Decode(msg, back, table)
		if err != nil {
			t.Fatalf("%d symbols: %v", n, err)
		}
		if read != len(msg) || !slices.Equal(back, syms) {
			t.Fatalf("%d symbols: read %d of %d bytes, equal %v", n, read, len(msg), slices.Equal(back, syms))
		}
		if extra := float64(len(msg)) - bits/8; extra < 0 || extra > 12 {
			t.Errorf("%d symbols: %d bytes for %.1f bytes of information (%.1f over)", n, len(msg), bits/8, extra)
		}
		t.Logf("%d symbols: %d bytes, information %.1f bytes", n, len(msg), bits/8)
	}
}

// A symbol with no count still codes; a near-certain one costs almost nothing.
func TestUnseenAndCertainSymbols(t *testing.T) {
	tb, err := NewTable([]float64{0, 1e9, 0})
	if err != nil {
		t.Fatal(err)
	}
	if b := tb.Bits(1); b > 1e-6 {
		t.Errorf("the certain symbol costs %g bits", b)
	}
	if b := tb.Bits(0); b < 20 || b > 25 {
		t.Errorf("the unseen symbol costs %g bits, want about %d", b, ScaleBits)
	}
	syms := []int{1, 1, 0, 1, 2, 1}
	msg, _, err := Encode(nil, syms, func(int) *Table { return tb }, nil)
	if err != nil {
		t.Fatal(err)
	}
	back := make([]int, len(syms))
	if _, err := Decode(msg, back, func(int) *Table { return tb }); err != nil || !slices.Equal(back, syms) {
		t.Fatalf("%v %v", back, err)
	}
}

// Bad input is refused with what was wrong: counts that are not finite and nonnegative, symbols
// outside the table, a message cut short, a message decoded with other tables.
func TestBadInput(t *testing.T) {
	for _, counts := range [][]float64{nil, {1, -1}, {1, math.NaN()}, {math.Inf(1)}} {
		if _, err := NewTable(counts); err == nil {
			t.Errorf("counts %v accepted", counts)
		}
	}
	tb, _ := NewTable([]float64{1, 2, 3, 4})
	one := func(int) *Table { return tb }
	if _, _, err := Encode(nil, []int{0, 4}, one, nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("symbol 4 of 4: %v", err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	syms := make([]int, 2000)
	for i := range syms {
		syms[i] = rng.IntN(4)
	}
	msg, _, _ := Encode(nil, syms, one, nil)
	if _, err := Decode(msg[:len(msg)/2], make([]int, len(syms)), one); err == nil {
		t.Error("a truncated message decoded")
	}
	if _, err := Decode(msg[:5], make([]int, 1), one); err == nil {
		t.Error("5 bytes decoded")
	}
	other, _ := NewTable([]float64{4, 3, 2, 1})
	back := make([]int, len(syms))
	if _, err := Decode(msg, back, func(int) *Table { return other }); err == nil && slices.Equal(back, syms) {
		t.Error("other tables decoded the same symbols")
	}
}
