package tokenizer

import (
	"fmt"
	"math"
	"sync"
)

// Quantizer turns normalised patches into a codebook's tokens and back. It is built once per
// codebook (each VQ stage gets its search index) and only read afterwards, so every stream's
// tokenizer and detokenizer can share it.
//
// The nearest-codeword search is an exact full scan, argmin |c|^2 - 2 c.x, over a codebook packed
// for SIMD (search.go). An exact pruned search (lower bounds from the codebook's leading principal
// axes) was tried against the earlier scalar scan and did not beat it on PhysioNet EEG codebooks
// of 256 codewords of 32 samples (3.2-3.6 against 3.3-4.2 us per patch); the packed scan is
// several times faster than both.
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
	muValues        []float64 // muLawValue of every level, computed once (the per-sample expm1 was half the stage's time)
}

type stageIndex struct {
	k      int
	words  []float64 // k x p, row-major: what Decode adds and Encode subtracts
	search searchIndex
	// scalarNorms, set only by WithScalarSearch, switches the lookup to the plain scalar scan.
	scalarNorms []float64
}

// PatchEncoder maps a normalised patch to a learnt latent vector (the ONNX encoder of a learnt-vq
// codebook; package tokenizer/learnt opens one).
type PatchEncoder interface {
	EncodePatch(z []float64, latent []float64) error
	LatentSize() int
}

// NewQuantizer checks the codebook and builds its search structures. A learnt-vq codebook without
// its encoder can only decode (detokenize); to encode, use NewLearntQuantizer (package
// tokenizer/learnt opens the ONNX model).
func NewQuantizer(cb *Codebook) (*Quantizer, error) { return NewLearntQuantizer(cb, nil) }

// NewLearntQuantizer is NewQuantizer with the encoder a learnt-vq codebook needs.
func NewLearntQuantizer(cb *Codebook, enc PatchEncoder) (*Quantizer, error) {
	if err := cb.Validate(); err != nil {
		return nil, err
	}
	q := &Quantizer{cb: cb, version: cb.Fingerprint(), p: cb.PatchSamples}
	if cb.method() == MethodLearntVQ {
		q.stages = []stageIndex{newStageIndex(cb.Codewords, q.p)} // the decoded codewords, for Decode
		if enc == nil {
			return q, nil
		}
		if d := len(cb.LatentCodewords[0]); enc.LatentSize() != d {
			return nil, fmt.Errorf("codebook %s: the encoder gives %d latent values, the latent codewords have %d", cb.Name, enc.LatentSize(), d)
		}
		st := newStageIndex(cb.LatentCodewords, len(cb.LatentCodewords[0]))
		q.enc, q.latent, q.lat = enc, &st, make([]float64, len(cb.LatentCodewords[0]))
		return q, nil
	} else if enc != nil {
		return nil, fmt.Errorf("codebook %s (%s) takes no encoder", cb.Name, cb.method())
	}
	if cb.method() == MethodMuLaw {
		q.levels, q.clip = cb.MuLawLevels, cb.MuLawClipZ
		q.mu = float64(q.levels - 1)
		q.logMu = math.Log1p(q.mu)
		q.muValues = make([]float64, q.levels)
		for t := range q.muValues {
			q.muValues[t] = q.muLawLevel(uint16(t))
		}
		return q, nil
	}
	for s := range cb.Stages() {
		q.stages = append(q.stages, newStageIndex(cb.Stage(s), q.p))
	}
	return q, nil
}

// Codebook is the quantizer's codebook.
func (q *Quantizer) Codebook() *Codebook { return q.cb }

func newStageIndex(words [][]float64, p int) stageIndex {
	st := stageIndex{k: len(words), words: make([]float64, 0, len(words)*p)}
	for _, w := range words {
		st.words = append(st.words, w...)
	}
	st.search = newSearchIndex(st.words, p)
	return st
}

// nearest returns the codeword nearest to x.
func (st *stageIndex) nearest(x []float64) int {
	if st.scalarNorms != nil {
		return nearest(x, st.words, st.scalarNorms)
	}
	return st.search.nearest(x)
}

