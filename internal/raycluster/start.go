package raycluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultResources are the custom resources of a development cluster: "head_node" marks the
// head, as on Marin's clusters (the executor's StatusActor asks for a sliver of it).
const DefaultResources = `{"head_node": 1}`

// Config says how to start a cluster. The zero value, with Python set, is a head with all
// the machine's CPUs, DefaultResources, the GCS on 6379 when free, and the dashboard when
// the virtualenv has Ray's "default" extras.
type Config struct {
	// StateDir is where the address, token and state files go (default DefaultStateDir).
	StateDir string
	// Python is the interpreter of the virtualenv with Ray; `ray` is run from its directory.
	Python string
	// NumCPUs is the head's CPU count; 0 means Ray's default (the machine's cores).
	NumCPUs int
	// Resources is a JSON object of custom resources (default DefaultResources).
	Resources string
	// Port is the GCS port; 0 means 6379 when free, else a free one.
	Port int
	// TempDir is the cluster's --temp-dir. Empty means <StateDir>/ray, or a new directory
	// under /tmp when that path is too long for Ray's unix sockets.
	TempDir string
	// Dashboard is "true", "false" or "" or "auto" (on when Python can import what the dashboard
	// needs: aiohttp, opencensus, prometheus_client).
	Dashboard string
}

// Start starts a cluster as cfg says, unless the state directory records one that runs, and
// returns its state.
func Start(ctx context.Context, cfg Config) (State, error) {
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return State{}, err
	}
	if st, err := Load(dir); err == nil && Running(st) {
		return st, nil
	}
	rayBin := filepath.Join(filepath.Dir(cfg.Python), "ray")
	if _, err := os.Stat(rayBin); err != nil {
		return State{}, fmt.Errorf("no `ray` beside %s (%v): run scripts/setup-python.sh, or pass the Python of a virtualenv with ray installed", cfg.Python, err)
	}
	if cfg.Resources == "" {
		cfg.Resources = DefaultResources
	}
	var res map[string]float64
	if err := json.Unmarshal([]byte(cfg.Resources), &res); err != nil {
		return State{}, fmt.Errorf("resources %q: want a JSON object of numbers: %w", cfg.Resources, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return State{}, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return State{}, err
	}
	os.Remove(filepath.Join(dir, NodesFile)) // an earlier cluster's nodes
	temp, err := tempDir(dir, cfg.TempDir)
	if err != nil {
		return State{}, err
	}
	tok, err := newToken()
	if err != nil {
		return State{}, err
	}
	tokenPath := filepath.Join(dir, TokenFile)
	os.Remove(tokenPath) // a new token for each cluster, readable by this user only
	if err := os.WriteFile(tokenPath, []byte(tok), 0o600); err != nil {
		return State{}, err
	}
	p, err := freePorts(cfg.Port)
	if err != nil {
		return State{}, err
	}
	dashboard := cfg.Dashboard
	if dashboard == "" || dashboard == "auto" {
		dashboard = "false"
		if exec.CommandContext(ctx, cfg.Python, "-c", "import aiohttp, opencensus, prometheus_client").Run() == nil {
			dashboard = "true"
		}
	}
	st := State{Dir: dir, TempDir: temp, Address: "127.0.0.1:" + strconv.Itoa(p.gcs)}
	if dashboard == "true" {
		st.Dashboard = "http://127.0.0.1:" + strconv.Itoa(p.dashboard)
	}
	// Recorded first, so that Stop finds what a failed start left running.
	if err := st.save(); err != nil {
		return State{}, err
	}
	args := []string{"start", "--head", "--node-ip-address=127.0.0.1", "--port=" + strconv.Itoa(p.gcs),
		"--temp-dir=" + temp, "--node-manager-port=" + strconv.Itoa(p.nodeManager),
		"--object-manager-port=" + strconv.Itoa(p.objectManager),
		"--runtime-env-agent-port=" + strconv.Itoa(p.runtimeEnv),
		"--include-dashboard=" + dashboard, "--dashboard-host=127.0.0.1",
		"--dashboard-port=" + strconv.Itoa(p.dashboard),
		"--dashboard-agent-listen-port=" + strconv.Itoa(p.agentHTTP),
		"--dashboard-agent-grpc-port=" + strconv.Itoa(p.agentGRPC),
		"--metrics-export-port=" + strconv.Itoa(p.metrics),
		"--min-worker-port=" + strconv.Itoa(p.workerMin), "--max-worker-port=" + strconv.Itoa(p.workerMax),
		"--resources=" + cfg.Resources, "--disable-usage-stats"}
	if cfg.NumCPUs > 0 {
		args = append(args, "--num-cpus="+strconv.Itoa(cfg.NumCPUs))
	}
	logPath := filepath.Join(dir, LogFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return State{}, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, rayBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = clusterEnv(os.Environ(), tokenPath, cfg.Python)
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		return State{}, fmt.Errorf("ray start failed (%v); its output (%s):\n%s", err, logPath, strings.TrimSpace(string(out)))
	}
	if err := os.WriteFile(filepath.Join(dir, AddressFile), []byte(st.Address+"\n"), 0o600); err != nil {
		return State{}, err
	}
	return st, nil
}

