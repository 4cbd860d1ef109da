package worker

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fray-go/fray/internal/wire"
)

// A worker that refuses the handshake writes its HelloErr and exits at once: its exit can
// reach the parent before the parent has read the frame. The parent must still read it
// (the typed error, not "exited before the handshake"). Each start below is one throw of
// that race; before the fix about one in 150 lost it.
func TestErrorFrameBeforeExit(t *testing.T) {
	mismatch := StartOptions{helloHook: func(h *wire.Hello) {
		h.Manifest = append(append([]string{}, h.Manifest...), "task wtest.onlyInDriver(int) int")
		h.Digest = wire.ManifestDigest(h.Manifest)
	}}
	noInit := StartOptions{Env: []string{noInitEnv + "=1"}, Stderr: io.Discard}
	for i := range 150 {
		_, err := Start(context.Background(), mismatch)
		var me *wire.RegistryMismatchError
		if !errors.As(err, &me) {
			t.Fatalf("start %d: err = %v, want RegistryMismatchError", i, err)
		}
		_, err = Start(context.Background(), noInit)
		if err == nil || !strings.Contains(err.Error(), "wtest.newJob was called in a worker process before fray.Init()") {
			t.Fatalf("start %d: err = %v, want the worker's HelloErr naming fray.Init", i, err)
		}
	}
}
