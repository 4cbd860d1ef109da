package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/logging"
	"github.com/fray-go/fray/internal/wire"
	"github.com/fray-go/fray/internal/workermode"
)

// Defaults for StartOptions.
const (
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultCloseGrace       = 5 * time.Second
)

// StartOptions configure a worker process.
type StartOptions struct {
	// Binary is the program to run; default os.Executable() (the driver itself, which
	// must call fray.Init() first thing in main, or in TestMain for test binaries).
	Binary string
	// ExtraArgs are passed to the program.
	ExtraArgs []string
	// Env entries (KEY=VALUE) are set over the parent's environment; later entries win.
	Env []string
	// Dir is the working directory; default the parent's.
	Dir string
	// Stdout and Stderr receive the worker's output (task logs); default the parent's.
	Stdout, Stderr io.Writer
	// Host serves the worker's nested calls (tasks submitted from inside a task, Get,
	// Wait, Put, actors). Nil makes nested calls fail with an *fray.UnsupportedError.
	Host backend.JobContext
	// JobID and Namespace are the job the worker serves; JobID defaults to Host's.
	JobID, Namespace string
	// Logger receives the parent side's diagnostics; default slog.Default().
	Logger *slog.Logger
	// HandshakeTimeout bounds the start; default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// CloseGrace is how long Close waits for a clean exit before killing; default
	// DefaultCloseGrace.
	CloseGrace time.Duration
	// MaxFrame bounds frames both ways (0: wire.DefaultMaxFrame).
	MaxFrame int
	// MaxInFlight bounds how many calls the worker runs at once (0: no bound).
	MaxInFlight int

	helloHook func(*wire.Hello) // tests: alter the Hello before it is sent
}

// Process is a running worker process. Its methods are safe for concurrent use; any number
// of calls may be in flight.
type Process struct {
	opts   StartOptions
	cmd    *exec.Cmd
	pid    int
	log    *slog.Logger
	toW    *os.File // parent → child pipe, our end
	fromW  *os.File // child → parent pipe, our end
	rd     *wire.Reader
	wr     *wire.Writer
	out    *peer
	host   backend.JobContext
	digest string

	hostCtx    context.Context
	hostCancel context.CancelFunc
	nestedWG   sync.WaitGroup

	mu      sync.Mutex
	calls   map[uint64]fray.TaskInfo         // our requests in flight, for nested-call attribution
	emits   map[uint64]backend.StreamEmitter // our streaming requests in flight: where their items go
	streams streamTable                      // streams the child consumes (stream.go)
	nested  map[uint64]context.CancelFunc    // child requests being served

	closing atomic.Bool
	done    chan struct{}
	err     error // set before done is closed
	endErr  error // what calls fail with once done is closed
	exitMsg string
	readerD chan struct{}
}

// Start launches a worker process and completes the handshake. ctx bounds only the start.
// On systems other than unix it returns a *fray.UnsupportedError (see sys_nounix.go).
func Start(ctx context.Context, o StartOptions) (*Process, error) {
	if err := startSupported(); err != nil {
		return nil, err
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("fray: worker binary: %w", err)
		}
		o.Binary = exe
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.CloseGrace <= 0 {
		o.CloseGrace = DefaultCloseGrace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.JobID == "" && o.Host != nil {
		o.JobID = o.Host.JobID()
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
		if c := logging.Console(); c != nil { // a live view is on the terminal: print above it
			o.Stderr = logging.LineWriter(c)
			o.Env = append(o.Env[:len(o.Env):len(o.Env)], logging.ConsoleRelayEnv+"=1")
		}
	}
	childR, toW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("fray: worker pipes: %w", err)
	}
	fromW, childW, err := os.Pipe()
	if err != nil {
		childR.Close()
		toW.Close()
		return nil, fmt.Errorf("fray: worker pipes: %w", err)
	}
	cmd := exec.Command(o.Binary, o.ExtraArgs...)
	cmd.Env = append(append(os.Environ(), o.Env...), workermode.Env+"=1")
	cmd.Dir = o.Dir
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	cmd.ExtraFiles = []*os.File{childR, childW} // fds 3 and 4
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	childR.Close()
	childW.Close()
	if err != nil {
		toW.Close()
		fromW.Close()
		return nil, fmt.Errorf("fray: starting worker %s: %w", o.Binary, err)
	}
	p := &Process{opts: o, cmd: cmd, pid: cmd.Process.Pid, log: o.Logger.With("worker_pid", cmd.Process.Pid),
		toW: toW, fromW: fromW, host: o.Host,
		rd: wire.NewReader(fromW, o.MaxFrame), wr: wire.NewWriter(toW, o.MaxFrame),
		calls: map[uint64]fray.TaskInfo{}, nested: map[uint64]context.CancelFunc{}, emits: map[uint64]backend.StreamEmitter{},
		done: make(chan struct{}), readerD: make(chan struct{})}
	p.out = newPeer(p.wr)
	p.hostCtx, p.hostCancel = context.WithCancel(context.Background())
	go p.readLoop()
	go p.waitLoop()
	if err := p.handshake(ctx); err != nil {
		p.closing.Store(true)
		p.Kill()
		<-p.done
		p.hostCancel()
		return nil, err
	}
	return p, nil
}

