package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/osproc"
	"github.com/fray-go/fray/internal/wire"
)

// The test binary is the worker: TestMain calls fray.Init(), which serves when the binary
// was started by Start, and the tasks below are registered at package level in both.

type testErr struct{ Code int }

func (e *testErr) Error() string { return fmt.Sprintf("test error %d", e.Code) }

func init() { fray.RegisterError[*testErr]("worker_test.testErr") }

var (
	square = fray.NewTask("wtest.square", func(ctx context.Context, x int) (int, error) { return x * x, nil })
	fail   = fray.NewTask("wtest.fail", func(ctx context.Context, code int) (int, error) { return 0, &testErr{Code: code} })
	_      = fray.NewTask("wtest.panic", func(ctx context.Context, msg string) (int, error) { panic("boom: " + msg) })
	_      = fray.NewTask("wtest.info", func(ctx context.Context, _ int) (fray.TaskInfo, error) {
		info, _ := fray.TaskInfoFrom(ctx)
		return info, nil
	})
	// block announces itself with a nested Put, then waits for its ctx.
	_ = fray.NewTask("wtest.block", func(ctx context.Context, tag string) (int, error) {
		if _, err := fray.Put(ctx, tag); err != nil {
			return 0, err
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	_ = fray.NewTask("wtest.sleep", func(ctx context.Context, d time.Duration) (time.Duration, error) {
		select {
		case <-time.After(d):
			return d, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	_ = fray.NewTask("wtest.nested", func(ctx context.Context, x int) (int, error) {
		y, err := square.Call(ctx, x)
		if err != nil {
			return 0, err
		}
		r, err := fray.Put(ctx, y+1)
		if err != nil {
			return 0, err
		}
		ready, _, err := fray.WaitRefs(ctx, []fray.Ref[int]{r}, 1, fray.Forever)
		if err != nil || len(ready) != 1 {
			return 0, fmt.Errorf("wait: %v %v", ready, err)
		}
		return r.Get(ctx)
	})
	_ = fray.NewTask("wtest.nestedFail", func(ctx context.Context, x int) (int, error) {
		_, err := fail.Call(ctx, x)
		var te *testErr
		if errors.As(err, &te) {
			return te.Code, nil
		}
		return 0, fmt.Errorf("nested failure not rebuilt: %v", err)
	})
	_ = fray.NewTask("wtest.useActor", func(ctx context.Context, name string) (int, error) {
		h, err := counter.Create(ctx, 10, fray.ActorOptions{Name: name})
		if err != nil {
			return 0, err
		}
		if _, err := add.Call(ctx, h, 5); err != nil {
			return 0, err
		}
		h2, err := counter.Lookup(ctx, name, "")
		if err != nil {
			return 0, err
		}
		n, err := add.Call(ctx, h2, 1)
		if err != nil {
			return 0, err
		}
		return n, h2.Kill(ctx)
	})
	_ = fray.NewTask("wtest.bytes", func(ctx context.Context, n int) ([]byte, error) { return make([]byte, n), nil })
	_ = fray.NewTask("wtest.len", func(ctx context.Context, b []byte) (int, error) { return len(b), nil })
	_ = fray.NewTask("wtest.getenv", func(ctx context.Context, k string) (string, error) { return os.Getenv(k), nil })

	counter = fray.NewActor("wtest.Counter", func(ctx context.Context, start int) (*counterState, error) {
		if start < 0 {
			return nil, errors.New("negative start")
		}
		return &counterState{n: start}, nil
	})
	add = fray.NewMethod(counter, "Add", (*counterState).Add)
	// Append records arrival order and fails if two calls ever overlap.
	_ = fray.NewMethod(counter, "Append", (*counterState).Append)
	// Meet succeeds only if two calls run at the same time.
	_ = fray.NewMethod(counter, "Meet", (*counterState).Meet)
)

type counterState struct {
	n      int
	seen   []int
	inside atomic.Int32
	meet   chan struct{}
	once   sync.Once
}

func (c *counterState) Add(ctx context.Context, d int) (int, error) { c.n += d; return c.n, nil }

func (c *counterState) Append(ctx context.Context, x int) ([]int, error) {
	if c.inside.Add(1) != 1 {
		return nil, errors.New("two calls overlapped")
	}
	defer c.inside.Add(-1)
	time.Sleep(100 * time.Microsecond)
	c.seen = append(c.seen, x)
	return c.seen, nil
}

func (c *counterState) Meet(ctx context.Context, _ int) (bool, error) {
	c.once.Do(func() { c.meet = make(chan struct{}) })
	if c.inside.Add(1) == 2 {
		close(c.meet)
	}
	select {
	case <-c.meet:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// noInitEnv makes a worker of this binary play a program whose main creates a job context
// before calling fray.Init (TestMain calls CheckDriver first).
const noInitEnv = "FRAY_WORKER_TEST_NOINIT"

func TestMain(m *testing.M) {
	if os.Getenv(noInitEnv) != "" {
		CheckDriver("wtest.newJob")
	}
	fray.Init()
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	goleak.VerifyTestMain(m)
}

func start(t testing.TB, h backend.JobContext, mod ...func(*StartOptions)) *Process {
	t.Helper()
	o := StartOptions{Host: h, HandshakeTimeout: 20 * time.Second}
	for _, f := range mod {
		f(&o)
	}
	p, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := fray.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unmarshal[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := fray.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	p := start(t, newTestHost())
	if p.PID() == os.Getpid() || p.PID() <= 0 {
		t.Fatalf("pid %d", p.PID())
	}
	out, err := p.Run(context.Background(), "wtest.square", marshal(t, 7), fray.TaskInfo{TaskID: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := unmarshal[int](t, out); got != 49 {
		t.Fatalf("square(7) = %d", got)
	}
	out, err = p.Run(context.Background(), "wtest.info", marshal(t, 0), fray.TaskInfo{TaskID: "t2", Name: "n", Attempt: 2})
	if err != nil {
		t.Fatal(err)
	}
	info := unmarshal[fray.TaskInfo](t, out)
	want := fray.TaskInfo{JobID: "testjob", TaskID: "t2", Name: "n", Attempt: 2, PID: p.PID()}
	if info != want {
		t.Fatalf("task info in worker = %+v, want %+v", info, want)
	}
	if p.Digest() != backend.RegistryDigest() {
		t.Fatalf("digest %s", p.Digest())
	}
}

func TestConcurrentCalls(t *testing.T) {
	p := start(t, newTestHost())
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Run(context.Background(), "wtest.square", marshal(t, i), fray.TaskInfo{})
			if err != nil {
				errs <- err
				return
			}
			var v int
			if err := fray.Unmarshal(out, &v); err != nil || v != i*i {
				errs <- fmt.Errorf("square(%d) = %d (%v)", i, v, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestUnknownFunction(t *testing.T) {
	p := start(t, newTestHost())
	_, err := p.Run(context.Background(), "wtest.nope", marshal(t, 1), fray.TaskInfo{})
	if !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("err = %v, want ErrUnknownName", err)
	}
	_, err = p.Run(context.Background(), "wtest.Counter", marshal(t, 1), fray.TaskInfo{})
	if !errors.Is(err, fray.ErrUnknownName) || !strings.Contains(err.Error(), "actor class") {
		t.Fatalf("running an actor class as a task: %v", err)
	}
}

func TestNestedCallsServedByHost(t *testing.T) {
	h := newTestHost()
	p := start(t, h)
	out, err := p.Run(context.Background(), "wtest.nested", marshal(t, 5), fray.TaskInfo{TaskID: "outer"})
	if err != nil {
		t.Fatal(err)
	}
	if got := unmarshal[int](t, out); got != 26 {
		t.Fatalf("nested(5) = %d, want 26", got)
	}
	h.mu.Lock()
	submits := append([]fray.TaskInfo(nil), h.submits...)
	h.mu.Unlock()
	if len(submits) != 1 || submits[0].TaskID != "outer" || submits[0].PID != p.PID() {
		t.Fatalf("nested submit attributed to %+v, want task outer in pid %d", submits, p.PID())
	}
	out, err = p.Run(context.Background(), "wtest.nestedFail", marshal(t, 17), fray.TaskInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if got := unmarshal[int](t, out); got != 17 {
		t.Fatalf("registered error code through two boundaries = %d", got)
	}
}

func TestNestedActorsServedByHost(t *testing.T) {
	p := start(t, newTestHost())
	out, err := p.Run(context.Background(), "wtest.useActor", marshal(t, "counter-a"), fray.TaskInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if got := unmarshal[int](t, out); got != 16 {
		t.Fatalf("useActor = %d, want 16", got)
	}
}

func TestNestedWithoutHost(t *testing.T) {
	p := start(t, nil, func(o *StartOptions) { o.JobID = "j" })
	_, err := p.Run(context.Background(), "wtest.nested", marshal(t, 2), fray.TaskInfo{})
	if !errors.Is(err, fray.ErrUnsupported) || !strings.Contains(err.Error(), "Host") {
		t.Fatalf("err = %v, want an unsupported error naming StartOptions.Host", err)
	}
}

func TestTaskErrorAndPanic(t *testing.T) {
	p := start(t, newTestHost())
	_, err := p.Run(context.Background(), "wtest.fail", marshal(t, 3), fray.TaskInfo{TaskID: "f1"})
	var te *fray.TaskError
	if !errors.As(err, &te) || te.Task != "wtest.fail" || te.TaskID != "f1" || te.Panic {
		t.Fatalf("err = %#v", err)
	}
	var ce *testErr
	if !errors.As(err, &ce) || ce.Code != 3 {
		t.Fatalf("registered cause not rebuilt: %v", err)
	}
	_, err = p.Run(context.Background(), "wtest.panic", marshal(t, "x"), fray.TaskInfo{})
	if !errors.As(err, &te) || !te.Panic || te.Message != "boom: x" {
		t.Fatalf("panic err = %#v", err)
	}
	if !strings.Contains(te.Stack, "worker_test.go") || !strings.Contains(te.Stack, "panic") {
		t.Fatalf("remote stack lacks the panicking frame:\n%s", te.Stack)
	}
	// The process survives both.
	if _, err := p.Run(context.Background(), "wtest.square", marshal(t, 2), fray.TaskInfo{}); err != nil {
		t.Fatal(err)
	}
}

// startedHost signals when a task in the worker announces itself with a nested Put.
func startedHost() (*testHost, chan string) {
	h := newTestHost()
	ch := make(chan string, 16)
	h.onPut = func(b []byte) {
		var s string
		if fray.Unmarshal(b, &s) == nil {
			ch <- s
		}
	}
	return h, ch
}

func TestSIGKILLMidTask(t *testing.T) {
	h, started := startedHost()
	p := start(t, h)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Run(context.Background(), "wtest.block", marshal(t, "k"), fray.TaskInfo{})
		errc <- err
	}()
	<-started
	if err := osproc.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	var wd *fray.WorkerDiedError
	if !errors.As(err, &wd) || wd.Task != "wtest.block" || !strings.Contains(wd.Reason, "killed") {
		t.Fatalf("err = %v, want a WorkerDiedError for wtest.block naming the signal", err)
	}
	<-p.Done()
	if !errors.As(p.Err(), &wd) {
		t.Fatalf("Err() = %v", p.Err())
	}
	if _, err := p.Run(context.Background(), "wtest.square", marshal(t, 1), fray.TaskInfo{}); !errors.Is(err, fray.ErrWorkerDied) {
		t.Fatalf("call after death: %v", err)
	}
}

func TestCancel(t *testing.T) {
	h, started := startedHost()
	p := start(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Run(ctx, "wtest.block", marshal(t, "c"), fray.TaskInfo{TaskID: "c1"})
		errc <- err
	}()
	<-started
	cancel()
	err := <-errc
	var ce *fray.CancelledError
	if !errors.As(err, &ce) || ce.TaskID != "c1" {
		t.Fatalf("err = %v, want CancelledError for c1", err)
	}
	if _, err := p.Run(context.Background(), "wtest.square", marshal(t, 3), fray.TaskInfo{}); err != nil {
		t.Fatalf("process unusable after cancel: %v", err)
	}
}

func TestRegistryMismatch(t *testing.T) {
	extra := "task wtest.onlyInDriver(int) int"
	_, err := Start(context.Background(), StartOptions{helloHook: func(h *wire.Hello) {
		h.Manifest = append(append([]string{}, h.Manifest...), extra)
		h.Digest = wire.ManifestDigest(h.Manifest)
	}})
	var me *wire.RegistryMismatchError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want RegistryMismatchError", err)
	}
	if len(me.MissingInWorker) != 1 || me.MissingInWorker[0] != extra || len(me.MissingInParent) != 0 {
		t.Fatalf("mismatch = %+v", me)
	}
	if !strings.Contains(err.Error(), "missing in the worker: "+extra) {
		t.Fatalf("message does not name the function: %v", err)
	}
}

func TestHandshakeFailures(t *testing.T) {
	_, err := Start(context.Background(), StartOptions{Binary: "/bin/sleep", ExtraArgs: []string{"60"}, HandshakeTimeout: 200 * time.Millisecond})
	if !errors.Is(err, fray.ErrWorkerStart) || !strings.Contains(err.Error(), "no answer to the handshake") || !strings.Contains(err.Error(), "fray.Init()") {
		t.Fatalf("err = %v", err)
	}
	// An exit of its own before the handshake: the program never reached fray.Init.
	_, err = Start(context.Background(), StartOptions{Binary: "/bin/true"})
	var se *fray.WorkerStartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "exit status 0 before the handshake") || !strings.Contains(err.Error(), "fray.Init()") {
		t.Fatalf("err = %v", err)
	}
	// Killed by a signal while starting: a worker death (retried, restarted), no Init hint.
	_, err = Start(context.Background(), StartOptions{Binary: "/bin/sh", ExtraArgs: []string{"-c", "kill -KILL $$"}})
	var wd *fray.WorkerDiedError
	if !errors.As(err, &wd) || !errors.Is(err, fray.ErrWorkerDied) || !strings.Contains(err.Error(), "signal: killed while starting") || strings.Contains(err.Error(), "fray.Init") {
		t.Fatalf("err = %v (%T), want a *fray.WorkerDiedError", err, err)
	}
	// A main that creates a job context before fray.Init: the worker refuses and exits.
	_, err = Start(context.Background(), StartOptions{Env: []string{noInitEnv + "=1"}, Stderr: io.Discard})
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "wtest.newJob was called in a worker process before fray.Init()") {
		t.Fatalf("err = %v (%T), want a *fray.WorkerStartError naming fray.Init", err, err)
	}
	_, err = Start(context.Background(), StartOptions{Binary: "/nonexistent/fray-worker"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/fray-worker") {
		t.Fatalf("err = %v", err)
	}
}

func TestFrameLimits(t *testing.T) {
	p := start(t, newTestHost(), func(o *StartOptions) { o.MaxFrame = 64 << 10 })
	_, err := p.Run(context.Background(), "wtest.len", marshal(t, make([]byte, 100<<10)), fray.TaskInfo{})
	if !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("oversized argument: %v", err)
	}
	_, err = p.Run(context.Background(), "wtest.bytes", marshal(t, 100<<10), fray.TaskInfo{})
	if !errors.Is(err, fray.ErrSerialization) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized result: %v", err)
	}
	out, err := p.Run(context.Background(), "wtest.len", marshal(t, make([]byte, 1000)), fray.TaskInfo{})
	if err != nil || unmarshal[int](t, out) != 1000 {
		t.Fatalf("process unusable after refused frames: %v", err)
	}
}

func TestActors(t *testing.T) {
	p := start(t, newTestHost())
	ctx := context.Background()
	if err := p.CreateActor(ctx, "wtest.Counter", marshal(t, 1), "a1", 0, fray.TaskInfo{}); err != nil {
		t.Fatal(err)
	}
	out, err := p.CallActor(ctx, "a1", "wtest.Counter.Add", marshal(t, 2), fray.TaskInfo{})
	if err != nil || unmarshal[int](t, out) != 3 {
		t.Fatalf("Add: %v", err)
	}
	// One at a time: concurrent callers never overlap.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.CallActor(ctx, "a1", "wtest.Counter.Append", marshal(t, i), fray.TaskInfo{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// A constructor failure leaves no actor.
	err = p.CreateActor(ctx, "wtest.Counter", marshal(t, -1), "bad", 0, fray.TaskInfo{})
	if !errors.Is(err, fray.ErrTaskFailed) || !strings.Contains(err.Error(), "negative start") {
		t.Fatalf("constructor failure: %v", err)
	}
	if _, err := p.CallActor(ctx, "bad", "wtest.Counter.Add", marshal(t, 1), fray.TaskInfo{}); !errors.Is(err, fray.ErrActorDied) {
		t.Fatalf("call on failed actor: %v", err)
	}
	// With max concurrency 2, two calls run at once.
	if err := p.CreateActor(ctx, "wtest.Counter", marshal(t, 0), "a2", 2, fray.TaskInfo{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if _, err := p.CallActor(cctx, "a2", "wtest.Counter.Meet", marshal(t, 0), fray.TaskInfo{}); err != nil {
				t.Errorf("Meet with max concurrency 2: %v", err)
			}
		}()
	}
	wg.Wait()
	// Released actors are gone.
	if err := p.ReleaseActor("a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CallActor(ctx, "a1", "wtest.Counter.Add", marshal(t, 1), fray.TaskInfo{}); !errors.Is(err, fray.ErrActorDied) {
		t.Fatalf("call on released actor: %v", err)
	}
}

func TestCloseAndEnv(t *testing.T) {
	p := start(t, newTestHost(), func(o *StartOptions) { o.Env = []string{"FRAY_TEST_X=hello"} })
	out, err := p.Run(context.Background(), "wtest.getenv", marshal(t, "FRAY_TEST_X"), fray.TaskInfo{})
	if err != nil || unmarshal[string](t, out) != "hello" {
		t.Fatalf("env: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.Err() != nil {
		t.Fatalf("Err after Close = %v", p.Err())
	}
	if p.cmd.ProcessState.ExitCode() != ExitOK {
		t.Fatalf("exit status %v", p.cmd.ProcessState)
	}
	if _, err := p.Run(context.Background(), "wtest.square", marshal(t, 1), fray.TaskInfo{}); !errors.Is(err, fray.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}
