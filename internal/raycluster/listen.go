package raycluster

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Listening returns the TCP addresses ("127.0.0.1:6379") on which the processes of the
// cluster st records listen, sorted: what the cluster exposes. It reads /proc (Linux).
func Listening(st State) ([]string, error) {
	pids, err := clusterPIDs(st.TempDir, st.Address)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, p := range pids {
		fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(p), "fd"))
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(p), "fd", fd.Name()))
			if err == nil && strings.HasPrefix(l, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		addrs, err := listeners(f, inodes)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			seen[a] = true
		}
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

// listeners reads a /proc/net/tcp table and returns the local addresses of the sockets in
// state LISTEN (0A) whose inode is in inodes.
func listeners(table string, inodes map[string]bool) ([]string, error) {
	f, err := os.Open(table)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
			continue
		}
		a, err := parseProcAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", table, err)
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// parseProcAddr decodes /proc/net/tcp's "0100007F:18EB" (the address in host byte order,
// 32-bit words, little-endian here) into "127.0.0.1:6379".
func parseProcAddr(s string) (string, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("malformed address %q", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return "", fmt.Errorf("malformed address %q", s)
	}
	for i := 0; i < len(b); i += 4 { // each 32-bit word is little-endian
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", fmt.Errorf("malformed port in %q", s)
	}
	ip := net.IP(b)
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port))), nil
}
