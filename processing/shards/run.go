package shards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/processing/progress"
	"github.com/fray-go/fray/storage"
)

// DefaultMaxInFlight is how many shard tasks Run keeps submitted at once by default. The
// backend's resource accounting decides how many of them actually run at the same time.
const DefaultMaxInFlight = 64

// cancelGrace bounds how long Run waits for cancelled shard tasks to end.
const cancelGrace = 10 * time.Second

// Spec says what Run processes and how.
type Spec struct {
	// Name labels the progress bar, the summary and errors; default the job's name.
	Name string
	// Input is a glob of input files: a local path ("/data/docs/*.jsonl.gz",
	// "in/**/*.jsonl"), a file:// URL, or a bucket URL ("s3://bucket/docs/*.jsonl.zst?region=x",
	// "mem://test/in/*.jsonl"). "*" matches within a path component, "**" across
	// components, "?" one character (not in URLs, where "?" starts the query), "\" escapes.
	// The directories before the first wildcard are the input base: a shard's name is its
	// path relative to the base, and its output keeps that relative path.
	//
	// mem:// buckets are shared by URL within the process (OpenBucket), so tasks the local
	// backend runs in-process see them; tasks in other processes do not.
	Input string
	// Output is the directory (local path, file:// or bucket URL) the output shards go to.
	// Success markers go to its .shards/ subdirectory.
	Output string
	// OutputExt replaces the input's data extension in output names (".jsonl", ".tok").
	// Default: ".jsonl" for a Mapper, the input's own extension for a ShardFunc.
	OutputExt string
	// Compression of the outputs, by extension; default SameAsInput.
	Compression Compression
	// Options are the fray task options of every shard task (resources, MaxCalls, retries,
	// runtime environment). An empty Name becomes "<job>:<shard name>".
	Options fray.TaskOptions
	// MaxInFlight bounds how many shard tasks are submitted and not yet finished;
	// default DefaultMaxInFlight.
	MaxInFlight int
	// Progress, when not nil, gets a progress bar (shards done, records/s, ETA) and the
	// summary line at the end. Nil is quiet.
	Progress io.Writer
	// Redo processes every shard, including complete ones.
	Redo bool
	// Direct calls the shard function in this goroutine, one shard after another, instead of
	// submitting fray tasks (Options and MaxInFlight are ignored and no job context is
	// needed). Outputs, markers and skipping are the same. It is the baseline for measuring
	// what fray adds, and a way to debug a shard function.
	Direct bool
}

// Summary is the outcome of a Run.
type Summary struct {
	Name    string        // Spec.Name
	Total   int           // shards matched by the input glob
	Skipped int           // complete before the run
	Done    int           // processed in this run
	Failed  int           // failed in this run
	Pending int           // not finished because the run stopped early (ctx cancelled, submission error)
	Elapsed time.Duration // wall time of the run
	// RecordsIn and RecordsOut count the records of done and skipped shards.
	RecordsIn, RecordsOut int64
	// DoneRecordsIn counts the records read by the shards processed in this run.
	DoneRecordsIn int64
	// Shards has one entry per input shard, in input order.
	Shards []ShardResult
}

// RecordsPerSecond is the input records processed in this run per second of wall time.
func (s *Summary) RecordsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.DoneRecordsIn) / s.Elapsed.Seconds()
}

// Outputs returns the output paths of the complete shards, in input order.
func (s *Summary) Outputs() []string {
	var out []string
	for _, r := range s.Shards {
		if r.State == StateDone || r.State == StateSkipped {
			out = append(out, r.Output)
		}
	}
	return out
}

// String is the one-line summary Run prints.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d shards: %d done, %d skipped (complete), %d failed", s.Name, s.Total, s.Done, s.Skipped, s.Failed)
	if s.Pending > 0 {
		fmt.Fprintf(&b, ", %d not run", s.Pending)
	}
	fmt.Fprintf(&b, "; records %d in, %d out; %s", s.RecordsIn, s.RecordsOut, s.Elapsed.Round(time.Millisecond))
	if s.DoneRecordsIn > 0 {
		fmt.Fprintf(&b, " (%.0f records/s)", s.RecordsPerSecond())
	}
	return b.String()
}

// ErrShardsFailed is matched by the *Error of a run in which shards failed.
var ErrShardsFailed = errors.New("shards: shards failed")