func (p *Process) handshake(ctx context.Context) error {
	h := &wire.Hello{Version: wire.Version, JobID: p.opts.JobID, Namespace: p.opts.Namespace,
		Digest: backend.RegistryDigest(), Manifest: backend.RegistryManifest(), MaxFrame: p.opts.MaxFrame,
		Options: wire.WorkerOptions{ParentPID: os.Getpid(), MaxInFlight: p.opts.MaxInFlight}}
	if p.host != nil {
		h.Backend = p.host.Backend()
	}
	if p.opts.helloHook != nil {
		p.opts.helloHook(h)
	}
	exited := func() error {
		<-p.done
		return p.startErr()
	}
	_, ch, err := p.out.start(wire.TypeHello, h)
	if err != nil {
		select {
		case <-p.done:
			return exited()
		case <-time.After(p.opts.HandshakeTimeout):
			return fmt.Errorf("fray: worker %s (pid %d): sending Hello: %w", p.opts.Binary, p.pid, err)
		}
	}
	timer := time.NewTimer(p.opts.HandshakeTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return exited()
		}
		switch r.f.Type {
		case wire.TypeHelloOK:
			var ok wire.HelloOK
			if err := r.f.Decode(&ok); err != nil {
				return err
			}
			p.digest = ok.Digest
			return nil
		case wire.TypeHelloErr:
			var he wire.HelloErr
			if err := r.f.Decode(&he); err != nil {
				return err
			}
			if he.NoInit {
				return &fray.WorkerStartError{Binary: p.opts.Binary, PID: p.pid, Reason: strings.TrimPrefix(he.Message, "fray: ")}
			}
			if len(he.MissingInWorker)+len(he.MissingInParent) > 0 || he.Digest != h.Digest {
				return &wire.RegistryMismatchError{ParentDigest: h.Digest, WorkerDigest: he.Digest,
					MissingInWorker: he.MissingInWorker, MissingInParent: he.MissingInParent}
			}
			return errors.New(he.Message)
		}
		return &protocolError{msg: "answer to Hello of type " + r.f.Type.String()}
	case <-timer.C:
		return &fray.WorkerStartError{Binary: p.opts.Binary, PID: p.pid,
			Reason: fmt.Sprintf("no answer to the handshake within %v", p.opts.HandshakeTimeout), Hint: initHint}
	case <-ctx.Done():
		return fmt.Errorf("fray: starting worker: %w", ctx.Err())
	}
}

const initHint = "does main (or TestMain) call fray.Init() first thing?"

// startErr is the error of a worker that exited before it completed the handshake. Killed
// by a signal (SIGKILL from outside, the OOM killer) it is a worker death like any other,
// retried and restarted as such (*fray.WorkerDiedError). An exit of its own means the
// program never reached fray.Init's worker loop, or left it at once (*fray.WorkerStartError).
func (p *Process) startErr() error {
	st := p.cmd.ProcessState
	if st == nil || st.ExitCode() < 0 { // signalled (or not reaped normally)
		return &fray.WorkerDiedError{Task: "(starting worker)",
			Reason: fmt.Sprintf("worker process %d %s while starting, before the handshake", p.pid, p.exitMsg)}
	}
	e := &fray.WorkerStartError{Binary: p.opts.Binary, PID: p.pid, Reason: "it " + p.exitMsg + " before the handshake", Hint: initHint}
	switch st.ExitCode() {
	case ExitNoInit:
		e.Reason, e.Hint = "its main created a job context before calling fray.Init() ("+p.exitMsg+")", "call fray.Init() first thing in main (or TestMain)"
	case ExitNoPipes:
		e.Hint = "the worker found no protocol pipes (fds 3 and 4)"
	}
	return e
}

