package ray_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/osproc"
	"go.uber.org/goleak"
)

// runHelper is the test binary re-executed as a second driver program (helperEnv set).
func runHelper(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	jc, err := ray.Connect(ctx, ray.Options{Address: os.Getenv("RAY_ADDRESS"),
		Namespace: os.Getenv("FRAY_RAY_TEST_NS"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		return 1
	}
	ctx = fray.WithJobContext(ctx, jc)
	name := os.Getenv("FRAY_RAY_TEST_NAME")
	opts := fray.ActorOptions{Name: name}
	if mode == "detached" {
		opts.Lifetime = fray.Detached
	}
	h, err := CounterActor.Create(ctx, 41, opts)
	if err == nil {
		_, err = CounterAdd.Call(ctx, h, 1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "actor:", err)
		return 1
	}
	fmt.Println("ready")
	switch mode {
	case "detached":
		jc.Close() // the job ends; the detached actor lives on
		return 0
	case "scoped":
		_, _ = io.Copy(io.Discard, os.Stdin) // the test kills this process
		return 0
	}
	return 2
}

// startHelper runs the test binary as another driver and waits for its "ready" line.
func startHelper(t *testing.T, mode, ns, name string) *exec.Cmd {
	t.Helper()
	clusterAddress(t) // skip (or, under CI, fail) before starting a driver without a cluster
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "FRAY_RAY_TEST_NS="+ns, "FRAY_RAY_TEST_NAME="+name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper %s: %q, %v", mode, line, err)
	}
	return cmd
}

func TestDetachedActorOutlivesItsDriver(t *testing.T) {
	ns := fmt.Sprintf("raytest-detached-%d", time.Now().UnixNano())
	cmd := startHelper(t, "detached", ns, "keeper")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("first driver: %v", err)
	}
	_, ctx := connect(t, ray.Options{Namespace: ns})
	h, err := CounterActor.Lookup(ctx, "keeper", "")
	if err != nil {
		t.Fatalf("second driver cannot find the detached actor: %v", err)
	}
	defer h.Kill(ctx) // detached actors must be killed
	if v, err := CounterAdd.Call(ctx, h, 1); err != nil || v != 43 {
		t.Fatalf("detached actor state: %d, %v (want 43)", v, err)
	}
}

func TestJobScopedActorDiesWithItsDriver(t *testing.T) {
	ns := fmt.Sprintf("raytest-scoped-%d", time.Now().UnixNano())
	cmd := startHelper(t, "scoped", ns, "mortal")
	_, ctx := connect(t, ray.Options{Namespace: ns})
	h, err := CounterActor.Lookup(ctx, "mortal", "")
	if err != nil {
		t.Fatalf("second driver cannot find the actor: %v", err)
	}
	if v, err := CounterAdd.Call(ctx, h, 1); err != nil || v != 43 {
		t.Fatalf("actor state: %d, %v", v, err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL) // the first driver dies hard
	_ = cmd.Wait()
	// Ray ends the job once its driver is gone; calls then fail with ErrActorDied.
	for i := 0; ; i++ {
		_, err = CounterAdd.Call(ctx, h, 1)
		if errors.Is(err, fray.ErrActorDied) {
			break
		}
		if err != nil || i == 60 {
			t.Fatalf("after its driver died: want ErrActorDied, got %v", err)
		}
		time.Sleep(time.Second)
	}
	if _, err := CounterActor.Lookup(ctx, "mortal", ""); !errors.Is(err, fray.ErrUnknownName) {
		t.Fatalf("Lookup after the job ended: want ErrUnknownName, got %v", err)
	}
}

func TestBridgeDeath(t *testing.T) {
	jc, ctx := connect(t, ray.Options{})
	r, err := Sleep.Remote(ctx, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := r.Get(ctx); errc <- err }()
	if err := osproc.Kill(jc.BridgePID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-errc // bounded by ctx (3 minutes) as a safety net: a hang fails with ctx's error
	var be *ray.BridgeError
	if !errors.As(err, &be) || !errors.Is(err, fray.ErrClosed) {
		t.Fatalf("pending Get after the bridge died: want *ray.BridgeError, got %v", err)
	}
	if _, err := Square.Remote(ctx, 2); !errors.As(err, &be) {
		t.Fatalf("submit after the bridge died: want *ray.BridgeError, got %v", err)
	}
	if err := jc.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	clusterAddress(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx0, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	jc, err := ray.Connect(ctx0, ray.Options{Address: os.Getenv("RAY_ADDRESS"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := fray.WithJobContext(ctx0, jc)
	if v, err := Square.Call(ctx, 4); err != nil || v != 16 {
		t.Fatalf("square: %d, %v", v, err)
	}
	r, _ := Sleep.Remote(ctx, time.Minute)
	short, c2 := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = r.Get(short) // abandoned Get: the bridge is told to stop waiting
	c2()
	if !errors.Is(err, fray.ErrTimeout) {
		t.Fatalf("short Get: want ErrTimeout, got %v", err)
	}
	for i := 0; i < 100; i++ { // refs that die just before Close: their release must not linger
		_, _ = fray.Put(ctx, i)
	}
	runtime.GC()
	if err := jc.Close(); err != nil {
		t.Fatal(err)
	}
}
