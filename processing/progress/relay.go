package progress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/fray-go/fray/internal/logging"
)

// A step of the local backend may run in a worker process whose stderr is a pipe to the
// driver (see logging.SetConsole). Its View then relays: each bar event is one line on
// stderr, starting with relayPrefix and holding a JSON relayEvent, and the driver's View,
// which reads that stderr through View.Writer, draws the bar among its own lines. Other
// lines pass through unchanged.

// relayPrefix starts a relayed event line; the NUL keeps it from clashing with any text.
const relayPrefix = "\x00fray-progress "

// relayEvent is one bar event of a worker process.
type relayEvent struct {
	ID      string `json:"id"`
	Op      string `json:"op"` // add (first: the bar; then: progress), done, abort
	Name    string `json:"name,omitempty"`
	Unit    string `json:"unit,omitempty"`
	Total   int    `json:"total,omitempty"`
	N       int    `json:"n,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Summary string `json:"summary,omitempty"`
}

var relaySeq atomic.Int64

// relaying reports whether this process relays its bars to a driver: a worker process
// started while the driver's view was live (logging.ConsoleRelayEnv set) writing to stderr.
func relaying(w io.Writer) bool {
	return w == io.Writer(os.Stderr) && os.Getenv(logging.ConsoleRelayEnv) == "1"
}

// Live reports whether a View on w draws live lines, in this process or, relayed, in the
// driver's: a step decides with it whether to ask for bars at all.
func Live(w io.Writer) bool {
	return w != nil && (relaying(w) || IsTerminal(w))
}

// relayBar sends a bar's events to the driver.
type relayBar struct {
	id string
	w  io.Writer
	mu sync.Mutex
}

func newRelayBar(w io.Writer, name string, total int, unit string) *relayBar {
	r := &relayBar{id: strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(relaySeq.Add(1), 10), w: w}
	r.send(relayEvent{Op: "add", Name: name, Total: total, Unit: unit})
	return r
}

func (r *relayBar) send(e relayEvent) {
	e.ID = r.id
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "%s%s\n", relayPrefix, b)
}

// relayed is the driver's side: the bars of worker processes by event id.
type relayed struct {
	mu   sync.Mutex
	bars map[string]*Bar
}

// handle applies one relayed event line; it reports false for a line that is not one.
func (v *View) handle(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte(relayPrefix))
	if !ok {
		return false
	}
	var e relayEvent
	if err := json.Unmarshal(bytes.TrimRight(rest, "\n"), &e); err != nil || e.ID == "" {
		return true // a damaged event is dropped, not printed as text
	}
	v.relay.mu.Lock()
	if v.relay.bars == nil {
		v.relay.bars = map[string]*Bar{}
	}
	b := v.relay.bars[e.ID]
	if e.Op == "add" && b == nil {
		b = v.AddBar(e.Name, e.Total, e.Unit)
		v.relay.bars[e.ID] = b
	}
	if e.Op == "done" || e.Op == "abort" {
		delete(v.relay.bars, e.ID)
	}
	v.relay.mu.Unlock()
	if b == nil {
		return true
	}
	switch e.Op {
	case "add":
		if e.N > 0 || e.Detail != "" {
			b.Add(e.N, e.Detail)
		}
	case "done":
		b.Done(e.Summary)
	case "abort":
		b.Abort(e.Summary)
	}
	return true
}
