package tokenizer

import "math"

// The token lookup: the codeword nearest to a normalised patch, argmin over codes of
// |c|^2 - 2 c.x (|x|^2 is the same for every code). It is the streaming stage's hot loop — one
// search per channel, patch and VQ stage — so the codebook is stored for it:
//
//   - codes are packed in blocks, dimension-major inside a block, so one value x[d] multiplies a
//     block's consecutive code values (on amd64 one broadcast feeds eight FMAs of 4 float64 or 8
//     float32 lanes into eight independent accumulators, which keeps both FMA units busy);
//   - the last block is padded with zero codes whose squared norm is +Inf: their distance is +Inf
//     and never beats a real code (strict <), so k need not be a multiple of the block.
//
// The token is defined in float64: every code's dot product is one fused multiply-add chain in
// dimension order, d = FMA(-2, dot, |c|^2), and the first code of the smallest d wins. The pure-Go
// search (other CPUs, or the purego build tag) and the float64 kernel compute exactly that, so they
// give the same token bit for bit on every machine.
//
// The float32 kernel halves the memory the search streams through, and only answers when the answer
// cannot differ from the float64 one: its rounding error on any distance is at most bound (below),
// so when the smallest float32 distance beats the second smallest by more than twice that, its code
// is also the float64 argmin. Otherwise (a near tie, about one patch in a thousand on EEG, or a
// patch too large for float32) the float64 kernel decides.
const (
	searchBlock   = 32 // codes per float64 block: 8 registers of 4 lanes
	searchBlock32 = 64 // codes per float32 block: 8 registers of 8 lanes
	// float32Limit bounds |x|^2 and |c|^2 for the float32 pass: far below float32's overflow, and
	// the code indices it carries as float32 stay exact below 2^24.
	float32Limit = 1e20
)

// searchIndex is a codebook packed for the nearest-code search.
type searchIndex struct {
	dim, blocks int
	packed      []float64 // blocks x dim x searchBlock
	norms       []float64 // blocks x searchBlock; +Inf for the padding
	// the float32 copy, for the screening pass (nil if the codebook is too large for it)
	blocks32   int
	packed32   []float32 // blocks32 x dim x searchBlock32
	norms32    []float32
	maxNorm    float64 // max |c| and |c|^2, for the rounding bound
	maxSqNorm  float64
	boundScale float64
}

func newSearchIndex(words []float64, dim int) searchIndex {
	k := len(words) / dim
	blocks := (k + searchBlock - 1) / searchBlock
	s := searchIndex{dim: dim, blocks: blocks, packed: make([]float64, blocks*dim*searchBlock), norms: make([]float64, blocks*searchBlock)}
	for c := range blocks * searchBlock {
		b, l := c/searchBlock, c%searchBlock
		if c >= k {
			s.norms[c] = math.Inf(1)
			continue
		}
		w := words[c*dim : (c+1)*dim]
		n := 0.0
		for d, v := range w {
			s.packed[(b*dim+d)*searchBlock+l] = v
			n = math.FMA(v, v, n)
		}
		s.norms[c] = n
		s.maxSqNorm = max(s.maxSqNorm, n)
	}
	s.maxNorm = math.Sqrt(s.maxSqNorm)
	if !(s.maxSqNorm <= float32Limit) || k >= 1<<24 {
		return s
	}
	// A float32 FMA chain of dim products of rounded inputs errs by at most (dim+2) u sum|x_i c_i|
	// <= (dim+2) u |x||c| (u = 2^-24); doubled by the -2, plus the rounding of |c|^2 and of the
	// distance, that is below (2 dim + 8) u (|x||c| + |c|^2); boundScale takes twice that.
	s.boundScale = 2 * float64(2*dim+8) * 0x1p-24
	s.blocks32 = (k + searchBlock32 - 1) / searchBlock32
	s.packed32 = make([]float32, s.blocks32*dim*searchBlock32)
	s.norms32 = make([]float32, s.blocks32*searchBlock32)
	for c := range s.blocks32 * searchBlock32 {
		b, l := c/searchBlock32, c%searchBlock32
		if c >= k {
			s.norms32[c] = float32(math.Inf(1))
			continue
		}
		for d := range dim {
			s.packed32[(b*dim+d)*searchBlock32+l] = float32(words[c*dim+d])
		}
		s.norms32[c] = float32(s.norms[c]) // the float64 norms are in code order too
	}
	return s
}

// nearest returns the index of the code nearest to x (len(x) == dim); 0 if no distance is
// smaller than +Inf (x not finite).
func (s *searchIndex) nearest(x []float64) int {
	x = x[:s.dim]
	if !useSearchKernel || s.dim == 0 || s.blocks == 0 {
		return s.nearestGo(x)
	}
	if c, ok := s.nearest32(x); ok {
		return c
	}
	return s.nearest64(x)
}

