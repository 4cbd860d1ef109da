package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fray-go/fray/storage"
)

// Step leases: ownership of a step that holds across processes and machines with nothing
// shared but the storage under the prefix. The StatusActor only orders executors that
// share one cluster; two executor processes on the local backend (an overlapping cron run)
// each have their own, so the lease beside the output is what keeps them from running a
// step twice.
//
// A lease is a file in the step's output directory, <output>/.executor_lease.<generation>,
// holding a LeaseRecord. The lease in force is the one with the highest generation; older
// generations are leftovers that the next taker deletes. To take a step, an executor reads
// the highest generation g; if that lease is live and not its own, it waits (polls). If
// there is none (g = 0), or it is released or expired, the executor creates generation g+1
// with an exclusive create (storage.CreateExclusive), lists again, and holds the lease if no
// higher generation exists; otherwise it deletes its file and starts over. Of two
// executors that try to take over the same expired lease g, both try to create g+1 and
// exactly one succeeds. The generation in the name is what makes takeover safe: "delete the
// expired lease, then create it" would let the slower taker delete the faster one's fresh
// lease and create its own. Every generation a taker may still try to create is either
// present (the highest one is never deleted, only overwritten by its holder) or lower than
// one that is, which its check after creating sees.
//
// The holder renews its lease every LeaseTTL/4 (overwriting its own generation with a new
// Renewed time) and marks it released when it is done. A lease expires when Renewed is
// older than its TTL (the TTL of the holder, stored in the record). The holder treats its
// lease as lost when a higher generation appears or when it has not renewed for 3/4 of the
// TTL; it then stops the step and writes nothing more to the step's status file, which it
// rewrites only while it holds the lease.
//
// The guarantee: at most one executor holds a step's lease at a time, and therefore runs
// the step and rewrites its status file, provided that (1) the storage has exclusive create
// and read-after-write listing (local file systems with hard links, mem://, S3, GCS and
// Azure do), (2) the clocks of the machines that share a prefix agree to within a quarter
// of the TTL, and (3) no holder stalls (stopped, swapped out, a storage write that hangs)
// for longer than a quarter of the TTL between checking its lease and finishing a status
// write. An executor that dies stops renewing, and its steps can be taken over one TTL
// after its last renewal.

// LeaseFilePrefix starts the name of a step's lease files: <output>/.executor_lease.<gen>.
const LeaseFilePrefix = ".executor_lease."

// LeaseRecord is the content of a lease file (JSON).
type LeaseRecord struct {
	Owner      string    `json:"owner"`      // owner id of the executor run that holds it
	Generation int64     `json:"generation"` // the number in the file name
	Host       string    `json:"host"`       // where the holder runs (for people)
	PID        int       `json:"pid"`        // the holder's process id (for people)
	Acquired   time.Time `json:"acquired"`
	Renewed    time.Time `json:"renewed"` // the holder's clock at its last renewal
	TTLMillis  int64     `json:"ttl_ms"`  // expires this long after Renewed
	Released   bool      `json:"released,omitempty"`
}

// TTL is the record's time to live after Renewed.
func (l LeaseRecord) TTL() time.Duration { return time.Duration(l.TTLMillis) * time.Millisecond }

// Live reports whether the lease still belongs to its holder at now: not released and
// renewed within its TTL.
func (l LeaseRecord) Live(now time.Time) bool {
	return !l.Released && now.Before(l.Renewed.Add(l.TTL()))
}

func leasePath(output string, gen int64) string {
	return JoinPath(output, LeaseFilePrefix+strconv.FormatInt(gen, 10))
}

// LeaseFileError reports a lease file that cannot be understood. Lease files are written
// atomically, so this means someone edited one: remove it once no executor runs the step.
type LeaseFileError struct {
	Path   string
	Reason string
}

// Error names the corrupt lease file, what is wrong with it and what to do.
func (e *LeaseFileError) Error() string {
	return fmt.Sprintf("executor: corrupt lease file %s: %s (remove it when no executor is running the step)", e.Path, e.Reason)
}

