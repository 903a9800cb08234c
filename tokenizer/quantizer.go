package tokenizer

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Quantizer turns normalised patches into a codebook's tokens and back. It is built once per
// codebook (each VQ stage gets its search index) and only read afterwards, so every stream's
// tokenizer and detokenizer can share it.
//
// The nearest-codeword search is exact but avoids most of the arithmetic of a full scan: codewords
// are expressed in the principal axes of the stage's codebook (an orthonormal rotation, so
// distances are unchanged) and sorted by their first coordinate. The search starts at the codeword
// whose first coordinate is nearest the patch's, walks outwards until the first coordinate alone is
// farther than the best distance so far, and abandons a candidate as soon as its partial distance
// over the leading (highest-variance) axes exceeds the best.
type Quantizer struct {
	cb      *Codebook
	version uint32
	p       int
	stages  []stageIndex
	// learnt VQ: the encoder (one at a time: its tensors are shared) and the latent search index;
	// stages[0] then holds the decoded codewords, for Decode.
	enc    PatchEncoder
	encMu  sync.Mutex
	latent *stageIndex
	lat    []float64
	// mu-law
	levels          int
	clip, mu, logMu float64
}

type stageIndex struct {
	k     int
	words []float64 // k x p, original space
	basis []float64 // p x p, row r is the r-th principal axis (descending variance)
	rot   []float64 // k x p, codewords in the principal basis, rows sorted by their first coordinate
	first []float64 // rot[i*p], for the binary search
	order []uint16  // row of rot -> codeword index
}

// PatchEncoder maps a normalised patch to a learnt latent vector (the ONNX encoder of a learnt-vq
// codebook; package tokenizer/learnt opens one).
type PatchEncoder interface {
	EncodePatch(z []float64, latent []float64) error
	LatentSize() int
}

// NewQuantizer checks the codebook and builds its search structures. A learnt-vq codebook needs its
// encoder: use NewLearntQuantizer (package tokenizer/learnt opens the ONNX model).
func NewQuantizer(cb *Codebook) (*Quantizer, error) { return NewLearntQuantizer(cb, nil) }

// NewLearntQuantizer is NewQuantizer with the encoder a learnt-vq codebook needs.
func NewLearntQuantizer(cb *Codebook, enc PatchEncoder) (*Quantizer, error) {
	if err := cb.Validate(); err != nil {
		return nil, err
	}
	q := &Quantizer{cb: cb, version: cb.Fingerprint(), p: cb.PatchSamples}
	if cb.method() == MethodLearntVQ {
		if enc == nil {
			return nil, fmt.Errorf("codebook %s is a learnt tokenizer: it needs its ONNX encoder %s (the ONNX Runtime)", cb.Name, cb.Encoder)
		}
		if d := len(cb.LatentCodewords[0]); enc.LatentSize() != d {
			return nil, fmt.Errorf("codebook %s: the encoder gives %d latent values, the latent codewords have %d", cb.Name, enc.LatentSize(), d)
		}
		st, err := newStageIndex(cb.LatentCodewords, len(cb.LatentCodewords[0]))
		if err != nil {
			return nil, fmt.Errorf("codebook %s latent codewords: %w", cb.Name, err)
		}
		q.enc, q.latent, q.lat = enc, &st, make([]float64, 2*len(cb.LatentCodewords[0]))
	} else if enc != nil {
		return nil, fmt.Errorf("codebook %s (%s) takes no encoder", cb.Name, cb.method())
	}
	if cb.method() == MethodMuLaw {
		q.levels, q.clip = cb.MuLawLevels, cb.MuLawClipZ
		q.mu = float64(q.levels - 1)
		q.logMu = math.Log1p(q.mu)
		return q, nil
	}
	for s := range cb.Stages() {
		st, err := newStageIndex(cb.Stage(s), q.p)
		if err != nil {
			return nil, fmt.Errorf("codebook %s stage %d: %w", cb.Name, s, err)
		}
		q.stages = append(q.stages, st)
	}
	return q, nil
}

