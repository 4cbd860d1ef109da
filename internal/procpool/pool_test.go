package procpool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/internal/osproc"
)

// The test binary is the worker (TestMain calls fray.Init()).

type counterState struct{ n int }

var (
	_ = fray.NewTask("ptest.pid", func(ctx context.Context, _ int) (int, error) { return os.Getpid(), nil })
	_ = fray.NewTask("ptest.square", func(ctx context.Context, x int) (int, error) { return x * x, nil })
	_ = fray.NewTask("ptest.fail", func(ctx context.Context, _ int) (int, error) { return 0, errors.New("failed on purpose") })
	_ = fray.NewTask("ptest.getenv", func(ctx context.Context, k string) (string, error) { return os.Getenv(k), nil })
	// sh runs a shell command and returns its combined output.
	_ = fray.NewTask("ptest.sh", func(ctx context.Context, script string) (string, error) {
		out, err := exec.CommandContext(ctx, "sh", "-c", script).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		return strings.TrimSpace(string(out)), nil
	})
	// block writes its pid to the file named by its argument, then waits for its ctx.
	_ = fray.NewTask("ptest.block", func(ctx context.Context, path string) (int, error) {
		if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return 0, err
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	pcounter = fray.NewActor("ptest.Counter", func(ctx context.Context, start int) (*counterState, error) {
		if start < 0 {
			return nil, errors.New("negative start")
		}
		return &counterState{n: start}, nil
	})
	_ = fray.NewMethod(pcounter, "Add", func(c *counterState, ctx context.Context, d int) (int, error) { c.n += d; return c.n, nil })
)

const helperEnv = "FRAY_PROCPOOL_TEST_HELPER"

func TestMain(m *testing.M) {
	fray.Init()
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	goleak.VerifyTestMain(m)
}

func newPool(t testing.TB, mod ...func(*Options)) *Pool {
	t.Helper()
	o := Options{JobID: "ptest", CacheDir: t.TempDir()}
	for _, f := range mod {
		f(&o)
	}
	p := New(o)
	t.Cleanup(func() { p.Close() })
	return p
}

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := fray.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func run[T any](t testing.TB, p *Pool, s Spec) T {
	t.Helper()
	out, err := p.Run(context.Background(), s)
	if err != nil {
		t.Fatalf("%s: %v", s.Function, err)
	}
	var v T
	if err := fray.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func gone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for !errors.Is(osproc.Kill(pid, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func TestReuse(t *testing.T) {
	p := newPool(t)
	s := Spec{Function: "ptest.pid", Arg: enc(t, 0)}
	a, b := run[int](t, p, s), run[int](t, p, s)
	if a != b || a == os.Getpid() {
		t.Fatalf("pids %d, %d (driver %d): want one reused worker", a, b, os.Getpid())
	}
	if st := p.Stats(); st.Started != 1 || st.Idle != 1 || st.Busy != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxCalls(t *testing.T) {
	p := newPool(t)
	s := Spec{Function: "ptest.pid", Arg: enc(t, 0), MaxCalls: 2}
	var pids []int
	for range 4 {
		pids = append(pids, run[int](t, p, s))
	}
	if pids[0] != pids[1] || pids[2] != pids[3] || pids[1] == pids[2] {
		t.Fatalf("pids %v: want two calls per worker process", pids)
	}
	if !gone(pids[0], 30*time.Second) {
		t.Fatalf("retired worker %d still running", pids[0])
	}
	// Failures count too.
	f := Spec{Function: "ptest.fail", Arg: enc(t, 0), MaxCalls: 1}
	if _, err := p.Run(context.Background(), f); !errors.Is(err, fray.ErrTaskFailed) {
		t.Fatalf("err = %v", err)
	}
	s.MaxCalls = 1
	x, y := run[int](t, p, s), run[int](t, p, s)
	if x == y {
		t.Fatalf("MaxCalls 1 reused pid %d", x)
	}
}

func TestRuntimeEnvVars(t *testing.T) {
	p := newPool(t)
	env := fray.RuntimeEnv{Env: map[string]string{"FRAY_PT_X": "from-env", "HOME": "/tmp/fray-home"}}
	if got := run[string](t, p, Spec{Function: "ptest.getenv", Arg: enc(t, "FRAY_PT_X"), Env: env}); got != "from-env" {
		t.Fatalf("os.Getenv in task = %q", got)
	}
	if got := run[string](t, p, Spec{Function: "ptest.sh", Arg: enc(t, "echo $FRAY_PT_X:$HOME"), Env: env}); got != "from-env:/tmp/fray-home" {
		t.Fatalf("command started by the task sees %q", got)
	}
	if os.Getenv("FRAY_PT_X") != "" {
		t.Fatal("the driver's environment changed")
	}
	if got := run[string](t, p, Spec{Function: "ptest.getenv", Arg: enc(t, "FRAY_PT_X")}); got != "" {
		t.Fatalf("a task without the env got a process with it: %q", got)
	}
	if st := p.Stats(); st.Started != 2 {
		t.Fatalf("started %d processes, want one per environment", st.Started)
	}
}

func TestGPUIDsInEnvironment(t *testing.T) {
	p := newPool(t)
	script := "echo ${CUDA_VISIBLE_DEVICES-unset}"
	tests := []struct {
		ids  []int
		want string
	}{
		{[]int{1, 3}, "1,3"},
		{[]int{0}, "0"},
		{[]int{}, ""},
	}
	for _, tc := range tests {
		if got := run[string](t, p, Spec{Function: "ptest.sh", Arg: enc(t, script), GPUIDs: tc.ids}); got != tc.want {
			t.Errorf("GPUIDs %v: CUDA_VISIBLE_DEVICES = %q, want %q", tc.ids, got, tc.want)
		}
	}
}

func TestGPUSet(t *testing.T) {
	g := NewGPUSet(4)
	type step struct {
		amount float64
		want   []int
		fail   bool
	}
	steps := []step{
		{0.5, []int{0}, false},
		{0.25, []int{0}, false}, // the fullest GPU that fits
		{2, []int{1, 2}, false},
		{0.5, []int{3}, false}, // GPU 0 has only 0.25 left
		{1, nil, true},         // no GPU entirely free
		{0.25, []int{0}, false},
		{5, nil, true}, // more than exist
		{0, []int{}, false},
	}
	var grants []GPUGrant
	for i, s := range steps {
		gr, err := g.Assign(s.amount)
		if s.fail {
			if err == nil {
				t.Fatalf("step %d: Assign(%g) = %v, want an error", i, s.amount, gr.IDs)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(gr.IDs, s.want) {
			t.Fatalf("step %d: Assign(%g) = %v, %v; want %v", i, s.amount, gr.IDs, err, s.want)
		}
		grants = append(grants, gr)
	}
	if _, err := g.Assign(5); !errors.Is(err, fray.ErrInfeasible) {
		t.Fatalf("Assign(5) of 4: %v", err)
	}
	if _, err := g.Assign(1.5); !errors.Is(err, fray.ErrInvalidResources) {
		t.Fatalf("Assign(1.5): %v", err)
	}
	for _, gr := range grants {
		g.Release(gr)
	}
	if free := g.Free(); !reflect.DeepEqual(free, []float64{1, 1, 1, 1}) {
		t.Fatalf("free after release = %v", free)
	}
	if got := CUDAVisibleDevices([]int{2, 0}); got != "2,0" {
		t.Fatal(got)
	}
}

func TestKeys(t *testing.T) {
	e1 := fray.RuntimeEnv{Env: map[string]string{"A": "1"}, PackageRequirements: []string{"b", "a"}}
	e2 := fray.RuntimeEnv{Env: map[string]string{"A": "1"}, PackageRequirements: []string{"a", "b", "a"}}
	if KeyOf(e1, nil, 0) != KeyOf(e2, nil, 0) || RequirementsHash(e1.PackageRequirements) != RequirementsHash(e2.PackageRequirements) {
		t.Fatal("requirement order or duplicates changed the key")
	}
	distinct := []Key{
		KeyOf(e1, nil, 0), KeyOf(e1, []int{}, 0), KeyOf(e1, []int{0}, 0), KeyOf(e1, nil, 1),
		KeyOf(fray.RuntimeEnv{Env: map[string]string{"A": "2"}}, nil, 0), KeyOf(fray.RuntimeEnv{}, nil, 0),
	}
	seen := map[Key]int{}
	for i, k := range distinct {
		if j, ok := seen[k]; ok {
			t.Fatalf("keys %d and %d collide", j, i)
		}
		seen[k] = i
	}
}

// waitFile polls for a file the block task writes and returns its content as a pid.
func waitFile(t testing.TB, path string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			pid, err := strconv.Atoi(string(b))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("task never wrote %s", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A worker SIGKILLed mid-task fails that task with WorkerDiedError; the driver and the pool
// carry on with a fresh process.
func TestCrashIsolation(t *testing.T) {
	p := newPool(t)
	path := filepath.Join(t.TempDir(), "pid")
	errc := make(chan error, 1)
	go func() {
		_, err := p.Run(context.Background(), Spec{Function: "ptest.block", Arg: enc(t, path)})
		errc <- err
	}()
	pid := waitFile(t, path)
	if err := osproc.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	var wd *fray.WorkerDiedError
	if !errors.As(err, &wd) || wd.Task != "ptest.block" || !strings.Contains(wd.Reason, "killed") {
		t.Fatalf("err = %v", err)
	}
	if got := run[int](t, p, Spec{Function: "ptest.square", Arg: enc(t, 9)}); got != 81 {
		t.Fatal(got)
	}
	if npid := run[int](t, p, Spec{Function: "ptest.pid", Arg: enc(t, 0)}); npid == pid {
		t.Fatal("dead worker reused")
	}
}

func TestIdleReaping(t *testing.T) {
	p := newPool(t, func(o *Options) { o.IdleTimeout = 50 * time.Millisecond })
	pid := run[int](t, p, Spec{Function: "ptest.pid", Arg: enc(t, 0)})
	if !gone(pid, 30*time.Second) {
		t.Fatalf("idle worker %d not reaped", pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Idle != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := p.Stats(); st.Idle != 0 {
		t.Fatalf("stats after reaping: %+v", st)
	}
}

func TestCloseKillsBusyWorkers(t *testing.T) {
	p := New(Options{JobID: "ptest", CacheDir: t.TempDir()})
	path := filepath.Join(t.TempDir(), "pid")
	errc := make(chan error, 1)
	go func() {
		_, err := p.Run(context.Background(), Spec{Function: "ptest.block", Arg: enc(t, path)})
		errc <- err
	}()
	pid := waitFile(t, path)
	p.Close()
	if err := <-errc; !errors.Is(err, fray.ErrClosed) {
		t.Fatalf("in-flight call after Close: %v", err)
	}
	if !gone(pid, 10*time.Second) {
		t.Fatalf("worker %d survived Close", pid)
	}
	if _, err := p.Run(context.Background(), Spec{Function: "ptest.pid", Arg: enc(t, 0)}); !errors.Is(err, fray.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestActors(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	died := make(chan error, 1)
	a, err := p.StartActor(ctx, ActorSpec{Class: "ptest.Counter", Arg: enc(t, 5), ID: "a1",
		Env: fray.RuntimeEnv{Env: map[string]string{"K": "v"}}, OnDeath: func(err error) { died <- err }})
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Call(ctx, "ptest.Counter.Add", enc(t, 2), fray.TaskInfo{})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if fray.Unmarshal(out, &n); n != 7 {
		t.Fatalf("Add = %d", n)
	}
	a.Kill()
	var wd *fray.WorkerDiedError
	if err := <-died; !errors.As(err, &wd) || !strings.Contains(err.Error(), "a1") {
		t.Fatalf("OnDeath got %v", err)
	}
	<-a.Done()
	if _, err := a.Call(ctx, "ptest.Counter.Add", enc(t, 1), fray.TaskInfo{}); !errors.Is(err, fray.ErrWorkerDied) {
		t.Fatalf("call on dead actor: %v", err)
	}
	// Closing is not a death.
	b, err := p.StartActor(ctx, ActorSpec{Class: "ptest.Counter", Arg: enc(t, 0), ID: "b", OnDeath: func(err error) { died <- err }})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	select {
	case err := <-died:
		t.Fatalf("OnDeath after Close: %v", err)
	default:
	}
	// A failing constructor is returned and leaves nothing running.
	if _, err := p.StartActor(ctx, ActorSpec{Class: "ptest.Counter", Arg: enc(t, -1), ID: "c"}); !errors.Is(err, fray.ErrTaskFailed) {
		t.Fatalf("constructor failure: %v", err)
	}
	if st := p.Stats(); st.Actors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func runHelper() int {
	p := New(Options{JobID: "helper"})
	l, err := p.Acquire(context.Background(), fray.RuntimeEnv{}, nil, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(l.Process().PID())
	select {}
}

// The driver is SIGKILLed while it holds a pool worker: the worker must go too.
func TestWorkerDiesWithDriver(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	if err := osproc.Kill(pid, 0); err != nil {
		t.Fatalf("worker %d not running: %v", pid, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !gone(pid, 30*time.Second) {
		osproc.Kill(pid, syscall.SIGKILL)
		t.Fatalf("worker %d outlived its SIGKILLed driver", pid)
	}
}

func TestPipFailure(t *testing.T) {
	p := newPool(t)
	_, err := p.Run(context.Background(), Spec{Function: "ptest.pid", Arg: enc(t, 0),
		Env: fray.RuntimeEnv{PackageRequirements: []string{"this is not a requirement!"}}})
	var re *fray.RuntimeEnvError
	if !errors.As(err, &re) || !strings.Contains(re.Detail, "pip install") || !strings.Contains(strings.ToLower(re.Detail), "invalid requirement") {
		t.Fatalf("err = %v, want a RuntimeEnvError carrying pip's output", err)
	}
}

// A real pip package: concurrent first uses build the virtualenv once; the task's commands
// run the virtualenv's python, which imports the package.
func TestPipRuntimeEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("installs a package with pip")
	}
	p := newPool(t)
	buildCount.Lock()
	before := buildCount.n
	buildCount.Unlock()
	env := fray.RuntimeEnv{PackageRequirements: []string{"six==1.16.0"}}
	script := `python -c "import six, sys; print(six.__version__, sys.prefix)" && echo "$VIRTUAL_ENV" && echo "$PATH"`
	var wg sync.WaitGroup
	outs := make([]string, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = run[string](t, p, Spec{Function: "ptest.sh", Arg: enc(t, script), Env: env})
		}()
	}
	wg.Wait()
	buildCount.Lock()
	builds := buildCount.n - before
	buildCount.Unlock()
	if builds != 1 {
		t.Fatalf("virtualenv built %d times, want once", builds)
	}
	venv := filepath.Join(p.o.CacheDir, RequirementsHash(env.PackageRequirements))
	for _, out := range outs {
		lines := strings.Split(out, "\n")
		if len(lines) != 3 || lines[0] != "1.16.0 "+venv || lines[1] != venv || !strings.HasPrefix(lines[2], filepath.Join(venv, "bin")+":") {
			t.Fatalf("task output:\n%s\nwant six 1.16.0 from %s, VIRTUAL_ENV and PATH leading with its bin", out, venv)
		}
	}
	if _, err := os.Stat(filepath.Join(venv, readyMarker)); err != nil {
		t.Fatal(err)
	}
}
