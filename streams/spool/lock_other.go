//go:build !unix

package spool

// lockDir does not lock where flock is unavailable: keep one source per spool directory.
func lockDir(string) (func(), error) { return func() {}, nil }