// clusterEnv is the environment of the cluster's processes (they inherit it): base with
// Ray's token authentication on, and
//   - RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which stops Ray from replacing
//     --node-ip-address=127.0.0.1 with the machine's address, which every server binds to;
//   - RUNTIME_ENV_RETRY_TIMES=1: Ray's runtime-env agent runs a failed pip install once, not
//     3 times 1 s apart; what makes pip fail (no such distribution, conflicting versions)
//     does not go away on a retry, and pip retries network errors itself;
//   - FRAY_PYTHON, the cluster's Python, so that a Go program run as a job's driver (fray
//     submit) finds the interpreter with Ray for its bridge.
func clusterEnv(base []string, tokenPath, python string) []string {
	set := map[string]string{
		"RAY_AUTH_MODE":                     "token",
		"RAY_AUTH_TOKEN_PATH":               tokenPath,
		"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
		"RUNTIME_ENV_RETRY_TIMES":           "1",
		"RAY_USAGE_STATS_ENABLED":           "0",
	}
	if p := absProgram(python); p != "" {
		set["FRAY_PYTHON"] = p
	}
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "RAY_AUTH_TOKEN", "RAY_ADDRESS", "RAY_API_SERVER_ADDRESS":
			// Another cluster's: the token would take precedence over this one's file, and
			// the cluster's processes (job drivers too) must not be pointed elsewhere.
			continue
		}
		if _, ok := set[k]; ok {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// maxTempLen bounds the temp dir's length: Ray's unix sockets live at
// <temp>/session_<date>_<time>_<pid>/sockets/plasma_store (about 60 bytes below temp), and
// a socket path has at most 107 bytes.
const maxTempLen = 45

// tempDir prepares the cluster's temp dir: want if set, else <state>/ray emptied of an
// earlier cluster's logs (or a new /tmp/fray-ray.* when that path is too long).
func tempDir(state, want string) (string, error) {
	temp := want
	if temp == "" {
		temp = filepath.Join(state, "ray")
		if len(temp) > maxTempLen {
			d, err := os.MkdirTemp("", "fray-ray.")
			if err != nil {
				return "", err
			}
			temp = d
		} else if err := os.RemoveAll(temp); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(temp, 0o700); err != nil {
		return "", err
	}
	temp, err := filepath.Abs(temp)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(temp); err == nil {
		temp = r
	}
	if len(temp) > maxTempLen+40 {
		return "", fmt.Errorf("temp dir %s is too long for Ray's unix socket paths (keep it under %d bytes)", temp, maxTempLen)
	}
	return temp, nil
}

// ports are what the cluster listens on.
type ports struct {
	gcs, nodeManager, objectManager, runtimeEnv, dashboard, agentHTTP, agentGRPC, metrics int
	workerMin, workerMax                                                                  int
}

// freePorts picks ports nothing listens on at 127.0.0.1: gcs (6379 when free, unless want
// is set) and seven more, held open together so that all differ, and a range of 1000
// worker ports below the kernel's ephemeral ports and above Ray's default range
// (10002-19999), so another cluster with default ports keeps its own, and apart from the
// worker ranges of the raylets running here (see workerRanges). want < 0: the gcs port is
// not needed (a worker node), so 6379 is not preferred.
func freePorts(want int) (ports, error) {
	var got []int
	switch {
	case want > 0:
		got = append(got, want)
	case want == 0 && free(6379):
		got = append(got, 6379)
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for len(got) < 8 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("finding free ports: %w", err)
		}
		held = append(held, l)
		if p := l.Addr().(*net.TCPAddr).Port; !contains(got, p) {
			got = append(got, p)
		}
	}
	const n = 1000
	taken := workerRanges()
	for range 200 {
		lo := 20000 + rand.IntN(32000-n-20000)
		ok := !overlaps(lo, n, taken)
		for _, p := range got {
			if p >= lo && p < lo+n {
				ok = false
			}
		}
		for p := lo; ok && p < lo+n; p++ {
			ok = free(p)
		}
		if ok {
			return ports{got[0], got[1], got[2], got[3], got[4], got[5], got[6], got[7], lo, lo + n - 1}, nil
		}
	}
	return ports{}, errors.New("no free range of 1000 ports for Ray workers in 20000-32000")
}

func free(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// absProgram is the absolute path of program (looked up in PATH when it has no directory),
// without resolving links (a virtualenv's python is a link to the base interpreter), or "".
func absProgram(program string) string {
	if !strings.ContainsRune(program, filepath.Separator) {
		p, err := exec.LookPath(program)
		if err != nil {
			return ""
		}
		program = p
	}
	p, err := filepath.Abs(program)
	if err != nil {
		return ""
	}
	return p
}
