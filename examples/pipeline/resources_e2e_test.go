package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/fray-go/fray"
)

// A --shard-resources resource no node has: the local backend (one node, no node_b) refuses
// the tokenize shard tasks as infeasible, and the command's error is the typed
// *fray.InfeasibleError, saying which flag to change.
func TestShardResourcesInfeasibleOnLocal(t *testing.T) {
	prefix := t.TempDir()
	_, err := runCommand(t, "--prefix", prefix, "--max-docs", "20", "--docs-per-shard", "10", "--max-text-bytes", "4096",
		"--progress=false", "--cv-folds", "0", "--shard-resources", "node_b=0.1")
	var ie *fray.InfeasibleError
	if !errors.As(err, &ie) || !errors.Is(err, fray.ErrInfeasible) || ie.Resource != "node_b" {
		t.Fatalf("err = %v (%T), want a *fray.InfeasibleError for node_b", err, err)
	}
	if !strings.Contains(err.Error(), "--shard-resources node_b=0.1") {
		t.Fatalf("the error does not name the flag: %v", err)
	}
}
