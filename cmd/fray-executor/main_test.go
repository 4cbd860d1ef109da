package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/executor/cli"
)

func TestMain(m *testing.M) {
	fray.Init() // steps with FRAY_PREFIX in their environment run in worker processes
	os.Exit(m.Run())
}

// TestPipeline runs MIGRATION.md's pattern 7 example through its command line twice: the
// first run produces the statistics, the second skips every step as already successful.
func TestPipeline(t *testing.T) {
	prefix := t.TempDir()
	for run := 1; run <= 2; run++ {
		cmd := cli.NewCommand(Pipeline()...)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"--prefix", prefix})
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out.String())
		}
	}
	plan, err := executor.Plan(prefix, Pipeline()...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range plan {
		out[s.Name] = s.OutputPath
		if len(s.Pseudo) > 0 && s.Name != "demo/stats" {
			t.Errorf("%s has pseudo-dependencies %v", s.Name, s.Pseudo)
		}
	}
	b, err := os.ReadFile(filepath.Join(out["demo/stats"], "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Count           int `json:"count"`
		Sum             int `json:"sum_of_squares"`
		Numbers, Prefix string
	}
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatal(err)
	}
	// 1² + ... + 1000² = 1000·1001·2001/6.
	if stats.Count != 1000 || stats.Sum != 333833500 || stats.Numbers != out["demo/numbers"] || stats.Prefix != prefix {
		t.Errorf("stats.json = %s", b)
	}
	for name, dir := range out {
		data, err := os.ReadFile(filepath.Join(dir, executor.StatusFileName))
		if err != nil {
			t.Fatal(err)
		}
		evs, err := executor.ParseEvents(name, data)
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Status != executor.StatusSuccess || last.Message != "Step was already successful" {
			t.Errorf("%s: last event after the second run %+v, want a skip", name, last)
		}
	}
	if recs, _ := filepath.Glob(filepath.Join(prefix, "experiments", "*.json")); len(recs) != 1 {
		t.Errorf("experiment records %v, want one", recs)
	}
}

// TestBinary runs the built command as a real process: bad command lines print the error
// and a usage hint on stderr, exit 2 (status on a missing prefix: 1) and write nothing; a
// run with --log-format json writes only JSON records on stderr, and its failure is one.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fray-executor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(cleanEnv(), env...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), code
	}

	t.Run("bad input", func(t *testing.T) {
		cases := []struct {
			name string
			args []string // --prefix P is added (after "status" for the status command)
			env  []string
			code int
			want string // in stderr
		}{
			{"unknown flag", []string{"--bogus"}, nil, 2, "unknown flag: --bogus"},
			{"flag value that does not parse", []string{"--max-concurrent", "abc"}, nil, 2, `"--max-concurrent"`},
			{"negative max concurrent", []string{"--max-concurrent", "-1"}, nil, 2, "invalid --max-concurrent -1"},
			{"unknown subcommand", []string{"bogus"}, nil, 2, `unknown command "bogus"`},
			{"extra argument", []string{"--dry-run", "extra"}, nil, 2, `"extra"`},
			{"unknown backend", []string{"--backend", "nope"}, nil, 2, "invalid --backend nope"},
			{"ray address without ray", []string{"--ray-address", "auto"}, nil, 2, "invalid --ray-address auto"},
			{"run-only regexp", []string{"--run-only", "demo/("}, nil, 2, "invalid --run-only"},
			{"log format", []string{"--log-format", "xml"}, nil, 2, "--log-format"},
			{"log level", []string{"--log-level", "loud"}, nil, 2, "--log-level"},
			{"log format from the environment", nil, []string{"FRAY_LOG_FORMAT=xml"}, 2, "--log-format"},
			{"status extra argument", []string{"status", "extra"}, nil, 2, `"extra"`},
			{"status on a missing prefix", []string{"status"}, nil, 1, "does not exist"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				prefix := filepath.Join(t.TempDir(), "runs")
				args := append([]string{"--prefix", prefix}, c.args...)
				if len(c.args) > 0 && c.args[0] == "status" {
					args = append(c.args, "--prefix", prefix)
				}
				_, stderr, code := run(t, c.env, args...)
				if code != c.code || !strings.Contains(stderr, c.want) {
					t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d and %q", args, code, stderr, c.code, c.want)
				}
				if code == 2 && !strings.Contains(stderr, "--help") {
					t.Errorf("%q: no usage hint in:\n%s", args, stderr)
				}
				if _, err := os.Stat(prefix); !os.IsNotExist(err) {
					t.Errorf("%q: something was written under the prefix (%v)", args, err)
				}
			})
		}
		// No prefix at all is a usage error too.
		if _, stderr, code := run(t, nil); code != 2 || !strings.Contains(stderr, "FRAY_PREFIX") {
			t.Errorf("no prefix: exit %d, stderr:\n%s", code, stderr)
		}
	})

	t.Run("json logs", func(t *testing.T) {
		prefix := filepath.Join(t.TempDir(), "runs")
		if _, stderr, code := run(t, nil, "--prefix", prefix, "--log-format", "json"); code != 0 || !allJSON(t, stderr) {
			t.Fatalf("run: exit %d, stderr:\n%s", code, stderr)
		}
		// A failure is a JSON record too: the squares input is gone, so squares fails.
		files, _ := filepath.Glob(filepath.Join(prefix, "demo", "numbers-*", "numbers.txt"))
		if len(files) != 1 {
			t.Fatalf("numbers output: %v", files)
		}
		if err := os.Remove(files[0]); err != nil {
			t.Fatal(err)
		}
		sq, _ := filepath.Glob(filepath.Join(prefix, "demo", "squares-*"))
		for _, d := range sq {
			_ = os.RemoveAll(d)
		}
		_, stderr, code := run(t, []string{"FRAY_LOG_FORMAT=json"}, "--prefix", prefix, "--run-only", "squares")
		if code != 1 || !allJSON(t, stderr) || !strings.Contains(stderr, `"level":"ERROR"`) {
			t.Fatalf("failing run: exit %d, stderr:\n%s", code, stderr)
		}
	})
}

// allJSON reports whether every line of s is a JSON slog record.
func allJSON(t *testing.T, s string) bool {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s))
	n := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("not a JSON slog record: %q (%v)", sc.Text(), err)
			return false
		}
		n++
	}
	return n > 0
}

// cleanEnv is the test's environment without the variables that would change the
// command's prefix or log setup.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "FRAY_PREFIX" && k != "FRAY_LOG_LEVEL" && k != "FRAY_LOG_FORMAT" {
			env = append(env, kv)
		}
	}
	return env
}
