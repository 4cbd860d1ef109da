package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary runs the built pipeline command as a real process: bad command lines are
// reported on stderr, exit 2 (1 for status on a missing prefix) and run no step; with
// --log-format json every line on stderr, the worker processes' included, is a JSON record.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pipeline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = cleanEnv()
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
		small := []string{"--max-docs", "20", "--progress=false"}
		cases := []struct {
			name string
			args []string
			code int
			want string // in stderr
		}{
			{"unknown flag", []string{"--bogus"}, 2, "unknown flag: --bogus"},
			{"flag value that does not parse", []string{"--threshold", "abc"}, 2, `"--threshold"`},
			{"unknown subcommand", []string{"bogus"}, 2, `unknown command "bogus"`},
			{"extra argument", append(small, "extra"), 2, `"extra"`},
			{"bad encoding", append(small, "--encoding", "foo"), 2, `invalid --encoding "foo"`},
			{"encoding not linked", append(small, "--encoding", "o200k_base"), 2, "build it with -tags o200k"},
			{"threshold above 1", append(small, "--threshold", "2"), 2, "invalid --threshold 2"},
			{"negative max docs", []string{"--max-docs", "-5"}, 2, "invalid --max-docs -5"},
			{"empty shards", append(small, "--docs-per-shard", "0"), 2, "invalid --docs-per-shard 0"},
			{"test fraction 1", append(small, "--test-fraction", "1"), 2, "invalid --test-fraction 1"},
			{"zero epochs", append(small, "--epochs", "0"), 2, "invalid --epochs 0"},
			{"negative cv folds", append(small, "--cv-folds", "-1"), 2, "invalid --cv-folds -1"},
			{"shard cpus", append(small, "--shard-cpus", "0"), 2, "invalid --shard-cpus 0"},
			{"shard resources", append(small, "--shard-resources", "node_b=1,node_b=2"), 2, `invalid --shard-resources "node_b=1,node_b=2"`},
			{"max concurrent", append(small, "--max-concurrent", "-1"), 2, "invalid --max-concurrent -1"},
			{"backend", append(small, "--backend", "nope"), 2, "invalid --backend nope"},
			{"run-only regexp", append(small, "--run-only", "("), 2, "invalid --run-only"},
			{"log format", append(small, "--log-format", "xml"), 2, "--log-format"},
			{"log level", append(small, "--log-level", "loud"), 2, "--log-level"},
			{"status extra argument", []string{"status", "extra"}, 2, `"extra"`},
			{"status on a missing prefix", []string{"status"}, 1, "does not exist"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				dir := t.TempDir()
				prefix := filepath.Join(dir, "runs")
				args := append([]string{"--prefix", prefix}, c.args...)
				if c.args[0] == "status" { // status has its own --prefix, after the subcommand
					args = append(c.args, "--prefix", prefix)
				}
				_, stderr, code := run(t, dir, args...)
				if code != c.code || !strings.Contains(stderr, c.want) {
					t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d and %q", c.args, code, stderr, c.code, c.want)
				}
				if code == 2 && !strings.Contains(stderr, "--help") {
					t.Errorf("%q: no usage hint in:\n%s", c.args, stderr)
				}
				if _, err := os.Stat(prefix); !os.IsNotExist(err) {
					t.Errorf("%q: something was written under the prefix (%v)", c.args, err)
				}
				if _, err := os.Stat(filepath.Join(dir, DefaultPrefix)); !os.IsNotExist(err) {
					t.Errorf("%q: something was written under ./%s (%v)", c.args, DefaultPrefix, err)
				}
			})
		}
	})

	// A cloud URL whose driver the plain build does not link fails before any step runs and
	// says how to link it (issue 14).
	t.Run("cloud scheme not linked", func(t *testing.T) {
		dir := t.TempDir()
		_, stderr, code := run(t, dir, "--prefix", "gs://fray-test-bucket/runs", "--max-docs", "20", "--progress=false")
		for _, want := range []string{"the gs:// driver is not linked", `import _ \"gocloud.dev/blob/gcsblob\"`, "-tags cloud"} {
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
			}
		}
	})

	t.Run("json logs", func(t *testing.T) {
		dir := t.TempDir()
		stdout, stderr, code := run(t, dir, "--prefix", filepath.Join(dir, "runs"), "--max-docs", "20", "--docs-per-shard", "10",
			"--progress=false", "--log-format", "json", "--log-level", "debug")
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		workers := map[float64]bool{}
		var progress int
		sc := bufio.NewScanner(strings.NewReader(stderr))
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("stderr line is not a JSON object: %q: %v\nstderr:\n%s", sc.Text(), err, stderr)
			}
			if rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
				t.Errorf("not a slog record: %q", sc.Text())
			}
			if pid, ok := rec["worker_pid"].(float64); ok {
				workers[pid] = true
			}
			if rec["msg"] == "progress" {
				progress++
			}
		}
		// Worker processes (classify's shard tasks run with MaxCalls 1) inherited the JSON
		// format and the debug level: each says it serves at debug level.
		if len(workers) < 2 || !strings.Contains(stderr, `"level":"DEBUG","msg":"fray worker serving"`) {
			t.Errorf("want debug records from at least 2 worker processes, got %v in:\n%s", workers, stderr)
		}
		if progress == 0 {
			t.Errorf("no progress record in:\n%s", stderr)
		}
	})
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
