// The messages between the Go driver and the Ray bridge (python/fray_bridge.py) that the
// worker protocol (internal/wire/worker_messages.go) does not have.

package ray

import "github.com/fray-go/fray/internal/wire"

// Bridge-only message types. Between the Go driver and the bridge, the Go side plays the
// part a worker child plays towards the shim (it sends internal/wire's nested requests:
// Get, Wait, CancelTask, CreateActorNested, GetActor, KillActor, Release, Cancel), plus
// these. Submissions and puts are one-way with an object id the Go side chooses, so a
// driver can submit thousands of tasks without waiting for a round trip each; a
// submission that Ray refuses makes that object fail, and Get reports the error.
const (
	typeHello  wire.Type = 0x40 // request: connect; answered by typeReady or Result{e}
	typeReady  wire.Type = 0x41 // answer to typeHello
	typeSubmit wire.Type = 0x42 // one-way: bridgeSubmit
	typePut    wire.Type = 0x43 // one-way: bridgePut
	typeCall   wire.Type = 0x44 // one-way: bridgeCall
	typeNodes  wire.Type = 0x45 // request: alive nodes' resources; answered by Result-like nodesResult
	// typeResultShared (bridge -> Go) is a Result whose objects may be {"s": [pos, n]}: a
	// value in the from-bridge shared-memory ring (shm.go), or {"v": [address, n, seq]}: a
	// value in the bridge's memory that Go reads (vmread.go; only in answers to a Get with
	// "vm"). The reader turns it into a plain Result before anyone else sees it.
	typeResultShared wire.Type = 0x46
)

// bridgeHello opens the bridge session.
type bridgeHello struct {
	Address     string            `cbor:"address"`
	Namespace   string            `cbor:"ns,omitempty"`
	Env         map[string]string `cbor:"env,omitempty"`
	Ship        string            `cbor:"ship"`
	Binary      string            `cbor:"binary,omitempty"`      // ShipPath: absolute path
	Stage       string            `cbor:"stage,omitempty"`       // ShipWorkingDir: the directory
	BinaryName  string            `cbor:"binary_name,omitempty"` // ShipWorkingDir: file in Stage
	Digest      string            `cbor:"dg"`
	Manifest    []string          `cbor:"mf,omitempty"`
	MaxFrame    int               `cbor:"mx,omitempty"`
	LogToDriver bool              `cbor:"log_to_driver"`
	Verbose     bool              `cbor:"verbose,omitempty"`
	SharedRing  int               `cbor:"shm,omitempty"` // size of each shared-memory ring on fd 5; 0: none
	SpillAt     int64             `cbor:"sxo,omitempty"` // where the spill starts in fd 5 (spill.go); 0: none
	// AllowInfeasible is Options.AllowInfeasible, passed on to the worker shims: they check
	// the feasibility of nested submissions, which never pass through this driver.
	AllowInfeasible bool `cbor:"ai,omitempty"`
}

// bridgeReady answers bridgeHello.
type bridgeReady struct {
	Job       string               `cbor:"job"`
	Namespace string               `cbor:"ns"`
	Nodes     []map[string]float64 `cbor:"nodes"`
	Ray       string               `cbor:"ray"`
	PID       int                  `cbor:"pid"`
	RayJob    string               `cbor:"ray_job"`
	Shared    bool                 `cbor:"shm"`            // the bridge mapped the shared memory
	Dashboard string               `cbor:"dash,omitempty"` // host:port of Ray's dashboard; "" without one
	// ProbeAt and Probe: bytes at an address in the bridge's memory, for Go to check that
	// it can read values there (vmread.go); absent without shared memory.
	ProbeAt uint64 `cbor:"vmp,omitempty"`
	Probe   []byte `cbor:"vmb,omitempty"`
}

