package tokenizer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// scalarNearest is the plain search the packed one replaced: row-major codes, |c|^2 - 2 c.x with
// four partial sums per dot product, first minimum.
func scalarNearest(x, words []float64) int {
	dim := len(x)
	best, bestD := 0, math.Inf(1)
	for c := 0; c+dim <= len(words); c += dim {
		w := words[c : c+dim]
		if d := dot(w, w) - 2*dot(x, w); d < bestD {
			best, bestD = c/dim, d
		}
	}
	return best
}

// checkSearch asserts that the assembly kernels (where the CPU has them) give the token of the
// pure-Go search for every patch, bit for bit — the float64 kernel always, the float32 one whenever
// it answers — and that the token is the nearest code by squared distance, or one as near to
// rounding; it returns how often the plain scalar search disagrees and how often the float32
// kernel left the answer to the float64 one.
func checkSearch(t *testing.T, name string, words, patches []float64, dim int) (differs, undecided int) {
	t.Helper()
	s := newSearchIndex(words, dim)
	k := len(words) / dim
	for i := 0; i+dim <= len(patches); i += dim {
		x := patches[i : i+dim]
		got := s.nearestGo(x)
		if useSearchKernel {
			if fast := s.nearest(x); fast != got {
				t.Fatalf("%s (k %d, dim %d) patch %d: kernel token %d, pure Go %d", name, k, dim, i/dim, fast, got)
			}
			if fast := s.nearest64(x); fast != got {
				t.Fatalf("%s (k %d, dim %d) patch %d: float64 kernel token %d, pure Go %d", name, k, dim, i/dim, fast, got)
			}
			if fast, ok := s.nearest32(x); ok && fast != got {
				t.Fatalf("%s (k %d, dim %d) patch %d: float32 kernel token %d, pure Go %d", name, k, dim, i/dim, fast, got)
			} else if !ok {
				undecided++
			}
		}
		if i >= dim { // the pair search, with the patch before
			px, py := s.nearestPair(patches[i-dim:i], x)
			if prev := s.nearestGo(patches[i-dim : i]); px != prev || py != got {
				t.Fatalf("%s (k %d, dim %d) patches %d, %d: pair search %d, %d, pure Go %d, %d", name, k, dim, i/dim-1, i/dim, px, py, prev, got)
			}
		}
		if got < 0 || got >= k {
			t.Fatalf("%s (k %d, dim %d) patch %d: token %d of %d codes", name, k, dim, i/dim, got, k)
		}
		best, bestD := 0, math.Inf(1)
		for c := range k {
			if d := sqDist(x, words[c*dim:(c+1)*dim]); d < bestD {
				best, bestD = c, d
			}
		}
		if d := sqDist(x, words[got*dim:(got+1)*dim]); got != best && d > bestD+1e-12*(bestD+sqNorm(x)) {
			t.Fatalf("%s (k %d, dim %d) patch %d: token %d at %g, full scan %d at %g", name, k, dim, i/dim, got, d, best, bestD)
		}
		if scalarNearest(x, words) != got {
			differs++
		}
	}
	return differs, undecided
}

func sqNorm(x []float64) float64 { return dot(x, x) }

