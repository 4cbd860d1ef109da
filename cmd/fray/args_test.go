package main

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// runCLI runs the command line and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// Bad command lines exit with 2 and name the mistake before anything runs (no cluster is
// contacted: RAY_ADDRESS and the address flags point nowhere).
func TestUsageErrors(t *testing.T) {
	t.Setenv("RAY_ADDRESS", "")
	t.Setenv("RAY_API_SERVER_ADDRESS", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "a command is needed"},
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"jobs"}, "fray jobs needs a subcommand"},
		{[]string{"jobs", "logs"}, "accepts 1 arg(s), received 0"},
		{[]string{"jobs", "stop", "a", "b"}, "accepts 1 arg(s), received 2"},
		{[]string{"jobs", "list", "--nosuch"}, "unknown flag: --nosuch"},
		{[]string{"actors", "list", "--limit", "0"}, "invalid --limit 0"},
		{[]string{"actors", "list", "--limit", "x"}, `invalid argument "x" for "--limit"`},
		{[]string{"tasks", "list", "-o", "yaml"}, `invalid --output "yaml"`},
		{[]string{"objects", "list", "--state", "ALIVE"}, "unknown flag: --state"},
		{[]string{"submit"}, "fray submit needs a Go program"},
		{[]string{"submit", "--wait"}, "fray submit needs a Go program"},
		{[]string{"submit", "--platform", "linux", "--", "./x"}, `invalid --platform "linux"`},
		{[]string{"submit", "--env", "NOVALUE", "--", "./x"}, `invalid --env "NOVALUE"`},
		{[]string{"submit", "--working-dir", "/nonexistent", "--", "./x"}, `invalid --working-dir "/nonexistent"`},
		{[]string{"submit", "--num-cpus", "-1", "--", "./x"}, "invalid --num-cpus -1"},
		{[]string{"cluster", "start", "--dashboard", "maybe"}, `invalid --dashboard "maybe"`},
		{[]string{"cluster", "start", "--num-cpus", "-2"}, "invalid --num-cpus -2"},
		{[]string{"cluster", "stop", "extra"}, `unknown command "extra"`},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "--help' for usage") {
			t.Errorf("fray %q: exit %d, stderr %q; want exit 2 with %q and the --help hint", c.args, code, stderr, c.want)
		}
	}
}

// A failure that is not the command line's exits with 1 and prints the error.
func TestFailureExitsOne(t *testing.T) {
	t.Setenv("RAY_API_SERVER_ADDRESS", "")
	t.Setenv("RAY_ADDRESS", "")
	t.Setenv("RAY_AUTH_TOKEN", "x")
	code, _, stderr := runCLI(t, "jobs", "list", "--address", "http://127.0.0.1:1")
	if code != exitFailed || !strings.Contains(stderr, "does not answer") {
		t.Errorf("exit %d, stderr %q; want 1 and the dashboard not answering", code, stderr)
	}
	code, _, stderr = runCLI(t, "cluster", "status", "--state-dir", t.TempDir())
	if code != exitFailed || !strings.Contains(stderr, "fray cluster start") {
		t.Errorf("status of nothing: exit %d, stderr %q; want 1 and a hint to start one", code, stderr)
	}
	code, stdout, _ := runCLI(t, "cluster", "stop", "--state-dir", t.TempDir())
	if code != exitOK || !strings.Contains(stdout, "no cluster recorded") {
		t.Errorf("stop of nothing: exit %d, stdout %q; want 0 and a note", code, stdout)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"submit", "--help"}, {"jobs", "logs", "--help"}, {"cluster", "start", "--help"}} {
		code, stdout, _ := runCLI(t, args...)
		if code != exitOK || !strings.Contains(stdout, "Usage:") {
			t.Errorf("fray %q: exit %d, output %q", args, code, stdout)
		}
	}
	_, stdout, _ := runCLI(t, "submit", "--help")
	for _, want := range []string{"--wait", "--working-dir", "--platform", "--address", "FRAY_PYTHON"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("fray submit --help lacks %q", want)
		}
	}
}

