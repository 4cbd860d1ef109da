//go:build !unix

package osproc

import "syscall"

// Kill is not supported here: it returns an *UnsupportedError.
func Kill(pid int, sig syscall.Signal) error { return unsupported("kill") }

// Rusage is not supported here: it returns an *UnsupportedError.
func Rusage() (Usage, error) { return Usage{}, unsupported("getrusage") }
