package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
)

func TestMain(m *testing.M) {
	fray.Init() // the inference shard tasks (MaxCalls 1) run this binary as worker processes
	os.Exit(m.Run())
}

func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := NewCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		t.Logf("stderr:\n%s", errOut.String())
	}
	return out.String(), err
}

func TestCommandRunsAndPrintsTheReport(t *testing.T) {
	prefix := t.TempDir()
	small := []string{"--prefix", prefix, "--max-docs", "40", "--docs-per-shard", "20", "--max-text-bytes", "4096", "--progress=false"}
	out, err := runCommand(t, append(small, "--dry-run")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "report:") || !strings.Contains(out, "pipeline/report") {
		t.Fatalf("dry run output:\n%s", out)
	}
	out, err = runCommand(t, small...)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(out, "report: ")
	if i < 0 {
		t.Fatalf("no report line in:\n%s", out)
	}
	path := strings.TrimSpace(out[i+len("report: "):])
	if !strings.HasPrefix(path, prefix) || !strings.HasSuffix(path, "report.html") {
		t.Fatalf("report path %q", path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	// The flags reach the step configs: another threshold is another filter output.
	out2, err := runCommand(t, append(small, "--threshold", "0.9")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out2, path) {
		t.Fatalf("threshold 0.9 wrote the same report %s", path)
	}
	if strings.Count(out2, "skipped") < 4 {
		t.Fatalf("threshold change did not skip ingest, tokenize, train and classify:\n%s", out2)
	}
}

func TestChoosePrefix(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, c := range []struct{ flag, env, want string }{
		{"", "", filepath.Join(dir, DefaultPrefix)},
		{"", "from-env", filepath.Join(dir, "from-env")},
		{"rel", "from-env", filepath.Join(dir, "rel")},
		{"/abs/p", "", "/abs/p"},
		{"file:///abs/q", "", "/abs/q"},
		{"gs://bucket/runs", "", "gs://bucket/runs"},
	} {
		t.Setenv(executor.PrefixEnv, c.env)
		cmd := NewCommand()
		if c.flag != "" {
			if err := cmd.Flags().Set("prefix", c.flag); err != nil {
				t.Fatal(err)
			}
		}
		got, err := choosePrefix(cmd)
		if err != nil || got != c.want {
			t.Errorf("flag %q env %q: %q, %v; want %q", c.flag, c.env, got, err, c.want)
		}
	}
}
