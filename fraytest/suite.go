package fraytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// Options is what a subtest asks of the Factory.
type Options struct {
	// PeerOf, when non-nil, asks for a second job context on the same cluster and in the same
	// default namespace as PeerOf, the way a second driver program connecting to the same
	// cluster would get one. Named and detached actors made by one are visible to the other.
	// Closing either must leave the other working (job-scoped actors still die with the job
	// that made them). When nil, the job context must be isolated from every other one the
	// factory made: its own job id and its own default namespace (on a shared Ray cluster, a
	// fresh random namespace), so that names it registers there are invisible to others.
	PeerOf backend.JobContext
}

// Factory makes a job context for one subtest. It registers the job context's Close (and the
// teardown of anything else it started, such as a cluster) with t.Cleanup, and calls
// t.Fatal when it cannot make one. Closing a job context twice (the suite closes some
// itself) must be harmless.
type Factory func(t *testing.T, opts Options) backend.JobContext

// Capabilities describe what a backend can do. The suite tests every capability either way:
// where a backend reports that it cannot honour an option, the suite asserts that using the
// option fails with fray.ErrUnsupported rather than being silently ignored.
type Capabilities struct {
	// ProcessTasks: the backend runs tasks in worker processes when asked, so
	// TaskOptions.MaxCalls (a fresh process after N calls) and RuntimeEnv.Env (variables
	// visible to os.Getenv in the task) are honoured. When false, both must be refused with
	// fray.ErrUnsupported (at submission or from Get).
	ProcessTasks bool
	// InfeasibleFailsFast: a request for more of a resource than the cluster has fails with
	// fray.ErrInfeasible (at submission or from Get), as on the local backend. When false the
	// backend behaves like Ray by default: the request stays pending (Wait reports it not
	// ready) and can be cancelled, after which Get returns fray.ErrCancelled.
	InfeasibleFailsFast bool
	// Streams: the backend runs streaming tasks and methods (backend.StreamJobContext) and
	// the Streams group checks them. When false, that group asserts that starting a
	// stream fails with fray.ErrUnsupported.
	Streams bool
}

// Backend is what a backend's test hands to Run.
type Backend struct {
	// Name labels failures ("local", "ray").
	Name string
	// New makes job contexts; see Factory.
	New Factory
	// Caps are the backend's capabilities.
	Caps Capabilities
	// Timeout bounds each subtest's blocking calls, so that a hang becomes a failure that
	// names the call. Default 60s. It is a safety net, never a timing assertion.
	Timeout time.Duration
	// Resources is what the cluster behind every job context offers in all, as the backend
	// reports it (a local cluster: the resources it was made with; Ray: the alive nodes'
	// totals). The suite sizes its requests from it instead of assuming a cluster shape; it
	// must hold at least MinimumResources and the Scarce resource. Subtests about an
	// accelerator or the head node run their requests only against what is declared here.
	Resources fray.Resources
	// Scarce names a custom resource in Resources that nothing but the suite uses, with a
	// whole amount of at least 1. The suite takes all of it to test admission and queued
	// cancellation, and asks for one more than there is to test infeasible requests.
	// SuggestedScarce in SuggestedResources is a ready-made choice.
	Scarce string
	// Nodes is how many nodes the cluster has (0 means 1): the PlacementGroups subtests
	// ask for STRICT_SPREAD with one bundle more than that.
	Nodes int
	// Fetched reports how many object values jc's driver side has fetched so far (the
	// values its Get calls returned), for the subtest proving that Wait and AsCompleted
	// do not fetch (Ray's fetch_local=False). Nil skips that subtest, saying so.
	Fetched func(ctx context.Context, jc backend.JobContext) (int64, error)
}

// MinimumResources is what Backend.Resources must offer at least: the suite runs tasks
// that ask for 2 CPUs and 1 GiB of memory at once.
var MinimumResources = fray.Resources{fray.CPU: 2, fray.Memory: 1 << 30}

// SuggestedScarce is a custom resource name only the suite uses; see Backend.Scarce.
const SuggestedScarce = "fraytest_widget"

// SuggestedResources is a cluster shape that exercises every subtest: MinimumResources with
// room to spare, a head node, four TPU chips (the accelerator subtests) and two of
// SuggestedScarce. A backend whose clusters can be made to measure (the local one) can use
// it as is; one that connects to an existing cluster declares what that cluster has.
var SuggestedResources = fray.Resources{
	fray.CPU:        4,
	fray.Memory:     2 << 30,
	fray.TPU:        4,
	fray.HeadNode:   1,
	SuggestedScarce: 2,
}