// readLoop routes frames from the child until its pipe ends.
func (p *Process) readLoop() {
	defer close(p.readerD)
	for {
		f, err := p.rd.Read()
		if err != nil {
			if err != io.EOF && !errors.Is(err, os.ErrClosed) && !p.closing.Load() {
				p.log.Error("fray: reading from worker; killing it", "err", err)
				p.Kill()
			}
			return
		}
		switch {
		case f.Type == wire.TypeResult || f.Type == wire.TypeHelloOK || f.Type == wire.TypeHelloErr:
			p.out.deliver(f)
		case f.Type == wire.TypeCancel:
			p.mu.Lock()
			cancel := p.nested[f.ID]
			p.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		case f.Type == wire.TypeRelease:
			var m wire.Release
			if f.Decode(&m) == nil && p.host != nil {
				if ids := p.releaseStreams(m.IDs); len(ids) > 0 {
					p.host.Release(wire.ObjectIDs(ids))
				}
			}
		case f.Type.IsNested() || f.Type.IsStream():
			p.serveNested(f)
		default:
			if f.ID != 0 {
				p.answer(f.ID, errResult(&fray.UnsupportedError{Backend: "worker parent", Feature: "message " + f.Type.String() + " from a worker"}))
			}
		}
	}
}

// drainGrace bounds how long waitLoop waits, after the worker exited, for the reader to
// read what the worker wrote before it exited and reach end of file.
const drainGrace = 5 * time.Second

// waitLoop reaps the process and fails whatever was still waiting on it.
func (p *Process) waitLoop() {
	werr := p.cmd.Wait()
	_ = killGroup(p.pid) // whatever the worker started goes with it
	p.exitMsg = "exited"
	if p.cmd.ProcessState != nil {
		p.exitMsg = p.cmd.ProcessState.String()
	} else if werr != nil {
		p.exitMsg = werr.Error()
	}
	// What the worker wrote before it exited (a HelloErr, a last Result) is still in the
	// pipe: the reader reads it and then meets end of file, as the worker's end closed with
	// it. Closing our end first would drop those frames. Only a stray process holding the
	// worker's end keeps the end of file away: after drainGrace the close unblocks the reader.
	select {
	case <-p.readerD:
	case <-time.After(drainGrace):
	}
	p.fromW.Close()
	<-p.readerD
	var callErr error
	if p.closing.Load() {
		callErr = fmt.Errorf("%w: worker process %d was closed", fray.ErrClosed, p.pid)
	} else {
		p.err = &fray.WorkerDiedError{Task: "(process)", Reason: fmt.Sprintf("worker process %d %s", p.pid, p.exitMsg)}
		callErr = p.err
		p.log.Warn("fray: worker process died", "status", p.exitMsg)
	}
	p.endErr = callErr
	p.toW.Close()
	close(p.done) // before failing the calls, so that a caller seeing a failure sees Done too
	p.out.fail(callErr)
	p.streams.cancelAll() // nobody reads them any more
}

// PID returns the worker's process id.
func (p *Process) PID() int { return p.pid }

// Digest returns the worker's registry digest from the handshake.
func (p *Process) Digest() string { return p.digest }

// Done is closed when the process has exited (before the calls still waiting on it fail).
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns nil while the process runs and after Close; once it exited on its own (crash,
// kill, OOM killer) it returns a *fray.WorkerDiedError with the exit status or signal.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// InFlight reports how many calls to the process await answers.
func (p *Process) InFlight() int { return p.out.pendingCount() }

// Kill SIGKILLs the worker and its process group. Calls in flight fail with a
// *fray.WorkerDiedError (unless Close was called first).
func (p *Process) Kill() {
	select {
	case <-p.done:
		return // reaped: the pid may belong to someone else now
	default:
	}
	if err := killGroup(p.pid); err != nil {
		_ = p.cmd.Process.Kill()
	}
}

// Close shuts the worker down: Shutdown, end of input, then SIGKILL after the grace period.
// Calls in flight fail with an error matching fray.ErrClosed. It waits for the exit.
func (p *Process) Close() error {
	if !p.closing.Swap(true) {
		_ = p.wr.Write(wire.TypeShutdown, 0, nil)
		p.toW.Close()
		t := time.NewTimer(p.opts.CloseGrace)
		select {
		case <-p.done:
		case <-t.C:
			p.log.Warn("fray: worker did not exit after Shutdown; killing it", "grace", p.opts.CloseGrace)
			p.Kill()
		}
		t.Stop()
	}
	<-p.done
	p.hostCancel()
	p.nestedWG.Wait()
	return nil
}

// Abort kills the worker at once, without Shutdown; calls in flight fail with an error
// matching fray.ErrClosed rather than a worker-died error. It waits for the exit.
func (p *Process) Abort() {
	p.closing.Store(true)
	p.Kill()
	<-p.done
	p.hostCancel()
	p.nestedWG.Wait()
}
