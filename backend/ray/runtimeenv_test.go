package ray_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
)

// ModuleVersion runs the python first on the Go task's PATH (which a pip runtime env's
// virtualenv leads) and returns the installed version of a distribution.
var ModuleVersion = fray.NewTask("raytest.moduleVersion", func(ctx context.Context, dist string) (string, error) {
	out, err := exec.CommandContext(ctx, "python", "-c",
		"import importlib.metadata as m, sys; print(m.version(sys.argv[1]))", dist).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("python on the task's PATH has no %s: %v: %s", dist, err, out)
	}
	return strings.TrimSpace(string(out)), nil
})

// ActorWhich is Which from an actor's process.
var ActorWhich = fray.NewMethod(CounterActor, "Which", func(c *Counter, ctx context.Context, name string) (string, error) {
	return exec.LookPath(name)
})

// pipPackage is a small pure-Python distribution with a console script, installed from the
// package index into Ray's runtime-env virtualenv (setup-python.sh installs virtualenv, which
// Ray needs for it).
const (
	pipPackage = "pyjokes"
	pipVersion = "0.6.0"
	pipScript  = "pyjoke"
)

// Which returns where a program is on the Go task's PATH.
var Which = fray.NewTask("raytest.which", func(ctx context.Context, name string) (string, error) {
	return exec.LookPath(name)
})

// RuntimeEnv.PackageRequirements become Ray's runtime_env pip: the packages reach the Go
// task (its PATH leads with the virtualenv Ray built, so its python imports them and their
// console scripts run), next to RuntimeEnv.Env.
func TestPipRuntimeEnv(t *testing.T) {
	_, ctx := connect(t, ray.Options{})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // the first use builds the virtualenv
	defer cancel()
	if v, err := ModuleVersion.Call(ctx, pipPackage); err == nil {
		t.Fatalf("%s %s is already on the workers' PATH without a runtime env; the test proves nothing", pipPackage, v)
	}
	env := fray.RuntimeEnv{PackageRequirements: []string{pipPackage + "==" + pipVersion}, Env: map[string]string{"FRAY_PIP_VAR": "pip"}}
	opts := fray.TaskOptions{RuntimeEnv: env}
	v, err := ModuleVersion.Call(ctx, pipPackage, opts)
	if err != nil || v != pipVersion {
		t.Fatalf("%s in the runtime env: %q, %v", pipPackage, v, err)
	}
	if p, err := Which.Call(ctx, pipScript, opts); err != nil || !strings.Contains(p, "virtualenv") {
		t.Fatalf("console script %s: %q, %v (want it in Ray's runtime-env virtualenv)", pipScript, p, err)
	}
	if v, err := Env.Call(ctx, "FRAY_PIP_VAR", opts); err != nil || v != "pip" {
		t.Fatalf("env var beside pip: %q, %v", v, err)
	}
	// an actor gets the same environment
	h, err := CounterActor.Create(ctx, 0, fray.ActorOptions{RuntimeEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Kill(ctx)
	if v, err := ActorWhich.Call(ctx, h, pipScript); err != nil || !strings.Contains(v, "virtualenv") {
		t.Fatalf("console script from an actor: %q, %v", v, err)
	}
}

// A requirement pip cannot satisfy fails the task with ErrRuntimeEnv and one line that
// starts with pip's own message (not Ray's 25-line traceback), after one pip run: Ray's
// runtime-env agent does not retry it (scripts/ray-cluster.sh sets
// RUNTIME_ENV_RETRY_TIMES=1), and the task's MaxRetries adds no runs (the agent keeps the
// failure). Runs are counted in the agent's log, by the requirement's unique name.
func TestRuntimeEnvFailure(t *testing.T) {
	addr := clusterAddress(t)
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	_, ctx := connect(t, ray.Options{})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var b [4]byte
	_, _ = rand.Read(b[:])
	req := fmt.Sprintf("fray-no-such-package-%x==0.0.1", b) // new to the agent's cache
	bad := fray.TaskOptions{MaxRetries: fray.Retries(3), RuntimeEnv: fray.RuntimeEnv{PackageRequirements: []string{req}}}
	_, err := ModuleVersion.Call(ctx, pipPackage, bad)
	var re *fray.RuntimeEnvError
	if !errors.Is(err, fray.ErrRuntimeEnv) || !errors.As(err, &re) {
		t.Fatalf("unsatisfiable requirement: want a *fray.RuntimeEnvError, got %v", err)
	}
	t.Logf("unsatisfiable requirement: %v", err)
	name, _, _ := strings.Cut(req, "==")
	if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(re.Detail, "ERROR: ") || !strings.Contains(re.Detail, name) {
		t.Errorf("want one line starting with pip's ERROR naming %s, got %q", name, err)
	}
	agentLog := filepath.Join(clusterSession(t, addr, nil, nil), "logs", "runtime_env_agent.log")
	log, err := os.ReadFile(agentLog)
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "Failed to create runtime env") && strings.Contains(line, req) {
			runs++
		}
	}
	if runs != 1 {
		t.Errorf("pip ran %d times for %s (see %s), want once: a retry cannot satisfy it", runs, req, agentLog)
	}
}
