package ray

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// pythonFS is the bridge (python/fray_bridge.py) and the fray_ray package it runs and ships
// to workers (python/fray_ray: proto, core, shim).
//
//go:embed python/fray_bridge.py python/fray_ray/*.py
var pythonFS embed.FS

// pythonDigest hashes the embedded files, naming their cache directory.
func pythonDigest() string {
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(pythonFS, "python", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := pythonFS.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// extractPython writes the embedded Python files under cache (once per content) and returns
// the directory holding fray_bridge.py.
func extractPython(cache string) (string, error) {
	dir := filepath.Join(cache, "ray-python-"+pythonDigest())
	mark := filepath.Join(dir, ".complete")
	if _, err := os.Stat(mark); err == nil {
		now := time.Now()
		_ = os.Chtimes(mark, now, now) // last used: pruneStale keeps it
		return dir, nil
	}
	defer pruneStale(cache, dir)
	tmp, err := os.MkdirTemp(cache, ".ray-python-*")
	if err != nil {
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return "", fmt.Errorf("fray/ray: cache directory: %w", err)
		}
		if tmp, err = os.MkdirTemp(cache, ".ray-python-*"); err != nil {
			return "", fmt.Errorf("fray/ray: cache directory: %w", err)
		}
	}
	err = fs.WalkDir(pythonFS, "python", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("python", p)
		dst := filepath.Join(tmp, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := pythonFS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("fray/ray: writing the bridge's Python files: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, e := os.Stat(filepath.Join(dir, ".complete")); e == nil {
			return dir, nil // another process won the race
		}
		return "", fmt.Errorf("fray/ray: %w", err)
	}
	return dir, nil
}

// staleAfter is how long an extracted copy of another build's Python files stays unused
// before a newer build's first Connect removes it (each build of fray writes its own).
const staleAfter = 14 * 24 * time.Hour

// pruneStale removes, under cache, other builds' extracted Python directories unused for
// staleAfter (their .complete file records the last use), and leftovers of interrupted
// extractions older than a day. Best effort: what cannot be removed stays.
func pruneStale(cache, keep string) {
	entries, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	now := time.Now()
	for _, e := range entries {
		p := filepath.Join(cache, e.Name())
		if !e.IsDir() || p == keep {
			continue
		}
		switch {
		case strings.HasPrefix(e.Name(), "ray-python-"):
			st, err := os.Stat(filepath.Join(p, ".complete"))
			if err == nil && now.Sub(st.ModTime()) > staleAfter {
				_ = os.RemoveAll(p)
			}
		case strings.HasPrefix(e.Name(), ".ray-python-"):
			if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > 24*time.Hour {
				_ = os.RemoveAll(p)
			}
		}
	}
}

// stageBinary copies bin into a staging directory under cache for ShipWorkingDir and
// returns the directory and the file name in it.
func stageBinary(cache, bin string) (string, string, error) {
	f, err := os.Open(bin)
	if err != nil {
		return "", "", fmt.Errorf("fray/ray: worker binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", "", fmt.Errorf("fray/ray: worker binary: %w", err)
	}
	name := "fray-worker"
	dir := filepath.Join(cache, "ray-stage-"+hex.EncodeToString(h.Sum(nil)[:8]))
	if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
		return dir, name, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(cache, ".ray-stage-*")
	if err != nil {
		return "", "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", "", err
	}
	out, err := os.OpenFile(filepath.Join(tmp, name), os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(out, f)
		if e := out.Close(); err == nil {
			err = e
		}
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		if _, e := os.Stat(filepath.Join(dir, name)); e == nil {
			return dir, name, nil
		}
		return "", "", fmt.Errorf("fray/ray: staging the worker binary: %w", err)
	}
	return dir, name, nil
}