// ErrNoInput is matched by the error of a run whose input glob matches nothing.
var ErrNoInput = errors.New("shards: no input files match")

// FailedShard names a shard that failed and why.
type FailedShard struct {
	Name   string // input path relative to the input base
	Input  string // input path or URL
	Output string // the output it would have written
	Err    error  // the task's error (a *fray.TaskError for a failing function)
}

// Error is the error of a run in which shards failed. The outputs of the other shards are
// kept: run again after fixing the cause, and only the failed shards are processed.
type Error struct {
	Name   string
	Total  int
	Failed []FailedShard // in input order
}

// Error names the failed shards (the first ten) with their errors.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shards: %s: %d of %d shards failed (the other shards' outputs are kept; fix the cause and run again: complete shards are skipped):", e.Name, len(e.Failed), e.Total)
	for i, f := range e.Failed {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Failed)-10)
			break
		}
		fmt.Fprintf(&b, "\n  %s: %v", f.Input, f.Err)
	}
	return b.String()
}

// Is matches ErrShardsFailed.
func (e *Error) Is(target error) bool { return target == ErrShardsFailed }

// Unwrap returns the shards' errors.
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Err
	}
	return out
}

// FailedNames returns the names of the failed shards.
func (e *Error) FailedNames() []string {
	out := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Name
	}
	return out
}

// plannedShard is one input with its output and marker keys.
type plannedShard struct {
	name, inKey, outKey, markerKey string
}

