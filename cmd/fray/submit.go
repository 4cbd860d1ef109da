package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fray-go/fray/internal/rayapi"
)

// submitFlags are the flags of `fray submit`.
type submitFlags struct {
	wait         bool
	workingDir   string
	platform     string // GOOS/GOARCH to build for; "" the host's
	env          []string
	submissionID string
	numCPUs      float64
}

// program is what `fray submit` runs: a Go package to build, or a built binary.
type program struct {
	target string   // the package (a directory, import path or .go files) or the binary's path
	binary bool     // target is a built executable, shipped as it is
	name   string   // the binary's name in the job's working directory
	args   []string // the program's arguments
}

// parseProgram splits submit's positional arguments into the program and its arguments.
// A regular executable file (not a .go file) is shipped as it is; anything else is a Go
// package for `go build`.
func parseProgram(args []string) (program, error) {
	if len(args) == 0 || args[0] == "" {
		return program{}, usagef("fray submit needs a Go program: fray submit [flags] -- <package or binary> [args]")
	}
	p := program{target: args[0], args: args[1:]}
	if st, err := os.Stat(p.target); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 && !strings.HasSuffix(p.target, ".go") {
		p.binary = true
		p.name = filepath.Base(p.target)
	} else {
		p.name = packageName(p.target)
	}
	p.name = safeName.ReplaceAllString(p.name, "_")
	return p, nil
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// packageName is the name of the binary `go build` makes of a package: its directory's
// base name (a file's name without .go; "main" for ".").
func packageName(target string) string {
	t := strings.TrimSuffix(target, "/...")
	if strings.HasSuffix(t, ".go") {
		return strings.TrimSuffix(filepath.Base(t), ".go")
	}
	if abs, err := filepath.Abs(t); err == nil && (strings.HasPrefix(t, ".") || filepath.IsAbs(t)) {
		if b := filepath.Base(abs); b != "/" && b != "." {
			return b
		}
	}
	if b := path.Base(t); b != "." && b != "/" && !regexp.MustCompile(`^v[0-9]+$`).MatchString(b) {
		return b
	}
	if d := path.Dir(t); d != "." {
		return path.Base(d) // example.com/cmd/tool/v2 -> tool
	}
	return "main"
}

// parsePlatform checks a GOOS/GOARCH pair.
func parsePlatform(p string) (goos, goarch string, err error) {
	if p == "" {
		return "", "", nil
	}
	goos, goarch, ok := strings.Cut(p, "/")
	if !ok || goos == "" || goarch == "" || strings.Contains(goarch, "/") {
		return "", "", usagef("invalid --platform %q: want GOOS/GOARCH, e.g. linux/amd64", p)
	}
	return goos, goarch, nil
}

// parseEnv checks KEY=VALUE pairs.
func parseEnv(kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, usagef("invalid --env %q: want KEY=VALUE", kv)
		}
		m[k] = v
	}
	return m, nil
}

