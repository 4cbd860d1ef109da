package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray/internal/rayapi"
	"github.com/fray-go/fray/internal/raycluster"
	"github.com/fray-go/fray/internal/raytest"
)

// pipelineSteps are the flagship pipeline's steps (examples/pipeline), each of which leaves
// a versioned output directory "<name>-<hash>" under the prefix.
var pipelineSteps = []string{"ingest", "tokenize", "train-quality", "classify", "filter", "report"}

// TestSubmitPipelineTwoNodes is the path of the README's "Running on a cluster": on a
// two-node cluster of its own (a head and a second raylet on this machine, started with
// internal/raycluster, what `fray cluster start` and `fray cluster add-node` run), `fray
// submit --wait` builds the flagship pipeline, ships it in the job's working_dir and runs it
// with --backend ray as the job's driver. The job succeeds, every step's output and the
// report exist under the prefix, `fray jobs logs` has the executor's summary, and Ray's
// state API lists the pipeline's tasks under fray's names, some of them on the second node.
// The pipeline's driver finds the cluster's Python through the FRAY_PYTHON the cluster
// exports (no --env); a second, small job without it finds Ray's own.
func TestSubmitPipelineTwoNodes(t *testing.T) {
	began := time.Now()
	python := raytest.Python(t)
	dir, err := os.MkdirTemp("", "fray-sp") // short: Ray's socket paths live below the temp dirs
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// This cluster's own lookups: the shared cluster's variables must not leak into them.
	for _, k := range []string{"RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} {
		t.Setenv(k, "")
	}
	state := filepath.Join(dir, "state")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() { _, _ = raycluster.Stop(state) })
	st, err := raycluster.Start(ctx, raycluster.Config{StateDir: state, Python: python, NumCPUs: 1,
		Resources: `{"head_node": 1}`, TempDir: filepath.Join(dir, "h"), Dashboard: "true"})
	if err != nil {
		t.Fatalf("starting the head: %v", err)
	}
	if _, err := raycluster.AddNode(ctx, state, raycluster.NodeConfig{TempDir: filepath.Join(dir, "b"), NumCPUs: 2,
		Resources: `{"node_b": 1}`, Python: python}); err != nil {
		t.Fatalf("adding node b: %v", err)
	}
	t.Logf("two-node cluster up after %v", time.Since(began).Round(time.Second))

	prefix := filepath.Join(dir, "out") // both nodes run on this machine: a local prefix is shared
	at := []string{"--address", st.Dashboard, "--token-file", st.TokenPath()}
	code, stdout, stderr := runCLI(t, append(append([]string{"submit", "--wait"}, at...), "--", "../../examples/pipeline",
		"--backend", "ray", "--max-docs", "200", "--docs-per-shard", "25", "--prefix", prefix)...)
	if code != exitOK {
		t.Fatalf("submit --wait: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("pipeline job done after %v", time.Since(began).Round(time.Second))
	id := regexp.MustCompile(`submitted job (\S+)`).FindStringSubmatch(stderr)
	if id == nil {
		t.Fatalf("no job id in %q", stderr)
	}
	code, status, _ := runCLI(t, append([]string{"jobs", "status", id[1]}, at...)...)
	rayJob := regexp.MustCompile(`ray job\s+(\S+)`).FindStringSubmatch(status)
	if code != exitOK || !strings.Contains(status, "SUCCEEDED") || rayJob == nil {
		t.Fatalf("jobs status: exit %d, want SUCCEEDED and the Ray job id:\n%s", code, status)
	}

	// Every step's output, and the report.
	for _, s := range pipelineSteps {
		m, _ := filepath.Glob(filepath.Join(prefix, "pipeline", s+"-*"))
		if len(m) != 1 {
			t.Errorf("step %s: outputs %v under %s, want one", s, m, prefix)
		}
	}
	report, _ := filepath.Glob(filepath.Join(prefix, "pipeline", "report-*", "report.html"))
	if len(report) != 1 {
		t.Errorf("no report.html under %s", prefix)
	}
	code, logs, stderr := runCLI(t, append([]string{"jobs", "logs", id[1]}, at...)...)
	if code != exitOK {
		t.Fatalf("jobs logs: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"pipeline/ingest", "pipeline/report", "succeeded", "report: " + prefix} {
		if !strings.Contains(logs, want) {
			t.Errorf("jobs logs lacks the executor's summary (%q):\n%s", want, logs)
		}
	}

	// The pipeline's tasks in Ray's state API, under fray's names, and where they ran.
	code, tasks, stderr := runCLI(t, append([]string{"tasks", "list", "--job", rayJob[1], "--limit", "1000"}, at...)...)
	if code != exitOK {
		t.Fatalf("tasks list: exit %d: %s", code, stderr)
	}
	c := &rayapi.Client{BaseURL: st.Dashboard, Token: readToken(t, st.TokenPath())}
	nodes, err := c.List(ctx, "nodes", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	nodeB := ""
	for _, n := range nodes.Rows {
		if res, _ := n["resources_total"].(map[string]any); res["node_b"] != nil {
			nodeB, _ = n["node_id"].(string)
		}
	}
	if nodeB == "" {
		t.Fatalf("no node with node_b among %v", nodes.Rows)
	}
	l, err := c.List(ctx, "tasks", 1000, false, rayapi.Filter{Key: "job_id", Op: "=", Value: rayJob[1]})
	if err != nil {
		t.Fatal(err)
	}
	onB := map[string]int{}
	names := map[string]bool{}
	for _, row := range l.Rows {
		name, _ := row["name"].(string)
		names[name] = true
		if row["node_id"] == nodeB {
			onB[name]++
		}
	}
	if len(onB) == 0 {
		t.Errorf("no task of job %s ran on node b (%s):\n%s", rayJob[1], nodeB, tasks)
	}
	frayNames := 0
	for n := range names {
		if strings.Contains(n, "pipeline") || strings.Contains(n, "shards") || strings.Contains(n, "executor") {
			frayNames++
		}
	}
	if frayNames == 0 {
		t.Errorf("no task of job %s under a fray name:\n%s", rayJob[1], tasks)
	}
	t.Logf("task names: %v; on node b: %v", keys(names), onB)

	// A job that sets no FRAY_PYTHON (as on a cluster started by `ray start`, which exports
	// none), with no .venv above its working directory (this cluster's temp dirs are under
	// /tmp), finds the Python of the Ray that started it (ray.Options.Python).
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "data.txt"), []byte("shipped"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, append(append([]string{"submit", "--wait", "--working-dir", work, "--env", "FRAY_PYTHON=",
		"--env", "FRAYCLITEST_WHERE=node_b"}, at...), "--", testProgram, "ok", "frayclitest-nopython")...)
	if code != exitOK || !strings.Contains(stdout, "double=42") {
		t.Fatalf("submit --wait without FRAY_PYTHON: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// Its task pinned to node b ran node b's copy of the job's working_dir (ray.ShipPath
	// for a submitted driver), not the head's: what a cluster of several machines needs.
	where := regexp.MustCompile(`where=(\S+)`).FindStringSubmatch(stdout)
	if where == nil || !strings.HasPrefix(where[1], filepath.Join(dir, "b")+string(filepath.Separator)) {
		t.Errorf("the task on node b ran %v, want a binary below node b's temp dir %s:\n%s", where, filepath.Join(dir, "b"), stdout)
	}
	t.Logf("done after %v", time.Since(began).Round(time.Second))
}

func readToken(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
