package edf

import (
	"math/rand/v2"
	"testing"
)

// decodeBDF reads four samples per three 32-bit words; every length and sign must give what
// byte-by-byte decoding gives.
func TestDecodeBDFMatchesBytewise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]byte, 3*67)
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	const cal, offset, unit = 0.03125, -1.5, 1e-6
	for n := 0; n <= 67; n++ {
		got := make([]float64, n)
		decodeBDF(src, got, cal, offset, unit)
		for j := range n {
			d := int32(uint32(src[3*j])|uint32(src[3*j+1])<<8|uint32(src[3*j+2])<<16) << 8 >> 8
			if want := (float64(float64(d)*cal) + offset) * unit; got[j] != want {
				t.Fatalf("n=%d sample %d (digital %d): %v, want %v", n, j, d, got[j], want)
			}
		}
	}
}
