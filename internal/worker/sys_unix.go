//go:build unix

package worker

// startSupported is nil: worker processes run on every unix system.
func startSupported() error { return nil }
