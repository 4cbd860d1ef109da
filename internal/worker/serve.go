package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
	"github.com/fray-go/fray/internal/workermode"
)

// File descriptors the child reads and writes frames on.
const (
	ChildReadFD  = 3
	ChildWriteFD = 4
)

// Exit codes of the worker process.
const (
	ExitOK            = 0 // end of input or Shutdown
	ExitProtocol      = 2 // the parent broke the protocol (or the pipes failed)
	ExitHandshake     = 3 // Hello refused: version or registry mismatch
	ExitParentDied    = 4 // the parent process went away
	ExitNoPipes       = 5 // fds 3 and 4 are not usable
	ExitNoInit        = 6 // main created a job context before calling fray.Init (see CheckDriver)
	shutdownGraceTime = 2 * time.Second
)

// serving is set once fray.Init has entered the worker loop in this process.
var serving atomic.Bool

// CheckDriver is called by every job-context constructor (what names it, e.g. "local.New").
// In a process started as a worker whose main did not call fray.Init first (so the worker
// loop is not serving), it does not return: the program would become a driver and start
// workers of its own, each of which would do the same. It answers the parent's Hello with a
// HelloErr saying so (when the pipes are there), prints the reason and exits with
// ExitNoInit. Elsewhere, including code that runs inside a task in a serving worker, it
// does nothing.
func CheckDriver(what string) {
	if !workermode.IsWorker() || serving.Load() {
		return
	}
	msg := fmt.Sprintf("fray: %s was called in a worker process before fray.Init(): main (or TestMain) must call fray.Init() first thing; in a worker process it serves calls and never returns, so main never creates a job context there", what)
	fmt.Fprintf(os.Stderr, "fray worker %d: %s\n", os.Getpid(), msg)
	if childSetup() == nil { // fds 3 and 4 are the parent's pipes
		refuseHello(os.NewFile(ChildReadFD, "fray-from-parent"), os.NewFile(ChildWriteFD, "fray-to-parent"), msg)
	}
	os.Exit(ExitNoInit)
}

// refuseHello answers the parent's Hello with a HelloErr carrying msg and NoInit, waiting
// a bounded time for the Hello (the parent sends it right after the start).
func refuseHello(r io.Reader, w io.Writer, msg string) {
	got := make(chan uint64, 1)
	go func() {
		f, err := wire.NewReader(r, 0).Read()
		if err == nil && f.Type == wire.TypeHello {
			got <- f.ID
		}
	}()
	select {
	case id := <-got:
		_ = wire.NewWriter(w, 0).Write(wire.TypeHelloErr, id, &wire.HelloErr{Version: wire.Version,
			Digest: backend.RegistryDigest(), Message: msg, NoInit: true})
	case <-time.After(5 * time.Second):
	}
}

// ServeFromEnv is the worker loop of a process started as a worker: it serves the parent on
// file descriptors 3 and 4 and returns the exit code. fray.Init runs it through the link in
// link.go; worker.Init names it.
func ServeFromEnv() int {
	serving.Store(true)
	r := os.NewFile(ChildReadFD, "fray-from-parent")
	w := os.NewFile(ChildWriteFD, "fray-to-parent")
	if r == nil || w == nil {
		slog.Error("fray worker: file descriptors 3 and 4 are not open; worker processes are started by a fray backend, not by hand")
		return ExitNoPipes
	}
	if err := childSetup(); err != nil {
		slog.Error("fray worker: " + err.Error())
		return ExitNoPipes
	}
	s := newServer(r, w)
	s.watchParent = true
	return s.serve()
}

// Serve runs the worker loop on r (frames from the parent) and w (frames to the parent)
// until r ends or the parent sends Shutdown, and returns the process exit code. It answers
// the Hello, then runs calls concurrently. ServeFromEnv calls it with fds 3 and 4; tests
// may call it directly with pipes.
func Serve(r io.Reader, w io.Writer) int {
	return newServer(r, w).serve()
}

// server is the child side of one connection.
type server struct {
	rd          *wire.Reader
	wr          *wire.Writer
	out         *peer // our nested requests to the parent
	hello       wire.Hello
	jc          *client
	pid         int
	watchParent bool

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{} // MaxInFlight slots; nil when unbounded

	mu     sync.Mutex
	calls  map[uint64]*call // parent requests not yet answered
	actors map[string]*actor

	exit    chan int    // the read loop's end: the exit code
	reading atomic.Bool // a goroutine holds the reader's role (see readLoop)
	// Goroutines whose call ended while another goroutine read wait here to take the
	// reader's role again (ensureReader): a new goroutine would grow its stack again on
	// its first frame, which costs tens of µs per call that ran past inlineReadDelay.
	idle   chan struct{}
	parked atomic.Int32
	done   chan struct{} // closed by shutdown: parked goroutines end
}

