//go:build !linux

package ray

// ancestorMaps: without Linux's /proc there are no memory maps to read, and a job's driver
// needs FRAY_PYTHON.
func ancestorMaps(n int) []string { return nil }