// entrypoint is the shell command that runs the program in the job's working directory.
func entrypoint(name string, args []string) string {
	parts := []string{"./" + name}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func newSubmitCmd(g *globalFlags) *cobra.Command {
	f := &submitFlags{}
	cmd := &cobra.Command{
		Use:   "submit [flags] -- <go package or binary> [args]",
		Short: "Run a Go program on the cluster as a Ray job (its driver runs on the cluster)",
		Long: `Build a Go program (or take a built binary), ship it to the cluster in the job's
working directory through Ray's Jobs API, and run it there as the job's entrypoint: the
program's own ray.Connect is then the job's driver, on the cluster (RAY_ADDRESS is set for
it). Flags end at the program; its own flags follow it.

  fray submit --wait -- ./examples/quickstart -ray auto
  fray submit --platform linux/amd64 --working-dir ./data -- ./cmd/pipeline --prefix /mnt/runs

The driver needs the cluster's Python with Ray: a cluster started by 'fray cluster start'
exports FRAY_PYTHON to every process; elsewhere the driver uses the Python of the Ray that
started it (on Linux), or pass --env FRAY_PYTHON=/path/to/python.
Without --wait it prints the job's id; follow it with 'fray jobs logs -f <id>'.`,
		Args: func(cmd *cobra.Command, args []string) error { _, err := parseProgram(args); return err },
		RunE: func(cmd *cobra.Command, args []string) error {
			return submit(cmd.Context(), g, f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().SetInterspersed(false) // the program's flags are its own
	fl := cmd.Flags()
	fl.BoolVar(&f.wait, "wait", false, "follow the job's output until it ends; exit 1 unless it succeeded")
	fl.StringVar(&f.workingDir, "working-dir", "", "a directory whose files are shipped too (the job's working directory; .git is left out)")
	fl.StringVar(&f.platform, "platform", "", "GOOS/GOARCH to build for, the cluster's (default: this machine's)")
	fl.StringArrayVar(&f.env, "env", nil, "KEY=VALUE for the job's environment (driver, tasks and actors); repeatable")
	fl.StringVar(&f.submissionID, "submission-id", "", "the job's id (default: Ray picks raysubmit_...)")
	fl.Float64Var(&f.numCPUs, "num-cpus", 0, "CPUs reserved for the driver itself (default 0)")
	return cmd
}

// submit builds, ships and submits the program, and follows it with --wait.
func submit(ctx context.Context, g *globalFlags, f *submitFlags, args []string, stdout, stderr io.Writer) error {
	p, err := parseProgram(args)
	if err != nil {
		return err
	}
	goos, goarch, err := parsePlatform(f.platform)
	if err != nil {
		return err
	}
	env, err := parseEnv(f.env)
	if err != nil {
		return err
	}
	if f.numCPUs < 0 {
		return usagef("invalid --num-cpus %g: must be 0 or more", f.numCPUs)
	}
	if f.workingDir != "" {
		if st, err := os.Stat(f.workingDir); err != nil || !st.IsDir() {
			return usagef("invalid --working-dir %q: not a directory", f.workingDir)
		}
	}
	c, err := client(ctx, g)
	if err != nil {
		return err
	}
	if _, err := c.Version(ctx); err != nil { // before the build: a wrong address or token fails fast
		return err
	}
	bin := p.target
	if !p.binary {
		tmp, err := os.MkdirTemp("", "fray-submit-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, p.name)
		if err := goBuild(ctx, p.target, bin, goos, goarch, stderr); err != nil {
			return err
		}
	}
	zipData, err := packageZip(bin, p.name, f.workingDir)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(zipData)
	name := rayapi.PackageName(hex.EncodeToString(sum[:16]))
	if err := c.UploadPackage(ctx, name, zipData); err != nil {
		return fmt.Errorf("uploading the program (%d bytes) to the cluster: %w", len(zipData), err)
	}
	// RAY_OVERRIDE_JOB_RUNTIME_ENV=1: the runtime env the program's ray.Connect passes to
	// ray.init is merged over the job's (same keys: the program's win) instead of failing.
	env["RAY_OVERRIDE_JOB_RUNTIME_ENV"] = "1"
	id, err := c.SubmitJob(ctx, rayapi.JobSubmit{
		Entrypoint:        entrypoint(p.name, p.args),
		SubmissionID:      f.submissionID,
		RuntimeEnv:        map[string]any{"working_dir": rayapi.PackageURI(name), "env_vars": env},
		Metadata:          map[string]string{"fray_program": p.target},
		EntrypointNumCPUs: f.numCPUs,
	})
	if err != nil {
		return err
	}
	if !f.wait {
		fmt.Fprintln(stdout, id)
		fmt.Fprintf(stderr, "submitted job %s; follow it with: fray jobs logs -f %s\n", id, id)
		return nil
	}
	fmt.Fprintf(stderr, "submitted job %s\n", id)
	_, err = followJob(ctx, c, id, stdout)
	return err
}

// goBuild builds pkg into out, for goos/goarch when set (then without cgo).
func goBuild(ctx context.Context, pkg, out, goos, goarch string, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Env = os.Environ()
	if goos != "" {
		cmd.Env = append(cmd.Env, "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, strings.TrimSpace(buf.String()))
	}
	return nil
}

// packageZip makes the job's working directory: the files of dir (if set; without .git)
// and the binary as name, executable, at the top.
func packageZip(bin, name, dir string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(src, dst string, mode fs.FileMode) error {
		h := &zip.FileHeader{Name: dst, Method: zip.Deflate}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		r, err := os.Open(src)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(w, r)
		return err
	}
	if dir != "" {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil || rel == "." {
				return err
			}
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			if rel == name {
				return fmt.Errorf("--working-dir %s has a file %s, the name the program is shipped under", dir, name)
			}
			if !d.Type().IsRegular() {
				return nil // links and devices are not shipped
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return add(p, rel, info.Mode().Perm())
		})
		if err != nil {
			return nil, err
		}
	}
	if err := add(bin, name, 0o755); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
