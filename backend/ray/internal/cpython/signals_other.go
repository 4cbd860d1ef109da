//go:build !(linux && (amd64 || arm64))

package cpython

import "syscall"

// Signals is a no-op outside linux/amd64 and linux/arm64, where the kernel's sigaction
// layout is not known to this package.
type Signals struct{}

// SaveSignals records nothing here.
func SaveSignals() Signals { return Signals{} }

// Restore changes nothing here.
func (Signals) Restore() []syscall.Signal { return nil }
