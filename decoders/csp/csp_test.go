package csp

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

type reference struct {
	Epochs   [][][]float64 `json:"epochs"`
	Labels   []int         `json:"labels"`
	Features [][]float64   `json:"features"`
	GenEig   []float64     `json:"gen_eigenvalues"`
	Multi    struct {
		Epochs   [][][]float64 `json:"epochs"`
		Labels   []int         `json:"labels"`
		Features [][]float64   `json:"features"`
	} `json:"multiclass"`
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/csp_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCSPFeaturesMatchMNE(t *testing.T) {
	r := loadReference(t)
	c, err := Fit(r.Epochs, r.Labels, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	feat := make([]float64, 4)
	scratch := make([]float64, len(r.Epochs[0][0]))
	for i, ep := range r.Epochs {
		if err := c.Transform(feat, ep, scratch); err != nil {
			t.Fatal(err)
		}
		for k := range feat {
			if math.Abs(feat[k]-r.Features[i][k]) > 1e-9 {
				t.Fatalf("epoch %d feature %d = %.12f, MNE %.12f", i, k, feat[k], r.Features[i][k])
			}
		}
	}
	// The kept eigenvalues are the reference's, farthest from 0.5 first.
	for k, v := range c.Eigenvalues {
		found := false
		for _, w := range r.GenEig {
			found = found || math.Abs(v-w) < 1e-10
		}
		if !found {
			t.Fatalf("eigenvalue %d = %v not among scipy's %v", k, v, r.GenEig)
		}
		if k > 0 && math.Abs(v-0.5) > math.Abs(c.Eigenvalues[k-1]-0.5)+1e-15 {
			t.Fatalf("components not ordered by |λ-0.5|: %v", c.Eigenvalues)
		}
	}
}

func TestCSPTransformDoesNotAllocate(t *testing.T) {
	r := loadReference(t)
	c, err := Fit(r.Epochs, r.Labels, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	feat := make([]float64, 4)
	scratch := make([]float64, len(r.Epochs[0][0]))
	if a := testing.AllocsPerRun(100, func() { _ = c.Transform(feat, r.Epochs[0], scratch) }); a != 0 {
		t.Fatalf("%v allocations per transform", a)
	}
}

func TestCSPBadInput(t *testing.T) {
	r := loadReference(t)
	if _, err := Fit(r.Epochs, r.Labels[:3], 4, nil); err == nil {
		t.Error("label count mismatch accepted")
	}
	if _, err := FitShrunk(r.Epochs, r.Labels, 4, 1.5, nil); err == nil {
		t.Error("shrinkage 1.5 accepted")
	}
	if _, err := Fit(r.Epochs, r.Labels, 99, nil); err == nil {
		t.Error("more components than channels accepted")
	}
	one := make([]int, len(r.Labels))
	if _, err := Fit(r.Epochs, one, 4, nil); err == nil {
		t.Error("a single class accepted")
	}
	// A flat channel makes the class covariances singular: regularised, not a crash.
	flat := make([][][]float64, len(r.Epochs))
	for i, ep := range r.Epochs {
		flat[i] = append([][]float64{make([]float64, len(ep[0]))}, ep...)
	}
	if _, err := Fit(flat, r.Labels, 4, nil); err != nil {
		t.Errorf("flat channel: %v", err)
	}
	c, _ := Fit(r.Epochs, r.Labels, 4, nil)
	if err := c.Transform(make([]float64, 4), r.Epochs[0][:2], make([]float64, 100)); err == nil {
		t.Error("window with too few channels accepted")
	}
}

func TestMutualInfoRanksInformativeFeature(t *testing.T) {
	// Feature 0 separates the classes, feature 1 does not.
	var x [][]float64
	var y []int
	for i := 0; i < 40; i++ {
		k := i % 2
		x = append(x, []float64{float64(k)*4 + math.Sin(float64(i)), math.Cos(float64(i) * 1.7)})
		y = append(y, k)
	}
	mi, err := MutualInfo(x, y, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !(mi[0] > 0.8 && mi[0] <= 1+1e-9 && mi[1] < 0.3) {
		t.Fatalf("mutual information %v; want ~1 bit for the separating feature, ~0 for the other", mi)
	}
	best, err := SelectBest(mi, 1)
	if err != nil || best[0] != 0 {
		t.Fatalf("SelectBest = %v, %v", best, err)
	}
}

func TestMulticlassCSPMatchesMNE(t *testing.T) {
	r := loadReference(t).Multi
	c, err := Fit(r.Epochs, r.Labels, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	feat := make([]float64, 3)
	scratch := make([]float64, len(r.Epochs[0][0]))
	for i, ep := range r.Epochs {
		if err := c.Transform(feat, ep, scratch); err != nil {
			t.Fatal(err)
		}
		for k := range feat {
			if math.Abs(feat[k]-r.Features[i][k]) > 1e-8 {
				t.Fatalf("epoch %d feature %d = %.12f, MNE %.12f", i, k, feat[k], r.Features[i][k])
			}
		}
	}
}
