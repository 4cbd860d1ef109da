package ray_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/worker"
)

// TestConnectInWorkerWithoutInit: a worker process (this binary, started as a worker) whose
// main calls ray.Connect before fray.Init refuses at once, tells its parent why and exits,
// instead of connecting as a driver that starts workers of its own. Needs no Ray cluster.
func TestConnectInWorkerWithoutInit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := worker.Start(ctx, worker.StartOptions{Env: []string{noInitEnv + "=1"}, Stderr: io.Discard})
	if err == nil {
		p.Close()
		t.Fatal("a worker whose main calls ray.Connect before fray.Init completed the handshake")
	}
	var se *fray.WorkerStartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "ray.Connect was called in a worker process before fray.Init()") {
		t.Fatalf("err = %v (%T); want a *fray.WorkerStartError naming ray.Connect and fray.Init", err, err)
	}
}

// TestWorkerWithoutInitOnRay: on a Ray worker, a Go child whose main calls ray.Connect
// before fray.Init refuses the handshake the same way, and the task fails with an error
// matching fray.ErrWorkerStart that names fray.Init.
func TestWorkerWithoutInitOnRay(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	_, err := Digest.Call(ctx, []byte("x"), fray.TaskOptions{MaxRetries: fray.Retries(0),
		RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{noInitEnv: "1"}}})
	if !errors.Is(err, fray.ErrWorkerStart) || !strings.Contains(err.Error(), "ray.Connect was called in a worker process before fray.Init()") {
		t.Fatalf("err = %v (%T); want an error matching fray.ErrWorkerStart naming ray.Connect and fray.Init", err, err)
	}
}
