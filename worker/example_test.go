package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/worker"
)

// TestMain is where a worker process of this test binary serves: worker.Init exits the
// process there, and returns in the process running the tests.
func TestMain(m *testing.M) {
	worker.Init()
	os.Exit(m.Run())
}

// Double doubles a number in whatever process runs it.
var Double = fray.NewTask("worker_test.double", func(ctx context.Context, x int) (int, error) {
	return 2 * x, nil
})

// Tally is an actor that keeps a running total.
type Tally struct{ n int }

// NewTally is Tally's registered class.
var NewTally = fray.NewActor("worker_test.Tally", func(ctx context.Context, start int) (*Tally, error) {
	return &Tally{n: start}, nil
})

// Add adds to the total and returns it.
var Add = fray.NewMethod(NewTally, "Add", func(t *Tally, ctx context.Context, x int) (int, error) {
	t.n += x
	return t.n, nil
})

// Pid returns the process id of the process running it.
var Pid = fray.NewTask("worker_test.pid", func(ctx context.Context, _ int) (int, error) {
	return os.Getpid(), nil
})

func lookup(name string) *backend.Function {
	fn, ok := backend.LookupFunction(name)
	if !ok {
		log.Fatalf("%s is not registered", name)
	}
	return fn
}

func encode(v any) []byte {
	b, err := fray.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

// A backend runs a task and an actor in a worker process of its own binary.
func Example() {
	ctx := context.Background()
	p, err := worker.Start(ctx, worker.Options{Env: []string{"EXAMPLE=1"}})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	out, err := p.Run(ctx, lookup(Double.Name()), encode(21), backend.TaskInfo{TaskID: "t1", Name: "double"})
	if err != nil {
		log.Fatal(err)
	}
	var v int
	if err := fray.Unmarshal(out, &v); err != nil {
		log.Fatal(err)
	}
	fmt.Println("double(21) =", v)

	if err := p.CreateActor(ctx, lookup(NewTally.Name()), encode(10), "tally-1", 1, backend.TaskInfo{TaskID: "a1"}); err != nil {
		log.Fatal(err)
	}
	for _, x := range []int{1, 2} {
		out, err := p.CallActor(ctx, "tally-1", lookup("worker_test.Tally.Add"), encode(x), backend.TaskInfo{TaskID: fmt.Sprint("c", x)})
		if err != nil {
			log.Fatal(err)
		}
		_ = fray.Unmarshal(out, &v)
		fmt.Println("tally =", v)
	}
	// Output:
	// double(21) = 42
	// tally = 11
	// tally = 13
}

func TestRunsInAnotherProcess(t *testing.T) {
	ctx := context.Background()
	p, err := worker.Start(ctx, worker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out, err := p.Run(ctx, lookup(Pid.Name()), encode(0), backend.TaskInfo{TaskID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := fray.Unmarshal(out, &pid); err != nil {
		t.Fatal(err)
	}
	if pid != p.PID() || pid == os.Getpid() {
		t.Fatalf("task ran in process %d; worker is %d, driver %d", pid, p.PID(), os.Getpid())
	}
}

func TestKillIsWorkerDied(t *testing.T) {
	ctx := context.Background()
	p, err := worker.Start(ctx, worker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Kill()
	<-p.Done()
	if err := p.Err(); !errors.Is(err, fray.ErrWorkerDied) {
		t.Fatalf("Err after Kill = %v, want fray.ErrWorkerDied", err)
	}
	_, err = p.Run(ctx, lookup(Double.Name()), encode(1), backend.TaskInfo{TaskID: "t"})
	var wd *fray.WorkerDiedError
	if !errors.As(err, &wd) {
		t.Fatalf("Run on a killed worker = %v, want *fray.WorkerDiedError", err)
	}
}

func TestStartFailsForAProgramWithoutInit(t *testing.T) {
	// /bin/true exits at once without speaking the protocol: a start error, not a death.
	_, err := worker.Start(context.Background(), worker.Options{Binary: "/bin/true"})
	if !errors.Is(err, fray.ErrWorkerStart) {
		t.Fatalf("Start of /bin/true = %v, want fray.ErrWorkerStart", err)
	}
}

func TestCloseEndsCallsWithErrClosed(t *testing.T) {
	ctx := context.Background()
	p, err := worker.Start(ctx, worker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(ctx, lookup(Double.Name()), encode(1), backend.TaskInfo{}); !errors.Is(err, fray.ErrClosed) {
		t.Fatalf("Run after Close = %v, want fray.ErrClosed", err)
	}
	if p.Err() != nil {
		t.Fatalf("Err after Close = %v, want nil", p.Err())
	}
}

// Where reports what a task sees of its process: a variable, the working directory, and it
// prints a line to standard output.
var Where = fray.NewTask("worker_test.where", func(ctx context.Context, key string) ([2]string, error) {
	dir, err := os.Getwd()
	fmt.Println("hello from the worker")
	return [2]string{os.Getenv(key), dir}, err
})

// syncBuffer is a bytes.Buffer safe for the worker's output copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestOptionsReachTheProcess(t *testing.T) {
	dir := t.TempDir()
	var out syncBuffer
	ctx := context.Background()
	p, err := worker.Start(ctx, worker.Options{Env: []string{"WORKER_TEST_KEY=one", "WORKER_TEST_KEY=two"}, Dir: dir, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Run(ctx, lookup(Where.Name()), encode("WORKER_TEST_KEY"), backend.TaskInfo{TaskID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil { // the output copier is done once the process exited
		t.Fatal(err)
	}
	var got [2]string
	if err := fray.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got[0] != "two" {
		t.Errorf("WORKER_TEST_KEY in the worker = %q, want the later entry's %q", got[0], "two")
	}
	if want, _ := filepath.EvalSymlinks(dir); got[1] != dir && got[1] != want {
		t.Errorf("working directory = %q, want %q", got[1], dir)
	}
	if !strings.Contains(out.String(), "hello from the worker") {
		t.Errorf("Options.Stdout got %q, want the task's line", out.String())
	}
	if os.Getenv("WORKER_TEST_KEY") != "" {
		t.Error("Options.Env leaked into the parent")
	}
}

func TestIsWorkerInTheDriver(t *testing.T) {
	if worker.IsWorker() {
		t.Fatal("IsWorker is true in the process running the tests")
	}
}
