package executor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fray-go/fray/storage"
)

// Status is a step's state as recorded in its .executor_status event log.
type Status string

// The statuses written to status files. Unknown and Cancelled are computed, never written.
const (
	StatusWaiting   Status = "WAITING"    // waiting to start (Marin writes it; fray's executor reads it like RUNNING)
	StatusRunning   Status = "RUNNING"    // the step's task is being submitted (recorded first) or runs
	StatusSuccess   Status = "SUCCESS"    // the step finished without error
	StatusFailed    Status = "FAILED"     // the step's function failed; the message has the error
	StatusDepFailed Status = "DEP_FAILED" // a dependency failed, so the step was not run
	// StatusUnknown: no status file (the step never ran here).
	StatusUnknown Status = "UNKNOWN"
	// StatusCancelled: the last event is WAITING or RUNNING but its owner is gone.
	StatusCancelled Status = "CANCELLED"
)

func (s Status) written() bool {
	switch s {
	case StatusWaiting, StatusRunning, StatusSuccess, StatusFailed, StatusDepFailed:
		return true
	}
	return false
}

// StatusFileName and InfoFileName are the names of the files the executor keeps in each
// step's output directory.
const (
	StatusFileName = ".executor_status"
	InfoFileName   = ".executor_info"
)

// Event is one line of a status file.
type Event struct {
	Date    string `json:"date"`    // RFC 3339 with nanoseconds, UTC
	Status  Status `json:"status"`  // one of the written statuses
	Message string `json:"message"` // free text (the error for FAILED)
	TaskID  string `json:"task_id"` // owner id of the executor that wrote the event
}

// StatusFileError reports a status file that cannot be understood. Move the file away (or
// fix the line) and run again; the executor never overwrites a file it cannot read.
type StatusFileError struct {
	Path   string // the status file
	Line   int    // 1-based line number
	Reason string
}

// Error names the corrupt status file, the line, what is wrong and what to do.
func (e *StatusFileError) Error() string {
	return fmt.Sprintf("executor: corrupt status file %s, line %d: %s (fix or remove the file to let the step run again)", e.Path, e.Line, e.Reason)
}

// ParseEvents parses a status file's contents. path names the file in errors.
func ParseEvents(path string, data []byte) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var ev Event
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&ev); err != nil {
			return nil, &StatusFileError{Path: path, Line: line, Reason: "not a JSON event object: " + err.Error()}
		}
		if d.More() {
			return nil, &StatusFileError{Path: path, Line: line, Reason: "trailing data after the JSON object"}
		}
		if !ev.Status.written() {
			return nil, &StatusFileError{Path: path, Line: line, Reason: fmt.Sprintf("unknown status %q (want WAITING, RUNNING, SUCCESS, FAILED or DEP_FAILED)", ev.Status)}
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, &StatusFileError{Path: path, Line: line + 1, Reason: err.Error()}
	}
	return out, nil
}

// formatEvents renders events as JSON lines.
func formatEvents(evs []Event) []byte {
	var b bytes.Buffer
	for _, ev := range evs {
		line, _ := json.Marshal(ev) // cannot fail: strings only
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// lastStatus is the status of the last event, or StatusUnknown.
func lastStatus(evs []Event) Status {
	if len(evs) == 0 {
		return StatusUnknown
	}
	return evs[len(evs)-1].Status
}

// statusLog reads and appends to status files. Object stores cannot append, so each append
// rewrites the whole file atomically; only the owner of a step writes its file.
type statusLog struct {
	store *pathStore
	now   func() time.Time
}

func statusPath(output string) string { return JoinPath(output, StatusFileName) }

// read returns the events of the step at output (none when the file does not exist).
func (l *statusLog) read(ctx context.Context, output string) ([]Event, error) {
	p := statusPath(output)
	data, err := l.store.ReadFile(ctx, p)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("executor: reading %s: %w", p, err)
	}
	return ParseEvents(p, data)
}

// append adds an event to the file (read, add, atomic rewrite) and returns all events.
func (l *statusLog) append(ctx context.Context, output string, prev []Event, st Status, msg, owner string) ([]Event, error) {
	ev := Event{Date: l.now().UTC().Format(time.RFC3339Nano), Status: st, Message: msg, TaskID: owner}
	evs := append(append([]Event{}, prev...), ev)
	p := statusPath(output)
	if err := l.store.WriteFileAtomic(ctx, p, formatEvents(evs)); err != nil {
		return nil, fmt.Errorf("executor: writing %s: %w", p, err)
	}
	return evs, nil
}
