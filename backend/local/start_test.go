package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/internal/osproc"
)

// Worker processes that fail while starting. TestMain runs startHooks before fray.Init, so
// a worker process of this test binary can play a program whose main forgets fray.Init
// (noInitEnv), one that stalls before the handshake until the test kills it (stallEnv), or
// one that exits before reaching fray.Init (exitEnv).
const (
	noInitEnv = "FRAY_LOCAL_TEST_NOINIT" // a token dir: run noInitMain instead of TestMain
	stallEnv  = "FRAY_LOCAL_TEST_STALL"  // "dir:N": the first N workers stall before Init
	exitEnv   = "FRAY_LOCAL_TEST_EXIT"   // a dir: workers note their pid there and exit 7
)

// PAttempt returns the attempt number of its run.
var PAttempt = fray.NewTask("localtest.attempt", func(ctx context.Context, _ int) (int, error) {
	info, _ := fray.TaskInfoFrom(ctx)
	return info.Attempt, nil
})

// startHooks runs first in TestMain, before fray.Init.
func startHooks() {
	if dir := os.Getenv(noInitEnv); dir != "" {
		os.Exit(noInitMain(dir))
	}
	if !fray.IsWorker() {
		return
	}
	if v := os.Getenv(stallEnv); v != "" {
		i := strings.LastIndexByte(v, ':')
		dir := v[:i]
		n, _ := strconv.Atoi(v[i+1:])
		for k := range n {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("stall-%d", k)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				continue // another worker stalled as number k
			}
			fmt.Fprint(f, os.Getpid())
			f.Close()
			for { // until the test kills this process (select{} would be a detected deadlock)
				time.Sleep(time.Hour)
			}
		}
	}
	if dir := os.Getenv(exitEnv); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("exit-%d", os.Getpid())), nil, 0o644)
		os.Exit(7)
	}
}

// noInitMain is a program whose main forgets fray.Init: it runs a task in a worker process
// (this binary again, which runs noInitMain again) and writes what Get returned to
// dir/result.
func noInitMain(dir string) int {
	jc, err := local.New(local.Options{Isolation: local.IsolateProcess})
	if err != nil {
		_ = os.WriteFile(filepath.Join(dir, "result"), []byte("local.New: "+err.Error()), 0o644)
		return 1
	}
	defer jc.Close()
	ctx, cancel := context.WithTimeout(fray.WithJobContext(context.Background(), jc), 2*time.Minute)
	defer cancel()
	_, err = PAttempt.Call(ctx, 0)
	res := fmt.Sprintf("ErrWorkerStart=%v\n%v", errors.Is(err, fray.ErrWorkerStart), err)
	_ = os.WriteFile(filepath.Join(dir, "result"), []byte(res), 0o644)
	return 0
}

