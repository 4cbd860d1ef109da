package ray

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/logging"
	"github.com/fray-go/fray/internal/wire"
	"github.com/fray-go/fray/internal/worker" // worker mode: Ray workers run this binary
)

// JobContext is a fray job running on a Ray cluster; it implements backend.JobContext. Create
// it with Connect and end it with Close.
type JobContext struct {
	b      *bridge
	ready  bridgeReady
	opts   Options
	prefix string
	marker []byte // the CBOR text of the job id, found in every encoded Ref or actor handle of the job
	seq    atomic.Uint64

	nodesMu sync.Mutex
	nodes   []map[string]float64

	closeOnce sync.Once
	closed    atomic.Bool

	// Released ids wait here for one frame (Release).
	relMu      sync.Mutex
	relPending []string
	relDone    chan struct{} // non-nil while a flusher runs; closed when it ends
	relClosed  bool          // set by Close: no flusher starts after it
}

var _ backend.JobContext = (*JobContext)(nil)

// Connect starts the bridge (a Python Ray driver) and connects it to the cluster: it
// writes the embedded Python code to the cache directory, runs it with the configured
// Python, and calls ray.init(address, namespace, runtime_env) there. The job's runtime env
// carries the binary's location and the registry digest, so Ray workers can start this
// binary in worker mode. Close ends the job.
func Connect(ctx context.Context, opts Options) (*JobContext, error) {
	worker.CheckDriver("ray.Connect") // a worker whose main skipped fray.Init exits here
	backend.FreezeRegistry()
	if opts.Ship != ShipPath && opts.Ship != ShipWorkingDir {
		return nil, fmt.Errorf("fray/ray: unknown Options.Ship %d", int(opts.Ship))
	}
	maxFrame := opts.MaxFrame
	if maxFrame <= 0 {
		maxFrame = fray.MaxValueSize + 1<<20
	}
	cache := opts.cacheDir()
	dir, err := extractPython(cache)
	if err != nil {
		return nil, err
	}
	bin := opts.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("fray/ray: locating this program for the workers: %w", err)
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	hello := bridgeHello{Address: opts.address(), Namespace: opts.Namespace, Env: jobEnv(opts.Env),
		Ship: opts.Ship.String(), Digest: backend.RegistryDigest(), Manifest: backend.RegistryManifest(),
		MaxFrame: maxFrame, LogToDriver: !opts.Quiet, Verbose: opts.Verbose, AllowInfeasible: opts.AllowInfeasible}
	if opts.Ship == ShipWorkingDir {
		if hello.Stage, hello.BinaryName, err = stageBinary(cache, bin); err != nil {
			return nil, err
		}
	} else {
		hello.Binary = bin
		if cwd, err := os.Getwd(); err == nil { // a job's driver: each node's copy of its working_dir
			if rel := jobWorkingDirBinary(bin, cwd, os.Getenv(jobConfigEnv)); rel != "" {
				hello.Binary = rel
			}
		}
	}
	ring := opts.SharedMemory
	if ring == 0 {
		ring = defaultShmRing
	}
	env, tokenSource, err := opts.bridgeEnv()
	if err != nil {
		return nil, err
	}
	b, err := startBridge(opts.python(), dir, env, maxFrame, max(ring, 0), opts.logger())
	if err != nil {
		return nil, err
	}
	if b.shm != nil {
		hello.SharedRing = ring
		if b.shm.spill != nil {
			hello.SpillAt = spillOffset(ring)
		}
	}
	f, err := b.call(ctx, typeHello, hello)
	if err == nil && f.Type != typeReady {
		var res wire.Result
		if err = f.Decode(&res); err == nil {
			err = connectError(hello.Address, tokenSource, res.Err)
			if vm := versionMismatch(hello.Address, opts.python(), err.Error()); vm != nil {
				err = vm
			}
		}
	}
	var ready bridgeReady
	if err == nil {
		err = f.Decode(&ready)
	}
	if err != nil {
		b.close(5 * time.Second)
		return nil, err
	}
	if ready.Shared {
		b.enableShared()
		if !noCrossMemory.Load() && probeCrossMemory(ready.PID, ready.ProbeAt, ready.Probe) {
			b.r.vm.Store(&vmPeer{pid: ready.PID, freed: shmCounter(b.shm.mem, 192)})
		} else {
			b.log.Debug("Get answers' large values cross through shared memory: this process cannot read the bridge's memory")
		}
	}
	jc := &JobContext{b: b, ready: ready, opts: opts, prefix: randomHex(4), nodes: ready.Nodes}
	if jc.marker, err = wire.EncodeBody(ready.Job); err != nil {
		b.close(5 * time.Second)
		return nil, err
	}
	return jc, nil
}

