package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/raycluster"
	"github.com/fray-go/fray/internal/raytest"
)

// The tests below run against real Ray clusters: the shared test cluster (RAY_ADDRESS, see
// internal/raytest: skipped without one on a developer's machine, failed without one in CI),
// and, for `fray cluster`, one of their own.

// testProgram is the program the tests submit.
const testProgram = "./testdata/frayclitest"

// clusterPython is the cluster's Python for the submitted drivers: the test cluster of
// scripts/ray-cluster.sh runs on this machine with the Python the tests use.
func clusterPython(t *testing.T) string {
	p, err := filepath.Abs(ray.FindPython())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSubmitJob submits a Go program built by the test; its driver runs on the cluster, runs
// a task and a named actor and reads a file shipped with --working-dir; its output comes
// back with --wait and with `jobs logs`, and its actor is listed by the state API.
func TestSubmitJob(t *testing.T) {
	raytest.Address(t)
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "data.txt"), []byte("shipped"), 0o644); err != nil {
		t.Fatal(err)
	}
	actor := "frayclitest-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000")
	code, stdout, stderr := runCLI(t, "submit", "--wait", "--working-dir", work, "--env", "FRAY_PYTHON="+clusterPython(t),
		"--", testProgram, "ok", actor)
	if code != exitOK {
		t.Fatalf("submit --wait: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := `double=42 greet="hello, cluster" data="shipped"`
	if !strings.Contains(stdout, want) {
		t.Fatalf("the job's output lacks %q:\n%s", want, stdout)
	}
	id := regexp.MustCompile(`submitted job (\S+)`).FindStringSubmatch(stderr)
	if id == nil {
		t.Fatalf("no job id in %q", stderr)
	}
	code, logs, stderr := runCLI(t, "jobs", "logs", id[1])
	if code != exitOK || !strings.Contains(logs, want) {
		t.Fatalf("jobs logs: exit %d, %q, %q", code, logs, stderr)
	}
	code, status, _ := runCLI(t, "jobs", "status", id[1])
	if code != exitOK || !strings.Contains(status, "SUCCEEDED") || !strings.Contains(status, "./frayclitest ok "+actor) {
		t.Fatalf("jobs status: exit %d:\n%s", code, status)
	}
	rayJob := regexp.MustCompile(`ray job\s+(\S+)`).FindStringSubmatch(status)
	if rayJob == nil {
		t.Fatalf("no Ray job id in %q", status)
	}
	code, list, _ := runCLI(t, "jobs", "list")
	if code != exitOK || !strings.Contains(list, id[1]) {
		t.Fatalf("jobs list: exit %d, lacks %s:\n%s", code, id[1], list)
	}
	// The job's actor and task, in Ray's state API, under fray's names.
	code, actors, stderr := runCLI(t, "actors", "list", "--job", rayJob[1])
	if code != exitOK || !strings.Contains(actors, actor) || !strings.Contains(actors, "frayclitest") {
		t.Fatalf("actors list --job %s: exit %d, lacks %s:\n%s%s", rayJob[1], code, actor, actors, stderr)
	}
	code, tasks, stderr := runCLI(t, "tasks", "list", "--job", rayJob[1])
	if code != exitOK || !strings.Contains(tasks, "frayclitest.double") {
		t.Fatalf("tasks list --job %s: exit %d, lacks frayclitest.double:\n%s%s", rayJob[1], code, tasks, stderr)
	}
	if code, _, stderr := runCLI(t, "objects", "list", "--limit", "5"); code != exitOK {
		t.Fatalf("objects list: exit %d: %s", code, stderr)
	}
}

// TestSubmitShipWorkingDir: a driver that ships its binary to the workers in its own
// working_dir (ray.ShipWorkingDir, for clusters of several nodes) runs too: its runtime env
// overrides the job's (RAY_OVERRIDE_JOB_RUNTIME_ENV), and the driver keeps its files.
func TestSubmitShipWorkingDir(t *testing.T) {
	raytest.Address(t)
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "data.txt"), []byte("shipped"), 0o644); err != nil {
		t.Fatal(err)
	}
	actor := "frayclitest-wd-" + time.Now().Format("150405.000")
	code, stdout, stderr := runCLI(t, "submit", "--wait", "--working-dir", work, "--env", "FRAY_PYTHON="+clusterPython(t),
		"--env", "FRAYCLITEST_SHIP=working_dir", "--", testProgram, "ok", actor)
	want := `double=42 greet="hello, cluster" data="shipped"`
	if code != exitOK || !strings.Contains(stdout, want) {
		t.Fatalf("submit --wait: exit %d, want %q in the output\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
	}
}