// processesWith lists the pids of processes whose environment holds entry.
func processesWith(entry string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(b, []byte{0}) {
			if string(kv) == entry {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// TestWorkerWithoutInitFailsFast: a program whose main does not call fray.Init must not
// multiply. Its worker (the same program) reaches local.New, which must refuse at once and
// exit; the driver reports a *fray.WorkerStartError naming fray.Init, and at no time do more
// than the driver and its one worker exist. Before the fix every worker ran main again and
// started the next worker, and the driver failed only after the 30 s handshake timeout.
func TestWorkerWithoutInitFailsFast(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	entry := noInitEnv + "=" + dir
	t.Cleanup(func() { // whatever is left of a fork chain started by this test
		for range 50 {
			pids := processesWith(entry)
			if len(pids) == 0 {
				return
			}
			for _, pid := range pids {
				_ = osproc.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), entry)
	var out bytes.Buffer
	cmd.Stderr = &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	most := 0
	deadline := time.After(3 * time.Minute)
wait:
	for {
		if n := len(processesWith(entry)); n > most {
			most = n
		}
		if most > 2 {
			t.Errorf("%d processes of the program run at once; want at most the driver and one worker", most)
			_ = cmd.Process.Kill()
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("driver: %v", err)
			}
			break wait
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("the driver did not finish within 3 minutes; stderr:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Logf("driver finished after %v; at most %d processes", time.Since(start).Round(time.Millisecond), most)
	res, err := os.ReadFile(filepath.Join(dir, "result"))
	if err != nil {
		t.Fatalf("no result: %v; stderr:\n%s", err, out.String())
	}
	if !strings.HasPrefix(string(res), "ErrWorkerStart=true") || !strings.Contains(string(res), "local.New was called in a worker process before fray.Init()") {
		t.Errorf("Get returned %q; want a *fray.WorkerStartError saying local.New ran before fray.Init()", res)
	}
	if !strings.Contains(out.String(), "local.New was called in a worker process before fray.Init()") {
		t.Errorf("the worker's stderr does not say why it exited:\n%s", out.String())
	}
	// Nothing of the program is left running.
	for i := 0; len(processesWith(entry)) > 0; i++ {
		if i == 300 {
			t.Fatalf("processes %v of the program still run after the driver exited", processesWith(entry))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killStalled SIGKILLs the first n workers that stall before the handshake in dir, as they
// come, and returns when it has.
func killStalled(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for k := range n {
		name := filepath.Join(dir, fmt.Sprintf("stall-%d", k))
		for {
			b, err := os.ReadFile(name)
			if pid, perr := strconv.Atoi(string(b)); err == nil && perr == nil {
				if err := osproc.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill stalled worker %d: %v", pid, err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("worker %d never stalled before the handshake", k)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestWorkerKilledWhileStarting: a worker SIGKILLed before it completes the handshake is a
// worker death like any other: MaxRetries retries the task, MaxRestarts restarts the actor,
// and without retries Get returns a *fray.WorkerDiedError (not a hint about fray.Init: the
// worker did not exit on its own). Before the fix the task failed for good with an untyped
// error suggesting fray.Init, and the actor died.
func TestWorkerKilledWhileStarting(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	ctx = testCtx(t, ctx)

	t.Run("retried", func(t *testing.T) {
		dir := t.TempDir()
		ref, err := PAttempt.Remote(ctx, 0, fray.TaskOptions{MaxRetries: fray.Retries(5),
			RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{stallEnv: dir + ":2"}}})
		if err != nil {
			t.Fatal(err)
		}
		killStalled(t, dir, 2)
		attempt, err := ref.Get(ctx)
		if err != nil {
			t.Fatalf("Get: %v (%T)", err, err)
		}
		if attempt != 2 {
			t.Errorf("the task ran as attempt %d; want 2 (after two workers were killed while starting)", attempt)
		}
	})

	t.Run("no retries", func(t *testing.T) {
		dir := t.TempDir()
		ref, err := PAttempt.Remote(ctx, 0, fray.TaskOptions{MaxRetries: fray.Retries(0),
			RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{stallEnv: dir + ":1"}}})
		if err != nil {
			t.Fatal(err)
		}
		killStalled(t, dir, 1)
		_, err = ref.Get(ctx)
		var wd *fray.WorkerDiedError
		if !errors.Is(err, fray.ErrWorkerDied) || !errors.As(err, &wd) {
			t.Fatalf("Get: %v (%T); want a *fray.WorkerDiedError", err, err)
		}
		if strings.Contains(err.Error(), "fray.Init") || !strings.Contains(err.Error(), "killed") {
			t.Errorf("error %q should say the worker was killed, and not suggest fray.Init", err)
		}
	})

	t.Run("actor restarts", func(t *testing.T) {
		dir := t.TempDir()
		h, err := PCounter.Create(ctx, 0, fray.ActorOptions{MaxRestarts: 1,
			RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{stallEnv: dir + ":1"}}})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := PAdd.Remote(ctx, h, 5) // queued while the actor starts
		if err != nil {
			t.Fatal(err)
		}
		killStalled(t, dir, 1)
		if v, err := ref.Get(ctx); err != nil || v != 5 {
			t.Fatalf("call queued during the killed start = %d, %v; want 5 from the restarted actor", v, err)
		}
	})
}

// TestWorkerExitingBeforeInitIsNotRetried: a worker that exits on its own before the
// handshake never reached fray.Init: a *fray.WorkerStartError that suggests it, and no
// retry (every retry would exit the same way).
func TestWorkerExitingBeforeInitIsNotRetried(t *testing.T) {
	_, ctx := newJob(t, local.Options{})
	ctx = testCtx(t, ctx)
	dir := t.TempDir()
	_, err := PAttempt.Call(ctx, 0, fray.TaskOptions{MaxRetries: fray.Retries(3),
		RuntimeEnv: fray.RuntimeEnv{Env: map[string]string{exitEnv: dir}}})
	var se *fray.WorkerStartError
	if !errors.Is(err, fray.ErrWorkerStart) || !errors.As(err, &se) {
		t.Fatalf("Get: %v (%T); want a *fray.WorkerStartError", err, err)
	}
	if !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(err.Error(), "fray.Init()") {
		t.Errorf("error %q should give the exit status and suggest fray.Init()", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d workers started; want 1 (no retry for a worker that exits before fray.Init)", len(ents))
	}
}
