package raycluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// NodesFile lists, one a line, the temp dirs of the nodes AddNode joined to the cluster.
const NodesFile = "ray-nodes"

// NodeConfig says how to start a worker node.
type NodeConfig struct {
	// TempDir is the node's own --temp-dir; empty means a new directory under /tmp.
	TempDir string
	// NumCPUs is the node's CPU count; 0 means 2.
	NumCPUs int
	// Resources is a JSON object of the node's custom resources (default none), such as
	// {"node_b": 1}, by which tasks and actors are pinned to it.
	Resources string
	// Python is the interpreter of the virtualenv with Ray.
	Python string
}

// liftWorkerNodeCheck runs Ray's `ray start` (its arguments follow on the command line)
// with one check lifted. Ray on Linux replaces 127.0.0.1 with the machine's address unless
// RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and with that set `ray start --address` refuses to
// start a worker node ("not supported on Windows and OSX"). The check reads the flag through
// the command-line module's own reference to Ray's constants, so only that reference sees
// it on; the node's processes get the variable and keep every socket on 127.0.0.1.
const liftWorkerNodeCheck = `import sys, types
from ray.scripts import scripts

real = scripts.ray_constants
lifted = types.ModuleType(real.__name__)
lifted.__getattr__ = lambda name: getattr(real, name)
lifted.ENABLE_RAY_CLUSTER = True
scripts.ray_constants = lifted
sys.argv = ["ray"] + sys.argv[1:]
sys.exit(scripts.main())
`

// AddNode joins a worker node on this machine to the running cluster recorded in the state
// directory dir (`ray start --address`): its own temp dir and free ports, the cluster's
// token, every socket on 127.0.0.1. It returns the node's temp dir, which KillNode takes;
// Stop ends the node with the head.
func AddNode(ctx context.Context, dir string, cfg NodeConfig) (string, error) {
	st, err := Load(dir)
	if err != nil {
		return "", err
	}
	if !Running(st) {
		return "", fmt.Errorf("the cluster recorded in %s (temp dir %s) does not run; start it with `fray cluster start`", dir, st.TempDir)
	}
	if cfg.Resources == "" {
		cfg.Resources = "{}"
	}
	var res map[string]float64
	if err := json.Unmarshal([]byte(cfg.Resources), &res); err != nil {
		return "", fmt.Errorf("resources %q: want a JSON object of numbers: %w", cfg.Resources, err)
	}
	if cfg.NumCPUs <= 0 {
		cfg.NumCPUs = 2
	}
	temp := cfg.TempDir
	if temp == "" {
		if temp, err = os.MkdirTemp("", "fray-ray-node."); err != nil {
			return "", err
		}
	}
	if temp, err = tempDir(dir, temp); err != nil {
		return "", err
	}
	// Recorded first, so that Stop ends what a failed start left running.
	f, err := os.OpenFile(filepath.Join(st.Dir, NodesFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	_, err = fmt.Fprintln(f, temp)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	p, err := freePorts(-1)
	if err != nil {
		return "", err
	}
	args := []string{"-", "start", "--address=" + st.Address, "--node-ip-address=127.0.0.1",
		"--temp-dir=" + temp, "--node-manager-port=" + strconv.Itoa(p.nodeManager),
		"--object-manager-port=" + strconv.Itoa(p.objectManager),
		"--runtime-env-agent-port=" + strconv.Itoa(p.runtimeEnv),
		"--dashboard-agent-listen-port=" + strconv.Itoa(p.agentHTTP),
		"--dashboard-agent-grpc-port=" + strconv.Itoa(p.agentGRPC),
		"--metrics-export-port=" + strconv.Itoa(p.metrics),
		"--min-worker-port=" + strconv.Itoa(p.workerMin), "--max-worker-port=" + strconv.Itoa(p.workerMax),
		"--num-cpus=" + strconv.Itoa(cfg.NumCPUs), "--resources=" + cfg.Resources, "--disable-usage-stats"}
	logPath := filepath.Join(temp, LogFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, cfg.Python, args...)
	cmd.Stdin = strings.NewReader(liftWorkerNodeCheck)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = clusterEnv(os.Environ(), st.TokenPath(), cfg.Python)
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		return "", fmt.Errorf("ray start --address failed (%v); its output (%s):\n%s", err, logPath, strings.TrimSpace(string(out)))
	}
	return temp, nil
}

// Nodes returns the temp dirs of the nodes AddNode joined to the cluster of dir.
func Nodes(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, NodesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// KillNode simulates the failure of a node AddNode started (temp is its temp dir): its
// raylet (found by its --temp_dir) and every other process of the node (its workers are
// the raylet's descendants) get SIGKILL at once, raylet first, so that, as when a machine
// dies, no worker of the node outlives it to finish a task. The head and the other nodes
// live on. It returns the number of processes killed.
func KillNode(dir, temp string) (int, error) {
	if r, err := filepath.EvalSymlinks(temp); err == nil {
		temp = r
	}
	nodes, err := Nodes(dir)
	if err != nil {
		return 0, err
	}
	if !slices.Contains(nodes, temp) {
		return 0, fmt.Errorf("%s is not the temp dir of a node `fray cluster add-node` started (those are listed in %s)", temp, filepath.Join(dir, NodesFile))
	}
	pids, err := clusterPIDs(temp, "") // one snapshot: the raylet's children move to init once it is gone
	if err != nil {
		return 0, err
	}
	raylet := 0
	for _, p := range pids {
		if isRaylet(cmdlineOf(p), temp) {
			raylet = p
		}
	}
	if raylet == 0 {
		return 0, fmt.Errorf("no raylet runs with --temp_dir=%s", temp)
	}
	if err := signalPID(raylet, os.Kill); err != nil {
		return 0, fmt.Errorf("killing raylet %d: %w", raylet, err)
	}
	for _, p := range pids {
		if p != raylet {
			signalPID(p, os.Kill)
		}
	}
	return len(pids), nil
}

// cmdlineOf returns the arguments of process pid (nil when it is gone).
func cmdlineOf(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// isRaylet reports whether args are those of the raylet of the node whose temp dir is temp.
func isRaylet(args []string, temp string) bool {
	return len(args) > 0 && filepath.Base(args[0]) == "raylet" && slices.Contains(args[1:], "--temp_dir="+temp)
}

// workerRanges returns the [min, max] worker port ranges of the raylets running on the
// machine (another cluster's, or this cluster's head when AddNode runs): their idle ports
// are not listened on yet, so a free-port probe does not see them.
func workerRanges() [][2]int {
	entries, _ := os.ReadDir("/proc")
	var out [][2]int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if r, ok := workerRange(cmdlineOf(pid)); ok {
			out = append(out, r)
		}
	}
	return out
}

// workerRange reads --min_worker_port= and --max_worker_port= from a raylet's arguments.
func workerRange(args []string) ([2]int, bool) {
	lo, hi := -1, -1
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--min_worker_port="); ok {
			lo, _ = strconv.Atoi(v)
		} else if v, ok := strings.CutPrefix(a, "--max_worker_port="); ok {
			hi, _ = strconv.Atoi(v)
		}
	}
	return [2]int{lo, hi}, lo > 0 && hi >= lo
}

// overlaps reports whether [lo, lo+n) meets any of the ranges.
func overlaps(lo, n int, ranges [][2]int) bool {
	for _, r := range ranges {
		if lo <= r[1] && r[0] < lo+n {
			return true
		}
	}
	return false
}