// connectError is the error for the bridge's answer to a failed hello: an *AuthError when
// the cluster refused the token (the bridge's error kind "unauthenticated").
func connectError(address, tokenSource string, payload []byte) error {
	var head struct {
		Kind    string `cbor:"k"`
		Message string `cbor:"m"`
	}
	if wire.DecodeBody(payload, &head) == nil && head.Kind == "unauthenticated" {
		return &AuthError{Address: address, Source: tokenSource, Detail: head.Message}
	}
	return fmt.Errorf("fray/ray: connecting to Ray at %s: %w", address, fray.DecodeError(payload))
}

// plain reports whether data holds none of the job's refs and actor handles (it does not
// contain the job id), so the bridge need not scan it.
func (j *JobContext) plain(data []byte) bool { return !bytes.Contains(data, j.marker) }

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// JobID identifies the job ("ray-<hex>").
func (j *JobContext) JobID() string { return j.ready.Job }

// Backend returns "ray".
func (j *JobContext) Backend() string { return "ray" }

// PassesValuesDirectly is false: every value is encoded with fray's codec.
func (j *JobContext) PassesValuesDirectly() bool { return false }

// Namespace is the Ray namespace of the job (Ray's anonymous one unless Options.Namespace).
func (j *JobContext) Namespace() string { return j.ready.Namespace }

// RayJobID is Ray's own id of the job.
func (j *JobContext) RayJobID() string { return j.ready.RayJob }

// DashboardURL returns the URL of the cluster's Ray dashboard (its state API and Jobs API
// too), or "" when the cluster runs without one. On the project's clusters it is bound to
// 127.0.0.1.
func (j *JobContext) DashboardURL() string {
	d := j.ready.Dashboard
	if d == "" || strings.Contains(d, "://") {
		return d
	}
	return "http://" + d
}

// RayVersion is the version of Ray the bridge runs.
func (j *JobContext) RayVersion() string { return j.ready.Ray }

// SharedMemory reports whether large values cross between this process and the bridge
// through shared memory (Options.SharedMemory) rather than the pipes.
func (j *JobContext) SharedMemory() bool { return j.ready.Shared }

// CrossMemory reports whether Get answers' large values are read straight from the
// bridge's memory (see vmread.go); false when the kernel does not let this process read
// it, and without shared memory.
func (j *JobContext) CrossMemory() bool { return j.b.r.vm.Load() != nil }

// BridgePID is the process id of the bridge (the job's Ray driver).
func (j *JobContext) BridgePID() int { return j.ready.PID }

func (j *JobContext) newOID() string {
	return fmt.Sprintf("d%s.%d", j.prefix, j.seq.Add(1))
}

func (j *JobContext) check() error {
	if j.closed.Load() {
		return fray.ErrClosed
	}
	return j.b.failed()
}

// feasible fails fast for requests no alive node can ever satisfy (unless
// Options.AllowInfeasible), refreshing the node list once before failing.
func (j *JobContext) feasible(ctx context.Context, req fray.Resources) error {
	if j.opts.AllowInfeasible {
		return nil
	}
	j.nodesMu.Lock()
	nodes := j.nodes
	j.nodesMu.Unlock()
	if infeasible(req, nodes) == nil {
		return nil
	}
	nodes, err := j.refreshNodes(ctx)
	if err != nil {
		return err
	}
	return infeasible(req, nodes)
}

