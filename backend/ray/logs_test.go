package ray_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
)

// LogWarn logs msg at warn level in the Go worker child on a Ray worker.
var LogWarn = fray.NewTask("raytest.logwarn", func(ctx context.Context, msg string) (int, error) {
	slog.Warn(msg, "k", "v")
	return os.Getpid(), nil
})

// lockedBuffer is a bytes.Buffer the bridge's log goroutine and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestForwardedLogs: a slog record of a Go worker child on a Ray worker, which Ray forwards
// to the bridge as a "(task pid=N) {json}" line, reaches the driver's logger as a record
// with its own level, message and attributes (FRAY_LOG_FORMAT=json in the job's env).
func TestForwardedLogs(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, ctx := connect(t, ray.Options{Logger: logger, Env: map[string]string{"FRAY_LOG_FORMAT": "json", "FRAY_LOG_LEVEL": "debug"}})
	msg := fmt.Sprintf("forwarded-%d", time.Now().UnixNano())
	ref, err := LogWarn.Remote(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := ref.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second) // Ray forwards worker output in batches
	for {
		sc := bufio.NewScanner(strings.NewReader(buf.String()))
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("the driver's JSON logger wrote %q: %v", sc.Text(), err)
			}
			if rec["msg"] != msg {
				continue
			}
			if rec["level"] != "WARN" || rec["k"] != "v" || rec["worker_pid"] != float64(pid) || rec["source"] != "ray" {
				t.Fatalf("forwarded record %v; want level WARN, k=v, worker_pid=%d, source=ray", rec, pid)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record %q from the worker after 60s; the driver logged:\n%s", msg, buf.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