// Run processes every input shard that is not complete yet with job, one fray task per
// shard, with the job context in ctx. Complete shards (success marker with the same
// function and parameters, and the output present) are skipped; the others are submitted,
// at most Spec.MaxInFlight at a time, and collected as they finish.
//
// Run returns the Summary of what happened, also with an error: a *Error (matching
// ErrShardsFailed) when shards failed, after every other shard was processed; the error of
// a submission (invalid or unsupported task options), after which nothing more is
// submitted and the shards in flight are cancelled; or ctx's error, likewise. Cancelled
// shards publish nothing, but a backend may report a task cancelled before its function has
// returned (the local backend does), so a cancelled shard's temporary file can outlive Run
// for a moment.
func Run(ctx context.Context, job Job, spec Spec) (*Summary, error) {
	j := job.impl()
	if spec.Name == "" {
		spec.Name = job.Name()
	}
	check := func() error {
		if j.paramsErr != nil {
			return fmt.Errorf("shards: %s: parameters: %w", spec.Name, j.paramsErr)
		}
		if err := spec.Options.Validate(); err != nil {
			return fmt.Errorf("shards: %s: %w", spec.Name, err)
		}
		if !spec.Direct {
			if _, err := fray.JobContextFrom(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	return runPlanned(ctx, spec, j.defaultExt, j.fingerprint(), check,
		func(ctx context.Context, shards []plannedShard, todo []int, arg func(int) TaskArg[struct{}], record func(int, ShardResult, error)) error {
			if !spec.Direct {
				return submitAll(ctx, j, spec, shards, todo, arg, record)
			}
			for _, i := range todo {
				if err := ctx.Err(); err != nil {
					return err
				}
				res, err := j.direct(ctx, arg(i))
				if err != nil && ctx.Err() != nil {
					return ctx.Err()
				}
				record(i, res, err)
			}
			return nil
		})
}

// execFunc processes the shards todo (indexes into shards) and calls record once for each
// one that finished, from one goroutine at a time. It returns an error that stopped the
// run early (ctx's, a submission's).
type execFunc func(ctx context.Context, shards []plannedShard, todo []int, arg func(int) TaskArg[struct{}], record func(int, ShardResult, error)) error

// runPlanned is what Run and RunBatches share: check the request (check), list the
// input, plan the outputs, skip complete shards (markers with fingerprint fp), show
// progress, run exec over the rest and sum up.
func runPlanned(ctx context.Context, spec Spec, defaultExt, fp string, check func() error, exec execFunc) (*Summary, error) {
	start := time.Now()
	sum := &Summary{Name: spec.Name}
	// The summary goes above the live lines of the View shared with the executor (or one
	// of Run's own), so a step running beside this one keeps its line.
	var (
		view *progress.View
		bar  *progress.Bar
	)
	if spec.Progress != nil {
		if view = progress.Lookup(spec.Progress); view == nil {
			view = progress.New(spec.Progress, progress.Options{})
			defer view.Close()
		}
	}
	finish := func(err error) (*Summary, error) {
		sum.Elapsed = time.Since(start)
		switch {
		case bar != nil && err != nil:
			bar.Abort(sum.String())
		case bar != nil:
			bar.Done(sum.String())
		case view != nil:
			view.Printf("%s", sum.String())
		}
		return sum, err
	}
	if err := check(); err != nil {
		return sum, err
	}
	in, err := parseInput(spec.Input)
	if err != nil {
		return sum, err
	}
	out, err := parseOutput(spec.Output)
	if err != nil {
		return sum, err
	}
	inFS, relIn, err := openFS(ctx, in.loc.Bucket)
	if err != nil {
		return sum, err
	}
	defer relIn()
	keys, err := inFS.Glob(ctx, in.pattern)
	if err != nil {
		return sum, fmt.Errorf("shards: %s: list %s: %w", spec.Name, spec.Input, err)
	}
	if len(keys) == 0 {
		return sum, fmt.Errorf("%w %s (%s)", ErrNoInput, spec.Input, spec.Name)
	}
	ext := spec.OutputExt
	if ext == "" {
		ext = defaultExt
	}
	shards := make([]plannedShard, len(keys))
	byOut := map[string]string{}
	for i, k := range keys {
		name := k
		if in.loc.Prefix != "" {
			name = strings.TrimPrefix(k, in.loc.Prefix+"/")
		}
		o := outputName(name, ext, spec.Compression)
		if prev, dup := byOut[o]; dup {
			return sum, fmt.Errorf("shards: %s: inputs %s and %s would both write output %s; rename one or narrow the glob", spec.Name, prev, name, o)
		}
		byOut[o] = name
		shards[i] = plannedShard{name: name, inKey: k, outKey: out.key(o), markerKey: out.key(markerDir, o+".json")}
	}
	sum.Total = len(shards)
	sum.Shards = make([]ShardResult, len(shards))
	for i, s := range shards {
		sum.Shards[i] = ShardResult{Name: s.name, Input: in.loc.display(s.inKey), Output: out.display(s.outKey), State: StatePending}
	}

	outFS, relOut, err := openFS(ctx, out.Bucket)
	if err != nil {
		return sum, err
	}
	defer relOut()
	todo := make([]int, 0, len(shards))
	if spec.Redo {
		for i := range shards {
			todo = append(todo, i)
		}
	} else {
		done, err := findComplete(ctx, outFS, shards, fp)
		if err != nil {
			return sum, fmt.Errorf("shards: %s: %w", spec.Name, err)
		}
		for i := range shards {
			if r, ok := done[i]; ok {
				r.State = StateSkipped
				sum.Shards[i] = r
				sum.Skipped++
				sum.RecordsIn += r.RecordsIn
				sum.RecordsOut += r.RecordsOut
			} else {
				todo = append(todo, i)
			}
		}
	}

	if view != nil && len(todo) > 0 {
		bar = view.AddBar(spec.Name, len(todo), "shards")
	}

	// record files the outcome of shard i.
	failedErr := map[int]error{}
	record := func(i int, res ShardResult, err error) {
		if err != nil {
			sum.Failed++
			sum.Shards[i].State = StateFailed
			sum.Shards[i].Err = err.Error()
			failedErr[i] = err
		} else {
			res.State = StateDone
			sum.Shards[i] = res
			sum.Done++
			sum.RecordsIn += res.RecordsIn
			sum.RecordsOut += res.RecordsOut
			sum.DoneRecordsIn += res.RecordsIn
		}
		if bar != nil {
			bar.Add(1, describe(sum, time.Since(start)))
		}
	}
	arg := func(i int) TaskArg[struct{}] {
		s := shards[i]
		return TaskArg[struct{}]{Name: s.name, Input: in.loc.Bucket, InputKey: s.inKey,
			Output: out.Bucket, OutputKey: s.outKey, MarkerKey: s.markerKey, Fingerprint: fp}
	}
	runErr := exec(ctx, shards, todo, arg, record)
	sum.Pending = sum.Total - sum.Skipped - sum.Done - sum.Failed
	if runErr != nil {
		return finish(runErr)
	}
	if len(failedErr) > 0 {
		// in input order, whatever order the shards finished in
		var failed []FailedShard
		for i := range shards {
			if err, ok := failedErr[i]; ok {
				failed = append(failed, FailedShard{Name: shards[i].name, Input: sum.Shards[i].Input, Output: sum.Shards[i].Output, Err: err})
			}
		}
		return finish(&Error{Name: spec.Name, Total: sum.Total, Failed: failed})
	}
	return finish(nil)
}

// submitAll runs the shards todo as fray tasks, at most Spec.MaxInFlight at a time, calling
// record for each as it finishes. It returns a submission error or ctx's error, after
// cancelling the tasks in flight.
func submitAll(ctx context.Context, j jobImpl, spec Spec, shards []plannedShard, todo []int,
	arg func(int) TaskArg[struct{}], record func(int, ShardResult, error)) error {
	maxInFlight := spec.MaxInFlight
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	var (
		inflight []fray.Ref[ShardResult]
		index    = map[backend.ObjectID]int{}
		runErr   error
		next     int
	)
	// cancelAll cancels the shard tasks in flight and waits (a bounded time) for them to
	// end, so their partial outputs are discarded before Run returns.
	cancelAll := func() {
		if len(inflight) == 0 {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
		defer cancel()
		for _, r := range inflight {
			_ = fray.Cancel(cctx, r, false)
		}
		_, _, _ = fray.WaitRefs(cctx, inflight, len(inflight), cancelGrace)
	}
	for (next < len(todo) && runErr == nil) || len(inflight) > 0 {
		for runErr == nil && next < len(todo) && len(inflight) < maxInFlight {
			if err := ctx.Err(); err != nil {
				runErr = err
				break
			}
			i := todo[next]
			s := shards[i]
			opts := spec.Options
			if opts.Name == "" {
				opts.Name = j.name + ":" + s.name
			}
			ref, err := j.submit(ctx, arg(i), opts)
			if err != nil {
				runErr = fmt.Errorf("shards: %s: submit shard %s: %w", spec.Name, s.name, err)
				break
			}
			next++
			inflight = append(inflight, ref)
			index[ref.ID()] = i
		}
		if runErr != nil {
			cancelAll()
			break
		}
		if len(inflight) == 0 {
			break
		}
		ready, pending, err := fray.WaitRefs(ctx, inflight, 1, fray.Forever)
		if err != nil {
			if runErr == nil {
				runErr = err
			}
			cancelAll()
			break
		}
		inflight = pending
		for _, r := range ready {
			i := index[r.ID()]
			delete(index, r.ID())
			res, err := r.Get(ctx)
			if err != nil && ctx.Err() != nil {
				continue // interrupted: counted as pending
			}
			record(i, res, err)
		}
	}
	return runErr
}

// describe is the progress bar's description: records so far and their rate.
func describe(s *Summary, elapsed time.Duration) string {
	d := fmt.Sprintf("%d records", s.DoneRecordsIn)
	if elapsed > 0 && s.DoneRecordsIn > 0 {
		d += fmt.Sprintf(" (%.0f/s)", float64(s.DoneRecordsIn)/elapsed.Seconds())
	}
	if s.Skipped > 0 {
		d += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	if s.Failed > 0 {
		d += fmt.Sprintf(", %d FAILED", s.Failed)
	}
	return d
}

// findComplete reads the success markers and returns, by shard index, the recorded result of
// every shard whose marker has fingerprint fp and whose output exists.
func findComplete(ctx context.Context, fs *storage.FS, shards []plannedShard, fp string) (map[int]ShardResult, error) {
	var (
		mu   sync.Mutex
		done = map[int]ShardResult{}
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 16)
	)
	for i, s := range shards {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, ok, err := checkComplete(ctx, fs, s, fp)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if ok {
				done[i] = r
			}
		}()
	}
	wg.Wait()
	return done, errors.Join(errs...)
}

func checkComplete(ctx context.Context, fs *storage.FS, s plannedShard, fp string) (ShardResult, bool, error) {
	b, err := fs.ReadFile(ctx, s.markerKey)
	if storage.IsNotFound(err) {
		return ShardResult{}, false, nil
	}
	if err != nil {
		return ShardResult{}, false, err
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil || m.Fingerprint != fp {
		return ShardResult{}, false, nil // unreadable or from another function/parameters: redo
	}
	ok, err := fs.Exists(ctx, s.outKey)
	if err != nil || !ok {
		return ShardResult{}, false, err
	}
	return m.Result, true, nil
}
