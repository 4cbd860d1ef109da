package ray_test

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
)

// The test cluster (scripts/ray-cluster.sh) requires Ray's token authentication: Connect
// without the token, or with another, fails at once with *ray.AuthError, and with the
// token it found by itself (.cache/ray-auth-token, or RAY_AUTH_TOKEN_PATH) it works.
func TestTokenAuth(t *testing.T) {
	addr := clusterAddress(t)
	python := venvPython(t)
	t.Run("without a token", func(t *testing.T) {
		for _, v := range []string{"RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} {
			t.Setenv(v, "")
		}
		t.Chdir(t.TempDir()) // out of reach of the repository's .cache/ray-auth-token
		jc, err := ray.Connect(t.Context(), ray.Options{Address: addr, Python: python, Logger: testLogger(t)})
		if err == nil {
			jc.Close()
		}
		var ae *ray.AuthError
		if !errors.As(err, &ae) || ae.Source != "" || !strings.Contains(err.Error(), "requires token authentication and no token was found") {
			t.Fatalf("want an *ray.AuthError saying no token was found, got %v", err)
		}
		t.Logf("without a token: %v", err)
	})
	t.Run("with another token", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(wrong, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
			t.Fatal(err)
		}
		jc, err := ray.Connect(t.Context(), ray.Options{Address: addr, Python: python, AuthTokenFile: wrong, Logger: testLogger(t)})
		if err == nil {
			jc.Close()
		}
		var ae *ray.AuthError
		if !errors.As(err, &ae) || ae.Source != wrong || !strings.Contains(err.Error(), "is not the cluster's") {
			t.Fatalf("want an *ray.AuthError naming %s, got %v", wrong, err)
		}
	})
	t.Run("with the token", func(t *testing.T) {
		_, ctx := connect(t, ray.Options{})
		if v, err := SumSquares.Call(ctx, 3); err != nil || v != 5 { // nested calls too
			t.Fatalf("sumsquares(3) = %d, %v", v, err)
		}
	})
}

// No process of the test cluster listens on anything but the loopback interface: GCS,
// raylet, agents, Ray workers (with their Go children), an actor, and this job's bridge.
// The cluster's token file is readable by its owner only.
func TestClusterIsPrivate(t *testing.T) {
	addr := clusterAddress(t)
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	jc, ctx := connect(t, ray.Options{})
	if v, err := SumSquares.Call(ctx, 4); err != nil || v != 14 {
		t.Fatalf("sumsquares(4) = %d, %v", v, err)
	}
	h, err := CounterActor.Create(ctx, 1, fray.ActorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CounterAdd.Call(ctx, h, 1); err != nil {
		t.Fatal(err)
	}

	listen, err := tcpListeners()
	if err != nil {
		t.Fatal(err)
	}
	owner := socketOwners(t)
	session := clusterSession(t, addr, listen, owner)
	pids := descendants(append(processesNaming(session), jc.BridgePID()))
	var mine []string
	for inode, a := range listen {
		if !pids[owner[inode]] {
			continue
		}
		desc := fmt.Sprintf("%s (pid %d, %s)", a, owner[inode], processName(owner[inode]))
		mine = append(mine, desc)
		if !a.ip.IsLoopback() {
			t.Errorf("the test cluster listens on %s, reachable from the network", desc)
		}
	}
	if len(mine) < 3 { // GCS, raylet, the bridge's core worker at least
		t.Fatalf("found only %v among the %d processes of session %s; the scan proves nothing", mine, len(pids), session)
	}
	t.Logf("%d listening sockets of %d processes: %s", len(mine), len(pids), strings.Join(mine, ", "))

	p := os.Getenv("RAY_AUTH_TOKEN_PATH")
	if p == "" {
		p = findUp(t, ".cache/ray-auth-token")
	}
	if p == "" {
		t.Fatal("the test cluster has no token file (RAY_AUTH_TOKEN_PATH or .cache/ray-auth-token): start it with scripts/ray-cluster.sh start")
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file %s has mode %v, want 0600", p, st.Mode().Perm())
	}
}

// venvPython is the Python Connect would use, as an absolute path (tests that change the
// working directory pass it explicitly).
func venvPython(t *testing.T) string {
	if p := os.Getenv("FRAY_PYTHON"); p != "" {
		return p
	}
	if p := findUp(t, ".venv/bin/python"); p != "" {
		return p
	}
	return "python3"
}

func findUp(t *testing.T, rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
		dir = filepath.Dir(dir)
	}
}

