package freshproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Cluster is what the job contexts sharing it have in common: the resource ledger and the
// actors, named ones by namespace and name. Make one per simulated cluster.
type Cluster struct {
	mu      sync.Mutex
	total   map[string]float64
	free    map[string]float64
	changed chan struct{} // closed and replaced whenever resources are freed
	actors  map[backend.ActorID]*actor
	names   map[string]*actor // namespace + "\x00" + name, live actors only
	seq     uint64
}

// NewCluster returns a cluster offering resources in all (for example fraytest's
// SuggestedResources).
func NewCluster(resources map[string]float64) *Cluster {
	c := &Cluster{total: map[string]float64{}, free: map[string]float64{}, changed: make(chan struct{}),
		actors: map[backend.ActorID]*actor{}, names: map[string]*actor{}}
	for k, v := range resources {
		c.total[k], c.free[k] = v, v
	}
	return c
}

// next returns a fresh number for ids.
func (c *Cluster) next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return c.seq
}

// feasible reports the first resource of req the cluster does not have enough of at all.
func (c *Cluster) feasible(req map[string]float64) error {
	for k, v := range req {
		if v > 0 && v > c.total[k] {
			return &fray.InfeasibleError{Resource: k, Requested: v, Capacity: c.total[k]}
		}
	}
	return nil
}

// acquire takes req from the ledger, waiting until it is free, ctx is done or stop closes.
func (c *Cluster) acquire(ctx context.Context, req map[string]float64, stop <-chan struct{}) error {
	if err := c.feasible(req); err != nil {
		return err
	}
	for {
		c.mu.Lock()
		fits := true
		for k, v := range req {
			if v > 0 && c.free[k] < v {
				fits = false
				break
			}
		}
		if fits {
			for k, v := range req {
				c.free[k] -= v
			}
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return errClosed
		}
	}
}

// release gives req back to the ledger.
func (c *Cluster) release(req map[string]float64) {
	c.mu.Lock()
	for k, v := range req {
		c.free[k] += v
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

var errClosed = fmt.Errorf("%w: the freshproc job context was closed", fray.ErrClosed)

func randomID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func unsupportedRequirements() error {
	return &fray.UnsupportedError{Backend: "freshproc", Feature: "RuntimeEnv.PackageRequirements",
		Hint: "set RuntimeEnv.Env only, or use the local or Ray backend"}
}

// mergeEnv returns parent's variables with own's over them, as KEY=VALUE entries and as a
// map for the children of the call.
func mergeEnv(parent, own map[string]string) map[string]string {
	if len(parent) == 0 {
		return own
	}
	out := make(map[string]string, len(parent)+len(own))
	for k, v := range parent {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
