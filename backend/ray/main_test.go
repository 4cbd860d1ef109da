package ray_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/raytest"
)

// helperEnv re-executes the test binary as a separate driver process (see helper_test.go).
const helperEnv = "FRAY_RAY_TEST_HELPER"

// noInitEnv makes a worker of this binary play a program whose main calls ray.Connect
// before fray.Init (see TestConnectInWorkerWithoutInit).
const noInitEnv = "FRAY_RAY_TEST_NOINIT"

func TestMain(m *testing.M) {
	if os.Getenv(noInitEnv) != "" {
		_, _ = ray.Connect(context.Background(), ray.Options{}) // exits in a worker process
	}
	fray.Init()
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// clusterAddress returns the test cluster's address (see internal/raytest for the gating).
func clusterAddress(t testing.TB) string { return raytest.Address(t) }

// testLogger sends the bridge's output to the test log when -v is set, else discards it.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&tlogWriter{t}, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tlogWriter struct{ t testing.TB }

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func connect(t testing.TB, opts ray.Options) (*ray.JobContext, context.Context) {
	t.Helper()
	opts.Address = clusterAddress(t)
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	jc, err := ray.Connect(ctx, opts)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { jc.Close() })
	return jc, fray.WithJobContext(ctx, jc)
}

// --- registered functions -----------------------------------------------------------------