// call is one parent request being served.
type call struct {
	ctx       context.Context
	cancel    context.CancelFunc
	cancelled bool // the parent sent Cancel
}

func newServer(r io.Reader, w io.Writer) *server {
	wr := wire.NewWriter(w, 0)
	s := &server{rd: wire.NewReader(r, 0), wr: wr, out: newPeer(wr), pid: os.Getpid(),
		calls: map[uint64]*call{}, actors: map[string]*actor{}, idle: make(chan struct{}), done: make(chan struct{})}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.jc = &client{s: s}
	return s
}

// logf logs a worker-side problem through slog's default logger, which fray.Init set up
// from the driver's log level and format (FRAY_LOG_LEVEL, FRAY_LOG_FORMAT).
func (s *server) logf(format string, args ...any) {
	slog.Warn(fmt.Sprintf("fray worker %d: %s", s.pid, fmt.Sprintf(format, args...)))
}

func (s *server) serve() int {
	defer s.shutdown()
	if code, ok := s.handshake(); !ok {
		return code
	}
	if s.watchParent {
		if code, ok := s.startParentWatch(); !ok {
			return code
		}
	}
	s.exit = make(chan int, 1)
	s.reading.Store(true)
	go s.readLoop() // not on this goroutine: it may end up running a call that waits for shutdown
	return <-s.exit
}

// inlineReadDelay is how long a call runs on the goroutine that read it before another
// goroutine takes over reading (to see Cancel, further calls and the parent's end).
const inlineReadDelay = 500 * time.Microsecond

// readLoop reads and dispatches frames while this goroutine holds the reader's role. A
// call that can start at once (a task, or a call on an idle actor) runs right here, with
// no hand-off to another goroutine (which wakes another thread: on a busy machine that
// costs more than a short call). Meanwhile nobody reads, until the call makes a nested
// request (which needs its answer read) or has run for inlineReadDelay: then another
// goroutine takes the role. The goroutine that reaches the end of the stream sends the
// exit code.
func (s *server) readLoop() {
	inCall := false
	defer func() {
		if inCall { // the call ended this goroutine with runtime.Goexit: hand the role on
			s.ensureReader()
		}
	}()
	for {
		f, err := s.rd.Read()
		if err != nil {
			code := ExitProtocol
			if err == io.EOF {
				code = ExitOK
			} else if !errors.Is(err, os.ErrClosed) {
				s.logf("reading from the parent: %v", err)
			}
			s.exit <- code
			return
		}
		run, done := s.dispatch(f)
		if done {
			s.exit <- ExitOK
			return
		}
		if run == nil {
			continue
		}
		s.reading.Store(false)
		t := time.AfterFunc(inlineReadDelay, s.ensureReader)
		inCall = true
		run()
		inCall = false
		t.Stop()
		if !s.reading.CompareAndSwap(false, true) && !s.park() {
			return // another goroutine reads now
		}
	}
}

// maxParkedReaders bounds the goroutines waiting in park.
const maxParkedReaders = 4

// park waits until ensureReader hands this goroutine the reader's role (true), or the
// server shuts down or enough goroutines wait already (false).
func (s *server) park() bool {
	defer s.parked.Add(-1)
	if s.parked.Add(1) > maxParkedReaders {
		return false
	}
	select {
	case <-s.idle:
		return true
	case <-s.done:
		return false
	}
}

// ensureReader makes sure some goroutine reads from the parent: a parked one if any.
func (s *server) ensureReader() {
	if s.reading.CompareAndSwap(false, true) {
		select {
		case s.idle <- struct{}{}:
		default:
			go s.readLoop()
		}
	}
}

// shutdown cancels every running call and waits (briefly) for their goroutines.
func (s *server) shutdown() {
	s.cancel()
	close(s.done)
	s.out.fail(fmt.Errorf("%w: the worker is shutting down", fray.ErrClosed))
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGraceTime):
		s.logf("calls still running %v after shutdown; exiting anyway", shutdownGraceTime)
	}
}