// In the one-way messages below, Plain reports that the value's bytes do not contain the
// job id (so it holds none of the job's refs or actor handles): the bridge then skips
// scanning it for them, which for a large value costs more than the rest of a Put (Go's
// search is vectorised; Python's is not). Absent, the bridge scans.
type bridgeSubmit struct {
	OID      string           `cbor:"oid"`
	Function string           `cbor:"f"`
	Arg      []byte           `cbor:"a,omitempty"`
	ArgRef   string           `cbor:"ar,omitempty"`
	Options  wire.TaskOptions `cbor:"op"`
	Plain    bool             `cbor:"pl,omitempty"`
}

type bridgePut struct {
	OID    string   `cbor:"oid"`
	Data   []byte   `cbor:"d,omitempty"`
	Shared []uint64 `cbor:"sh,omitempty"` // [position, n] in the to-bridge ring
	Spill  []uint64 `cbor:"sx,omitempty"` // [sequence number, n] in the spill (spill.go)
	Plain  bool     `cbor:"pl,omitempty"`
}

type bridgeCall struct {
	OID     string `cbor:"oid"`
	ActorID string `cbor:"id"`
	Method  string `cbor:"m"`
	Arg     []byte `cbor:"a,omitempty"`
	ArgRef  string `cbor:"ar,omitempty"`
	Plain   bool   `cbor:"pl,omitempty"`
}

type nodesResult struct {
	Err   []byte               `cbor:"e,omitempty"`
	Nodes []map[string]float64 `cbor:"nodes"`
}

// bridgeGet is wire.Get plus a timeout: with Timeout >= 0 (seconds) the bridge fails the
// request with a timeout error unless every object is ready by then (used to poll when the
// caller's deadline has already passed: ready objects are still returned, as in Ray).
type bridgeGet struct {
	IDs     []string `cbor:"ids"`
	Timeout *float64 `cbor:"t,omitempty"`
	// CrossMemory asks for large values as addresses in the bridge's memory (vmread.go).
	CrossMemory bool `cbor:"vm,omitempty"`
}

// Streams (fray.StreamJobContext): a streaming task or actor method is started one-way,
// like a submission, under an object id the Go side chose, which then names the stream
// (Ray's ObjectRefGenerator, in the bridge's object table); typeStreamNext asks for its
// next item.
const (
	typeStream     wire.Type = 0x50 // one-way: bridgeStream (a streaming task)
	typeStreamCall wire.Type = 0x51 // one-way: bridgeStreamCall (a streaming actor method)
	// typeStreamNext (request, bridgeStreamNext) is answered by Result{os: [object]} with
	// the next item ({d}) or the producer's failure ({e}, the last answer with objects),
	// or by Result{} at the end of the stream.
	typeStreamNext wire.Type = 0x52
)

// bridgeStream is bridgeSubmit for a streaming task, with its backpressure bound (Ray's
// _generator_backpressure_num_objects; -1 none).
type bridgeStream struct {
	bridgeSubmit
	Backpressure int `cbor:"bp"`
}

// bridgeStreamCall is bridgeCall for a streaming actor method.
type bridgeStreamCall struct {
	bridgeCall
	Backpressure int `cbor:"bp"`
}

// bridgeStreamNext asks for a stream's next item.
type bridgeStreamNext struct {
	OID string `cbor:"o"`
}

// typeFetched (request, empty body) is answered by fetchedResult: how many objects the
// bridge has fetched with ray.get for this driver (Get answers and stream items).
const typeFetched wire.Type = 0x53

type fetchedResult struct {
	Err []byte `cbor:"e,omitempty"`
	N   int64  `cbor:"n"`
}

// Readiness watching for fray.AsCompleted (fray.ReadyWatcher): typeWatch registers the ids
// once and is answered Result{o: watch id}; each typeWatchNext {o} is answered by
// watchResult, the indexes that became ready since the last one (at least one while any is
// pending). Release of the watch id ends it.
const (
	typeWatch     wire.Type = 0x54
	typeWatchNext wire.Type = 0x55
)

type bridgeWatch struct {
	IDs []string `cbor:"ids"`
}

type watchResult struct {
	Err     []byte `cbor:"e,omitempty"`
	Indexes []int  `cbor:"ix"`
}
