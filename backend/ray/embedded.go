package ray

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fray-go/fray/backend/ray/internal/cpython"
)

// The embedded driver: the job's Ray driver runs in this process's own CPython
// (internal/cpython) instead of a bridge process. It speaks the same frames as the bridge
// (fray_bridge.Embedded and the bridge's Dispatcher carry them out), handed over in memory:
// a frame from Go is one call into Python on the sending goroutine's thread, and answers
// come back through a queue that one goroutine drains. What goes away is the process, both
// pipe hops and the wake-ups between them.
//
// Ray allows one driver per process, so one job context at a time embeds its driver; a
// job context connected while another is open runs its driver in a bridge process, as all
// of them did before (Options.Driver).

// embeddedInUse is held by the job context whose driver is embedded.
var embeddedInUse sync.Mutex

// embedded is the Python side of one embedded session.
type embedded struct {
	in                              *cpython.Interpreter
	obj, feed, nextOut, nextLog, cl cpython.Object

	helloSent bool // the first frame (the hello, which runs ray.init) goes to Python's main thread
	mu        sync.Mutex
	closeOnce sync.Once
	shutOnce  sync.Once // closeEmbedded's
	restored  []string // signals whose handlers ray.init replaced and Go put back
}

// startEmbedded starts a session of the embedded driver; the caller holds embeddedInUse.
func startEmbedded(python, dir string, env []string, maxFrame int, log *slog.Logger) (*bridge, error) {
	in, err := cpython.Load(python)
	if err != nil {
		return nil, fmt.Errorf("fray/ray: embedding the Ray driver: %w (set Options.Driver to DriverProcess to run it in a bridge process instead)", err)
	}
	e := &embedded{in: in}
	in.Main(func() {
		err = e.open(dir, append(env, "RAY_USAGE_STATS_ENABLED=0"), maxFrame)
	})
	if err != nil {
		return nil, fmt.Errorf("fray/ray: starting the embedded Ray driver: %w", err)
	}
	frames := make(chan []byte, 64)
	b := &bridge{emb: e, log: log,
		w: newFrameWriter(e, maxFrame), r: newFrameReader(&chanReader{ch: frames}, maxFrame),
		pending: map[uint64]chan answer{}, done: make(chan struct{}), exited: make(chan struct{}),
		logsDone: make(chan struct{}), readerDone: make(chan struct{})}
	b.logs.Add(2)
	go func() { defer b.logs.Done(); e.pumpFrames(frames) }()
	go func() { defer b.logs.Done(); e.pumpLogs(b) }()
	go func() { b.logs.Wait(); close(b.logsDone) }()
	go b.read()
	return b, nil
}

// open imports fray_bridge from dir and makes its Embedded session (on the main thread,
// with the GIL).
func (e *embedded) open(dir string, env []string, maxFrame int) error {
	in := e.in
	sys, err := in.Import("sys")
	if err != nil {
		return err
	}
	defer in.DecRef(sys)
	path, err := in.Attr(sys, "path")
	if err != nil {
		return err
	}
	defer in.DecRef(path)
	insert, err := in.Attr(path, "insert")
	if err != nil {
		return err
	}
	defer in.DecRef(insert)
	d := in.String(dir)
	defer in.DecRef(d)
	// sys.path.insert(0, dir), the 0 made as len(b"") with the calls cpython wraps.
	idx, err := e.intZero()
	if err != nil {
		return err
	}
	defer in.DecRef(idx)
	r, err := in.Call("sys.path.insert", insert, idx, d)
	if err != nil {
		return err
	}
	in.DecRef(r)
	mod, err := in.Import("fray_bridge")
	if err != nil {
		return err
	}
	defer in.DecRef(mod)
	cls, err := in.Attr(mod, "Embedded")
	if err != nil {
		return err
	}
	defer in.DecRef(cls)
	mx := in.String(fmt.Sprint(maxFrame))
	defer in.DecRef(mx)
	envArg := in.String(strings.Join(env, "\x00"))
	defer in.DecRef(envArg)
	if e.obj, err = in.Call("fray_bridge.Embedded", cls, mx, envArg); err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		to   *cpython.Object
	}{{"feed", &e.feed}, {"next_out", &e.nextOut}, {"next_log", &e.nextLog}, {"close", &e.cl}} {
		if *m.to, err = in.Attr(e.obj, m.name); err != nil {
			return err
		}
	}
	return nil
}