func (s *server) handshake() (int, bool) {
	f, err := s.rd.Read()
	if err != nil {
		if err == io.EOF {
			return ExitOK, false
		}
		s.logf("reading Hello: %v", err)
		return ExitProtocol, false
	}
	if f.Type != wire.TypeHello {
		s.logf("first frame is %v, want Hello", f.Type)
		return ExitProtocol, false
	}
	if err := f.Decode(&s.hello); err != nil {
		s.logf("Hello: %v", err)
		return ExitProtocol, false
	}
	h := s.hello
	mine := backend.RegistryDigest()
	if h.Version != wire.Version {
		_ = s.wr.Write(wire.TypeHelloErr, f.ID, &wire.HelloErr{Version: wire.Version, Digest: mine,
			Message: fmt.Sprintf("fray: worker speaks protocol version %d, the parent %d; driver and worker must be the same fray build", wire.Version, h.Version)})
		return ExitHandshake, false
	}
	if h.Digest != mine {
		mw, mp := wire.ManifestDiff(h.Manifest, backend.RegistryManifest())
		e := &wire.RegistryMismatchError{ParentDigest: h.Digest, WorkerDigest: mine, MissingInWorker: mw, MissingInParent: mp}
		_ = s.wr.Write(wire.TypeHelloErr, f.ID, &wire.HelloErr{Version: wire.Version, Digest: mine,
			Message: e.Error(), MissingInWorker: mw, MissingInParent: mp})
		return ExitHandshake, false
	}
	if h.MaxFrame > 0 {
		s.rd.SetMax(h.MaxFrame)
		s.wr.SetMax(h.MaxFrame)
	}
	if h.Options.MaxInFlight > 0 {
		s.sem = make(chan struct{}, h.Options.MaxInFlight)
	}
	if err := s.wr.Write(wire.TypeHelloOK, f.ID, &wire.HelloOK{Version: wire.Version, Digest: mine, PID: s.pid}); err != nil {
		s.logf("writing HelloOK: %v", err)
		return ExitProtocol, false
	}
	return 0, true
}

// startParentWatch exits the process when the parent is gone (re-parented child).
func (s *server) startParentWatch() (int, bool) {
	ppid := os.Getppid()
	if pp := s.hello.Options.ParentPID; pp != 0 && pp != ppid {
		s.logf("parent %d is gone (parent is now %d); exiting", pp, ppid)
		return ExitParentDied, false
	}
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != ppid {
				s.logf("parent %d died; exiting", ppid)
				os.Exit(ExitParentDied)
			}
		}
	}()
	return 0, true
}

// dispatch handles one frame from the parent without blocking on user code. It returns
// the call to run now, if any (the read loop runs it), and whether the loop should end.
func (s *server) dispatch(f wire.Frame) (run func(), done bool) {
	switch f.Type {
	case wire.TypeResult:
		s.out.deliver(f)
	case wire.TypeCancel:
		s.mu.Lock()
		if c, ok := s.calls[f.ID]; ok {
			c.cancelled = true
			c.cancel()
		}
		s.mu.Unlock()
	case wire.TypeShutdown:
		return nil, true
	case wire.TypeRun:
		var m wire.Run
		if !s.decode(f, &m) {
			break
		}
		c := s.newCall(f.ID, m.Info)
		s.wg.Add(1)
		return func() {
			defer s.wg.Done()
			if !s.acquire(c.ctx) {
				s.answer(f.ID, s.cancelledResult(m.Info))
				return
			}
			defer s.release()
			s.answer(f.ID, s.runTask(f.ID, c, &m))
		}, false
	case wire.TypeCreateActor:
		var m wire.CreateActor
		if !s.decode(f, &m) {
			break
		}
		s.createActor(f.ID, &m)
	case wire.TypeCallActor:
		var m wire.CallActor
		if !s.decode(f, &m) {
			break
		}
		return s.callActor(f.ID, &m), false
	case wire.TypeReleaseActor:
		var m wire.ReleaseActor
		if !s.decode(f, &m) {
			break
		}
		s.releaseActor(m.ActorID)
	default:
		if f.ID != 0 && f.Type != wire.TypeHelloOK && f.Type != wire.TypeHelloErr {
			s.answer(f.ID, errResult(&fray.UnsupportedError{Backend: "worker", Feature: "message " + f.Type.String() + " from the parent",
				Hint: "driver and worker must be the same fray build"}))
		}
	}
	return nil, false
}

func (s *server) decode(f wire.Frame, v any) bool {
	if err := f.Decode(v); err != nil {
		s.answer(f.ID, errResult(&fray.SerializationError{Type: f.Type.String(), Op: "decode", Cause: err}))
		return false
	}
	return true
}