func randomVectors(rng *rand.Rand, n, dim int, scale float64) []float64 {
	v := make([]float64, n*dim)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

// The packed search finds the same tokens with the assembly kernel as in pure Go, the nearest code
// (to rounding), on codebooks whose size is no multiple of the block and patches of any length,
// with ties going to the first code and non-finite patches to code 0.
func TestSearchKernelEqualsPureGo(t *testing.T) {
	if !useSearchKernel {
		t.Log("no SIMD search kernel on this CPU/build: checking the pure-Go search alone")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 3, 7, 31, 32, 33, 64, 100, 256, 257} {
		for _, dim := range []int{1, 2, 3, 5, 8, 31, 32, 33, 50} {
			words := randomVectors(rng, k, dim, 1)
			patches := append(randomVectors(rng, 200, dim, 2), words...) // codes themselves: distance ~0
			patches = append(patches, make([]float64, dim)...)
			if d, _ := checkSearch(t, "random", words, patches, dim); d > 0 {
				t.Logf("k %d dim %d: the scalar search differs on %d of %d patches (rounding ties)", k, dim, d, len(patches)/dim)
			}
		}
	}
	// Ties: every code duplicated further on, and one codebook of k equal codes. The first copy wins.
	for _, k := range []int{2, 9, 40, 65} {
		dim := 7
		half := randomVectors(rng, (k+1)/2, dim, 1)
		words := append(append([]float64(nil), half...), half...)[:k*dim]
		s := newSearchIndex(words, dim)
		for c := 0; c < len(half)/dim; c++ {
			x := half[c*dim : (c+1)*dim]
			if g, f := s.nearestGo(x), s.nearest(x); g != c || f != c {
				t.Fatalf("k %d: code %d and its later copy tie: pure Go %d, kernel %d, want %d", k, c, g, f, c)
			}
		}
		same := make([]float64, 0, k*dim)
		for range k {
			same = append(same, half[:dim]...)
		}
		s = newSearchIndex(same, dim)
		x := randomVectors(rng, 1, dim, 1)
		if g, f := s.nearestGo(x), s.nearest(x); g != 0 || f != 0 {
			t.Fatalf("%d equal codes: pure Go %d, kernel %d, want 0", k, g, f)
		}
	}
	// Near ties finer than float32 resolves: code j is code 0 moved by 1e-6 in one dimension and
	// the patch sits 1e-4 to one side of code 0 there, so their squared distances differ by 2e-10.
	// The float32 kernel must leave those to the float64 one, which must pick as pure Go does.
	// Code j is in another lane (1), in the same lane (8: the lane's second best) or in the same
	// lane of the next block (64).
	for _, c := range []struct{ dim, j int }{{3, 1}, {32, 1}, {33, 1}, {3, 8}, {32, 8}, {32, 64}, {5, 64}} {
		dim, j := c.dim, c.j
		words := randomVectors(rng, 90, dim, 1)
		copy(words[j*dim:(j+1)*dim], words[:dim])
		h := dim / 2
		words[j*dim+h] += 1e-6
		s := newSearchIndex(words, dim)
		for i := range 200 {
			x := randomVectors(rng, 1, dim, 0.01)
			for d := range x {
				x[d] += words[d]
			}
			x[h] = words[h] - 1e-4 // nearer code 0
			want := 0
			if i%2 == 1 {
				x[h] = words[h] + 1e-4 // nearer code j
				want = j
			}
			got := s.nearestGo(x)
			if useSearchKernel {
				if c, ok := s.nearest32(x); ok {
					t.Fatalf("dim %d: float32 kernel answered %d on a near tie", dim, c)
				}
				if f := s.nearest(x); f != got {
					t.Fatalf("dim %d near tie: kernel %d, pure Go %d", dim, f, got)
				}
				if a, b := s.nearestPair(x, words[:dim]); a != got || b != s.nearestGo(words[:dim]) {
					t.Fatalf("dim %d near tie: pair search %d, %d, pure Go %d, %d", dim, a, b, got, s.nearestGo(words[:dim]))
				}
			}
			if got != want {
				t.Fatalf("dim %d near tie %d: token %d, want %d", dim, i, got, want)
			}
		}
	}
	words := randomVectors(rng, 70, 32, 1)
	s := newSearchIndex(words, 32)
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		x := randomVectors(rng, 1, 32, 1)
		x[5] = bad
		if g, f := s.nearestGo(x), s.nearest(x); g != f {
			t.Fatalf("patch with %g: pure Go %d, kernel %d", bad, g, f)
		}
	}
	x := randomVectors(rng, 1, 32, 1)
	if a := testing.AllocsPerRun(100, func() { _ = s.nearest(x) }); a != 0 {
		t.Fatalf("the search allocates %v times", a)
	}
}

