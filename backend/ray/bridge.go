package ray

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/internal/wire"
)

// BridgeError reports that the bridge process (the job's Ray driver) is gone or broke the
// protocol. Every call of the job context fails with it afterwards; it matches
// fray.ErrClosed with errors.Is, because the job has ended.
type BridgeError struct {
	Reason string   // e.g. "exit status 1" or "signal: killed"
	Stderr []string // the bridge's last output lines
}

func (e *BridgeError) Error() string {
	s := "fray/ray: the Ray bridge process ended (" + e.Reason + "); the job is over: its tasks, objects and job-scoped actors are gone. Connect again to start a new job"
	if len(e.Stderr) > 0 {
		s += "; last output:\n" + strings.Join(e.Stderr, "\n")
	}
	return s
}

// Is matches fray.ErrClosed.
func (e *BridgeError) Is(target error) bool { return target == fray.ErrClosed }

// AuthError reports that the Ray cluster refused the connection because it requires Ray's
// token authentication and this program had no token, or not the cluster's (see
// Options.AuthTokenFile for where the token is looked for).
type AuthError struct {
	Address string // the cluster's address
	Source  string // where the token came from; "" when there was none
	Detail  string // Ray's message
}

func (e *AuthError) Error() string {
	what := "no token was found"
	if e.Source != "" {
		what = "the token from " + e.Source + " is not the cluster's"
	}
	return "fray/ray: the Ray cluster at " + e.Address + " requires token authentication and " + what +
		": set Options.AuthTokenFile or RAY_AUTH_TOKEN_PATH to the file holding the cluster's token " +
		"(scripts/ray-cluster.sh writes " + tokenFile + ") (Ray: " + e.Detail + ")"
}

// bridge is the running bridge process and the client side of its pipes.
type bridge struct {
	cmd        *exec.Cmd
	toPy       *os.File // our write end (bridge's fd 3)
	fromPy     *os.File // our read end (bridge's fd 4)
	w          *frameWriter
	r          *frameReader
	out        *os.File // our read end of the bridge's stdout and stderr
	log        *slog.Logger
	shm        *sharedMemory // nil: values cross through the pipes only
	readerDone chan struct{} // closed when read returns (then shm may be unmapped)

	mu       sync.Mutex
	pending  map[uint64]chan answer
	nextID   uint64
	err      error         // set once the bridge is gone
	done     chan struct{} // closed when err is set
	exited   chan struct{} // closed when the process has been waited for
	logs     sync.WaitGroup
	logsDone chan struct{}

	tailMu sync.Mutex
	tail   []string
}

const tailLines = 20

// startBridge runs the bridge under python, in env (Options.DriverEnv), with the pipes on
// fds 3 and 4 and, when shmRing > 0 and the platform allows, the shared memory for large
// values on fd 5.
func startBridge(python, dir string, env []string, maxFrame, shmRing int, log *slog.Logger) (*bridge, error) {
	toPyR, toPyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromPyR, fromPyW, err := os.Pipe()
	if err != nil {
		toPyR.Close()
		toPyW.Close()
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(toPyR, toPyW, fromPyR, fromPyW)
		return nil, err
	}
	cmd := exec.Command(python, "-u", filepath.Join(dir, "fray_bridge.py"))
	cmd.ExtraFiles = []*os.File{toPyR, fromPyW}
	var shm *sharedMemory
	if shmRing > 0 {
		var shmFile *os.File
		if shm, shmFile, err = newSharedMemory(shmRing); err != nil {
			log.Debug("values cross through the pipes", "reason", err)
		} else {
			defer shmFile.Close() // the bridge has its own copy once started; the mapping stays
			cmd.ExtraFiles = append(cmd.ExtraFiles, shmFile)
		}
	}
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.Env = append(env, "RAY_USAGE_STATS_ENABLED=0", "PYTHONUNBUFFERED=1")
	dieWithParent(cmd)
	growPipe(toPyW)
	growPipe(fromPyW)
	if err := cmd.Start(); err != nil {
		closeAll(toPyR, toPyW, fromPyR, fromPyW, outR, outW)
		if shm != nil {
			_ = shm.unmap()
		}
		return nil, fmt.Errorf("fray/ray: starting the bridge with %s: %w (install Ray with scripts/setup-python.sh, or set Options.Python or FRAY_PYTHON)", python, err)
	}
	closeAll(toPyR, fromPyW, outW)
	b := &bridge{cmd: cmd, toPy: toPyW, fromPy: fromPyR, out: outR, log: log, shm: shm,
		w: newFrameWriter(toPyW, maxFrame), r: newFrameReader(fromPyR, maxFrame),
		pending: map[uint64]chan answer{}, done: make(chan struct{}), exited: make(chan struct{}),
		logsDone: make(chan struct{}), readerDone: make(chan struct{})}
	if shm != nil {
		b.r.shm = shm.fromPy // Go consumes this ring from the start; it produces once the bridge has mapped it
	}
	b.logs.Add(1)
	go b.forward(outR)
	go func() { b.logs.Wait(); close(b.logsDone) }()
	go b.read()
	go func() {
		werr := cmd.Wait()
		reason := "exited"
		if werr != nil {
			reason = werr.Error()
		}
		// Let the last output lines (a traceback, say) arrive before reporting.
		select {
		case <-b.logsDone:
		case <-time.After(2 * time.Second):
		}
		b.fail(reason)
		close(b.exited)
	}()
	return b, nil
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}