// refreshNodes asks Ray for the alive nodes' resources (ray.nodes()) and remembers them.
func (j *JobContext) refreshNodes(ctx context.Context) ([]map[string]float64, error) {
	f, err := j.b.call(ctx, typeNodes, nil)
	if err != nil {
		return nil, err
	}
	var res nodesResult
	if err := f.Decode(&res); err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, fray.DecodeError(res.Err)
	}
	j.nodesMu.Lock()
	j.nodes = res.Nodes
	j.nodesMu.Unlock()
	return res.Nodes, nil
}

// ClusterResources is the total of every alive node's resources, as
// ray.cluster_resources() reports them: "CPU", "GPU", "memory", custom resources.
func (j *JobContext) ClusterResources(ctx context.Context) (fray.Resources, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	nodes, err := j.refreshNodes(ctx)
	if err != nil {
		return nil, err
	}
	total := fray.Resources{}
	for _, n := range nodes {
		for k, v := range n {
			total[k] += v
		}
	}
	return total, nil
}

// SubmitTask submits a Ray task running the registered Go function (one-way: submission
// errors Ray reports surface from Get).
func (j *JobContext) SubmitTask(ctx context.Context, spec backend.TaskSpec) (backend.ObjectID, error) {
	if err := j.check(); err != nil {
		return "", err
	}
	// Work in a placement group draws from its bundle (checked by the API), not a node.
	if err := j.feasibleUnlessPlaced(ctx, spec.Options.Bundle, spec.Options.Resources); err != nil {
		return "", fmt.Errorf("fray: task %s: %w", spec.Function.Name, err)
	}
	oid := j.newOID()
	msg := bridgeSubmit{OID: oid, Function: spec.Function.Name, ArgRef: string(spec.ArgRef),
		Options: wire.FromTaskOptions(spec.Options)}
	if spec.ArgRef == "" {
		data, err := spec.Arg.Encoded(fray.Marshal)
		if err != nil {
			return "", err
		}
		msg.Arg, msg.Plain = data, j.plain(data)
	}
	if err := j.b.send(typeSubmit, 0, msg); err != nil {
		return "", err
	}
	return backend.ObjectID(oid), nil
}

// Put stores a value with ray.put.
func (j *JobContext) Put(ctx context.Context, value backend.Payload) (backend.ObjectID, error) {
	if err := j.check(); err != nil {
		return "", err
	}
	oid := j.newOID()
	if raw, ok := value.Value.([]byte); ok && value.Data == nil {
		// A []byte the API left for us to encode: its CBOR head and the bytes go straight
		// into shared memory (or the pipe), with no encoded copy in between. Opaque bytes
		// hold no refs, so the bridge need not scan them.
		if len(raw) > fray.MaxValueSize-9 {
			return "", &fray.SerializationError{Type: "[]uint8", Op: "encode",
				Cause: fmt.Errorf("encoded size exceeds the %d-byte limit; write large data to storage and pass its path", fray.MaxValueSize)}
		}
		if err := j.b.sendPut(oid, true, byteStringHead(len(raw)), raw); err != nil {
			return "", err
		}
		return backend.ObjectID(oid), nil
	}
	data, err := value.Encoded(fray.Marshal)
	if err != nil {
		return "", err
	}
	// bridgePut, encoded by hand so that the value is written from its own buffer (or
	// copied once into shared memory).
	if err := j.b.sendPut(oid, j.plain(data), nil, data); err != nil {
		return "", err
	}
	return backend.ObjectID(oid), nil
}