// On real EEG (PhysioNet S001, z-scored 0.2-s patches): codebooks of real patches and their
// residuals, and scikit-learn's centres; the kernel equals pure Go on every patch and the plain
// scalar search (float64 either way) gives the same tokens.
func TestSearchKernelOnEEG(t *testing.T) {
	recs, _ := readRuns(t, "S001R01.edf", "S001R02.edf")
	const p = 32
	train := Patches(nil, recs[0].Data, p)
	test := Patches(nil, recs[1].Data[:16], p)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range []int{250, 256, 512} {
		words := make([]float64, 0, k*p)
		for _, i := range rng.Perm(len(train) / p)[:k] {
			words = append(words, train[i*p:(i+1)*p]...)
		}
		d, u := checkSearch(t, "eeg", words, test, p)
		if d > 0 {
			t.Errorf("k %d: the scalar search differs on %d of %d EEG patches", k, d, len(test)/p)
		}
		if useSearchKernel {
			t.Logf("k %d: the float32 kernel left %d of %d EEG patches to the float64 one", k, u, len(test)/p)
			if u > len(test)/p/20 {
				t.Errorf("k %d: the float32 kernel decided only %d of %d EEG patches", k, len(test)/p-u, len(test)/p)
			}
		}
		// the second RVQ stage searches residuals
		s := newSearchIndex(words, p)
		res := append([]float64(nil), test...)
		for i := 0; i < len(res); i += p {
			c := s.nearest(res[i : i+p])
			for d := range p {
				res[i+d] -= words[c*p+d]
			}
		}
		if d, _ := checkSearch(t, "eeg residual", words, res, p); d > 0 {
			t.Errorf("k %d: the scalar search differs on %d of %d EEG residuals", k, d, len(res)/p)
		}
	}
	ref := loadReference(t)
	var centres []float64
	for _, c := range ref.Centers {
		centres = append(centres, c...)
	}
	if d, _ := checkSearch(t, "scikit-learn centres", centres, runPatches(t, "S001R02.edf", ref), ref.PatchSamples); d > 0 {
		t.Errorf("scikit-learn's centres: the scalar search differs on %d EEG patches", d)
	}
}

// BenchmarkNearest times one token lookup (k codes of 32 samples, a 0.2-s patch at 160 Hz) with the
// packed search (the kernels where the CPU has them: float32 screening, float64 on near ties), the
// float64 kernel alone, its pure-Go version and the plain scalar scan; "pair" looks up two patches
// per op, as the streaming stage does.
func BenchmarkNearest(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	const dim = 32
	for _, k := range []int{64, 256, 512, 1024} {
		words := randomVectors(rng, k, dim, 1)
		xs := randomVectors(rng, 64, dim, 1)
		s := newSearchIndex(words, dim)
		for _, impl := range []struct {
			name string
			fn   func(x []float64) int
		}{{"packed", s.nearest}, {"float64", s.nearest64}, {"purego", s.nearestGo}, {"scalar", func(x []float64) int { return scalarNearest(x, words) }}} {
			b.Run(fmt.Sprintf("k=%d/%s", k, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				i, sink := 0, 0
				for b.Loop() {
					sink += impl.fn(xs[i*dim : (i+1)*dim])
					i = (i + 1) % 64
				}
				_ = sink
			})
		}
		b.Run(fmt.Sprintf("k=%d/pair", k), func(b *testing.B) { // two patches per op
			b.ReportAllocs()
			i, sink := 0, 0
			for b.Loop() {
				cx, cy := s.nearestPair(xs[i*dim:(i+1)*dim], xs[(i+1)*dim:(i+2)*dim])
				sink += cx + cy
				i = (i + 2) % 64
			}
			_ = sink
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/patch")
		})
	}
}

