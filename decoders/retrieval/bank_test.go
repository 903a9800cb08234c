package retrieval

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

func randomBank(t testing.TB, n, dim int, rng *rand.Rand) (*Bank, [][]float32, []string) {
	ids := make([]string, n)
	vecs := make([][]float32, n)
	for i := range vecs {
		ids[i] = "item-" + strconv.Itoa(i)
		vecs[i] = make([]float32, dim)
		for j := range vecs[i] {
			vecs[i][j] = float32(rng.NormFloat64())
		}
	}
	b, err := New(ids, vecs)
	if err != nil {
		t.Fatal(err)
	}
	return b, vecs, ids
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TopK must agree with a brute-force sort of all cosine similarities.
func TestTopKMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b, vecs, ids := randomBank(t, 300, 16, rng)
	q := make([]float32, 16)
	for trial := 0; trial < 20; trial++ {
		for j := range q {
			q[j] = float32(rng.NormFloat64())
		}
		type pair struct {
			id string
			s  float64
		}
		all := make([]pair, len(ids))
		for i := range ids {
			all[i] = pair{ids[i], cosine(q, vecs[i])}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].s > all[j].s })
		got, err := b.TopK(q, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 {
			t.Fatalf("got %d results, want 10", len(got))
		}
		for i := range got {
			if got[i].ID != all[i].id || math.Abs(got[i].Score-all[i].s) > 1e-6 {
				t.Fatalf("rank %d: got %s %.7f, want %s %.7f", i, got[i].ID, got[i].Score, all[i].id, all[i].s)
			}
		}
		r, err := b.Rank(q, all[3].id)
		if err != nil || r != 3 {
			t.Fatalf("Rank of the 4th best = %d, %v; want 3", r, err)
		}
	}
}

func TestTopKNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b, vecs, _ := randomBank(t, 500, 32, rng)
	dst := make([]streams.Ranked, 0, 10)
	allocs := testing.AllocsPerRun(50, func() {
		dst, _ = b.TopK(vecs[7], 10, dst)
	})
	if allocs != 0 {
		t.Fatalf("TopK allocated %.1f times per call, want 0", allocs)
	}
	if dst[0].ID != "item-7" || math.Abs(dst[0].Score-1) > 1e-6 {
		t.Fatalf("a candidate's own embedding should rank first with score 1, got %+v", dst[0])
	}
}

func TestBadInput(t *testing.T) {
	v := []float32{1, 0}
	cases := map[string]func() error{
		"no candidates":  func() error { _, err := New(nil, nil); return err },
		"duplicate id":   func() error { _, err := New([]string{"a", "a"}, [][]float32{v, v}); return err },
		"ragged":         func() error { _, err := New([]string{"a", "b"}, [][]float32{v, {1}}); return err },
		"zero embedding": func() error { _, err := New([]string{"a"}, [][]float32{{0, 0}}); return err },
		"NaN":            func() error { _, err := New([]string{"a"}, [][]float32{{float32(math.NaN()), 1}}); return err },
		"query size": func() error {
			b, _ := New([]string{"a"}, [][]float32{v})
			_, err := b.TopK([]float32{1, 2, 3}, 1, nil)
			return err
		},
		"zero query": func() error {
			b, _ := New([]string{"a"}, [][]float32{v})
			_, err := b.TopK([]float32{0, 0}, 1, nil)
			return err
		},
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bank.json")
	data := `{"format":"neurostream-embedding-bank/1","dim":2,"items":[{"id":"x","embedding":[1,0]},{"id":"y","embedding":[0,2]}]}`
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.TopK([]float32{0.1, 1}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ID != "y" || got[1].ID != "x" {
		t.Fatalf("ranking %+v, want y then x", got)
	}
	if err := os.WriteFile(p, []byte(`{"format":"other","items":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Fatal("a file with the wrong format tag loaded")
	}
}
