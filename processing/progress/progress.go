// Package progress is the live view of a long run: one line per piece of work in flight (the
// executor's running steps, each sharded step's shards), so that steps running at the same
// time never overwrite each other's line.
//
// On a terminal a View draws its lines with github.com/vbauerster/mpb (a multi-bar
// renderer) and prints other output, such as log records written through View.Writer, above
// them. Anywhere else (a file, a pipe, CI) it draws nothing and logs instead: a line when a
// bar starts, at most one per LogEvery while it moves, and one when it ends.
//
// Several producers in one process share one View per writer: the executor's command line
// creates it with New, and processing/shards finds it with Lookup for the same writer,
// creating (and closing) its own only when there is none.
package progress

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/internal/logging"
)

// Options configure a View.
type Options struct {
	// Terminal draws live lines; false logs instead. New's default is IsTerminal(w).
	Terminal *bool
	// Logger receives the log records of a non-terminal View; nil writes plain lines to the
	// View's writer instead.
	Logger *slog.Logger
	// LogEvery is the shortest time between two records of one moving bar on a non-terminal
	// (default 10 seconds).
	LogEvery time.Duration
}

// View is the live view on one writer. Its methods are safe for concurrent use.
type View struct {
	w        io.Writer
	tty      bool
	relays   bool // a worker process sending its bars to the driver's view
	log      *slog.Logger
	logEvery time.Duration
	p        *mpb.Progress // nil on a non-terminal

	restore func()  // undoes logging.SetConsole
	relay   relayed // bars of worker processes drawn here

	mu     sync.Mutex
	closed bool
}

var (
	viewsMu sync.Mutex
	views   = map[io.Writer]*View{}
)

// New creates the View of w and makes it the one Lookup(w) returns until Close. Only one
// View per writer should be open at a time; a second New for the same writer replaces the
// first in Lookup.
func New(w io.Writer, opts Options) *View {
	v := &View{w: w, log: opts.Logger, logEvery: opts.LogEvery}
	if v.logEvery <= 0 {
		v.logEvery = 10 * time.Second
	}
	if opts.Terminal != nil {
		v.tty = *opts.Terminal
	} else {
		v.tty = IsTerminal(w)
	}
	v.relays = fray.IsWorker() && relaying(w)
	if v.tty && fray.IsWorker() {
		// A worker process's lines would fight the driver's view for the same terminal.
		v.tty = false
	}
	if v.tty {
		if w == io.Writer(os.Stderr) {
			v.restore = logging.SetConsole(v.Writer())
		}
		v.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(20), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh())
	}
	viewsMu.Lock()
	views[w] = v
	viewsMu.Unlock()
	return v
}

// Lookup returns the open View of w, or nil when there is none (or w is nil).
func Lookup(w io.Writer) *View {
	if w == nil {
		return nil
	}
	viewsMu.Lock()
	defer viewsMu.Unlock()
	return views[w]
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Terminal reports whether v draws live lines.
func (v *View) Terminal() bool { return v.tty }

// Writer returns a writer for other output (log records, messages) that goes above the live
// lines on a terminal, and straight to the View's writer elsewhere.
func (v *View) Writer() io.Writer { return viewWriter{v} }

type viewWriter struct{ v *View }

func (vw viewWriter) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte(relayPrefix)) { // a worker's bar events among its lines
		var text []byte
		for line := range bytes.Lines(b) {
			if !vw.v.handle(line) {
				text = append(text, line...)
			}
		}
		if len(text) > 0 {
			if _, err := vw.write(text); err != nil {
				return 0, err
			}
		}
		return len(b), nil
	}
	return vw.write(b)
}

func (vw viewWriter) write(b []byte) (int, error) {
	if vw.v.p != nil {
		if n, err := vw.v.p.Write(b); err == nil {
			return n, nil
		}
	}
	return vw.v.w.Write(b) // not a terminal, or the live view has ended
}

// Printf prints one line above the live lines (a trailing newline is added when missing).
func (v *View) Printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, _ = io.WriteString(v.Writer(), s)
}

// Close ends the live view: it waits for the lines still drawn to be completed or aborted
// (callers complete their bars first) and removes v from Lookup.
func (v *View) Close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	v.mu.Unlock()
	viewsMu.Lock()
	if views[v.w] == v {
		delete(views, v.w)
	}
	viewsMu.Unlock()
	if v.p != nil {
		v.p.Wait()
	}
	if v.restore != nil {
		v.restore()
	}
}