var (
	Square = fray.NewTask("raytest.square", func(ctx context.Context, x int) (int, error) { return x * x, nil })
	Fail   = fray.NewTask("raytest.fail", func(ctx context.Context, msg string) (int, error) {
		return 0, &AppError{Code: 7, Msg: msg}
	})
	Panic = fray.NewTask("raytest.panic", func(ctx context.Context, msg string) (int, error) { panic(msg) })
	PID   = fray.NewTask("raytest.pid", func(ctx context.Context, _ int) (int, error) { return os.Getpid(), nil })
	Env   = fray.NewTask("raytest.env", func(ctx context.Context, name string) (string, error) { return os.Getenv(name), nil })
	// SumSquares submits nested tasks and gets them: nested calls served by the shim.
	SumSquares = fray.NewTask("raytest.sumsquares", func(ctx context.Context, n int) (int, error) {
		refs := make([]fray.Ref[int], n)
		for i := range refs {
			r, err := Square.Remote(ctx, i)
			if err != nil {
				return 0, err
			}
			refs[i] = r
		}
		vs, err := fray.GetAll(ctx, refs)
		if err != nil {
			return 0, err
		}
		s := 0
		for _, v := range vs {
			s += v
		}
		return s, nil
	})
	// MakeRefs returns refs created inside the task (owned by its worker).
	MakeRefs = fray.NewTask("raytest.makerefs", func(ctx context.Context, n int) ([]fray.Ref[int], error) {
		out := make([]fray.Ref[int], n)
		for i := range out {
			r, err := Square.Remote(ctx, i+1)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	})
	// SumRefs gets refs it was handed inside its argument.
	SumRefs = fray.NewTask("raytest.sumrefs", func(ctx context.Context, refs []fray.Ref[int]) (int, error) {
		vs, err := fray.GetAll(ctx, refs)
		if err != nil {
			return 0, err
		}
		s := 0
		for _, v := range vs {
			s += v
		}
		return s, nil
	})
	Sleep = fray.NewTask("raytest.sleep", func(ctx context.Context, d time.Duration) (int, error) {
		select {
		case <-time.After(d):
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
)

// AppError is a registered application error type.
type AppError struct {
	Code int
	Msg  string
}

func (e *AppError) Error() string { return fmt.Sprintf("app error %d: %s", e.Code, e.Msg) }

func init() { fray.RegisterError[*AppError]("raytest.AppError") }

// --- tests ----------------------------------------------------------------------------------

func TestTasks(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	refs := make([]fray.Ref[int], 10)
	for i := range refs {
		r, err := Square.Remote(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		refs[i] = r
	}
	vs, err := fray.GetAll(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v != i*i {
			t.Fatalf("square(%d) = %d", i, v)
		}
	}
	// a top-level ref argument is resolved by Ray before the task runs
	r2, err := Square.RemoteRef(ctx, refs[3])
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r2.Get(ctx); err != nil || v != 81 {
		t.Fatalf("square(square(3)) = %d, %v", v, err)
	}
	// put then get, and a put value as a task argument
	p, err := fray.Put(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := p.Get(ctx); err != nil || v != 12 {
		t.Fatalf("put/get = %d, %v", v, err)
	}
	r3, err := Square.RemoteRef(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r3.Get(ctx); err != nil || v != 144 {
		t.Fatalf("square(put 12) = %d, %v", v, err)
	}
}

func TestTaskErrors(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	r, _ := Fail.Remote(ctx, "boom", fray.TaskOptions{MaxRetries: fray.Retries(0)})
	_, err := r.Get(ctx)
	var te *fray.TaskError
	var ae *AppError
	if !errors.As(err, &te) || !errors.As(err, &ae) || ae.Code != 7 || !errors.Is(err, fray.ErrTaskFailed) {
		t.Fatalf("want a TaskError wrapping *AppError, got %T %v", err, err)
	}
	// a dependent task fails with the same error without running
	r2, _ := Square.RemoteRef(ctx, fray.Ref[int](r))
	_, err = r2.Get(ctx)
	if !errors.As(err, &ae) || ae.Msg != "boom" {
		t.Fatalf("dependent: want the upstream *AppError, got %v", err)
	}
	r3, _ := Panic.Remote(ctx, "kaboom")
	_, err = r3.Get(ctx)
	if !errors.As(err, &te) || !te.Panic || !strings.Contains(te.Stack, "goroutine") {
		t.Fatalf("panic: want a TaskError with Panic and a stack, got %v", err)
	}
}

func TestNestedAndRefsInValues(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	// nested tasks with the cluster saturated: 6 parents on 4 CPUs, each waiting on children
	var parents []fray.Ref[int]
	for i := 0; i < 6; i++ {
		r, err := SumSquares.Remote(ctx, 5)
		if err != nil {
			t.Fatal(err)
		}
		parents = append(parents, r)
	}
	vs, err := fray.GetAll(ctx, parents)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v != 0+1+4+9+16 {
			t.Fatalf("sumsquares = %d", v)
		}
	}
	// refs created inside a task come back inside its result; the driver gets them
	outer, _ := MakeRefs.Remote(ctx, 4)
	inner, err := outer.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fray.GetAll(ctx, inner)
	if err != nil || fmt.Sprint(got) != "[1 4 9 16]" {
		t.Fatalf("refs from a task: %v, %v", got, err)
	}
	// ... and travel on, inside another task's argument, to a worker that never saw them
	s, _ := SumRefs.Remote(ctx, inner)
	if v, err := s.Get(ctx); err != nil || v != 30 {
		t.Fatalf("sumrefs(task refs) = %d, %v", v, err)
	}
	// driver-made refs inside an argument, and inside a Put value
	var mine []fray.Ref[int]
	for i := 1; i <= 3; i++ {
		r, _ := fray.Put(ctx, i*10)
		mine = append(mine, r)
	}
	s2, _ := SumRefs.Remote(ctx, mine)
	if v, err := s2.Get(ctx); err != nil || v != 60 {
		t.Fatalf("sumrefs(driver refs) = %d, %v", v, err)
	}
	boxed, _ := fray.Put(ctx, mine)
	s3, _ := SumRefs.RemoteRef(ctx, boxed)
	if v, err := s3.Get(ctx); err != nil || v != 60 {
		t.Fatalf("sumrefs(put of refs) = %d, %v", v, err)
	}
}

// TestShipWorkingDir runs tasks and an actor with the binary shipped through the job's
// runtime_env working_dir (the multi-node mode) instead of by path.
func TestShipWorkingDir(t *testing.T) {
	_, ctx := connect(t, ray.Options{Ship: ray.ShipWorkingDir, CacheDir: t.TempDir()})
	if v, err := Square.Call(ctx, 7); err != nil || v != 49 {
		t.Fatalf("square(7) = %d, %v", v, err)
	}
	h, err := CounterActor.Create(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := CounterAdd.Call(ctx, h, 2); err != nil || v != 3 {
		t.Fatalf("Add = %d, %v", v, err)
	}
}

// TestRegistryMismatch gives the workers another program (the benchmark, whose registry
// differs): the Go child refuses the handshake and the task fails saying why.
func TestRegistryMismatch(t *testing.T) {
	clusterAddress(t)
	other := filepath.Join(t.TempDir(), "other")
	build := exec.Command("go", "build", "-o", other, "./bench")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building another program: %v\n%s", err, out)
	}
	_, ctx := connect(t, ray.Options{Binary: other})
	_, err := Square.Call(ctx, 3, fray.TaskOptions{MaxRetries: fray.Retries(0)})
	if !errors.Is(err, fray.ErrTaskFailed) || !strings.Contains(err.Error(), "registry") {
		t.Fatalf("want a task error about the registry mismatch, got %v", err)
	}
}
