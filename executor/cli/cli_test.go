package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
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

// run runs the command tree for steps with args as Execute does (errors reported on its
// stderr) and returns stdout, stderr and the exit status.
func run(t *testing.T, steps []*executor.Step, args ...string) (string, string, int) {
	t.Helper()
	cmd := NewCommand(steps...)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	code := execute(context.Background(), cmd)
	return out.String(), errOut.String(), code
}

func TestCLI(t *testing.T) {
	t.Setenv(executor.PrefixEnv, "")
	a := executor.NewStep("a", step, cfg{Out: executor.ThisOutputPath()})
	b := executor.NewStep("b/c", step, cfg{Out: executor.OutputPathOf(a, "sub")})
	steps := []*executor.Step{b}

	if _, errOut, code := run(t, steps); code != ExitUsage || !strings.Contains(errOut, "FRAY_PREFIX") {
		t.Fatalf("no prefix: %d %s", code, errOut)
	}
	prefix := t.TempDir()
	out, _, code := run(t, steps, "--prefix", prefix, "--dry-run")
	if code != 0 || !strings.Contains(out, "plan: 2 to run") {
		t.Fatalf("dry run: %d\n%s", code, out)
	}
	out, _, code = run(t, steps, "--prefix", prefix, "--max-concurrent", "1")
	if code != 0 || strings.Count(out, "succeeded") < 2 {
		t.Fatalf("run: %d\n%s", code, out)
	}
	t.Setenv(executor.PrefixEnv, prefix) // status takes the prefix from the environment
	out, _, code = run(t, nil, "status")
	if code != 0 || strings.Count(out, "SUCCESS") != 2 || !strings.Contains(out, "b/c-") {
		t.Fatalf("status: %d\n%s", code, out)
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
	// A failing step: error exit, summary says failed, the error is logged.
	f := executor.NewStep("fails", step, cfg{Out: executor.ThisOutputPath(), Fail: true})
	out, errOut, code := run(t, []*executor.Step{f}, "--prefix", prefix, "--run-only", "fails")
	if code != ExitFailed || !strings.Contains(out, "failed") || !strings.Contains(errOut, "boom") || !strings.Contains(errOut, "level=ERROR") {
		t.Fatalf("failing run: %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := run(t, steps, "--prefix", prefix, "--backend", "nope"); code != ExitUsage || !strings.Contains(errOut, "--backend nope") {
		t.Fatalf("bad backend: %d %s", code, errOut)
	}
}

// TestUsageErrorNamesTheFlag: every bad command line is a *UsageError whose Flag names the
// flag at fault, for programs that inspect it.
func TestUsageErrorNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--bogus"}, "--bogus"},
		{[]string{"--max-concurrent", "abc"}, "--max-concurrent"},
		{[]string{"--max-concurrent"}, "--max-concurrent"},
		{[]string{"--max-concurrent", "-2"}, "--max-concurrent"},
		{[]string{"--backend", "nope"}, "--backend"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"status", "--bogus"}, "--bogus"},
		{[]string{"extra"}, ""},
		{[]string{}, "--prefix"},
	} {
		cmd := NewCommand()
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(c.args)
		t.Setenv(executor.PrefixEnv, "")
		_, err := cmd.ExecuteContextC(context.Background())
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Flag != c.flag {
			t.Errorf("%q: %v (%#v); want a usage error for %q", c.args, err, ue, c.flag)
		}
	}
}
