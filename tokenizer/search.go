package tokenizer

import "math"

// The token lookup: the codeword nearest to a normalised patch, argmin over codes of
// |c|^2 - 2 c.x (|x|^2 is the same for every code). It is the streaming stage's hot loop — one
// search per channel, patch and VQ stage — so the codebook is stored for it:
//
//   - codes are packed in blocks of searchBlock, dimension-major inside a block, so one value x[d]
//     multiplies searchBlock consecutive code values (on amd64 one broadcast feeds eight 4-wide
//     FMAs into eight independent accumulators, which keeps both FMA units busy);
//   - the last block is padded with zero codes whose squared norm is +Inf: their distance is +Inf
//     and never beats a real code (strict <), so k need not be a multiple of the block.
//
// Every code's dot product is one fused multiply-add chain in dimension order, d = FMA(-2, dot,
// |c|^2), and the first code of the smallest distance wins. The assembly kernel and the pure-Go
// kernel (other CPUs, or the purego build tag) do exactly this arithmetic, so they give the same
// token bit for bit on every machine.
const searchBlock = 32

// searchIndex is a codebook packed for the nearest-code search.
type searchIndex struct {
	dim, blocks int
	packed      []float64 // blocks x dim x searchBlock
	norms       []float64 // blocks x searchBlock; +Inf for the padding
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
	}
	return s
}

// nearest returns the index of the code nearest to x (len(x) == dim); 0 if no distance is
// smaller than +Inf (x not finite).
func (s *searchIndex) nearest(x []float64) int {
	x = x[:s.dim]
	if useSearchKernel && s.dim > 0 && s.blocks > 0 {
		var lanes [8]float64
		nearestKernel(&x[0], s.dim, &s.packed[0], &s.norms[0], s.blocks, &lanes)
		return reduceLanes(&lanes)
	}
	return s.nearestGo(x)
}

// reduceLanes picks, among the kernel's four per-lane minima (distances lanes[0:4], code indices
// lanes[4:8]), the smallest distance, and on a tie the lowest code: each lane kept the first code of
// its own minimum, so this is the first code of the overall minimum, as the scalar scan finds.
func reduceLanes(lanes *[8]float64) int {
	best, bestD := lanes[4], lanes[0]
	for l := 1; l < 4; l++ {
		if d, i := lanes[l], lanes[4+l]; d < bestD || (d == bestD && i < best) {
			best, bestD = i, d
		}
	}
	return int(best)
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
