package parallel

import (
	"errors"
	"testing"
)

func TestForCoversEveryIndexOnceAndReportsErrors(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 100} {
		seen := make([]int, 10)
		started := make([]bool, max(1, min(workers, 10)))
		err := For(10, workers, func(w, i int) error {
			if !started[w] {
				t.Errorf("worker %d ran before its start function", w)
			}
			seen[i]++
			return nil
		}, func(w int) { started[w] = true })
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("%d workers: index %d ran %d times", workers, i, n)
			}
		}
	}
	boom := errors.New("boom")
	if err := For(10, 2, func(_, i int) error {
		if i == 7 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
}