// forward sends the bridge's output lines to the logger, each with the level it states
// (parseLogLine), keeping the last few for errors.
func (b *bridge) forward(r io.Reader) {
	defer b.logs.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		b.tailMu.Lock()
		b.tail = append(b.tail, line)
		if len(b.tail) > tailLines {
			b.tail = b.tail[len(b.tail)-tailLines:]
		}
		b.tailMu.Unlock()
		rec := parseLogLine(line)
		b.log.LogAttrs(context.Background(), rec.level, rec.msg, append([]slog.Attr{slog.String("source", "ray")}, rec.attrs...)...)
	}
}

func (b *bridge) lastLines() []string {
	b.tailMu.Lock()
	defer b.tailMu.Unlock()
	return append([]string(nil), b.tail...)
}

// read dispatches answers to their waiting callers.
func (b *bridge) read() {
	defer close(b.readerDone)
	for {
		f, err := b.r.read()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrClosed) {
				// the process is ending; the waiter goroutine reports how
				return
			}
			b.fail("protocol error: " + err.Error())
			b.kill()
			return
		}
		b.mu.Lock()
		ch := b.pending[f.ID]
		delete(b.pending, f.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
}

// fail records why the bridge is gone and wakes every waiter.
func (b *bridge) fail(reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return
	}
	b.err = &BridgeError{Reason: reason, Stderr: b.lastLines()}
	close(b.done)
}

func (b *bridge) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// send writes a one-way frame.
func (b *bridge) send(t wire.Type, id uint64, body any) error {
	if err := b.failed(); err != nil {
		return err
	}
	return b.sent(b.w.write(t, id, body))
}

// sendPut writes a one-way bridgePut (frameWriter.writePut).
func (b *bridge) sendPut(oid string, plain bool, enc, data []byte) error {
	if err := b.failed(); err != nil {
		return err
	}
	return b.sent(b.w.writePut(oid, plain, enc, data))
}

// sent turns a write error into the error a caller gets.
func (b *bridge) sent(err error) error {
	if err != nil {
		if errors.Is(err, wire.ErrFrameTooLarge) {
			return &fray.SerializationError{Type: "value", Op: "encode", Cause: err}
		}
		if e := b.failed(); e != nil {
			return e
		}
		return &BridgeError{Reason: "writing to the bridge: " + err.Error(), Stderr: b.lastLines()}
	}
	return nil
}

// call sends a request and waits for its answer. When ctx ends first it sends Cancel for
// the request (the bridge abandons a blocking Get or Wait) and returns ctx's error.
func (b *bridge) call(ctx context.Context, t wire.Type, body any) (answer, error) {
	ch := make(chan answer, 1)
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return answer{}, err
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	if err := b.send(t, id, body); err != nil {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return answer{}, err
	}
	select {
	case f := <-ch:
		return f, nil
	case <-b.done:
		select {
		case f := <-ch:
			return f, nil
		default:
		}
		return answer{}, b.failed()
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		_ = b.send(wire.TypeCancel, id, nil)
		return answer{}, ctx.Err()
	}
}

// result calls and decodes a Result, turning Result{e} into the error it carries.
func (b *bridge) result(ctx context.Context, t wire.Type, body any) (wire.Result, error) {
	f, err := b.call(ctx, t, body)
	if err != nil {
		return wire.Result{}, err
	}
	return decodeResult(f)
}

// decodeResult decodes an answer's Result, turning Result{e} into the error it carries.
func decodeResult(f answer) (wire.Result, error) {
	var res wire.Result
	if err := f.Decode(&res); err != nil {
		return wire.Result{}, err
	}
	if res.Err != nil {
		return res, fray.DecodeError(res.Err)
	}
	return res, nil
}

func (b *bridge) kill() {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
	}
}

// close ends the session: closing fd 3 makes the bridge shut Ray down and exit. If it has
// not exited within grace it is killed.
func (b *bridge) close(grace time.Duration) {
	_ = b.toPy.Close()
	select {
	case <-b.exited:
	case <-time.After(grace):
		b.kill()
		<-b.exited
	}
	_ = b.fromPy.Close()
	select {
	case <-b.logsDone:
	case <-time.After(time.Second):
	}
	_ = b.out.Close()
	<-b.logsDone
	b.fail("closed")
	<-b.readerDone // fromPy is closed, so the reader has returned and no longer touches shm
	if b.shm != nil {
		b.w.disableShared()
		_ = b.shm.unmap()
	}
}

// enableShared lets Puts use the to-bridge ring, once the bridge has said it mapped it.
func (b *bridge) enableShared() {
	if b.shm != nil {
		b.w.enableShared(b.shm.toPy, b.shm.spill)
	}
}
