package procpool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/fray-go/fray"
)

// Key identifies a group of interchangeable worker processes: same environment variables,
// same pip requirements, same GPU ids and same MaxCalls. A call only reuses a process of
// its own key.
type Key string

// KeyOf returns the key of a task spec.
func KeyOf(env fray.RuntimeEnv, gpuIDs []int, maxCalls int) Key {
	h := sha256.New()
	for _, kv := range env.EnvList() {
		fmt.Fprintf(h, "env %q\n", kv)
	}
	for _, r := range sortedReqs(env.PackageRequirements) {
		fmt.Fprintf(h, "pip %q\n", r)
	}
	if gpuIDs != nil {
		fmt.Fprintf(h, "gpus %q\n", CUDAVisibleDevices(gpuIDs))
	}
	fmt.Fprintf(h, "max_calls %d\n", maxCalls)
	return Key(hex.EncodeToString(h.Sum(nil)[:12]))
}

func sortedReqs(reqs []string) []string {
	out := make([]string, 0, len(reqs))
	seen := map[string]bool{}
	for _, r := range reqs {
		r = strings.TrimSpace(r)
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// RequirementsHash names the virtualenv for a set of pip requirements: the hex SHA-256
// prefix of the sorted, de-duplicated requirement lines (as Ray keys its pip environments).
func RequirementsHash(reqs []string) string {
	h := sha256.Sum256([]byte(strings.Join(sortedReqs(reqs), "\n")))
	return hex.EncodeToString(h[:12])
}

// CUDAVisibleDevices formats GPU ids for CUDA_VISIBLE_DEVICES ("0,2"; "" for none).
func CUDAVisibleDevices(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}

// workerEnv is the environment a worker process gets over the parent's: the runtime env's
// variables, the virtualenv (its bin directory leading PATH, VIRTUAL_ENV) and
// CUDA_VISIBLE_DEVICES when GPU ids are given (nil ids leave it as inherited; an empty,
// non-nil list hides every GPU).
func workerEnv(env fray.RuntimeEnv, venv string, gpuIDs []int) []string {
	out := env.EnvList()
	if venv != "" {
		path, ok := env.Env["PATH"]
		if !ok {
			path = os.Getenv("PATH")
		}
		bin := filepath.Join(venv, "bin")
		if path != "" {
			bin += string(os.PathListSeparator) + path
		}
		out = append(out, "PATH="+bin, "VIRTUAL_ENV="+venv)
	}
	if gpuIDs != nil {
		out = append(out, "CUDA_VISIBLE_DEVICES="+CUDAVisibleDevices(gpuIDs))
	}
	return out
}

// venvCache builds pip virtualenvs once per requirement set: concurrent first uses in this
// process share one build, and a lock file serializes builds across processes.
type venvCache struct {
	dir    string
	python string

	mu     sync.Mutex
	builds map[string]*venvBuild
}

type venvBuild struct {
	done chan struct{}
	path string
	err  error
}

const readyMarker = ".fray-ready"

// get returns the virtualenv directory for reqs, building it if needed.
func (c *venvCache) get(ctx context.Context, reqs []string) (string, error) {
	reqs = sortedReqs(reqs)
	if len(reqs) == 0 {
		return "", nil
	}
	hash := RequirementsHash(reqs)
	dir := filepath.Join(c.dir, hash)
	if _, err := os.Stat(filepath.Join(dir, readyMarker)); err == nil {
		return dir, nil
	}
	c.mu.Lock()
	b, ok := c.builds[hash]
	if !ok {
		b = &venvBuild{done: make(chan struct{})}
		c.builds[hash] = b
		go func() {
			// The build outlives a cancelled first caller so that the others still get it.
			b.path, b.err = c.build(context.WithoutCancel(ctx), dir, reqs)
			c.mu.Lock()
			if b.err != nil {
				delete(c.builds, hash) // a later call tries again
			}
			c.mu.Unlock()
			close(b.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-b.done:
		return b.path, b.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// buildCount counts the virtualenvs actually built (tests check that concurrent first uses
// build once).
var buildCount struct {
	sync.Mutex
	n int
}

func (c *venvCache) build(ctx context.Context, dir string, reqs []string) (string, error) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return "", &fray.RuntimeEnvError{Detail: fmt.Sprintf("creating the virtualenv cache %s: %v", c.dir, err), Cause: err}
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", &fray.RuntimeEnvError{Detail: fmt.Sprintf("virtualenv lock: %v", err), Cause: err}
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return "", &fray.RuntimeEnvError{Detail: fmt.Sprintf("virtualenv lock: %v", err), Cause: err}
	}
	defer unlockFile(lock)
	if _, err := os.Stat(filepath.Join(dir, readyMarker)); err == nil {
		return dir, nil // another process built it while we waited
	}
	buildCount.Lock()
	buildCount.n++
	buildCount.Unlock()
	_ = os.RemoveAll(dir) // a partial build from a crashed process
	fail := func(step string, out []byte, err error) (string, error) {
		_ = os.RemoveAll(dir)
		return "", &fray.RuntimeEnvError{Cause: err,
			Detail: fmt.Sprintf("%s for requirements %s failed (%v):\n%s", step, strings.Join(reqs, " "), err, tail(out, 8<<10))}
	}
	if out, err := exec.CommandContext(ctx, c.python, "-m", "venv", dir).CombinedOutput(); err != nil {
		return fail(c.python+" -m venv", out, err)
	}
	reqFile := filepath.Join(dir, "fray-requirements.txt")
	if err := os.WriteFile(reqFile, []byte(strings.Join(reqs, "\n")+"\n"), 0o644); err != nil {
		return fail("writing requirements", nil, err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "bin", "python"), "-m", "pip", "install",
		"--disable-pip-version-check", "--no-input", "-r", reqFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail("pip install", out, err)
	}
	if err := os.WriteFile(filepath.Join(dir, readyMarker), nil, 0o644); err != nil {
		return fail("marking the virtualenv ready", nil, err)
	}
	return dir, nil
}

// tail keeps the last n bytes of out, on a line boundary when possible.
func tail(out []byte, n int) string {
	if len(out) <= n {
		return string(out)
	}
	out = out[len(out)-n:]
	if i := bytes.IndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return "...\n" + string(out)
}

var errNoGPU = errors.New("procpool: not enough free GPU capacity")

// GPUSet hands out concrete GPU indices for GPU amounts a scheduler has already admitted,
// the way Ray assigns GPU instances: a fraction (≤ 1) shares one GPU that still has that
// much free (the fullest that fits, then the lowest index); a whole number n takes n GPUs
// that are entirely free (lowest indices first). Safe for concurrent use.
type GPUSet struct {
	mu   sync.Mutex
	free []int64 // per GPU, in fray resource units (fray.Units(1) = whole GPU)
}

// GPUGrant is what Assign handed out, to give back with Release.
type GPUGrant struct {
	IDs    []int
	PerGPU int64 // units taken from each id
}

// NewGPUSet manages n GPUs with indices 0..n-1.
func NewGPUSet(n int) *GPUSet {
	g := &GPUSet{free: make([]int64, n)}
	for i := range g.free {
		g.free[i] = fray.Units(1)
	}
	return g
}

// Assign takes amount GPUs (0 gives an empty, non-nil grant). It fails, taking nothing,
// when the free capacity is not where the amount needs it (e.g. two half-free GPUs for a
// request of 1); errors.Is(err, fray.ErrInfeasible) holds when the set is too small for
// the amount ever to fit.
func (g *GPUSet) Assign(amount float64) (GPUGrant, error) {
	units := fray.Units(amount)
	whole := fray.Units(1)
	if units <= 0 {
		return GPUGrant{IDs: []int{}}, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if units <= whole {
		best := -1
		for i, f := range g.free {
			if f >= units && (best < 0 || f < g.free[best]) {
				best = i
			}
		}
		if best < 0 {
			if len(g.free) == 0 {
				return GPUGrant{}, &fray.InfeasibleError{Resource: fray.GPU, Requested: amount, Capacity: 0}
			}
			return GPUGrant{}, fmt.Errorf("%w: no GPU has %g free", errNoGPU, amount)
		}
		g.free[best] -= units
		return GPUGrant{IDs: []int{best}, PerGPU: units}, nil
	}
	if units%whole != 0 {
		return GPUGrant{}, fmt.Errorf("%w: GPU amounts above 1 must be whole, got %g", fray.ErrInvalidResources, amount)
	}
	n := int(units / whole)
	if n > len(g.free) {
		return GPUGrant{}, &fray.InfeasibleError{Resource: fray.GPU, Requested: amount, Capacity: float64(len(g.free))}
	}
	var ids []int
	for i, f := range g.free {
		if f == whole {
			ids = append(ids, i)
			if len(ids) == n {
				break
			}
		}
	}
	if len(ids) < n {
		return GPUGrant{}, fmt.Errorf("%w: %g whole GPUs requested, %d entirely free", errNoGPU, amount, len(ids))
	}
	for _, id := range ids {
		g.free[id] = 0
	}
	return GPUGrant{IDs: ids, PerGPU: whole}, nil
}

// Len returns how many GPUs the set manages.
func (g *GPUSet) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.free)
}

// Release gives a grant back.
func (g *GPUSet) Release(gr GPUGrant) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range gr.IDs {
		if id >= 0 && id < len(g.free) {
			g.free[id] = min(g.free[id]+gr.PerGPU, fray.Units(1))
		}
	}
}

// Free returns the free amount of each GPU.
func (g *GPUSet) Free() []float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]float64, len(g.free))
	for i, f := range g.free {
		out[i] = fray.FromUnits(f)
	}
	return out
}
