// Package parallel runs independent pieces of a computation (per-trial covariances, matrix
// logarithms) on several goroutines with a deterministic assignment, so that results combined in
// worker order do not depend on scheduling.
package parallel

import "sync"

// For runs fn(worker, i) for every i in [0, n) on min(workers, n) goroutines, worker w taking
// i = w, w+workers, ...; each worker first calls start(w) when given. It returns the first error in
// worker order; a worker stops at its first error.
func For(n, workers int, fn func(worker, i int) error, start ...func(worker int)) error {
	workers = max(1, min(workers, n))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range start {
				s(w)
			}
			for i := w; i < n; i += workers {
				if err := fn(w, i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
