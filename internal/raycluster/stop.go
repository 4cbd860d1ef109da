package raycluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Running reports whether processes of the cluster st records still run.
func Running(st State) bool {
	pids, err := clusterPIDs(st.TempDir, st.Address)
	return err == nil && len(alive(pids)) > 0
}

// Stop ends the processes of the cluster recorded in the state directory dir, its added
// nodes' included (SIGTERM, then SIGKILL for what is left after 10 s: Ray's GCS and raylet
// take that long to shut down gracefully, if they do) and removes its address, token, state
// and nodes files. It
// returns the number of processes ended; ErrNotStarted (wrapped) when nothing is recorded.
func Stop(dir string) (int, error) {
	st, err := Load(dir)
	if err != nil {
		return 0, err
	}
	// One snapshot: once the raylet is gone its children belong to init, not to the cluster.
	pids, err := clusterPIDs(st.TempDir, st.Address)
	if err != nil {
		return 0, err
	}
	nodes, err := Nodes(dir) // and those of the nodes AddNode joined to it
	if err != nil {
		return 0, err
	}
	for _, n := range nodes {
		np, err := clusterPIDs(n, "")
		if err != nil {
			return 0, err
		}
		pids = append(pids, np...)
	}
	for _, p := range pids {
		signalPID(p, syscall.SIGTERM)
	}
	left := pids
	for i := 0; i < 50 && len(left) > 0; i++ {
		time.Sleep(200 * time.Millisecond)
		left = alive(left)
	}
	for _, p := range left {
		signalPID(p, os.Kill)
	}
	for i := 0; i < 25 && len(left) > 0; i++ { // until the kernel has ended them
		time.Sleep(200 * time.Millisecond)
		left = alive(left)
	}
	for _, f := range []string{AddressFile, StateFile, TokenFile, NodesFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return len(pids), err
		}
	}
	return len(pids), nil
}

// alive returns the processes of pids that exist and are not zombies waiting to be reaped.
func alive(pids []int) []int {
	var out []int
	for _, p := range pids {
		if s, err := procStat(p); err == nil && s.state != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// dirFlags are the flags by which Ray's processes name a directory of their cluster
// (GCS, raylet, monitor, dashboard, log monitor), so that a `less` of one of its logs is
// not taken for one of them.
var dirFlags = []string{"--session-dir=", "--session_dir=", "--temp-dir=", "--temp_dir=", "--logs-dir=", "--log-dir=", "--log_dir="}

// clusterPIDs returns the processes of the cluster whose --temp-dir is temp: those with a
// directory flag in it, and all their descendants (Ray's agents and workers, and the
// workers' children), and, when gcs is the head's GCS address, the head's Ray Client
// server, which names no directory and whose parent (`ray start`) has exited, so that
// nothing else ties it to the cluster (left behind, it kept port 10001). It reads /proc
// (Linux).
func clusterPIDs(temp, gcs string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("finding the cluster's processes needs /proc (Linux): %w", err)
	}
	self := os.Getpid()
	parent := map[int]int{}
	keep := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		s, err := procStat(pid)
		if err != nil {
			continue
		}
		parent[pid] = s.ppid
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if gcs != "" && slices.Contains(args, "ray.util.client.server") && slices.Contains(args, "--address="+gcs) {
			keep[pid] = true
			continue
		}
		for _, arg := range args {
			if inDir(arg, temp) {
				keep[pid] = true
				break
			}
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	for grew := true; grew; {
		grew = false
		for p, pp := range parent {
			if !keep[p] && keep[pp] {
				keep[p], grew = true, true
			}
		}
	}
	var out []int
	for p := range keep {
		out = append(out, p)
	}
	return out, nil
}

// inDir reports whether arg is one of dirFlags naming temp or a path below it.
func inDir(arg, temp string) bool {
	for _, f := range dirFlags {
		if v, ok := strings.CutPrefix(arg, f); ok {
			return v == temp || strings.HasPrefix(v, temp+"/")
		}
	}
	return false
}

type stat struct {
	state string
	ppid  int
}

// procStat reads a process's state and parent from /proc/PID/stat (after the command name
// in parentheses, which may itself hold spaces and parentheses).
func procStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return stat{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return stat{}, errors.New("malformed stat")
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return stat{}, err
	}
	return stat{state: f[0], ppid: ppid}, nil
}

// signalPID sends sig to process pid, on every OS (os.Process rather than syscall.Kill,
// which only unix has; outside unix only os.Kill is deliverable).
func signalPID(pid int, sig os.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer p.Release()
	return p.Signal(sig)
}
