package ray

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// ShipMode says how Ray workers get the Go binary they run in worker mode.
type ShipMode int

const (
	// ShipPath (the default) hands workers the binary's absolute path. Right for a cluster
	// whose nodes all see this machine's file system, such as a one-machine cluster. A job's
	// driver run from its job's working_dir (`fray submit`) hands them the binary's path in
	// that working_dir instead, which Ray copies to every node.
	ShipPath ShipMode = iota
	// ShipWorkingDir copies the binary into a staging directory and makes it the job's
	// runtime_env working_dir, so Ray uploads it to every node (multi-node clusters).
	ShipWorkingDir
)

func (m ShipMode) String() string {
	switch m {
	case ShipPath:
		return "path"
	case ShipWorkingDir:
		return "working_dir"
	}
	return "unknown"
}

// Options configure Connect. The zero value connects to the cluster named by RAY_ADDRESS
// (else "auto", the running local cluster) with Python found as described at Python.
type Options struct {
	// Address is the Ray cluster address: "auto", "127.0.0.1:6379", ... Empty means the
	// RAY_ADDRESS environment variable, else the address in .cache/ray-address in the
	// working directory or one of its parents (what `fray cluster start` writes), else
	// "auto".
	Address string
	// Namespace for named actors. Empty means Ray's default, an anonymous namespace per job,
	// in which other jobs cannot find this job's named actors.
	Namespace string
	// AuthTokenFile is the file holding the cluster's token for Ray's token authentication
	// (RAY_AUTH_MODE=token), which a cluster started by scripts/ray-cluster.sh requires.
	// Empty means, in order: Ray's own variables $RAY_AUTH_TOKEN (the token itself) and
	// $RAY_AUTH_TOKEN_PATH; else .cache/ray-auth-token (what scripts/ray-cluster.sh writes)
	// in the working directory or one of its parents; else no token, and Ray's own rules
	// apply (RAY_AUTH_MODE, ~/.ray/auth_token). The bridge (the job's Ray driver) gets the
	// token and turns Ray's token mode on when the cluster asks for it. A cluster that
	// refuses the token, or its absence, fails Connect with an *AuthError. The token is
	// never put into the job's runtime env: Ray's workers get it from their raylet.
	AuthTokenFile string
	// Python is the interpreter that has ray and cbor2 installed (scripts/setup-python.sh).
	// Empty means $FRAY_PYTHON, else the first .venv/bin/python in the working directory or
	// one of its parents, else, for a program run as a Ray job's driver (`fray submit`), the
	// Python of the Ray that started it (on Linux), else python3 from PATH.
	Python string
	// Ship says how workers get the Go binary (default ShipPath).
	Ship ShipMode
	// Binary is the Go program Ray workers run in worker mode. Empty means this program
	// (os.Executable); it must be built from the same code, or the handshake fails.
	Binary string
	// Env is added to the job's runtime_env env_vars: every task and actor of the job sees it.
	Env map[string]string
	// Logger receives the bridge's output line by line, which includes the output of the
	// job's Ray workers and their Go children (Ray forwards it to the driver). Nil means
	// slog.Default().
	Logger *slog.Logger
	// Quiet stops Ray from forwarding worker output to the driver (log_to_driver=False).
	Quiet bool
	// Verbose makes the bridge log Ray's INFO messages, not just warnings.
	Verbose bool
	// AllowInfeasible submits requests no node can satisfy anyway; Ray then keeps them
	// pending (with a warning) until a node that fits joins. By default such a request fails
	// at once with a *fray.InfeasibleError, as on the local backend.
	AllowInfeasible bool
	// CacheDir is where the embedded Python code (and, for ShipWorkingDir, the staged
	// binary) is written. Empty means os.UserCacheDir()/fray, else os.TempDir()/fray-cache.
	CacheDir string
	// MaxFrame bounds one frame between Go and the bridge and between the shim and its Go
	// child. 0 means room for the largest value the codec allows (fray.MaxValueSize).
	MaxFrame int
	// SharedMemory is the size in bytes of each of the two rings of shared memory (an
	// anonymous memfd the bridge inherits; Linux only) through which values of 64 KiB and
	// more cross between this process and the bridge, instead of the pipes. 0 means 16 MiB;
	// negative turns it off (and with it the spill and the reads of the bridge's memory).
	// A Put value larger than a ring goes through a spill in the same memfd that grows to
	// the largest such value and keeps that size for the session; a value that finds no
	// room at the moment uses the pipe.
	SharedMemory int
}