// leaseGens returns the generations of the lease files in output, ascending.
func leaseGens(ctx context.Context, st *pathStore, output string) ([]int64, error) {
	names, err := st.ListNames(ctx, output, LeaseFilePrefix)
	if err != nil {
		return nil, fmt.Errorf("executor: listing the leases of %s: %w", output, err)
	}
	var gens []int64
	for _, n := range names {
		g, err := strconv.ParseInt(strings.TrimPrefix(n, LeaseFilePrefix), 10, 64)
		if err != nil || g <= 0 {
			continue // not ours (or a temporary file)
		}
		gens = append(gens, g)
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i] < gens[j] })
	return gens, nil
}

// readLease returns the lease in force for output (nil when there is none) and its
// generation (0 when none).
func readLease(ctx context.Context, st *pathStore, output string) (*LeaseRecord, int64, error) {
	for {
		gens, err := leaseGens(ctx, st, output)
		if err != nil || len(gens) == 0 {
			return nil, 0, err
		}
		g := gens[len(gens)-1]
		p := leasePath(output, g)
		data, err := st.ReadFile(ctx, p)
		if errors.Is(err, storage.ErrNotFound) {
			// A losing taker's file, deleted since the listing: look again.
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("executor: reading %s: %w", p, err)
		}
		var rec LeaseRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, 0, &LeaseFileError{Path: p, Reason: err.Error()}
		}
		if rec.Generation != g {
			return nil, 0, &LeaseFileError{Path: p, Reason: fmt.Sprintf("generation %d in a file named for %d", rec.Generation, g)}
		}
		return &rec, g, nil
	}
}

// ErrLeaseLost matches a LeaseLostError.
var ErrLeaseLost = errors.New("executor: step lease lost")

// LeaseLostError reports that an executor lost a step's lease while it held it: it could
// not renew it in time (storage errors, or the process stalled), or another executor took
// it over. The executor stopped the step and wrote nothing more to its status file.
type LeaseLostError struct {
	Step   string
	Output string
	Reason string
}

// Error names the step, its output and why the lease was lost.
func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("executor: step %s: lost its lease on %s: %s", e.Step, e.Output, e.Reason)
}

// Is matches ErrLeaseLost.
func (e *LeaseLostError) Is(target error) bool { return target == ErrLeaseLost }

// leaser takes, renews and releases leases for one executor run.
type leaser struct {
	store *pathStore
	owner string
	ttl   time.Duration
	poll  time.Duration
	log   *slog.Logger
}

// lease is a held lease. Its ctx is cancelled when the lease is lost or released.
type lease struct {
	l      *leaser
	step   string
	output string
	gen    int64
	rec    LeaseRecord
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	renewed time.Time // monotonic time taken just before the last successful write
	lost    string    // why the lease was lost ("" while held)
}

var errLeaseHeld = errors.New("lease held by a live executor")