// checkDeclared reports what is wrong with b's declared cluster, or nil.
func checkDeclared(b Backend) error {
	if len(b.Resources) == 0 {
		return errors.New("Backend.Resources is empty: declare what the cluster behind every job context offers (for example fraytest.SuggestedResources for a cluster made to measure)")
	}
	for name, n := range b.Resources {
		// What a cluster reports may include keys no task may request (Ray's
		// object_store_memory, node:<ip>), so only the amounts are checked.
		if name == "" || n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("Backend.Resources: %q = %g is not a resource amount", name, n)
		}
	}
	for name, min := range MinimumResources {
		if b.Resources[name] < min {
			return fmt.Errorf("Backend.Resources offers %g %s; the suite needs at least %g (fraytest.MinimumResources)", b.Resources[name], name, min)
		}
	}
	n, ok := b.Resources[b.Scarce]
	switch {
	case b.Scarce == "":
		return fmt.Errorf("Backend.Scarce is empty: name a custom resource in Backend.Resources that only the suite uses (for example %q)", SuggestedScarce)
	case !ok || n < 1 || n != math.Trunc(n):
		return fmt.Errorf("Backend.Scarce %q must be in Backend.Resources with a whole amount of at least 1, not %g", b.Scarce, n)
	case isStandardResource(b.Scarce):
		return fmt.Errorf("Backend.Scarce %q is a standard resource other work uses; name a custom one such as %q", b.Scarce, SuggestedScarce)
	}
	return nil
}

// isStandardResource reports whether name is one of the resources fray or Ray give meaning to.
func isStandardResource(name string) bool {
	switch name {
	case fray.CPU, fray.GPU, fray.TPU, fray.Memory, fray.HeadNode, "object_store_memory":
		return true
	}
	return strings.HasPrefix(name, "node:") || strings.HasPrefix(name, "accelerator_type:")
}

// Run runs the whole conformance suite against b, one subtest per behaviour, grouped as
// Tasks, Errors, Resources, Objects, Wait, Cancel, Actors, NamedActors, ActorPools,
// PlacementGroups, Streams, Options, Lifecycle, Capabilities and Patterns. Subtests are
// sequential and independent; each gets fresh job contexts from b.New.
func Run(t *testing.T, b Backend) {
	t.Helper()
	if b.New == nil {
		t.Fatal("fraytest: Backend.New is nil")
	}
	if err := checkDeclared(b); err != nil {
		t.Fatalf("fraytest: %s: %v", b.Name, err)
	}
	if b.Timeout <= 0 {
		b.Timeout = 60 * time.Second
	}
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(newS(t, b))
				})
			}
		})
	}
}

// testCase is one subtest.
type testCase struct {
	name string
	run  func(s *env)
}

type group struct {
	name  string
	cases []testCase
}

// groups lists every subtest. Names are unique within their group (checked by TestNames).
func groups() []group {
	return []group{
		{"Tasks", taskCases()},
		{"Errors", errorCases()},
		{"Resources", resourceCases()},
		{"Objects", objectCases()},
		{"Wait", waitCases()},
		{"Cancel", cancelCases()},
		{"Actors", actorCases()},
		{"NamedActors", namedActorCases()},
		{"ActorPools", poolCases()},
		{"PlacementGroups", placementCases()},
		{"Streams", streamCases()},
		{"Options", optionCases()},
		{"Lifecycle", lifecycleCases()},
		{"Capabilities", capabilityCases()},
		{"Patterns", patternCases()},
	}
}

// SubtestNames returns the full names ("Group/Name") of every subtest Run runs, in order.
func SubtestNames() []string {
	var out []string
	for _, g := range groups() {
		for _, c := range g.cases {
			out = append(out, g.name+"/"+c.name)
		}
	}
	return out
}

// env is one subtest's environment: its *testing.T, a fresh job context and a ctx carrying it
// (bounded by Backend.Timeout).
type env struct {
	*testing.T
	b   Backend
	JC  backend.JobContext
	Ctx context.Context
	// status caches statusOptions for the subtest.
	status fray.ActorOptions
}

func newS(t *testing.T, b Backend) *env {
	s := &env{T: t, b: b}
	s.JC, s.Ctx = s.fresh(Options{})
	return s
}

// fresh makes another job context through the factory, with a bounded ctx that carries it.
func (s *env) fresh(opts Options) (backend.JobContext, context.Context) {
	s.Helper()
	jc := s.b.New(s.T, opts)
	if jc == nil {
		s.Fatalf("fraytest: %s factory returned a nil job context", s.b.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.b.Timeout)
	s.Cleanup(cancel)
	return jc, fray.WithJobContext(ctx, jc)
}

// peer makes a job context on the same cluster as jc.
func (s *env) peer(jc backend.JobContext) (backend.JobContext, context.Context) {
	s.Helper()
	return s.fresh(Options{PeerOf: jc})
}

// shortCtx returns s.Ctx bounded by d, for calls that are expected to time out.
func (s *env) shortCtx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(s.Ctx, d)
	s.Cleanup(cancel)
	return ctx
}