// TestSubmitFailingJob: with --wait, a driver that fails makes fray exit 1 and say so.
func TestSubmitFailingJob(t *testing.T) {
	raytest.Address(t)
	code, stdout, stderr := runCLI(t, "submit", "--wait", "--env", "FRAY_PYTHON="+clusterPython(t), "--", testProgram, "fail", "3")
	if code != exitFailed || !strings.Contains(stderr, "failed (driver exit status 3)") || !strings.Contains(stdout, "failing on purpose") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1, the driver's exit status and its output", code, stdout, stderr)
	}
}

// TestStopJob: a job submitted without --wait prints its id; `jobs stop` ends it, and
// `jobs logs -f` then returns with the job stopped.
func TestStopJob(t *testing.T) {
	raytest.Address(t)
	code, stdout, stderr := runCLI(t, "submit", "--env", "FRAY_PYTHON="+clusterPython(t), "--", testProgram, "sleep")
	if code != exitOK {
		t.Fatalf("submit: exit %d: %s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	if !strings.HasPrefix(id, "raysubmit_") {
		t.Fatalf("submit printed %q, want the job's id", stdout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for { // until the driver runs
		_, logs, _ := runCLI(t, "jobs", "logs", id)
		if strings.Contains(logs, "sleeping") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the job never started; its output: %q", logs)
		case <-time.After(500 * time.Millisecond):
		}
	}
	if code, out, stderr := runCLI(t, "jobs", "stop", id); code != exitOK || !strings.Contains(out, "stopping job "+id) {
		t.Fatalf("jobs stop: exit %d, %q, %q", code, out, stderr)
	}
	code, out, stderr := runCLI(t, "jobs", "logs", "-f", id)
	if code != exitFailed || !strings.Contains(stderr, "job "+id+" stopped") || !strings.Contains(out, "sleeping") {
		t.Fatalf("jobs logs -f of a stopped job: exit %d, %q, %q", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, "jobs", "status", "raysubmit_nosuchjob"); code != exitFailed || !strings.Contains(stderr, "no job raysubmit_nosuchjob") {
		t.Fatalf("status of an unknown job: exit %d, %q", code, stderr)
	}
}

// TestClusterStartStop starts a cluster of its own with `fray cluster start`, checks what
// it recorded and that every socket it listens on is on 127.0.0.1, reaches it through its
// dashboard with its token, and stops it. It needs the Python virtualenv with Ray
// (scripts/setup-python.sh): skipped without one on a developer's machine, failed in CI.
func TestClusterStartStop(t *testing.T) {
	py, err := filepath.Abs(ray.FindPython())
	if err == nil {
		_, err = os.Stat(filepath.Join(filepath.Dir(py), "ray"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Ray beside %s: run scripts/setup-python.sh", py)
		}
		t.Skipf("no Ray beside %s (%v): run scripts/setup-python.sh", py, err)
	}
	state := filepath.Join(t.TempDir(), raycluster.DefaultStateDir)
	temp, err := os.MkdirTemp("", "frt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(temp) })
	// Its own variables: the shared cluster's must not leak into this one's lookups.
	t.Setenv("RAY_ADDRESS", "")
	t.Setenv("RAY_API_SERVER_ADDRESS", "")
	t.Setenv("RAY_AUTH_TOKEN", "")
	t.Setenv("RAY_AUTH_TOKEN_PATH", "")
	code, stdout, stderr := runCLI(t, "cluster", "start", "--state-dir", state, "--temp-dir", temp,
		"--python", py, "--num-cpus", "1", "--resources", `{"head_node": 1, "frayclitest_marker": 3}`)
	t.Cleanup(func() { raycluster.Stop(state) }) // whatever happens below
	if code != exitOK {
		t.Fatalf("cluster start: exit %d\n%s%s", code, stdout, stderr)
	}
	st, err := raycluster.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.Address, "127.0.0.1:") || !strings.HasPrefix(st.Dashboard, "http://127.0.0.1:") || !strings.Contains(stdout, st.Dashboard) {
		t.Fatalf("recorded %+v; start printed:\n%s", st, stdout)
	}
	if fi, err := os.Stat(st.TokenPath()); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 64 {
		t.Fatalf("token file: %v, %v", fi, err)
	}
	if addr, _ := os.ReadFile(filepath.Join(state, raycluster.AddressFile)); strings.TrimSpace(string(addr)) != st.Address {
		t.Fatalf("%s holds %q, want %s", raycluster.AddressFile, addr, st.Address)
	}
	listening, err := raycluster.Listening(st)
	if err != nil || len(listening) < 3 {
		t.Fatalf("Listening = %v, %v; want the GCS, raylet, dashboard and more", listening, err)
	}
	for _, a := range listening {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Errorf("the cluster listens on %s, not on loopback", a)
		}
	}
	// A second start finds it running and starts nothing.
	code, stdout, _ = runCLI(t, "cluster", "start", "--state-dir", state, "--python", py, "--print-env")
	if code != exitOK || !strings.Contains(stdout, "export RAY_ADDRESS="+st.Address+"\n") {
		t.Fatalf("second start: exit %d:\n%s", code, stdout)
	}
	code, stdout, stderr = runCLI(t, "cluster", "status", "--state-dir", state)
	if code != exitOK || !strings.Contains(stdout, "frayclitest_marker=3") || !strings.Contains(stdout, "ALIVE") || !strings.Contains(stdout, "CPU=1") {
		t.Fatalf("cluster status: exit %d:\n%s%s", code, stdout, stderr)
	}
	// The other commands find it from the state directory's parent, as ray.Connect does,
	// and a request without its token is refused.
	sub := filepath.Join(filepath.Dir(state), "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if got := ray.FindAddress(); got != st.Address {
		t.Errorf("ray.FindAddress() = %q beside the recorded cluster, want %s", got, st.Address)
	}
	code, stdout, stderr = runCLI(t, "jobs", "list")
	if code != exitOK || !strings.Contains(stdout, "ID") {
		t.Fatalf("jobs list on the recorded cluster: exit %d: %s%s", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "jobs", "list", "--token-file", writeFile(t, "not-the-token"))
	if code != exitFailed || !strings.Contains(stderr, "403 Forbidden") || !strings.Contains(stderr, "requires its token") {
		t.Fatalf("jobs list with a wrong token: exit %d: %s", code, stderr)
	}
	code, stdout, stderr = runCLI(t, "cluster", "stop")
	if code != exitOK || !strings.Contains(stdout, "stopped the cluster") {
		t.Fatalf("cluster stop: exit %d: %s%s", code, stdout, stderr)
	}
	if raycluster.Running(st) {
		t.Fatal("processes of the cluster run after stop")
	}
	for _, f := range []string{raycluster.AddressFile, raycluster.TokenFile, raycluster.StateFile} {
		if _, err := os.Stat(filepath.Join(state, f)); !os.IsNotExist(err) {
			t.Errorf("%s is left after stop (%v)", f, err)
		}
	}
	if out, err := exec.Command("ls", temp).Output(); err == nil && len(out) == 0 {
		t.Errorf("the temp dir %s is empty: the cluster did not use it", temp)
	}
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