// acquire takes the lease of output. With wait it polls while another live executor holds
// it, calling onWait once with the holder's id; without wait it returns errLeaseHeld.
func (l *leaser) acquire(ctx context.Context, step, output string, wait bool, onWait func(owner string)) (*lease, error) {
	waited := false
	for {
		top, gen, err := readLease(ctx, l.store, output)
		if err != nil {
			return nil, err
		}
		if top != nil && top.Owner != l.owner && top.Live(time.Now()) {
			if !wait {
				return nil, errLeaseHeld
			}
			if !waited {
				waited = true
				if onWait != nil {
					onWait(top.Owner)
				}
			}
			select {
			case <-time.After(l.poll):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		host, _ := os.Hostname()
		now := time.Now()
		rec := LeaseRecord{Owner: l.owner, Generation: gen + 1, Host: host, PID: os.Getpid(),
			Acquired: now.UTC(), Renewed: now.UTC(), TTLMillis: l.ttl.Milliseconds()}
		data, _ := json.Marshal(rec) // cannot fail
		p := leasePath(output, rec.Generation)
		if err := l.store.CreateExclusive(ctx, p, data); err != nil {
			if errors.Is(err, storage.ErrExists) {
				continue // another executor took this generation first: look again
			}
			return nil, fmt.Errorf("executor: creating lease %s: %w", p, err)
		}
		gens, err := leaseGens(ctx, l.store, output)
		if err != nil {
			_ = l.store.Delete(context.WithoutCancel(ctx), p)
			return nil, err
		}
		if len(gens) == 0 || gens[len(gens)-1] > rec.Generation {
			// Created from a stale view, below a newer lease (whose taker may already have
			// deleted ours): not ours.
			_ = l.store.Delete(ctx, p)
			continue
		}
		for _, g := range gens[:len(gens)-1] {
			_ = l.store.Delete(ctx, leasePath(output, g)) // superseded generations
		}
		if top != nil && !top.Released {
			l.log.Info("took over an expired step lease", "step", step, "previous_owner", top.Owner,
				"previous_host", top.Host, "previous_pid", top.PID, "last_renewed", top.Renewed)
		}
		le := &lease{l: l, step: step, output: output, gen: rec.Generation, rec: rec, renewed: now, done: make(chan struct{})}
		le.ctx, le.cancel = context.WithCancel(ctx)
		go le.renewLoop()
		return le, nil
	}
}

// check returns a *LeaseLostError unless the lease is still safely held: not taken over
// and renewed within 3/4 of its TTL (the quarter left covers clock skew and the write
// that follows).
func (le *lease) check() error {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.lost == "" && time.Since(le.renewed) >= le.l.ttl*3/4 {
		le.lost = fmt.Sprintf("not renewed for %v (TTL %v)", time.Since(le.renewed).Round(time.Millisecond), le.l.ttl)
		le.cancel()
	}
	if le.lost != "" {
		return &LeaseLostError{Step: le.step, Output: le.output, Reason: le.lost}
	}
	return nil
}

func (le *lease) markLost(reason string) {
	le.mu.Lock()
	if le.lost == "" {
		le.lost = reason
	}
	le.mu.Unlock()
	le.cancel()
}

// renewLoop renews the lease every TTL/4 until it is released or lost.
func (le *lease) renewLoop() {
	defer close(le.done)
	t := time.NewTicker(le.l.ttl / 4)
	defer t.Stop()
	for {
		select {
		case <-le.ctx.Done():
			return
		case <-t.C:
		}
		if err := le.renew(); err != nil {
			le.l.log.Warn("renewing a step lease failed", "step", le.step, "err", err)
		}
		if le.check() != nil {
			return
		}
	}
}

func (le *lease) renew() error {
	ctx := le.ctx
	gens, err := leaseGens(ctx, le.l.store, le.output)
	if err != nil {
		return err
	}
	if len(gens) == 0 || gens[len(gens)-1] != le.gen {
		le.markLost(fmt.Sprintf("another executor took it over (generations now %v, ours %d)", gens, le.gen))
		return nil
	}
	now := time.Now()
	le.rec.Renewed = now.UTC()
	data, _ := json.Marshal(le.rec)
	if err := le.l.store.WriteFileAtomic(ctx, leasePath(le.output, le.gen), data); err != nil {
		return err
	}
	le.mu.Lock()
	le.renewed = now
	le.mu.Unlock()
	return nil
}

// release stops renewing and marks the lease released, so that the next executor takes the
// step without waiting for it to expire.
func (le *lease) release(ctx context.Context) {
	if le.check() != nil {
		le.cancel()
		<-le.done
		return
	}
	le.cancel()
	<-le.done
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := le.check(); err != nil {
		return // lost while stopping: not ours to release
	}
	le.rec.Released = true
	le.rec.Renewed = time.Now().UTC()
	data, _ := json.Marshal(le.rec)
	if err := le.l.store.WriteFileAtomic(rctx, leasePath(le.output, le.gen), data); err != nil {
		le.l.log.Warn("releasing a step lease failed; it expires on its own", "step", le.step, "ttl", le.l.ttl, "err", err)
	}
}