// nearest64 is the float64 kernel's answer, nearestGo's bit for bit.
func (s *searchIndex) nearest64(x []float64) int {
	var lanes [8]float64
	nearestKernel(&x[0], s.dim, &s.packed[0], &s.norms[0], s.blocks, &lanes)
	best, bestD := lanes[4], lanes[0]
	for l := 1; l < 4; l++ {
		// each lane kept the first code of its own minimum, so the lowest index of the lanes at
		// the overall minimum is the first code at it, as the scalar scan finds
		if d, i := lanes[l], lanes[4+l]; d < bestD || (d == bestD && i < best) {
			best, bestD = i, d
		}
	}
	return int(best)
}

// nearest32 runs the float32 kernel; ok is false unless its argmin is certainly the float64 one.
func (s *searchIndex) nearest32(x []float64) (c int, ok bool) {
	if s.packed32 == nil {
		return 0, false
	}
	xx := dot(x, x)
	if !(xx <= float32Limit) { // also NaN and Inf
		return 0, false
	}
	var lanes [24]float32 // per lane: smallest distance, its code, second smallest distance
	nearestKernel32(&x[0], s.dim, &s.packed32[0], &s.norms32[0], s.blocks32, &lanes)
	return s.decide32(&lanes, xx)
}

// nearestPair is nearest for two patches at once: the pair kernel reads the float32 codes once for
// both and does, patch by patch, the float32 kernel's arithmetic, so the tokens are the same.
func (s *searchIndex) nearestPair(x, y []float64) (cx, cy int) {
	x, y = x[:s.dim], y[:s.dim]
	if !useSearchKernel || s.dim == 0 || s.packed32 == nil {
		return s.nearest(x), s.nearest(y)
	}
	xx, yy := dot(x, x), dot(y, y)
	if !(xx <= float32Limit) || !(yy <= float32Limit) {
		return s.nearest(x), s.nearest(y)
	}
	// x's lanes, y's lanes, then the code indices of the block's first register, 0..7
	var lanes [56]float32
	inf := float32(math.Inf(1))
	for l := range 8 {
		lanes[l], lanes[16+l], lanes[24+l], lanes[40+l], lanes[48+l] = inf, inf, inf, inf, float32(l)
	}
	nearestKernel32Pair(&x[0], &y[0], s.dim, &s.packed32[0], &s.norms32[0], s.blocks32, &lanes)
	cx, okx := s.decide32((*[24]float32)(lanes[0:24]), xx)
	cy, oky := s.decide32((*[24]float32)(lanes[24:48]), yy)
	if !okx {
		cx = s.nearest64(x)
	}
	if !oky {
		cy = s.nearest64(y)
	}
	return cx, cy
}

// decide32 reads the float32 kernel's lanes for a patch of squared norm xx: the code of the
// smallest distance, and whether the second smallest is far enough above it for that code to be
// the float64 argmin as well.
func (s *searchIndex) decide32(lanes *[24]float32, xx float64) (c int, ok bool) {
	at := 0
	for l := 1; l < 8; l++ {
		if lanes[l] < lanes[at] || (lanes[l] == lanes[at] && lanes[8+l] < lanes[8+at]) {
			at = l
		}
	}
	first, second := lanes[at], lanes[16+at]
	for l := range 8 {
		if l != at {
			second = min(second, lanes[l])
		}
	}
	// |x| is rounded up a little for the rounding of xx; the last term covers underflow
	// (an absolute error of 2^-149 per rounded value), far below any real gap.
	xn := math.Sqrt(xx) * (1 + 1e-6)
	bound := s.boundScale*(xn*s.maxNorm+s.maxSqNorm) + float64(2*s.dim+8)*(xn+s.maxNorm+1)*0x1p-140
	if float64(second)-float64(first) > 2*bound {
		return int(lanes[8+at]), true
	}
	return 0, false
}

// nearestGo is the portable search, the reference the assembly kernel must equal.
func (s *searchIndex) nearestGo(x []float64) int {
	dim := s.dim
	x = x[:dim]
	best, bestD := 0, math.Inf(1)
	var acc [searchBlock]float64
	for b := range s.blocks {
		clear(acc[:])
		blk := s.packed[b*dim*searchBlock : (b+1)*dim*searchBlock]
		for d, xd := range x {
			row := blk[d*searchBlock : (d+1)*searchBlock]
			for l := range acc {
				acc[l] = math.FMA(xd, row[l], acc[l])
			}
		}
		norms := s.norms[b*searchBlock : (b+1)*searchBlock]
		for l, a := range acc {
			if dist := math.FMA(-2, a, norms[l]); dist < bestD {
				best, bestD = b*searchBlock+l, dist
			}
		}
	}
	return best
}