// WithScalarSearch, the bench's reference, encodes EEG patches into the same RVQ tokens as the
// packed search (codes: means of two patches of another run, as k-means centres are means; not
// z-scored patches themselves, whose equal norms would make rounding ties); mu-law has no search
// to swap.
func TestScalarSearchReference(t *testing.T) {
	recs, _ := readRuns(t, "S001R01.edf", "S001R02.edf")
	const p = 32
	train := Patches(nil, recs[0].Data[:8], p)
	x := Patches(nil, recs[1].Data[:8], p)
	rng := rand.New(rand.NewPCG(11, 12))
	cb := &Codebook{Version: FormatVersion, Name: "rvq", SampleRateHz: 160, PatchSamples: p, Normalisation: PatchZScore}
	for s := range 3 {
		var words [][]float64
		for range 100 {
			i, j := rng.IntN(len(train)/p), rng.IntN(len(train)/p)
			w := make([]float64, p)
			for d := range w {
				w[d] = (train[i*p+d] + train[j*p+d]) / 2 / float64(1+2*s) // later stages quantise smaller residuals
			}
			words = append(words, w)
		}
		if s == 0 {
			cb.Codewords = words
		} else {
			cb.Residual = append(cb.Residual, words)
		}
	}
	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := q.WithScalarSearch()
	if err != nil {
		t.Fatal(err)
	}
	a, b := make([]uint16, 3), make([]uint16, 3)
	for i := 0; i+p <= len(x); i += p {
		za, zb := append([]float64(nil), x[i:i+p]...), append([]float64(nil), x[i:i+p]...)
		if q.Encode(za, a) != nil || ref.Encode(zb, b) != nil {
			t.Fatal("encode failed")
		}
		if a[0] != b[0] || a[1] != b[1] || a[2] != b[2] {
			t.Fatalf("patch %d: packed search %v, scalar search %v", i/p, a, b)
		}
	}
	mu, err := NewQuantizer(NewMuLaw(160, p, 16, 4, [2]float64{1, 40}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mu.WithScalarSearch(); err == nil {
		t.Fatal("a mu-law quantizer gave a scalar-search copy")
	}
}

// The streaming stage encodes channels two at a time; with an odd channel count, a flat channel
// and residual stages, its tokens are still offline EncodePatch's for every channel.
func TestStreamingPairsEqualOffline(t *testing.T) {
	recs, _ := readRuns(t, "S001R01.edf", "S001R02.edf")
	const p, nch = 32, 5
	train := Patches(nil, recs[0].Data[:8], p)
	rng := rand.New(rand.NewPCG(13, 14))
	cb := &Codebook{Version: FormatVersion, Name: "pairs", SampleRateHz: 160, PatchSamples: p, Normalisation: PatchZScore}
	for s := range 2 {
		var words [][]float64
		for range 70 {
			i, j := rng.IntN(len(train)/p), rng.IntN(len(train)/p)
			w := make([]float64, p)
			for d := range w {
				w[d] = (train[i*p+d] + train[j*p+d]) / 2 / float64(1+2*s)
			}
			words = append(words, w)
		}
		if s == 0 {
			cb.Codewords = words
		} else {
			cb.Residual = [][][]float64{words}
		}
	}
	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	info := streams.StreamInfo{StreamID: "pairs", SampleRateHz: 160, Channels: make([]streams.Channel, nch)}
	tk, err := q.NewTokenizer(info)
	if err != nil {
		t.Fatal(err)
	}
	data := recs[1].Data
	n := 40 * p
	frame := make([]float32, 8*nch)
	patches := 0
	tokens := make([]uint16, 2)
	scratch := make([]float64, p)
	emit := func(tok *streams.Tokens) error {
		for c := range nch {
			x := make([]float64, p)
			for i := range x {
				if c != 3 { // channel 3 is flat
					x[i] = float64(float32(data[c][patches*p+i]))
				}
			}
			mean, std, _ := q.EncodePatch(x, tokens, scratch)
			got := tok.Tokens[c*2 : c*2+2]
			if got[0] != tokens[0] || got[1] != tokens[1] || tok.Offsets[c] != float32(mean) || tok.Scales[c] != float32(std) {
				t.Fatalf("patch %d channel %d: streamed %v (%g, %g), offline %v (%g, %g)", patches, c, got, tok.Offsets[c], tok.Scales[c], tokens, mean, std)
			}
		}
		patches++
		return nil
	}
	for s := 0; s+8 <= n; s += 8 {
		for i := range 8 {
			for c := range nch {
				frame[i*nch+c] = 0
				if c != 3 {
					frame[i*nch+c] = float32(data[c][s+i])
				}
			}
		}
		if err := tk.Push(frame, 8, 0, emit); err != nil {
			t.Fatal(err)
		}
	}
	if patches != n/p {
		t.Fatalf("%d patches, want %d", patches, n/p)
	}
}
