package executor

import (
	"context"
	"strings"
	"time"
)

// shared is the process-wide store behind ReadFile and WriteFile.
var shared = newPathStore()

// ReadFile reads a whole file by full path (a local path or a bucket URL such as
// gs://bucket/dir/file), for step functions that take their inputs as Paths. A missing file
// is an error matching storage.ErrNotFound.
func ReadFile(ctx context.Context, path string) ([]byte, error) {
	return shared.ReadFile(ctx, path)
}

// WriteFile writes a whole file by full path, atomically: readers see the old content or
// the new, never a part. Local parent directories are created.
func WriteFile(ctx context.Context, path string, data []byte) error {
	return shared.WriteFileAtomic(ctx, path, data)
}

// StepStatus is one step directory found under a prefix.
type StepStatus struct {
	OutputPath string
	Name       string // the output path relative to the prefix
	// Status is the last status, except that a RUNNING or WAITING step whose lease is not
	// live (released, expired, or never taken) is StatusCancelled: its executor is gone.
	// StatusUnknown when Err is set.
	Status Status
	Last   Event        // the last event
	Events int          // number of events
	Lease  *LeaseRecord // the step's lease in force, if any
	Err    error        // the status or lease file could not be read or parsed
}

// ListStatuses finds every status file under prefix and reads it, with the step's lease.
// A file that cannot be parsed is reported in its StepStatus.Err rather than failing the
// listing.
func ListStatuses(ctx context.Context, prefix string) ([]StepStatus, error) {
	st := newPathStore()
	defer st.Close()
	st.addLocalRoot(prefix)
	files, err := st.Find(ctx, prefix, StatusFileName)
	if err != nil {
		return nil, err
	}
	log := &statusLog{store: st}
	out := make([]StepStatus, len(files))
	_ = parallel(ctx, len(files), 16, func(i int) error {
		rel := strings.TrimSuffix(strings.TrimSuffix(files[i], StatusFileName), "/")
		dir := JoinPath(prefix, rel)
		s := StepStatus{OutputPath: dir, Name: rel, Status: StatusUnknown}
		evs, err := log.read(ctx, dir)
		if err != nil {
			s.Err = err
		} else if len(evs) > 0 {
			s.Status, s.Last, s.Events = lastStatus(evs), evs[len(evs)-1], len(evs)
			if s.Lease, _, err = readLease(ctx, st, dir); err != nil {
				s.Err = err
			} else if (s.Status == StatusRunning || s.Status == StatusWaiting) && (s.Lease == nil || !s.Lease.Live(time.Now())) {
				s.Status = StatusCancelled
			}
		}
		out[i] = s
		return nil
	})
	return out, ctx.Err()
}