func (o Options) address() string {
	if o.Address != "" {
		return o.Address
	}
	if a := os.Getenv("RAY_ADDRESS"); a != "" {
		return a
	}
	if a := recordedAddress(); a != "" {
		return a
	}
	return "auto"
}

// tokenFile is the name of the token file scripts/ray-cluster.sh writes, relative to the
// repository root.
const tokenFile = ".cache/ray-auth-token"

// authToken finds the cluster's token as documented at Options.AuthTokenFile. It returns the
// environment entries that hand it to a Ray process ("" entries: none found) and where it
// came from, for error messages.
func (o Options) authToken() (env []string, source string, err error) {
	if o.AuthTokenFile != "" {
		p, err := filepath.Abs(o.AuthTokenFile)
		if err == nil {
			err = checkTokenFile(p)
		}
		if err != nil {
			return nil, "", fmt.Errorf("fray/ray: Options.AuthTokenFile: %w", err)
		}
		return []string{"RAY_AUTH_TOKEN_PATH=" + p}, p, nil
	}
	if t := os.Getenv("RAY_AUTH_TOKEN"); t != "" {
		return []string{"RAY_AUTH_TOKEN=" + t}, "$RAY_AUTH_TOKEN", nil
	}
	if p := os.Getenv("RAY_AUTH_TOKEN_PATH"); p != "" {
		return []string{"RAY_AUTH_TOKEN_PATH=" + p}, p + " ($RAY_AUTH_TOKEN_PATH)", nil
	}
	if p := findUp(tokenFile); p != "" {
		return []string{"RAY_AUTH_TOKEN_PATH=" + p}, p, nil
	}
	return nil, "", nil
}

// checkTokenFile checks that a token file can be read and is not empty.
func checkTokenFile(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) == "" {
		return fmt.Errorf("%s is empty", p)
	}
	return nil
}

// findUp returns the first existing regular file rel below the working directory or one of
// its parents, or "".
func findUp(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, rel)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// tokenVars are Ray's variables for where the token is; bridgeEnv replaces both when it
// found a token (RAY_AUTH_TOKEN would take precedence over RAY_AUTH_TOKEN_PATH in Ray).
var tokenVars = []string{"RAY_AUTH_TOKEN=", "RAY_AUTH_TOKEN_PATH="}

// bridgeEnv is the bridge's environment: os.Environ() with the token found by authToken
// (which replaces Ray's token variables), and without Ray's authentication variables that
// are set but empty (a test clearing them), which Ray would read as set. It also returns
// where the token came from ("" none). RAY_AUTH_MODE is left alone: the bridge turns token
// mode on itself when the cluster asks for a token and it has one, because a driver in
// token mode cannot own actors on a cluster without authentication (Ray rejects the
// cluster's calls to it and the actors die).
func (o Options) bridgeEnv() ([]string, string, error) {
	tok, source, err := o.authToken()
	if err != nil {
		return nil, "", err
	}
	var env []string
	for _, kv := range os.Environ() {
		drop := kv == "RAY_AUTH_MODE="
		for _, v := range tokenVars {
			if strings.HasPrefix(kv, v) && (tok != nil || kv == v) {
				drop = true
			}
		}
		if !drop {
			env = append(env, kv)
		}
	}
	return append(env, tok...), source, nil
}

// python resolves the interpreter as documented at Options.Python.
func (o Options) python() string {
	if o.Python != "" {
		return o.Python
	}
	if p := os.Getenv("FRAY_PYTHON"); p != "" {
		return p
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, ".venv", "bin", "python")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p := jobDriverPython(); p != "" {
		return p
	}
	return "python3"
}

func (o Options) cacheDir() string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "fray")
	}
	return filepath.Join(os.TempDir(), "fray-cache")
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
