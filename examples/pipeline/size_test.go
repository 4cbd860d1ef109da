package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// maxBinaryBytes is issue 14's bar for the pipeline binary with local storage: a third of
// the 93 MB it weighed when every cloud driver, all of gonum/plot's fonts and backends, and
// both BPE vocabularies were linked into it.
const maxBinaryBytes = 31_000_000

// TestBinarySize builds the command as a user does (`go build`, no tags, not stripped) and
// fails if it weighs more than maxBinaryBytes: a new dependency that links megabytes into
// every binary (a cloud SDK, a font set, a vocabulary) shows up here. The opt-in parts
// (-tags cloud, -tags o200k) are not counted.
func TestBinarySize(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pipeline")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=") // no -race or -cover from the environment
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pipeline binary: %d bytes (bar %d)", fi.Size(), maxBinaryBytes)
	if fi.Size() > maxBinaryBytes {
		t.Errorf("the pipeline binary is %d bytes, over issue 14's bar of %d: find what grew with "+
			"`go tool nm -size -sort size` on it and `go list -deps .`, and make a heavy dependency opt-in "+
			"(a blank import or a build tag, as for the cloud drivers and o200k_base)", fi.Size(), maxBinaryBytes)
	}
}
