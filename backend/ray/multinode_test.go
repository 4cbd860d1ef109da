package ray_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/raycluster"
	"github.com/fray-go/fray/internal/raytest"
)

var (
	// Where is the path of the running Go binary: with ShipWorkingDir, its copy in the
	// job's working_dir under the --temp-dir of the node that runs the task, which says
	// which node (and that the binary was shipped there).
	Where = fray.NewTask("raytest.where", func(ctx context.Context, _ int) (string, error) { return os.Executable() })
	// CounterWhere is Where for an actor.
	CounterWhere = fray.NewMethod(CounterActor, "Where", func(c *Counter, ctx context.Context, _ int) (string, error) {
		return os.Executable()
	})
	// Hold tells a.Started it runs, then waits until the file a.Release exists (or its
	// context ends), and says where it ran and on which attempt.
	Hold = fray.NewTask("raytest.hold", func(ctx context.Context, a HoldArgs) (Held, error) {
		if _, err := CounterAdd.Call(ctx, a.Started, 1); err != nil {
			return Held{}, err
		}
		for {
			if _, err := os.Stat(a.Release); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return Held{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		exe, err := os.Executable()
		info, _ := fray.TaskInfoFrom(ctx)
		return Held{Exe: exe, Attempt: info.Attempt}, err
	})

	// GangOnB creates a STRICT_PACK group of two bundles of 1 CPU on node b, waits for it
	// (two minutes at most: unlent, it would never be placed beside a task holding a CPU
	// of b) and runs Where in each bundle.
	GangOnB = fray.NewTask("raytest.gangOnB", func(ctx context.Context, _ int) ([]string, error) {
		b := fray.Resources{fray.CPU: 1, "node_b": 0.01}
		g, err := fray.CreatePlacementGroup(ctx, fray.PlacementGroupOptions{Bundles: []fray.Resources{b, b}, Strategy: fray.StrictPack})
		if err != nil {
			return nil, err
		}
		defer g.Remove(context.WithoutCancel(ctx))
		if err := g.Ready(ctx, 2*time.Minute); err != nil {
			return nil, err
		}
		var where []string
		for i := 0; i < 2; i++ {
			dir, err := Where.Call(ctx, 0, fray.TaskOptions{Resources: fray.Resources{fray.CPU: 1}, Placement: &fray.PlacementOptions{Group: g, Bundle: i}})
			if err != nil {
				return nil, err
			}
			where = append(where, dir)
		}
		return where, nil
	})
)

// HoldArgs is Hold's argument.
type HoldArgs struct {
	Started fray.ActorHandle[Counter]
	Release string
}

// Held is Hold's result.
type Held struct {
	Exe     string // Where's answer
	Attempt int
}

// multiNode is a Ray cluster of two nodes on this machine, started by the test with
// internal/raycluster (what `fray cluster start|add-node|kill-node|stop` and
// scripts/ray-cluster.sh run), with its own state dir, temp dirs and ports, token
// authentication and every socket on loopback: a head with {"head_node": 1, "slot": 1} and
// 2 CPUs, and a second raylet with {"node_b": 1, "slot": 1} and 2 CPUs.
type multiNode struct {
	python, state  string
	address, token string
	head, b        string // the nodes' --temp-dir
}

func startMultiNode(t *testing.T) *multiNode {
	began := time.Now()
	python := raytest.Python(t)
	// Short paths: Ray's unix sockets live some 60 bytes below a temp dir, and a socket
	// path has at most 107.
	dir, err := os.MkdirTemp("", "fray-mn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &multiNode{python: python, state: filepath.Join(dir, "state")}
	// The GCS declares a node dead after 3 missed health checks 1 s apart (Ray's defaults:
	// 5 missed, 3 s apart), so the node-failure part takes seconds, not 20. The cluster's
	// processes inherit these.
	for k, v := range map[string]string{"RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "1000",
		"RAY_health_check_timeout_ms": "1000", "RAY_health_check_failure_threshold": "3"} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() { _, _ = raycluster.Stop(c.state) })
	port, err := strconv.Atoi(freePort(t))
	if err != nil {
		t.Fatal(err)
	}
	st, err := raycluster.Start(ctx, raycluster.Config{StateDir: c.state, Python: python, NumCPUs: 2,
		Resources: `{"head_node": 1, "slot": 1}`, Port: port, TempDir: filepath.Join(dir, "h"), Dashboard: "false"})
	if err != nil {
		t.Fatalf("starting the head: %v", err)
	}
	c.address, c.token, c.head = st.Address, st.TokenPath(), st.TempDir
	c.b, err = raycluster.AddNode(ctx, c.state, raycluster.NodeConfig{TempDir: filepath.Join(dir, "b"), NumCPUs: 2,
		Resources: `{"node_b": 1, "slot": 1}`, Python: python})
	if err != nil {
		t.Fatalf("adding node b: %v", err)
	}
	t.Logf("two-node cluster at %s up after %v", c.address, time.Since(began).Round(time.Second))
	return c
}

// connect connects a driver to the cluster, shipping the test binary by working_dir.
func (c *multiNode) connect(t *testing.T, ns string) (*ray.JobContext, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	jc, err := ray.Connect(ctx, ray.Options{Address: c.address, AuthTokenFile: c.token, Python: c.python,
		Namespace: ns, Ship: ray.ShipWorkingDir, CacheDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Connect to the two-node cluster: %v", err)
	}
	t.Cleanup(func() { jc.Close() })
	return jc, fray.WithJobContext(ctx, jc)
}

// node names the node of a path Where returned: "head", "b", or the path itself.
func (c *multiNode) node(exe string) string {
	switch {
	case strings.HasPrefix(exe, c.head+string(filepath.Separator)):
		return "head"
	case strings.HasPrefix(exe, c.b+string(filepath.Separator)):
		return "b"
	}
	return exe
}

// checkLoopbackOnly fails t when a process of the cluster (one naming a node's temp dir, or
// below one: agents, Ray workers, their Go children) listens on anything but loopback.
func (c *multiNode) checkLoopbackOnly(t *testing.T) {
	t.Helper()
	listen, err := tcpListeners()
	if err != nil {
		t.Fatal(err)
	}
	owner := socketOwners(t)
	pids := descendants(append(processesNaming(c.head), processesNaming(c.b)...))
	seen := 0
	for inode, a := range listen {
		if !pids[owner[inode]] {
			continue
		}
		seen++
		if !a.ip.IsLoopback() {
			t.Errorf("the two-node cluster listens on %s (pid %d, %s), reachable from the network", a, owner[inode], processName(owner[inode]))
		}
	}
	if seen < 6 { // GCS, two raylets and their object managers at least
		t.Fatalf("found only %d listening sockets of the two nodes' processes; the scan proves nothing", seen)
	}
	t.Logf("%d listening sockets of the two nodes' processes, all on loopback", seen)
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

var (
	onHead = fray.Resources{fray.HeadNode: 0.01}
	onB    = fray.Resources{"node_b": 0.01}
)

func withCPU(r fray.Resources) fray.Resources {
	out := fray.Resources{fray.CPU: 1}
	for k, v := range r {
		out[k] = v
	}
	return out
}

// TestMultiNode runs fray on a real two-node Ray cluster (see multiNode): the binary
// shipped by working_dir to both nodes, tasks and actors pinned to each node by resource,
// objects passed between the nodes, a detached actor outliving its driver, and then the
// second node's raylet killed mid-run: its tasks are retried on the head and a restartable
// actor is restarted there.
func TestMultiNode(t *testing.T) {
	c := startMultiNode(t)
	ns := fmt.Sprintf("raytest-multinode-%d", time.Now().UnixNano())
	jc1, ctx := c.connect(t, ns)
	waitForNodeB(t, ctx, jc1)
	mark := phases(t)

	// pinned tasks and actors
	for _, tc := range []struct {
		node string
		res  fray.Resources
	}{{"head", onHead}, {"b", onB}} {
		dir, err := Where.Call(ctx, 0, fray.TaskOptions{Resources: withCPU(tc.res)})
		if err != nil || c.node(dir) != tc.node {
			t.Fatalf("task pinned to node %s ran in %q (node %q), %v", tc.node, dir, c.node(dir), err)
		}
		h, err := CounterActor.Create(ctx, 0, fray.ActorOptions{Resources: tc.res})
		if err != nil {
			t.Fatal(err)
		}
		if dir, err := CounterWhere.Call(ctx, h, 0); err != nil || c.node(dir) != tc.node {
			t.Fatalf("actor pinned to node %s runs in %q (node %q), %v", tc.node, dir, c.node(dir), err)
		}
	}

	c.checkLoopbackOnly(t)
	mark("tasks and actors pinned to each node")

	// objects between nodes: made on b and read on the head; put by the driver (on the
	// head) and read on b. 2 MiB each, well above what Ray inlines, so they travel between
	// the nodes' object stores.
	const size = 2 << 20
	made, err := Blob.Remote(ctx, size, fray.TaskOptions{Resources: withCPU(onB)})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Digest.RemoteRef(ctx, made, fray.TaskOptions{Resources: withCPU(onHead)}); err != nil {
		t.Fatal(err)
	} else if got, err := d.Get(ctx); err != nil || got != sha256.Sum256(pattern(size, size)) {
		t.Fatalf("an object made on b, read on the head: digest %x, %v", got, err)
	}
	put, err := fray.Put(ctx, pattern(size, 7))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Digest.RemoteRef(ctx, put, fray.TaskOptions{Resources: withCPU(onB)}); err != nil {
		t.Fatal(err)
	} else if got, err := d.Get(ctx); err != nil || got != sha256.Sum256(pattern(size, 7)) {
		t.Fatalf("an object put on the head, read on b: digest %x, %v", got, err)
	}

	mark("objects passed between the nodes")

	// A task on b that holds one of b's two CPUs gang-schedules two one-CPU bundles on b
	// (the pipeline's cross-validation): the group is placed only with the CPU the task
	// lends while it waits in Ready, as Ray lends it in ray.get(pg.ready()).
	if where, err := GangOnB.Call(ctx, 0, fray.TaskOptions{Resources: withCPU(onB)}); err != nil {
		t.Fatalf("a task waiting for a group that needs its CPU: %v", err)
	} else {
		for i, dir := range where {
			if c.node(dir) != "b" {
				t.Fatalf("bundle %d's task ran in %q (node %q), want b", i, dir, c.node(dir))
			}
		}
	}

	mark("a task lent its CPU to the group it waited for")

	// a detached actor on b outlives its driver: a second driver finds it, state intact
	keeper, err := CounterActor.Create(ctx, 41, fray.ActorOptions{Name: "keeper", Lifetime: fray.Detached, Resources: onB})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := CounterAdd.Call(ctx, keeper, 1); err != nil || v != 42 {
		t.Fatalf("detached actor: Add = %d, %v", v, err)
	}
	if err := jc1.Close(); err != nil {
		t.Fatal(err)
	}
	_, ctx = c.connect(t, ns)
	keeper, err = CounterActor.Lookup(ctx, "keeper", "")
	if err != nil {
		t.Fatalf("the second driver cannot find the detached actor: %v", err)
	}
	if v, err := CounterAdd.Call(ctx, keeper, 1); err != nil || v != 43 {
		t.Fatalf("detached actor after its driver ended: Add = %d, %v (want 43)", v, err)
	}
	if err := keeper.Kill(ctx); err != nil {
		t.Fatal(err)
	}

	mark("a detached actor outlived its driver")
	nodeFailure(t, ctx, c, mark)
}

// phases returns a function that logs how long the test took since its last call.
func phases(t *testing.T) func(what string) {
	last := time.Now()
	return func(what string) {
		t.Logf("%s: %v", what, time.Since(last).Round(100*time.Millisecond))
		last = time.Now()
	}
}

// nodeFailure kills node b's raylet while two tasks run there (and two on the head) and a
// restartable actor lives there: the tasks are retried on the head, the actor is restarted
// on the head (fresh state).
func nodeFailure(t *testing.T, ctx context.Context, c *multiNode, mark func(string)) {
	// The one "slot" of the head is taken, so the restartable actor (which needs a slot)
	// starts on b; once b is gone and the blocker killed, it can only restart on the head.
	blocker, err := CounterActor.Create(ctx, 0, fray.ActorOptions{Resources: fray.Resources{"slot": 1, fray.HeadNode: 0.01}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CounterAdd.Call(ctx, blocker, 0); err != nil { // placed, holding the slot
		t.Fatal(err)
	}
	phoenix, err := CounterActor.Create(ctx, 1, fray.ActorOptions{Resources: fray.Resources{"slot": 1}, MaxRestarts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if dir, err := CounterWhere.Call(ctx, phoenix, 0); err != nil || c.node(dir) != "b" {
		t.Fatalf("restartable actor: runs in %q (node %q), %v; want node b", dir, c.node(dir), err)
	}
	if v, err := CounterAdd.Call(ctx, phoenix, 5); err != nil || v != 6 {
		t.Fatalf("restartable actor: Add = %d, %v", v, err)
	}

	// 4 one-CPU tasks on 2+2 CPUs: once all 4 run, 2 run on b.
	started, err := CounterActor.Create(ctx, 0, fray.ActorOptions{Resources: onHead})
	if err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(t.TempDir(), "release")
	var held []fray.Ref[Held]
	for i := 0; i < 4; i++ {
		r, err := Hold.Remote(ctx, HoldArgs{Started: started, Release: release})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	for n := 0; n < 4; {
		if n, err = CounterAdd.Call(ctx, started, 0); err != nil {
			t.Fatal(err)
		}
		if n < 4 {
			time.Sleep(100 * time.Millisecond)
		}
	}

	mark("a restartable actor and 2+2 tasks running")
	if _, err := raycluster.KillNode(c.state, c.b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	retried := 0
	for i, r := range held {
		h, err := r.Get(ctx)
		if err != nil {
			t.Fatalf("task %d after node b died: %v (want it retried on the head)", i, err)
		}
		if c.node(h.Exe) != "head" {
			t.Fatalf("task %d finished in %q (node %q) after node b died", i, h.Exe, c.node(h.Exe))
		}
		if h.Attempt > 0 {
			retried++
		}
	}
	if retried != 2 {
		t.Fatalf("%d tasks were retried after node b died, want the 2 that ran there", retried)
	}

	mark("node b killed, its 2 tasks retried on the head")

	// the actor: restarted on the head once the slot is free, with its constructor's state
	if err := blocker.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		v, err := CounterAdd.Call(ctx, phoenix, 5)
		if err == nil {
			if v != 6 {
				t.Fatalf("restarted actor: Add = %d, want 6 (a fresh constructor run)", v)
			}
			break
		}
		if !errors.Is(err, fray.ErrActorDied) || time.Now().After(deadline) {
			t.Fatalf("restartable actor after node b died: %v", err)
		}
	}
	if dir, err := CounterWhere.Call(ctx, phoenix, 0); err != nil || c.node(dir) != "head" {
		t.Fatalf("restarted actor runs in %q (node %q), %v; want the head", dir, c.node(dir), err)
	}
	mark("the actor restarted on the head")
}

// waitForNodeB waits (bounded) until the cluster reports node b's resource.
func waitForNodeB(t *testing.T, ctx context.Context, jc *ray.JobContext) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		res, err := jc.ClusterResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res["node_b"] > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b never joined: the cluster has %v", res)
		}
	}
}