func TestParseProgram(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "data")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want program
	}{
		{[]string{"./cmd/pipeline", "--prefix", "/x"}, program{target: "./cmd/pipeline", name: "pipeline", args: []string{"--prefix", "/x"}}},
		{[]string{"./examples/quickstart"}, program{target: "./examples/quickstart", name: "quickstart", args: []string{}}},
		{[]string{"github.com/fray-go/fray/cmd/fray-executor", "-v"}, program{target: "github.com/fray-go/fray/cmd/fray-executor", name: "fray-executor", args: []string{"-v"}}},
		{[]string{"example.com/tool/v2"}, program{target: "example.com/tool/v2", name: "tool", args: []string{}}},
		{[]string{"main.go"}, program{target: "main.go", name: "main", args: []string{}}},
		{[]string{bin, "a b"}, program{target: bin, binary: true, name: "tool", args: []string{"a b"}}},
		{[]string{notExec}, program{target: notExec, name: "data", args: []string{}}}, // not executable: a package to build
	} {
		got, err := parseProgram(c.args)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseProgram(%q) = %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
	if _, err := parseProgram(nil); err == nil {
		t.Error("parseProgram(nil): no error")
	}
}

func TestParsePlatformAndEnv(t *testing.T) {
	for _, c := range []struct {
		in, goos, goarch string
		ok               bool
	}{
		{"", "", "", true},
		{"linux/amd64", "linux", "amd64", true},
		{"darwin/arm64", "darwin", "arm64", true},
		{"linux", "", "", false},
		{"linux/", "", "", false},
		{"/amd64", "", "", false},
		{"linux/arm/v7", "", "", false},
	} {
		goos, goarch, err := parsePlatform(c.in)
		if (err == nil) != c.ok || goos != c.goos || goarch != c.goarch {
			t.Errorf("parsePlatform(%q) = %q, %q, %v", c.in, goos, goarch, err)
		}
	}
	env, err := parseEnv([]string{"A=1", "B=x=y", "C="})
	if err != nil || !reflect.DeepEqual(env, map[string]string{"A": "1", "B": "x=y", "C": ""}) {
		t.Errorf("parseEnv = %v, %v", env, err)
	}
	for _, bad := range []string{"A", "=1", "A B=1"} {
		if _, err := parseEnv([]string{bad}); err == nil {
			t.Errorf("parseEnv(%q): no error", bad)
		}
	}
}

func TestEntrypoint(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "./prog"},
		{[]string{"-ray", "auto"}, "./prog -ray auto"},
		{[]string{"--prefix", "/data/runs", "--run-only", "tok.*"}, "./prog --prefix /data/runs --run-only 'tok.*'"},
		{[]string{"a b", "it's", ""}, `./prog 'a b' 'it'\''s' ''`},
		{[]string{"$HOME", "x;rm -rf /"}, `./prog '$HOME' 'x;rm -rf /'`},
	} {
		if got := entrypoint("prog", c.args); got != c.want {
			t.Errorf("entrypoint(%q) = %s, want %s", c.args, got, c.want)
		}
	}
}

func TestPackageZip(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "data.txt"), []byte("x"), 0o644))
	must(os.MkdirAll(filepath.Join(dir, ".git"), 0o755))
	must(os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("ref"), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("y"), 0o600))
	bin := filepath.Join(t.TempDir(), "built")
	must(os.WriteFile(bin, []byte("ELF"), 0o700))
	data, err := packageZip(bin, "prog", dir)
	must(err)
	files := zipModes(t, data)
	want := map[string]os.FileMode{"data.txt": 0o644, "sub/b.txt": 0o600, "prog": 0o755}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("package holds %v, want %v (no .git, the binary executable)", files, want)
	}
	must(os.WriteFile(filepath.Join(dir, "prog"), nil, 0o644))
	if _, err := packageZip(bin, "prog", dir); err == nil || !strings.Contains(err.Error(), "the name the program is shipped under") {
		t.Errorf("a working dir with a file named like the program: %v", err)
	}
}

// TestGoBuildPlatform: --platform builds for the cluster's GOOS/GOARCH.
func TestGoBuildPlatform(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hello")
	var stderr bytes.Buffer
	if err := goBuild(context.Background(), "./testdata/hello", out, "linux", "arm64", &stderr); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("built for %v, want EM_AARCH64 (linux/arm64)", f.Machine)
	}
	err = goBuild(context.Background(), "./testdata/nosuch", out, "", "", &stderr)
	if err == nil || !strings.Contains(err.Error(), "go build ./testdata/nosuch") {
		t.Errorf("building a missing package: %v", err)
	}
}