// WithScalarSearch returns a quantizer of the same k-means or residual-VQ codebook whose token
// lookup is the plain scalar scan over row-major codewords that the packed search replaced: the
// reference `neurostream bench tokens` times the packed search against. Both compute the distances
// in float64 and may only part on a rounding tie.
func (q *Quantizer) WithScalarSearch() (*Quantizer, error) {
	if q.levels > 0 || q.cb.method() == MethodLearntVQ {
		return nil, fmt.Errorf("tokenizer %s: a %s tokenizer has no codebook search of its own to compare", q.cb.Name, q.cb.method())
	}
	r, err := NewQuantizer(q.cb)
	if err != nil {
		return nil, err
	}
	for i := range r.stages {
		st := &r.stages[i]
		st.scalarNorms = make([]float64, st.k)
		for c := range st.k {
			w := st.words[c*r.p : (c+1)*r.p]
			st.scalarNorms[c] = dot(w, w)
		}
	}
	return r, nil
}

// Encode quantises the normalised patch z into tokens (TokensPerChannel of them). z is left holding
// what the quantiser could not represent (the residual). Only a learnt encoder can fail.
func (q *Quantizer) Encode(z []float64, tokens []uint16) error {
	if q.levels > 0 {
		for i, v := range z {
			tok := q.muLawToken(v)
			tokens[i] = tok
			z[i] = v - q.muLawValue(tok)
		}
		return nil
	}
	if q.enc != nil {
		return q.encodeLearnt(z, tokens)
	}
	if q.cb.method() == MethodLearntVQ {
		return fmt.Errorf("tokenizer %s: a learnt tokenizer encodes with its ONNX encoder %s (open it with package tokenizer/learnt)", q.cb.Name, q.cb.Encoder)
	}
	for s := range q.stages {
		st := &q.stages[s]
		k := st.nearest(z)
		tokens[s] = uint16(k)
		w := st.words[k*q.p : (k+1)*q.p]
		for i := range z {
			z[i] -= w[i]
		}
	}
	return nil
}

// pairs reports whether encodePair applies: a k-means or residual-VQ codebook on the packed search.
func (q *Quantizer) pairs() bool {
	return q.levels == 0 && q.enc == nil && q.cb.method() != MethodLearntVQ && len(q.stages) > 0 && q.stages[0].scalarNorms == nil
}

// encodePair is Encode for two patches at once (only when pairs()), with the same tokens: each
// stage's search reads the codebook once for both, which is what the streaming stage, with every
// channel's patch complete at the same sample, can use.
func (q *Quantizer) encodePair(z1, z2 []float64, t1, t2 []uint16) {
	p := q.p
	z1, z2 = z1[:p], z2[:p]
	for s := range q.stages {
		st := &q.stages[s]
		k1, k2 := st.search.nearestPair(z1, z2)
		t1[s], t2[s] = uint16(k1), uint16(k2)
		w1, w2 := st.words[k1*p:(k1+1)*p], st.words[k2*p:(k2+1)*p]
		for i := range z1 {
			z1[i] -= w1[i]
			z2[i] -= w2[i]
		}
	}
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

// EncodePatch z-scores a copy of x (into scratch, PatchSamples long) and encodes it, returning the
// patch mean and standard deviation that go with the tokens.
func (q *Quantizer) EncodePatch(x []float64, tokens []uint16, scratch []float64) (mean, std float64, err error) {
	z := scratch[:q.p]
	copy(z, x)
	mean, std = ZScore(z)
	err = q.Encode(z, tokens)
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
	if int(t) < len(q.muValues) {
		return q.muValues[t]
	}
	return q.muLawLevel(t)
}

// muLawLevel expands a mu-law token to its z value.
func (q *Quantizer) muLawLevel(t uint16) float64 {
	f := float64(t)/float64(q.levels-1)*2 - 1
	return math.Copysign(math.Expm1(math.Abs(f)*q.logMu)/q.mu, f) * q.clip
}

// encodeLearnt runs the encoder and takes the nearest latent codeword; z is left holding the
// residual against the decoded codeword.
func (q *Quantizer) encodeLearnt(z []float64, tokens []uint16) error {
	lat := q.lat
	q.encMu.Lock()
	if err := q.enc.EncodePatch(z, lat); err != nil {
		q.encMu.Unlock()
		return fmt.Errorf("tokenizer %s: encoder: %w", q.cb.Name, err)
	}
	k := q.latent.nearest(lat)
	q.encMu.Unlock()
	tokens[0] = uint16(k)
	w := q.stages[0].words[k*q.p : (k+1)*q.p]
	for i := range z {
		z[i] -= w[i]
	}
	return nil
}
