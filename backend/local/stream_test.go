package local_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/internal/osproc"
)

// StreamPID is one item of PStream: the producer's process and the item's index.
type StreamPID struct {
	PID, I int
}

// PStream yields {pid, i} for i = 0, 1, ... until its yield fails, and after each yield
// returns writes the file "yielded-<i>" into dir (so a test can see how far it got).
var PStream = fray.NewStreamTask("local_test.pstream", func(ctx context.Context, dir string, yield func(StreamPID) error) error {
	for i := 0; ; i++ {
		if err := yield(StreamPID{PID: os.Getpid(), I: i}); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "yielded-"+strconv.Itoa(i)), nil, 0o600); err != nil {
			return err
		}
	}
})

// waitFile waits until path exists.
func waitFile(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", path, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestStreamWorkerKilled kills the real worker process of a streaming task mid-stream: the
// items it had delivered still arrive, in order, then a *fray.WorkerDiedError; the stream is
// not retried, and the node's resources come back.
func TestStreamWorkerKilled(t *testing.T) {
	jc, ctx := newJob(t, local.Options{Isolation: local.IsolateProcess, Resources: fray.Resources{fray.CPU: 2}})
	ctx = testCtx(t, ctx)
	dir := t.TempDir()
	const bound = 3
	st, err := PStream.Remote(ctx, dir, fray.StreamOptions{Backpressure: bound})
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.PID == os.Getpid() || first.I != 0 {
		t.Fatalf("first item %+v: want index 0 from a worker process (driver %d)", first, os.Getpid())
	}
	// Items 1..bound are delivered and unconsumed; the producer is blocked in its next yield.
	waitFile(t, ctx, filepath.Join(dir, "yielded-"+strconv.Itoa(bound)))
	if err := osproc.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next := 1
	for {
		v, err := st.Next(ctx)
		if err != nil {
			var wd *fray.WorkerDiedError
			if !errors.As(err, &wd) || !errors.Is(err, fray.ErrWorkerDied) {
				t.Fatalf("after the kill: %v (%T), want *fray.WorkerDiedError", err, err)
			}
			break
		}
		if v.I != next || v.PID != first.PID {
			t.Fatalf("item %+v after the kill, want index %d from pid %d", v, next, first.PID)
		}
		next++
	}
	if next <= bound {
		t.Fatalf("only items 1..%d arrived after the kill; %d were delivered before it", next-1, bound)
	}
	if _, err := st.Next(ctx); !errors.Is(err, fray.ErrWorkerDied) {
		t.Fatalf("Next after the error: %v", err)
	}
	if v, err := Square.Call(ctx, 5); err != nil || v != 25 {
		t.Fatalf("after the kill: %d, %v", v, err)
	}
	for deadline := time.Now().Add(30 * time.Second); jc.Cluster().Available()[fray.CPU] != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("CPU free after the kill = %v, want 2", jc.Cluster().Available()[fray.CPU])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamDirectAndClose: in direct mode values pass as they are; closing the job context
// ends a blocked producer and the reader gets an error matching fray.ErrCancelled; the
// stream's object is released once the stream ends.
func TestStreamDirectAndClose(t *testing.T) {
	jc, ctx := newJob(t, local.Options{DirectValues: true, Resources: fray.Resources{fray.CPU: 2}})
	ctx = testCtx(t, ctx)
	before := jc.NumObjects()
	dir := t.TempDir()
	st, err := PStream.Remote(ctx, dir, fray.StreamOptions{Backpressure: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		v, err := st.Next(ctx)
		if err != nil || v.I != i || v.PID != os.Getpid() {
			t.Fatalf("item %d: %+v, %v", i, v, err)
		}
	}
	if err := st.Cancel(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(ctx); !errors.Is(err, fray.ErrCancelled) {
		t.Fatalf("after Cancel: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); jc.NumObjects() != before; {
		if time.Now().After(deadline) {
			t.Fatalf("objects after the cancelled stream: %d, want %d", jc.NumObjects(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}

	st, err = PStream.Remote(ctx, t.TempDir(), fray.StreamOptions{Backpressure: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(ctx); err != nil {
		t.Fatal(err)
	}
	_ = jc.Close()
	for {
		_, err := st.Next(ctx)
		if err == io.EOF {
			t.Fatal("a stream cut short by Close ended with io.EOF")
		}
		if err != nil {
			if !errors.Is(err, fray.ErrCancelled) {
				t.Fatalf("after Close: %v, want an error matching fray.ErrCancelled", err)
			}
			break
		}
	}
}

// TestStreamNotAPlainTask: a streaming function submitted as a plain task is refused.
func TestStreamNotAPlainTask(t *testing.T) {
	jc, ctx := newJob(t, local.Options{})
	stream, _ := backend.LookupFunction(PStream.Name())
	plain, _ := backend.LookupFunction(Square.Name())
	_, err := jc.SubmitTask(ctx, backend.TaskSpec{Function: stream, Arg: backend.Payload{Value: "x"}})
	if !errors.Is(err, fray.ErrInvalidArgument) {
		t.Fatalf("SubmitTask of a stream: %v", err)
	}
	_, err = jc.SubmitStreamTask(ctx, backend.TaskSpec{Function: plain}, backend.StreamSpec{})
	if !errors.Is(err, fray.ErrInvalidArgument) {
		t.Fatalf("SubmitStreamTask of a plain task: %v", err)
	}
}