// Get resolves objects with ray.get on the bridge's thread pool.
func (j *JobContext) Get(ctx context.Context, ids []backend.ObjectID) ([]backend.Object, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	req := bridgeGet{IDs: wire.IDs(ids), CrossMemory: j.b.r.vm.Load() != nil}
	callCtx := ctx
	if err := ctx.Err(); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		// The deadline has passed: like Ray's timeout=0, return the objects if they are ready.
		zero := 0.0
		req.Timeout = &zero
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		callCtx = c
	}
	res, err := j.getResult(callCtx, req)
	if err != nil {
		if req.Timeout != nil && errors.Is(err, fray.ErrTimeout) {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if len(res.Objects) != len(ids) {
		return nil, fmt.Errorf("fray/ray: bridge answered %d objects for %d ids", len(res.Objects), len(ids))
	}
	out := make([]backend.Object, len(ids))
	for i, o := range res.Objects {
		if o.Err != nil {
			out[i].Err = fray.DecodeError(o.Err)
		} else {
			// Each value is a slice of this answer's own buffer (or a copy out of shared
			// memory): decoding may keep it.
			out[i].Data, out[i].Owned = o.Data, true
		}
	}
	return out, nil
}

// getResult sends a Get and decodes its answer, without copying the values out of the
// frame when the answer has the usual form.
func (j *JobContext) getResult(ctx context.Context, req bridgeGet) (wire.Result, error) {
	f, err := j.b.call(ctx, wire.TypeGet, req)
	if err != nil {
		return wire.Result{}, err
	}
	if f.objects != nil {
		return wire.Result{Objects: f.objects}, nil
	}
	if objs, ok := fastObjects(f.Body); ok {
		return wire.Result{Objects: objs}, nil
	}
	return decodeResult(f)
}

// Wait is ray.wait (fetch_local=False): an object is ready once computed, or failed.
func (j *JobContext) Wait(ctx context.Context, ids []backend.ObjectID, numReturns int, timeout time.Duration) ([]bool, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	res, err := j.b.result(ctx, wire.TypeWait, wire.Wait{IDs: wire.IDs(ids), NumReturns: numReturns, Timeout: wire.TimeoutSeconds(timeout)})
	if err != nil {
		if ctx.Err() != nil {
			return make([]bool, len(ids)), nil // the caller reports ctx's error
		}
		return nil, err
	}
	if len(res.Ready) != len(ids) {
		return nil, fmt.Errorf("fray/ray: bridge answered %d flags for %d ids", len(res.Ready), len(ids))
	}
	return res.Ready, nil
}

// Cancel is ray.cancel(ref, force=force, recursive=True).
func (j *JobContext) Cancel(ctx context.Context, id backend.ObjectID, force bool) error {
	if err := j.check(); err != nil {
		return err
	}
	_, err := j.b.result(ctx, wire.TypeCancelTask, wire.CancelTask{ObjectID: string(id), Force: force})
	return err
}

// Release drops the bridge's references to ids, letting Ray free the objects.
//
// Refs die in bursts (a garbage collection runs their cleanups one after another, each
// releasing one id), so ids are queued and one goroutine sends what has queued up as one
// frame: the bridge then handles one frame per burst instead of one per ref.
func (j *JobContext) Release(ids []backend.ObjectID) {
	if j.check() != nil || len(ids) == 0 {
		return
	}
	j.relMu.Lock()
	defer j.relMu.Unlock()
	if j.relClosed {
		return
	}
	j.relPending = append(j.relPending, wire.IDs(ids)...)
	if j.relDone == nil {
		j.relDone = make(chan struct{})
		go j.flushReleases(j.relDone)
	}
}

// flushReleases sends the queued ids until none are left, then ends.
func (j *JobContext) flushReleases(done chan struct{}) {
	defer close(done)
	for {
		runtime.Gosched() // let the rest of a burst of cleanups queue up first
		j.relMu.Lock()
		ids := j.relPending
		j.relPending = nil
		if len(ids) == 0 {
			j.relDone = nil
			j.relMu.Unlock()
			return
		}
		j.relMu.Unlock()
		_ = j.b.send(wire.TypeRelease, 0, wire.Release{IDs: ids})
	}
}

// CreateActor creates a Ray actor whose state lives in a Go child of the actor's process.
func (j *JobContext) CreateActor(ctx context.Context, spec backend.ActorSpec) (backend.ActorInfo, error) {
	if err := j.check(); err != nil {
		return backend.ActorInfo{}, err
	}
	if err := j.feasibleUnlessPlaced(ctx, spec.Options.Bundle, spec.Options.Placement); err != nil {
		return backend.ActorInfo{}, fmt.Errorf("fray: actor %s: %w", spec.Class.Name, err)
	}
	data, err := spec.Arg.Encoded(fray.Marshal)
	if err != nil {
		return backend.ActorInfo{}, err
	}
	res, err := j.b.result(ctx, wire.TypeCreateActorNested, wire.CreateActorNested{Class: spec.Class.Name, Arg: data,
		Options: wire.FromActorOptions(spec.Options)})
	if err != nil {
		return backend.ActorInfo{}, err
	}
	return res.Actor.Backend(), nil
}

// GetActor is ray.get_actor(name, namespace).
func (j *JobContext) GetActor(ctx context.Context, name, namespace string) (backend.ActorInfo, error) {
	if err := j.check(); err != nil {
		return backend.ActorInfo{}, err
	}
	res, err := j.b.result(ctx, wire.TypeGetActor, wire.GetActor{Name: name, Namespace: namespace})
	if err != nil {
		return backend.ActorInfo{}, err
	}
	return res.Actor.Backend(), nil
}

// CallActor calls a method through the actor's Ray handle (one-way, like SubmitTask).
func (j *JobContext) CallActor(ctx context.Context, call backend.ActorCall) (backend.ObjectID, error) {
	if err := j.check(); err != nil {
		return "", err
	}
	oid := j.newOID()
	msg := bridgeCall{OID: oid, ActorID: string(call.Actor), Method: call.Method.Name, ArgRef: string(call.ArgRef)}
	if call.ArgRef == "" {
		data, err := call.Arg.Encoded(fray.Marshal)
		if err != nil {
			return "", err
		}
		msg.Arg, msg.Plain = data, j.plain(data)
	}
	if err := j.b.send(typeCall, 0, msg); err != nil {
		return "", err
	}
	return backend.ObjectID(oid), nil
}

// KillActor is ray.kill(handle, no_restart=noRestart).
func (j *JobContext) KillActor(ctx context.Context, id backend.ActorID, noRestart bool) error {
	if err := j.check(); err != nil {
		return err
	}
	_, err := j.b.result(ctx, wire.TypeKillActor, wire.KillActor{ActorID: string(id), NoRestart: noRestart})
	return err
}

// Close ends the job: the bridge disconnects from Ray and exits, so Ray kills the job's
// job-scoped actors and running tasks (detached actors live on). It waits for the bridge
// to exit (killing it after 30 seconds).
func (j *JobContext) Close() error {
	j.closeOnce.Do(func() {
		j.closed.Store(true)
		j.relMu.Lock()
		j.relClosed = true
		flushing := j.relDone
		j.relMu.Unlock()
		j.b.close(30 * time.Second)
		if flushing != nil {
			<-flushing // sends fail at once now that the bridge is closed
		}
	})
	return nil
}

// jobEnv is the job's runtime_env env_vars: opts.Env plus this process's log setup
// (FRAY_LOG_LEVEL, FRAY_LOG_FORMAT) unless opts.Env sets it, so that the Go worker children
// on Ray workers log at the driver's level and in its format.
func jobEnv(env map[string]string) map[string]string {
	out := maps.Clone(env)
	for _, k := range []string{logging.EnvLevel, logging.EnvFormat} {
		if v := os.Getenv(k); v != "" {
			if _, set := out[k]; !set {
				if out == nil {
					out = map[string]string{}
				}
				out[k] = v
			}
		}
	}
	return out
}
