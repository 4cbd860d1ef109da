package ray

// SetCrossMemory turns the cross-memory reads of Get answers (vmread.go) on or off for the
// sessions that connect afterwards; it returns a function that restores the setting.
func SetCrossMemory(on bool) (restore func()) {
	old := noCrossMemory.Swap(!on)
	return func() { noCrossMemory.Store(old) }
}