// uniq returns base with a random suffix, for actor names that must not collide with other
// subtests or runs on a shared cluster.
func uniq(base string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return base + "-" + hex.EncodeToString(b[:])
}

// scarce returns the Scarce resource's name and whole amount.
func (s *env) scarce() (string, int) {
	return s.b.Scarce, int(s.b.Resources[s.b.Scarce])
}

// offers reports whether the declared cluster has at least amount of name.
func (s *env) offers(name string, amount float64) bool {
	return s.b.Resources[name] >= amount
}

// onHead returns the resources of a zero-CPU actor placed on the head node when the cluster
// declares one (as Marin's executor places its StatusActor), and a plain zero-CPU request
// otherwise.
func (s *env) onHead() fray.Resources {
	if s.offers(fray.HeadNode, 1) {
		return fray.Resources{fray.CPU: 0, fray.HeadNode: 0.0001}
	}
	return fray.Resources{fray.CPU: 0}
}

// must fails the test when err is not nil.
func (s *env) must(err error, what string) {
	s.Helper()
	if err != nil {
		s.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails unless errors.Is(err, target).
func (s *env) wantErr(err, target error, what string) {
	s.Helper()
	if err == nil {
		s.Fatalf("%s: got no error, want %v", what, target)
	}
	if !errors.Is(err, target) {
		s.Fatalf("%s: got error %v (%T), want one matching %v", what, err, err, target)
	}
}

// wantContains fails unless err's message contains every part.
func (s *env) wantContains(err error, what string, parts ...string) {
	s.Helper()
	if err == nil {
		s.Fatalf("%s: got no error", what)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			s.Errorf("%s: error %q does not mention %q", what, err.Error(), p)
		}
	}
}

// submitted is the pair a Remote call returns, so that a test can write
// sub(task.Remote(ctx, x)).get(s).
type submitted[T any] struct {
	ref fray.Ref[T]
	err error
}

// sub captures a Remote call's results.
func sub[T any](ref fray.Ref[T], err error) submitted[T] { return submitted[T]{ref, err} }

// get returns the value, failing the test on a submission or Get error.
func (p submitted[T]) get(s *env) T {
	s.Helper()
	return p.getIn(s, s.Ctx)
}

// getIn is get with Get running under ctx (for refs of another job context).
func (p submitted[T]) getIn(s *env, ctx context.Context) T {
	s.Helper()
	if p.err != nil {
		s.Fatalf("submit: %v", p.err)
	}
	v, err := p.ref.Get(ctx)
	if err != nil {
		s.Fatalf("get: %v", err)
	}
	return v
}

// outcome returns the submission's error if it failed, else the error Get reports (nil when
// the call succeeded). Options a backend refuses may be refused at either point.
func (p submitted[T]) outcome(s *env) error {
	s.Helper()
	if p.err != nil {
		return p.err
	}
	_, err := p.ref.Get(s.Ctx)
	return err
}

// recorder creates a Recorder actor on the subtest's job context.
func (s *env) recorder() Rec {
	s.Helper()
	return s.recorderOn(s.Ctx)
}

func (s *env) recorderOn(ctx context.Context) Rec {
	s.Helper()
	h, err := Recorder.Create(ctx, struct{}{}, fray.ActorOptions{MaxConcurrency: recorderConcurrency})
	s.must(err, "create Recorder")
	return h
}

// count reads a Recorder counter.
func (s *env) count(rec Rec, key string) int {
	s.Helper()
	n, err := recCount.Call(s.Ctx, rec, key)
	s.must(err, "Recorder.Count "+key)
	return n
}

// incr bumps a Recorder counter (opening a gate).
func (s *env) incr(rec Rec, key string) {
	s.Helper()
	_, err := recIncr.Call(s.Ctx, rec, key)
	s.must(err, "Recorder.Incr "+key)
}

// await waits until a Recorder counter reaches n.
func (s *env) await(rec Rec, key string, n int) {
	s.Helper()
	_, err := recAwait.Call(s.Ctx, rec, AwaitArg{Key: key, N: n})
	s.must(err, "Recorder.Await "+key)
}

// openGateAtCleanup makes sure tasks blocked on a gate finish when the subtest ends, even
// when it fails half way.
func (s *env) openGateAtCleanup(rec Rec, gate string) {
	s.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.Ctx), 5*time.Second)
		defer cancel()
		_, _ = recIncr.Call(ctx, rec, gate)
	})
}

// killAtCleanup kills an actor when the subtest ends, through ctx's job context (use one that
// is still open then: cleanups run last-registered first).
func killAtCleanup[St any](s *env, ctx context.Context, h fray.ActorHandle[St]) {
	s.Cleanup(func() {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = h.Kill(kctx)
	})
}
