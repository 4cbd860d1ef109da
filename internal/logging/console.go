package logging

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
)

// The console is the process's stderr as a person watching it sees it. While a live
// progress view draws its lines on the terminal (processing/progress), output from
// elsewhere, such as the worker processes of the local backend, must be printed above those
// lines rather than through them: the view installs its writer with SetConsole, and worker
// processes started meanwhile send their stderr there, a line at a time, instead of
// inheriting the terminal.

var console atomic.Pointer[io.Writer]

// ConsoleRelayEnv is set to "1" in the environment of worker processes whose stderr goes to
// the console: their progress views then send bar events to the driver's view instead of
// drawing (processing/progress).
const ConsoleRelayEnv = "FRAY_PROGRESS_RELAY"

// SetConsole makes w the console until the returned function is called (it restores the
// previous one).
func SetConsole(w io.Writer) (restore func()) {
	prev := console.Swap(&w)
	return func() { console.CompareAndSwap(&w, prev) }
}

// Console returns the writer set by SetConsole, or nil when there is none (output then goes
// to os.Stderr as usual).
func Console() io.Writer {
	if p := console.Load(); p != nil {
		return *p
	}
	return nil
}

// LineWriter returns a writer that passes what it is given on to w in whole lines, so that
// a line printed above a live view is never split by a redraw. A final line without a
// newline is passed on once it reaches 64 KiB.
func LineWriter(w io.Writer) io.Writer { return &lineWriter{w: w} }

type lineWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	end := bytes.LastIndexByte(l.buf, '\n') + 1
	if end == 0 && len(l.buf) >= 64<<10 {
		end = len(l.buf)
	}
	if end > 0 {
		if _, err := l.w.Write(l.buf[:end]); err != nil {
			return 0, err
		}
		l.buf = append(l.buf[:0], l.buf[end:]...)
	}
	return len(p), nil
}
