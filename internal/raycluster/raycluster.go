// Package raycluster starts and stops a one-node Ray cluster for development and tests:
// `fray cluster start|stop|status` and scripts/ray-cluster.sh (which runs that command) are
// built on it. The cluster has usage stats off, a "head_node" resource, Ray's token
// authentication on (a new token per start, in a 0600 file), every socket Ray opens bound
// to 127.0.0.1 (the dashboard, with the Jobs and state APIs, too), free ports for all of
// them and its own temp directory, so it can run beside other Ray clusters on the machine.
// Stop ends only the processes of the cluster it started (found by that temp directory),
// never `ray stop`, which would end every Ray process on the machine.
//
// A state directory (by default .cache in the working directory) holds what the other
// commands and ray.Connect look for, in the working directory or one of its parents:
//
//	ray-address     the GCS address, "127.0.0.1:6379" (ray.Options.Address's fallback)
//	ray-auth-token  the token, mode 0600 (ray.Options.AuthTokenFile's fallback)
//	ray-cluster     temp=, address= and dashboard= lines: what stop and status need
//	ray-start.log   the output of `ray start`
package raycluster

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File names in the state directory.
const (
	AddressFile = "ray-address"
	TokenFile   = "ray-auth-token"
	StateFile   = "ray-cluster"
	LogFile     = "ray-start.log"
)

// DefaultStateDir is the state directory's name below the working directory.
const DefaultStateDir = ".cache"

// State is what the state file records about a started cluster.
type State struct {
	Dir       string // the state directory
	TempDir   string // the cluster's --temp-dir
	Address   string // its GCS address, "127.0.0.1:PORT"
	Dashboard string // its dashboard's URL, "http://127.0.0.1:PORT"; "" without a dashboard
}

// TokenPath is the token file of the cluster.
func (s State) TokenPath() string { return filepath.Join(s.Dir, TokenFile) }

// ErrNotStarted is returned by Load when the state directory records no cluster.
var ErrNotStarted = errors.New("no cluster started by `fray cluster start` is recorded here; start one with `fray cluster start`")

// Load reads the state file in dir.
func Load(dir string) (State, error) {
	f, err := os.Open(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return State{}, fmt.Errorf("%s: %w", dir, ErrNotStarted)
	}
	if err != nil {
		return State{}, err
	}
	defer f.Close()
	st := State{Dir: dir}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = unquote(v)
		switch k {
		case "temp":
			st.TempDir = v
		case "address":
			st.Address = v
		case "dashboard":
			st.Dashboard = v
		}
	}
	if err := sc.Err(); err != nil {
		return State{}, err
	}
	if st.TempDir == "" || st.Address == "" {
		return State{}, fmt.Errorf("%s: the state file lacks temp= or address=", filepath.Join(dir, StateFile))
	}
	return st, nil
}

// save writes the state file.
func (s State) save() error {
	var b strings.Builder
	fmt.Fprintf(&b, "temp=%s\naddress=%s\n", quote(s.TempDir), quote(s.Address))
	if s.Dashboard != "" {
		fmt.Fprintf(&b, "dashboard=%s\n", quote(s.Dashboard))
	}
	return os.WriteFile(filepath.Join(s.Dir, StateFile), []byte(b.String()), 0o600)
}

// FindStateDir returns the first directory DefaultStateDir below the working directory or
// one of its parents that holds a state file, or "".
func FindStateDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, DefaultStateDir)
		if st, err := os.Stat(filepath.Join(p, StateFile)); err == nil && st.Mode().IsRegular() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// quote writes v in a form a POSIX shell reads back as v (the state file was sourced by
// earlier versions of scripts/ray-cluster.sh), quoting only when needed.
func quote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:+,@%", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// unquote reverses quote, and bash's printf %q for plain backslash escapes.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' {
		return strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// newToken returns a fresh random token, 64 hex digits.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
