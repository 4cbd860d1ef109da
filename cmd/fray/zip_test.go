package main

import (
	"archive/zip"
	"bytes"
	"os"
	"testing"
)

// zipModes returns the files of a zip and their permission bits.
func zipModes(t *testing.T, data []byte) map[string]os.FileMode {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]os.FileMode{}
	for _, f := range zr.File {
		out[f.Name] = f.Mode().Perm()
	}
	return out
}