// Bar is one line of a View: a named count of done units out of a total, with a detail
// text (for example records and a rate) that its owner updates.
type Bar struct {
	v      *View
	name   string
	unit   string
	total  int64
	bar    *mpb.Bar  // nil on a non-terminal
	relay  *relayBar // a worker process's bar, drawn by the driver
	done   atomic.Int64
	detail atomic.Pointer[string]
	ended  atomic.Bool

	mu      sync.Mutex
	started time.Time
	lastLog time.Time
}

// AddBar adds a line named name counting total units (for example shards).
func (v *View) AddBar(name string, total int, unit string) *Bar {
	b := &Bar{v: v, name: name, unit: unit, total: int64(total), started: time.Now()}
	empty := ""
	b.detail.Store(&empty)
	if v.relays {
		b.relay = newRelayBar(v.w, name, total, unit)
		return b
	}
	if v.p != nil {
		b.bar = v.p.AddBar(int64(total), mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(
				decor.Name(name+": "),
				decor.CountersNoUnit("%d/%d "+unit+" "),
			),
			mpb.AppendDecorators(
				decor.Any(func(decor.Statistics) string { return " " + *b.detail.Load() }),
				decor.Elapsed(decor.ET_STYLE_GO, decor.WC{C: decor.DindentRight}),
			),
		)
	} else {
		b.logf("started, %d %s", total, unit)
	}
	return b
}

// Add counts n more units done and sets the detail text (empty keeps the previous one).
func (b *Bar) Add(n int, detail string) {
	if detail != "" {
		b.detail.Store(&detail)
	}
	done := b.done.Add(int64(n))
	if b.relay != nil {
		b.relay.send(relayEvent{Op: "add", N: n, Detail: detail})
		return
	}
	if b.bar != nil {
		b.bar.IncrBy(n)
		return
	}
	b.mu.Lock()
	due := time.Since(b.lastLog) >= b.v.logEvery
	if due {
		b.lastLog = time.Now()
	}
	b.mu.Unlock()
	if due && done < b.total {
		b.logf("%d/%d %s %s", done, b.total, b.unit, *b.detail.Load())
	}
}

// Done ends the line: on a terminal it is replaced by summary (when not empty), elsewhere
// summary is logged. A line ended before all its units are done (a failure, a
// cancellation) should use Abort.
func (b *Bar) Done(summary string) { b.end(summary, false) }

// Abort ends the line early, as Done does, for work that failed or was cancelled.
func (b *Bar) Abort(summary string) { b.end(summary, true) }

func (b *Bar) end(summary string, abort bool) {
	if b.ended.Swap(true) {
		return
	}
	if b.relay != nil {
		op := "done"
		if abort {
			op = "abort"
		}
		b.relay.send(relayEvent{Op: op, Summary: summary})
		return
	}
	if b.bar == nil {
		if summary == "" {
			summary = fmt.Sprintf("%d/%d %s", b.done.Load(), b.total, b.unit)
		}
		b.logf("%s", summary)
		return
	}
	if summary != "" {
		b.v.Printf("%s", summary)
	}
	if abort || b.done.Load() < b.total {
		b.bar.Abort(true) // drop the line, keep the others in place
	} else {
		b.bar.SetTotal(-1, true) // complete: removed, the summary above stands for it
	}
	b.bar.Wait()
}

func (b *Bar) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if b.v.log != nil {
		b.v.log.Info("progress", "step", b.name, "status", msg)
		return
	}
	fmt.Fprintf(b.v.w, "%s: %s\n", b.name, msg)
}

// Status is a line of a View whose text its owner computes: the executor's "running: ..."
// line. On a non-terminal a changed text is logged at most once per LogEvery, and always
// when it ends.
type Status struct {
	v    *View
	text func() string
	bar  *mpb.Bar
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// AddStatus adds a line showing text(), redrawn on every refresh. It is drawn above the
// bars added after it.
func (v *View) AddStatus(text func() string) *Status {
	s := &Status{v: v, text: text, stop: make(chan struct{})}
	if v.p != nil {
		s.bar = v.p.New(0, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return text() })), mpb.BarPriority(-1))
		return s
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		last := ""
		t := time.NewTicker(v.logEvery)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if cur := text(); cur != last {
					last = cur
					s.log(cur)
				}
			}
		}
	}()
	return s
}

// Done ends the status line, printing (or logging) its final text.
func (s *Status) Done() {
	s.once.Do(func() {
		final := s.text()
		if s.bar != nil {
			s.bar.Abort(true)
			s.bar.Wait()
			s.v.Printf("%s", final)
			return
		}
		close(s.stop)
		s.wg.Wait()
		s.log(final)
	})
}

func (s *Status) log(text string) {
	if s.v.log != nil {
		s.v.log.Info("progress", "status", text)
		return
	}
	fmt.Fprintln(s.v.w, text)
}
