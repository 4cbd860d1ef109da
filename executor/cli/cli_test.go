package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
)

type cfg struct {
	Out  executor.Path
	Fail bool
}

var step = executor.NewStepFn("cli_test.step", func(ctx context.Context, c cfg) error {
	if c.Fail {
		return errors.New("boom")
	}
	if executor.Prefix(ctx) == "" || os.Getenv(executor.PrefixEnv) == "" {
		return errors.New("no prefix in ctx or environment")
	}
	return executor.WriteFile(ctx, c.Out.Join("x"), []byte("x"))
})

func TestMain(m *testing.M) {
	fray.Init()
	os.Exit(m.Run())
}

func run(t *testing.T, steps []*executor.Step, args ...string) (string, string, error) {
	t.Helper()
	cmd := NewCommand(steps...)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestCLI(t *testing.T) {
	t.Setenv(executor.PrefixEnv, "")
	a := executor.NewStep("a", step, cfg{Out: executor.ThisOutputPath()})
	b := executor.NewStep("b/c", step, cfg{Out: executor.OutputPathOf(a, "sub")})
	steps := []*executor.Step{b}

	if _, _, err := run(t, steps); !errors.Is(err, ErrNoPrefix) || !strings.Contains(err.Error(), "FRAY_PREFIX") {
		t.Fatalf("no prefix: %v", err)
	}
	prefix := t.TempDir()
	out, _, err := run(t, steps, "--prefix", prefix, "--dry-run")
	if err != nil || !strings.Contains(out, "plan: 2 to run") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, _, err = run(t, steps, "--prefix", prefix, "--max-concurrent", "1")
	if err != nil || strings.Count(out, "succeeded") < 2 {
		t.Fatalf("run: %v\n%s", err, out)
	}
	t.Setenv(executor.PrefixEnv, prefix) // status takes the prefix from the environment
	out, _, err = run(t, nil, "status")
	if err != nil || strings.Count(out, "SUCCESS") != 2 || !strings.Contains(out, "b/c-") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	// A corrupt status file shows up in the table with its error.
	files, _ := filepath.Glob(filepath.Join(prefix, "a-*", executor.StatusFileName))
	if len(files) != 1 {
		t.Fatalf("status files %v", files)
	}
	_ = os.WriteFile(files[0], []byte("garbage\n"), 0o644)
	out, _, _ = run(t, nil, "status")
	if !strings.Contains(out, "CORRUPT") || !strings.Contains(out, "line 1") {
		t.Fatalf("status with a corrupt file:\n%s", out)
	}
	// A failing step: error exit, summary says failed.
	f := executor.NewStep("fails", step, cfg{Out: executor.ThisOutputPath(), Fail: true})
	out, errOut, err := run(t, []*executor.Step{f}, "--prefix", prefix, "--run-only", "fails")
	if err == nil || !strings.Contains(out, "failed") || !strings.Contains(errOut, "boom") {
		t.Fatalf("failing run: %v\n%s\n%s", err, out, errOut)
	}
	if _, _, err := run(t, steps, "--prefix", prefix, "--backend", "nope"); err == nil || !strings.Contains(err.Error(), "--backend local") {
		t.Fatalf("bad backend: %v", err)
	}
}