// --- /proc ------------------------------------------------------------------------------------

type sockAddr struct {
	ip   net.IP
	port int
}

func (a sockAddr) String() string { return net.JoinHostPort(a.ip.String(), strconv.Itoa(a.port)) }

// tcpListeners returns the listening TCP sockets of the machine (IPv4 and IPv6) by inode.
func tcpListeners() (map[string]sockAddr, error) {
	out := map[string]sockAddr{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		file, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(file)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			a, err := parseProcAddr(fs[1])
			if err != nil {
				file.Close()
				return nil, fmt.Errorf("%s: %v", f, err)
			}
			out[fs[9]] = a
		}
		file.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseProcAddr decodes /proc/net/tcp's "0100007F:18EB": the address as 32-bit words in
// host (little-endian) order, then the port in hex.
func parseProcAddr(s string) (sockAddr, error) {
	h, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(h)
	if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) {
		return sockAddr{}, fmt.Errorf("malformed address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return sockAddr{}, fmt.Errorf("malformed port in %q", s)
	}
	return sockAddr{ip: net.IP(raw), port: int(port)}, nil
}

// socketOwners maps socket inodes to the pid of a process holding them (processes of
// other users are not readable and are left out).
func socketOwners(t *testing.T) map[string]int {
	out := map[string]int{}
	for _, pid := range allPIDs(t) {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err == nil && strings.HasPrefix(l, "socket:[") {
				out[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = pid
			}
		}
	}
	return out
}

func allPIDs(t *testing.T) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(b), "\x00", " ")
}

func processName(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// clusterSession is the session directory of the cluster at addr, read from the command
// line of the process listening on its GCS port (listen and owner: nil to read them).
func clusterSession(t *testing.T, addr string, listen map[string]sockAddr, owner map[string]int) string {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("RAY_ADDRESS %q: %v", addr, err)
	}
	gcsPort, _ := strconv.Atoi(portText)
	if listen == nil {
		if listen, err = tcpListeners(); err != nil {
			t.Fatal(err)
		}
		owner = socketOwners(t)
	}
	gcsPID := 0
	for inode, a := range listen {
		if a.port == gcsPort && owner[inode] != 0 {
			gcsPID = owner[inode]
		}
	}
	if gcsPID == 0 {
		t.Fatalf("no process of this user listens on the GCS port %d", gcsPort)
	}
	for _, arg := range strings.Fields(cmdline(gcsPID)) {
		if v, ok := strings.CutPrefix(arg, "--session-dir="); ok {
			return v
		}
	}
	t.Fatalf("pid %d (%s) on the GCS port has no --session-dir", gcsPID, cmdline(gcsPID))
	return ""
}

// processesNaming lists the processes whose command line contains s.
func processesNaming(s string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && strings.Contains(cmdline(pid), s) {
			out = append(out, pid)
		}
	}
	return out
}

// descendants returns roots and every process below them.
func descendants(roots []int) map[int]bool {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses
		rest := string(b)[strings.LastIndexByte(string(b), ')')+1:]
		fs := strings.Fields(rest)
		if len(fs) > 1 {
			parent[pid], _ = strconv.Atoi(fs[1])
		}
	}
	keep := map[int]bool{}
	for _, r := range roots {
		keep[r] = true
	}
	for grew := true; grew; {
		grew = false
		for pid, pp := range parent {
			if !keep[pid] && keep[pp] {
				keep[pid], grew = true, true
			}
		}
	}
	return keep
}
