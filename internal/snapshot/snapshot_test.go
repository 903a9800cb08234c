package snapshot

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Values come back bit for bit, NaN payloads and signed zeros included.
func TestRoundTrip(t *testing.T) {
	f64 := []float64{0, math.Copysign(0, -1), 1e-300, -3.5, math.Inf(1), math.Float64frombits(0x7ff8000000000123)}
	var b []byte
	b = AppendUint(b, 1<<60)
	b = AppendInt(b, -42)
	b = AppendString(b, "filter")
	b = AppendFloat64s(b, f64)
	b = AppendFloat32s(b, []float64{1.5, -2.25})
	r := NewReader(b)
	if r.Uint() != 1<<60 || r.Int() != -42 || r.String() != "filter" {
		t.Fatal("integers or string changed")
	}
	got := make([]float64, len(f64))
	r.Float64s(got)
	for i := range f64 {
		if math.Float64bits(got[i]) != math.Float64bits(f64[i]) {
			t.Fatalf("value %d: %x, want %x", i, math.Float64bits(got[i]), math.Float64bits(f64[i]))
		}
	}
	f32 := make([]float64, 4)
	if n := r.Float32s(f32); n != 2 || f32[0] != 1.5 || f32[1] != -2.25 || r.Err() != nil || len(r.Rest()) != 0 {
		t.Fatalf("float32s: %d %v, err %v, %d bytes left", n, f32, r.Err(), len(r.Rest()))
	}
}

// Truncated, garbage or lying input (a length of 2^60) is an error, never a panic or a huge allocation.
func TestHostileInput(t *testing.T) {
	var b []byte
	b = AppendFloat64s(b, []float64{1, 2, 3})
	for cut := range len(b) {
		r := NewReader(b[:cut])
		r.Float64s(make([]float64, 3))
		if r.Err() == nil {
			t.Fatalf("%d of %d bytes read without error", cut, len(b))
		}
	}
	r := NewReader(AppendUint(nil, 1<<60))
	if r.Bytes() != nil || r.Err() == nil {
		t.Fatal("a 2^60-byte length was believed")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		g := make([]byte, rng.IntN(64))
		for i := range g {
			g[i] = byte(rng.Uint32())
		}
		r := NewReader(g)
		r.Uint()
		_ = r.String()
		r.Float64s(make([]float64, 2))
		r.Float32s(make([]float64, 8))
		r.Expect("x", 3)
		_ = r.Err()
	}
}
