package dsp

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// loadFixture decodes testdata/name (written by tools/dsp_reference.py) into v.
func loadFixture(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v (regenerate with /usr/bin/python3 tools/dsp_reference.py)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
}

func toSOS(rows [][]float64) SOS {
	s := make(SOS, len(rows))
	for i, r := range rows {
		copy(s[i][:], r)
	}
	return s
}

// relErr is |got-want| relative to the largest magnitude in want, so that coefficients near zero are
// judged on the scale of their section rather than on their own.
func maxRelErr(got, want []float64) float64 {
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	if scale == 0 {
		scale = 1
	}
	worst := 0.0
	for i := range want {
		worst = math.Max(worst, math.Abs(got[i]-want[i])/scale)
	}
	return worst
}

func assertClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	if e := maxRelErr(got, want); e > tol || math.IsNaN(e) {
		t.Errorf("%s: max relative error %.3g > %.3g", what, e, tol)
	}
}

func assertBitEqual(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: sample %d = %.17g, scipy %.17g (diff %.3g)", what, i, got[i], want[i], got[i]-want[i])
			return
		}
	}
}

// windowSpec is a scipy window argument as the fixture stores it: "hamming" or ["kaiser", beta].
type windowSpec struct {
	Name string
	Beta float64
}

func (w *windowSpec) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &w.Name); err == nil {
		return nil
	}
	var pair []any
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	w.Name = pair[0].(string)
	w.Beta = pair[1].(float64)
	return nil
}
