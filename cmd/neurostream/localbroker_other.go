//go:build !unix

package main

import "syscall"

func detached() *syscall.SysProcAttr { return nil }

func lockFile(string) (func(), error) { return func() {}, nil }