func (s *server) acquire(ctx context.Context) bool {
	if s.sem == nil {
		return true
	}
	select {
	case s.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *server) release() {
	if s.sem != nil {
		<-s.sem
	}
}

// newCall registers a parent request so that Cancel finds it, and builds its context.
func (s *server) newCall(id uint64, info wire.TaskInfo) *call {
	ti := info.Backend(s.pid)
	if ti.JobID == "" {
		ti.JobID = s.hello.JobID
	}
	ctx := context.WithValue(s.base, originKey{}, id)
	var jc backend.JobContext = s.jc
	if ti.JobID != s.hello.JobID {
		// A call on behalf of another job of the parent (an actor called by several jobs, a
		// pool shared by a cluster): the task sees that job's id.
		jc = &client{s: s, jobID: ti.JobID}
	}
	ctx = backend.NewTaskContext(ctx, jc, ti)
	ctx, cancel := context.WithCancel(ctx)
	c := &call{ctx: ctx, cancel: cancel}
	s.mu.Lock()
	s.calls[id] = c
	s.mu.Unlock()
	return c
}

// answer sends the Result for a parent request and forgets the call.
func (s *server) answer(id uint64, res wire.Result) {
	s.mu.Lock()
	if c, ok := s.calls[id]; ok {
		c.cancel()
		delete(s.calls, id)
	}
	s.mu.Unlock()
	if err := s.wr.Write(wire.TypeResult, id, &res); err != nil {
		if errors.Is(err, wire.ErrFrameTooLarge) {
			res = errResult(&fray.SerializationError{Type: "result", Op: "encode", Cause: err})
			err = s.wr.Write(wire.TypeResult, id, &res)
		}
		if err != nil && s.base.Err() == nil {
			s.logf("answering request %d: %v", id, err)
		}
	}
}

func errResult(err error) wire.Result { return wire.Result{Err: fray.EncodeError(err)} }

func (s *server) cancelledResult(info wire.TaskInfo) wire.Result {
	return errResult(&fray.CancelledError{TaskID: info.TaskID})
}

// finish turns what a function returned into a Result.
func (s *server) finish(c *call, taskID string, v any, err error) wire.Result {
	if err != nil {
		s.mu.Lock()
		cancelled := c.cancelled
		s.mu.Unlock()
		if cancelled {
			return s.cancelledResult(wire.TaskInfo{TaskID: taskID})
		}
		return errResult(err)
	}
	data, err := fray.Marshal(v)
	if err != nil {
		return errResult(err)
	}
	return wire.Result{Data: data, Plain: plain(s.hello.JobID, data)}
}

// lookup resolves a name that arrived from the other process (the parent's Run and
// CreateActor, a child's nested Submit). The sender's API resolved it in the same registry
// (the handshake compared digests), so a miss means a forged or stale message.
func lookup(name string, kind backend.FunctionKind) (*backend.Function, error) {
	f, ok := backend.LookupFunction(name)
	if !ok {
		return nil, &fray.UnknownNameError{What: kind.String(), Name: name,
			Hint: "it is not registered in this binary; declare it with fray.NewTask/NewActor/NewMethod in a package-level variable of a package the binary imports"}
	}
	if f.Kind != kind {
		return nil, &fray.UnknownNameError{What: kind.String(), Name: name, Hint: fmt.Sprintf("it is registered as a %s", f.Kind)}
	}
	return f, nil
}

// runTask runs request id's task. A task that ends the goroutine with runtime.Goexit is
// answered from a deferred call (see backend.Function.Invoke).
func (s *server) runTask(id uint64, c *call, m *wire.Run) wire.Result {
	if c.ctx.Err() != nil {
		return s.cancelledResult(m.Info)
	}
	f, err := lookup(m.Function, backend.KindTask)
	if err != nil {
		return errResult(err)
	}
	arg, err := f.DecodeArg(backend.Payload{Data: m.Arg, Owned: true})
	if err != nil {
		return errResult(err)
	}
	returned := false
	defer func() {
		if !returned {
			s.answer(id, errResult(f.GoexitError(m.Info.TaskID)))
		}
	}()
	v, err := f.Invoke(s.streamCtx(id, c, f), nil, arg)
	returned = true
	return s.finish(c, m.Info.TaskID, v, err)
}

// streamCtx is the ctx of call c (request id) for f: a streaming function's carries the
// emitter that sends its items to the parent as StreamItem requests, one at a time, each
// waiting for the parent to take it (PROTOCOL.md, Streams).
func (s *server) streamCtx(id uint64, c *call, f *backend.Function) context.Context {
	if !f.Streaming {
		return c.ctx
	}
	return backend.WithStreamEmitter(c.ctx, func(ctx context.Context, item backend.Payload) error {
		b, err := item.Encoded(fray.Marshal)
		if err != nil {
			return err
		}
		_, err = s.jc.do(ctx, wire.TypeStreamItem, &wire.StreamItem{Origin: wire.Origin{From: id}, Data: b})
		return err
	})
}
