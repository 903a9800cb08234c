package retrieval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/neurostream/neurostream/streams"
)

// Format is the tag every bank file carries.
const Format = "neurostream-embedding-bank/1"

// Bank holds unit-normalised candidate embeddings, row-major, so that ranking is one dot product per item.
type Bank struct {
	ids  []string
	dim  int
	unit []float32 // len(ids) x dim
}

type bankFile struct {
	Format string     `json:"format"`
	Dim    int        `json:"dim"`
	Items  []bankItem `json:"items"`
}

type bankItem struct {
	ID        string    `json:"id"`
	Embedding []float32 `json:"embedding"`
}

// Load reads a bank file (see the package comment for the format).
func Load(path string) (*Bank, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("embedding bank: %w", err)
	}
	var f bankFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("embedding bank %s: %w", path, err)
	}
	if f.Format != Format {
		return nil, fmt.Errorf("embedding bank %s: format %q, want %q", path, f.Format, Format)
	}
	ids := make([]string, len(f.Items))
	vecs := make([][]float32, len(f.Items))
	for i, it := range f.Items {
		ids[i], vecs[i] = it.ID, it.Embedding
	}
	b, err := New(ids, vecs)
	if err != nil {
		return nil, fmt.Errorf("embedding bank %s: %w", path, err)
	}
	if f.Dim != 0 && f.Dim != b.dim {
		return nil, fmt.Errorf("embedding bank %s: header says dim %d, embeddings have %d values", path, f.Dim, b.dim)
	}
	return b, nil
}

// New builds a bank from ids and embeddings (copied and normalised).
func New(ids []string, embeddings [][]float32) (*Bank, error) {
	if len(ids) == 0 {
		return nil, errors.New("no candidates")
	}
	if len(ids) != len(embeddings) {
		return nil, fmt.Errorf("%d ids for %d embeddings", len(ids), len(embeddings))
	}
	dim := len(embeddings[0])
	if dim == 0 {
		return nil, fmt.Errorf("candidate %q has an empty embedding", ids[0])
	}
	b := &Bank{ids: make([]string, len(ids)), dim: dim, unit: make([]float32, len(ids)*dim)}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("candidate %d has an empty id", i)
		}
		if seen[id] {
			return nil, fmt.Errorf("candidate id %q appears twice", id)
		}
		seen[id] = true
		e := embeddings[i]
		if len(e) != dim {
			return nil, fmt.Errorf("candidate %q has %d values, the first has %d", id, len(e), dim)
		}
		var ss float64
		for j, v := range e {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("candidate %q: value %d is %v", id, j, v)
			}
			ss += float64(v) * float64(v)
		}
		if ss == 0 {
			return nil, fmt.Errorf("candidate %q has a zero embedding (cosine similarity undefined)", id)
		}
		inv := 1 / math.Sqrt(ss)
		row := b.unit[i*dim : (i+1)*dim]
		for j, v := range e {
			row[j] = float32(float64(v) * inv)
		}
		b.ids[i] = id
	}
	return b, nil
}

// Dim is the embedding size.
func (b *Bank) Dim() int { return b.dim }

// Len is the number of candidates.
func (b *Bank) Len() int { return len(b.ids) }

// ID returns the i-th candidate's id.
func (b *Bank) ID(i int) string { return b.ids[i] }

// TopK ranks the candidates by cosine similarity to query and returns the best k (fewer if the bank is
// smaller), best first, appended to dst[:0]. With cap(dst) >= k it allocates nothing.
func (b *Bank) TopK(query []float32, k int, dst []streams.Ranked) ([]streams.Ranked, error) {
	if len(query) != b.dim {
		return dst[:0], fmt.Errorf("query embedding has %d values, bank has %d", len(query), b.dim)
	}
	if k <= 0 {
		return dst[:0], fmt.Errorf("top-k with k=%d; want k >= 1", k)
	}
	var ss float64
	for _, v := range query {
		ss += float64(v) * float64(v)
	}
	if !(ss > 0) || math.IsInf(ss, 0) {
		return dst[:0], fmt.Errorf("query embedding has norm %v; cosine similarity needs a finite non-zero vector", math.Sqrt(ss))
	}
	inv := 1 / math.Sqrt(ss)
	k = min(k, len(b.ids))
	dst = dst[:0]
	for i := range b.ids {
		row := b.unit[i*b.dim : (i+1)*b.dim]
		var dot float64
		for j, v := range row {
			dot += float64(v) * float64(query[j])
		}
		s := dot * inv
		if len(dst) == k && s <= dst[k-1].Score {
			continue
		}
		// Insertion into the sorted top list: k is small (tens), the bank may be large.
		if len(dst) < k {
			dst = append(dst, streams.Ranked{})
		}
		j := len(dst) - 1
		for j > 0 && dst[j-1].Score < s {
			dst[j] = dst[j-1]
			j--
		}
		dst[j] = streams.Ranked{ID: b.ids[i], Score: s}
	}
	return dst, nil
}

// Rank returns the 0-based rank of candidate id for query (0 = best), for evaluating retrieval accuracy.
func (b *Bank) Rank(query []float32, id string) (int, error) {
	target := -1
	for i, v := range b.ids {
		if v == id {
			target = i
		}
	}
	if target < 0 {
		return 0, fmt.Errorf("candidate %q is not in the bank", id)
	}
	score := func(i int) float64 {
		var dot float64
		for j, v := range b.unit[i*b.dim : (i+1)*b.dim] {
			dot += float64(v) * float64(query[j])
		}
		return dot
	}
	if len(query) != b.dim {
		return 0, fmt.Errorf("query embedding has %d values, bank has %d", len(query), b.dim)
	}
	st := score(target)
	rank := 0
	for i := range b.ids {
		if i != target && score(i) > st {
			rank++
		}
	}
	return rank, nil
}