// intZero returns a new reference to the int 0.
func (e *embedded) intZero() (cpython.Object, error) {
	b, err := e.in.Import("builtins")
	if err != nil {
		return 0, err
	}
	defer e.in.DecRef(b)
	length, err := e.in.Attr(b, "len")
	if err != nil {
		return 0, err
	}
	defer e.in.DecRef(length)
	empty := e.in.Bytes()
	defer e.in.DecRef(empty)
	return e.in.Call("len", length, empty)
}

// writeFrame hands one frame to the driver (frameOut). The hello runs ray.init, which
// wants Python's main thread and replaces signal handlers Go needs: it goes to the main
// thread with the handlers saved and put back.
func (e *embedded) writeFrame(buf, data []byte) error {
	e.mu.Lock()
	hello := !e.helloSent
	e.helloSent = true
	e.mu.Unlock()
	var err error
	call := func() {
		f := e.in.Bytes(buf, data)
		r, cerr := e.in.Call("feed", e.feed, f)
		e.in.DecRef(f)
		e.in.DecRef(r)
		err = cerr
	}
	if hello {
		saved := cpython.SaveSignals()
		e.in.Main(call)
		for _, s := range saved.Restore() {
			e.restored = append(e.restored, s.String())
		}
		return err
	}
	e.in.Do(call)
	return err
}

// pumpFrames drains the driver's answers into frames until the session closes.
func (e *embedded) pumpFrames(frames chan<- []byte) {
	defer close(frames)
	for {
		var b []byte
		var err error
		done := false
		e.in.Do(func() {
			r, cerr := e.in.Call("next_out", e.nextOut)
			if cerr != nil {
				err = cerr
				return
			}
			defer e.in.DecRef(r)
			if e.in.IsNone(r) {
				done = true
				return
			}
			b, err = e.in.BytesValue(r)
		})
		if err != nil || done {
			return
		}
		frames <- b
	}
}

// pumpLogs logs the driver's output lines (its sys.stdout and sys.stderr, which include
// the job's worker output that Ray forwards) as the bridge process's are logged.
func (e *embedded) pumpLogs(b *bridge) {
	for {
		var line string
		done := false
		e.in.Do(func() {
			r, err := e.in.Call("next_log", e.nextLog)
			if err != nil {
				done = true
				return
			}
			defer e.in.DecRef(r)
			if e.in.IsNone(r) {
				done = true
				return
			}
			line = e.in.Str(r)
		})
		if done {
			return
		}
		b.logLine(line)
	}
}

// close ends the session: ray.shutdown on the main thread (which ends the Ray job, and its
// job-scoped actors with it), then both drains see the end.
func (e *embedded) close() {
	e.closeOnce.Do(func() {
		e.in.Main(func() {
			r, err := e.in.Call("close", e.cl)
			e.in.DecRef(r)
			if err != nil {
				fmt.Fprintln(os.Stderr, "fray/ray: closing the embedded Ray driver:", err)
			}
		})
	})
}

// release drops the session's Python references once both drains have ended.
func (e *embedded) release() {
	e.in.Do(func() {
		for _, o := range []cpython.Object{e.feed, e.nextOut, e.nextLog, e.cl, e.obj} {
			e.in.DecRef(o)
		}
	})
}

// chanReader reads the byte slices of a channel in order; io.EOF once it is closed.
type chanReader struct {
	ch  <-chan []byte
	cur []byte
}

func (r *chanReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		b, ok := <-r.ch
		if !ok {
			return 0, io.EOF
		}
		r.cur = b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// closeEmbedded ends an embedded session: the driver shuts Ray down, the drains end, the
// reader returns, and every waiter gets the bridge's "closed" error.
func (b *bridge) closeEmbedded(grace time.Duration) {
	ran := false
	b.emb.shutOnce.Do(func() { ran = true; b.shutEmbedded(grace) })
	if !ran {
		<-b.exited
	}
}

func (b *bridge) shutEmbedded(grace time.Duration) {
	done := make(chan struct{})
	go func() { b.emb.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		b.log.LogAttrs(context.Background(), slog.LevelWarn, "ray.shutdown is taking long; the job context is closed anyway", slog.Duration("waited", grace))
	}
	b.fail("closed")
	select {
	case <-b.logsDone:
		b.emb.release()
	case <-time.After(time.Second):
	}
	select {
	case <-b.readerDone:
	case <-time.After(time.Second):
	}
	close(b.exited)
}