// Codebook is the quantizer's codebook.
func (q *Quantizer) Codebook() *Codebook { return q.cb }

func newStageIndex(words [][]float64, p int) (stageIndex, error) {
	k := len(words)
	st := stageIndex{k: k, words: make([]float64, 0, k*p), basis: make([]float64, p*p), rot: make([]float64, k*p),
		first: make([]float64, k), order: make([]uint16, k)}
	for _, w := range words {
		st.words = append(st.words, w...)
	}
	// Principal axes of the codewords (about their mean): the leading axes carry most of the spread
	// between codewords, so partial distances grow fastest along them.
	mean := make([]float64, p)
	for i := range k {
		for d := range p {
			mean[d] += st.words[i*p+d] / float64(k)
		}
	}
	cov := mat.NewSymDense(p, nil)
	for a := range p {
		for b := a; b < p; b++ {
			s := 0.0
			for i := range k {
				s += (st.words[i*p+a] - mean[a]) * (st.words[i*p+b] - mean[b])
			}
			cov.SetSym(a, b, s)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return st, fmt.Errorf("eigendecomposition of the codeword covariance failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	axes := make([]int, p)
	for i := range axes {
		axes[i] = i
	}
	slices.SortStableFunc(axes, func(a, b int) int { return -cmpFloat(vals[a], vals[b]) })
	for r, a := range axes {
		for d := range p {
			st.basis[r*p+d] = vecs.At(d, a)
		}
	}
	rot := make([]float64, k*p)
	for i := range k {
		project(rot[i*p:(i+1)*p], st.basis, st.words[i*p:(i+1)*p])
	}
	rows := make([]int, k)
	for i := range rows {
		rows[i] = i
	}
	slices.SortStableFunc(rows, func(a, b int) int { return cmpFloat(rot[a*p], rot[b*p]) })
	for j, i := range rows {
		copy(st.rot[j*p:(j+1)*p], rot[i*p:(i+1)*p])
		st.first[j] = rot[i*p]
		st.order[j] = uint16(i)
	}
	return st, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// project writes basis · x to y.
func project(y, basis, x []float64) {
	p := len(x)
	for r := range y {
		y[r] = dot(basis[r*p:(r+1)*p], x)
	}
}

// nearest returns the codeword nearest to x; y is scratch of the patch length.
func (st *stageIndex) nearest(x, y []float64) int {
	p := len(x)
	project(y, st.basis, x)
	pos := sort.SearchFloat64s(st.first, y[0])
	if pos == st.k {
		pos--
	}
	best, bestD := pos, sqDist(y, st.rot[pos*p:(pos+1)*p])
	for i := pos + 1; i < st.k; i++ {
		d0 := y[0] - st.first[i]
		if d0*d0 >= bestD {
			break
		}
		if d, ok := partialDist(y, st.rot[i*p:(i+1)*p], d0*d0, bestD); ok {
			best, bestD = i, d
		}
	}
	for i := pos - 1; i >= 0; i-- {
		d0 := y[0] - st.first[i]
		if d0*d0 >= bestD {
			break
		}
		if d, ok := partialDist(y, st.rot[i*p:(i+1)*p], d0*d0, bestD); ok {
			best, bestD = i, d
		}
	}
	return int(st.order[best])
}

// partialDist adds the squared differences of y and w after the first coordinate to d, giving up
// (false) once the sum reaches bound; it checks every four coordinates.
func partialDist(y, w []float64, d, bound float64) (float64, bool) {
	w = w[:len(y)]
	i := 1
	for ; i+4 <= len(y); i += 4 {
		a, b, c, e := y[i]-w[i], y[i+1]-w[i+1], y[i+2]-w[i+2], y[i+3]-w[i+3]
		d += (a*a + b*b) + (c*c + e*e)
		if d >= bound {
			return d, false
		}
	}
	for ; i < len(y); i++ {
		a := y[i] - w[i]
		d += a * a
	}
	return d, d < bound
}

// Encode quantises the normalised patch z into tokens (TokensPerChannel of them). z is left holding
// what the quantiser could not represent (the residual); scratch must hold PatchSamples values.
// Only a learnt encoder can fail.
func (q *Quantizer) Encode(z []float64, tokens []uint16, scratch []float64) error {
	if q.levels > 0 {
		for i, v := range z {
			tok := q.muLawToken(v)
			tokens[i] = tok
			z[i] = v - q.muLawValue(tok)
		}
		return nil
	}
	p := q.p
	if q.enc != nil {
		return q.encodeLearnt(z, tokens)
	}
	for s := range q.stages {
		st := &q.stages[s]
		k := st.nearest(z, scratch[:p])
		tokens[s] = uint16(k)
		w := st.words[k*p : (k+1)*p]
		for i := range z {
			z[i] -= w[i]
		}
	}
	return nil
}

// Decode writes the normalised patch that tokens stand for to dst.
func (q *Quantizer) Decode(dst []float64, tokens []uint16) {
	if q.levels > 0 {
		for i, t := range tokens[:len(dst)] {
			dst[i] = q.muLawValue(t)
		}
		return
	}
	clear(dst)
	p := q.p
	for s := range q.stages {
		st := &q.stages[s]
		w := st.words[int(tokens[s])*p : (int(tokens[s])+1)*p]
		for i := range dst {
			dst[i] += w[i]
		}
	}
}

// EncodePatch z-scores a copy of x (into scratch, 2 x PatchSamples) and encodes it, returning the
// patch mean and standard deviation that go with the tokens.
func (q *Quantizer) EncodePatch(x []float64, tokens []uint16, scratch []float64) (mean, std float64, err error) {
	z := scratch[:q.p]
	copy(z, x)
	mean, std = ZScore(z)
	err = q.Encode(z, tokens, scratch[q.p:2*q.p])
	return mean, std, err
}

// DecodePatch writes mean + std * Decode(tokens) to dst.
func (q *Quantizer) DecodePatch(dst []float64, tokens []uint16, mean, std float64) {
	q.Decode(dst, tokens)
	for i, v := range dst {
		dst[i] = mean + std*v
	}
}

// muLawToken compands a z value clipped to +-clip and rounds it to one of the levels.
func (q *Quantizer) muLawToken(z float64) uint16 {
	v := math.Max(-1, math.Min(1, z/q.clip))
	f := math.Copysign(math.Log1p(q.mu*math.Abs(v))/q.logMu, v)
	return uint16(math.Round((f + 1) / 2 * float64(q.levels-1)))
}

// muLawValue is the z value a mu-law token stands for.
func (q *Quantizer) muLawValue(t uint16) float64 {
	f := float64(t)/float64(q.levels-1)*2 - 1
	return math.Copysign(math.Expm1(math.Abs(f)*q.logMu)/q.mu, f) * q.clip
}

// encodeLearnt runs the encoder and takes the nearest latent codeword; z is left holding the
// residual against the decoded codeword.
func (q *Quantizer) encodeLearnt(z []float64, tokens []uint16) error {
	d := len(q.lat) / 2
	lat, y := q.lat[:d], q.lat[d:]
	q.encMu.Lock()
	if err := q.enc.EncodePatch(z, lat); err != nil {
		q.encMu.Unlock()
		return fmt.Errorf("tokenizer %s: encoder: %w", q.cb.Name, err)
	}
	k := q.latent.nearest(lat, y)
	q.encMu.Unlock()
	tokens[0] = uint16(k)
	w := q.stages[0].words[k*q.p : (k+1)*q.p]
	for i := range z {
		z[i] -= w[i]
	}
	return nil
}
