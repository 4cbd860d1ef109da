package shards

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/processing/jsonl"
	"github.com/fray-go/fray/storage"
)

// TaskArg is the argument of a shard task: where its input and output are, and the bound
// parameters. It is exported so fray's codec can carry it; Run builds it.
type TaskArg[P any] struct {
	Name        string // shard name: the input's path relative to the input base
	Input       string // input bucket (storage.Open location)
	InputKey    string // input key in that bucket
	Output      string // output bucket
	OutputKey   string // output key
	MarkerKey   string // success marker key in the output bucket
	Fingerprint string // function name and parameters, recorded in the marker
	Params      P      // the parameters bound with With
}

// ShardResult is what one shard produced. Run fills State and Err; the rest comes from the
// shard's task, or for a skipped shard from its success marker.
type ShardResult struct {
	Name       string        `json:"name"`        // input path relative to the input base
	Input      string        `json:"input"`       // input path or URL
	Output     string        `json:"output"`      // output path or URL
	RecordsIn  int64         `json:"records_in"`  // records read
	RecordsOut int64         `json:"records_out"` // records written
	Duration   time.Duration `json:"duration_ns"` // time spent in the task
	// Extra is a ShardFunc's result as JSON (see Extras); empty for a Mapper.
	Extra json.RawMessage `json:"extra,omitempty"`
	State State           `json:"state,omitempty"` // set by Run
	Err   string          `json:"error,omitempty"` // why the shard failed
}

// State is what became of a shard in a Run.
type State string

// Shard states.
const (
	StateDone    State = "done"    // processed in this run
	StateSkipped State = "skipped" // complete before the run
	StateFailed  State = "failed"  // its task failed
	StatePending State = "pending" // not finished: the run stopped early
)

// marker is the success marker written after a shard's output was published. A shard is
// complete when its marker exists with the run's fingerprint and its output exists.
type marker struct {
	Fingerprint string      `json:"fingerprint"`
	Finished    time.Time   `json:"finished"`
	Result      ShardResult `json:"result"`
}

// markerDir is the directory, under the output location, that holds success markers.
const markerDir = ".shards"

// Shard is one shard as its function sees it: a named input to read and an output to
// write. Output is published atomically when the function returns nil, and discarded when
// it fails or panics, so a reader never sees a half-written shard.
type Shard struct {
	// Name is the input's path relative to the input base ("part-0001.jsonl.gz").
	Name string
	// Input and Output are the paths or URLs of the input and output, for messages.
	Input, Output string

	inFS, outFS   *storage.FS
	inKey, outKey string
	w             *storage.Writer
	cw            io.WriteCloser
	recIn, recOut atomic.Int64
}

// Open opens the input for reading, decompressed according to its extension (".gz",
// ".zst"). Close the reader when done.
func (s *Shard) Open(ctx context.Context) (io.ReadCloser, error) {
	r, err := s.inFS.NewReader(ctx, s.inKey)
	if err != nil {
		return nil, err
	}
	d, err := decompress(r, s.inKey)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &readCloser{Reader: d, close: func() error { d.Close(); return r.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// Create starts the output, compressed according to its extension. The shard's runner
// publishes it when the function returns nil; the function must not close it. Create may be
// called once; if the function never calls it, an empty output is published.
func (s *Shard) Create(ctx context.Context) (io.Writer, error) {
	if s.w != nil {
		return nil, fmt.Errorf("shards: shard %s: Create called twice; a shard has one output", s.Name)
	}
	w, err := s.outFS.NewWriter(ctx, s.outKey)
	if err != nil {
		return nil, err
	}
	cw, err := compress(w, s.outKey)
	if err != nil {
		_ = w.Abort()
		return nil, err
	}
	s.w, s.cw = w, cw
	return cw, nil
}

// CountIn adds n to the shard's count of records read (Records counts for you).
func (s *Shard) CountIn(n int64) { s.recIn.Add(n) }

// CountOut adds n to the shard's count of records written.
func (s *Shard) CountOut(n int64) { s.recOut.Add(n) }

func (s *Shard) commit() error {
	if err := s.cw.Close(); err != nil {
		_ = s.w.Abort()
		s.w = nil
		return fmt.Errorf("shards: shard %s: finish output %s: %w", s.Name, s.Output, err)
	}
	err := s.w.Close()
	s.w = nil
	if err != nil {
		return fmt.Errorf("shards: shard %s: publish output %s: %w", s.Name, s.Output, err)
	}
	return nil
}

func (s *Shard) abort() {
	if s.w != nil {
		_ = s.w.Abort()
		s.w = nil
	}
}

// Records iterates over the shard's input as JSON Lines of T, counting each record read.
// Iteration stops at the first error, which is yielded with a zero T (a *jsonl.LineError
// for bad lines, naming the input and line).
func Records[T any](ctx context.Context, sh *Shard) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rc, err := sh.Open(ctx)
		if err != nil {
			yield(zero, err)
			return
		}
		defer rc.Close()
		none := jsonl.None
		r, err := jsonl.NewReader[T](rc, jsonl.Options{Name: sh.Input, Compression: &none})
		if err != nil {
			yield(zero, err)
			return
		}
		defer r.Close()
		for n := 0; ; n++ {
			if n%256 == 0 {
				if err := ctx.Err(); err != nil {
					yield(zero, err)
					return
				}
			}
			v, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(zero, err)
				return
			}
			sh.CountIn(1)
			if !yield(v, nil) {
				return
			}
		}
	}
}

// execShard runs body on one shard inside a shard task: it opens the buckets, runs body,
// publishes the output and writes the success marker.
func execShard[P, R any](ctx context.Context, a TaskArg[P], body func(context.Context, *Shard, P) (R, error)) (ShardResult, error) {
	start := time.Now()
	inFS, relIn, err := openFS(ctx, a.Input)
	if err != nil {
		return ShardResult{}, err
	}
	defer relIn()
	outFS, relOut, err := openFS(ctx, a.Output)
	if err != nil {
		return ShardResult{}, err
	}
	defer relOut()
	inLoc, outLoc := location{Bucket: a.Input}, location{Bucket: a.Output}
	sh := &Shard{Name: a.Name, Input: inLoc.display(a.InputKey), Output: outLoc.display(a.OutputKey),
		inFS: inFS, outFS: outFS, inKey: a.InputKey, outKey: a.OutputKey}
	defer sh.abort() // on error or panic: nothing is published
	extra, err := body(ctx, sh, a.Params)
	if err != nil {
		return ShardResult{}, fmt.Errorf("shard %s: %w", sh.Name, err)
	}
	if sh.w == nil {
		if _, err := sh.Create(ctx); err != nil {
			return ShardResult{}, err
		}
	}
	if err := sh.commit(); err != nil {
		return ShardResult{}, err
	}
	res := ShardResult{Name: a.Name, Input: sh.Input, Output: sh.Output,
		RecordsIn: sh.recIn.Load(), RecordsOut: sh.recOut.Load(), Duration: time.Since(start)}
	if _, none := any(extra).(struct{}); !none {
		b, err := json.Marshal(extra)
		if err != nil {
			return ShardResult{}, fmt.Errorf("shards: shard %s: encode the shard function's result as JSON: %w", sh.Name, err)
		}
		res.Extra = b
	}
	m, err := json.Marshal(marker{Fingerprint: a.Fingerprint, Finished: time.Now().UTC(), Result: res})
	if err != nil {
		return ShardResult{}, err
	}
	if err := outFS.WriteFileAtomic(ctx, a.MarkerKey, m); err != nil {
		return ShardResult{}, fmt.Errorf("shards: shard %s: output published but the success marker could not be written (the shard will be redone next time): %w", sh.Name, err)
	}
	return res, nil
}

// Job is a shard function with its parameters bound: what Run runs. Get one from a Mapper
// or ShardFunc (they are Jobs with zero parameters) or from their With method.
type Job interface {
	// Name returns the registered task name of the shard function.
	Name() string
	impl() jobImpl
}

// jobImpl is what Run needs from a Job.
type jobImpl struct {
	name       string
	defaultExt string // output data extension when Spec.OutputExt is empty ("" keeps the input's)
	params     []byte // the bound parameters in fray's codec, for the fingerprint
	paramsErr  error
	submit     func(ctx context.Context, a TaskArg[struct{}], opts fray.TaskOptions) (fray.Ref[ShardResult], error)
	direct     func(ctx context.Context, a TaskArg[struct{}]) (ShardResult, error) // Spec.Direct
}

// fingerprint identifies the function and its parameters in success markers.
func (j jobImpl) fingerprint() string {
	h := sha256.New()
	h.Write([]byte(j.name))
	h.Write([]byte{0})
	h.Write(j.params)
	return j.name + "@" + hex.EncodeToString(h.Sum(nil)[:12])
}

func bind[P, R any](task *fray.Task[TaskArg[P], ShardResult], defaultExt string, p P, body func(context.Context, *Shard, P) (R, error)) jobImpl {
	b, err := fray.Marshal(p)
	withParams := func(a TaskArg[struct{}]) TaskArg[P] {
		return TaskArg[P]{Name: a.Name, Input: a.Input, InputKey: a.InputKey, Output: a.Output,
			OutputKey: a.OutputKey, MarkerKey: a.MarkerKey, Fingerprint: a.Fingerprint, Params: p}
	}
	return jobImpl{name: task.Name(), defaultExt: defaultExt, params: b, paramsErr: err,
		submit: func(ctx context.Context, a TaskArg[struct{}], opts fray.TaskOptions) (fray.Ref[ShardResult], error) {
			return task.Remote(ctx, withParams(a), opts)
		},
		direct: func(ctx context.Context, a TaskArg[struct{}]) (res ShardResult, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("shard %s panicked: %v", a.Name, r)
				}
			}()
			return execShard(ctx, withParams(a), body)
		}}
}

type boundJob struct {
	name string
	j    jobImpl
}

func (b boundJob) Name() string     { return b.name }
func (b boundJob) impl() jobImpl    { return b.j }
func (b boundJob) String() string   { return b.name }
func (b boundJob) GoString() string { return "shards.Job(" + b.name + ")" }

// RecordFunc maps one input record to zero or more output records.
type RecordFunc[In, Out any] func(ctx context.Context, rec In) ([]Out, error)

// Mapper is a per-record function over JSON Lines shards, registered as a fray task that
// processes one whole shard: it reads the input's records as In, calls the record function
// on each, and writes what it returns as Out records. Declare it at package level so worker
// processes (and Ray workers) built from the same binary register it too:
//
//	var Clean = shards.NewMapper("pipeline.clean", func(ctx context.Context, d Doc) ([]Doc, error) {
//		if len(d.Text) < 100 {
//			return nil, nil // drop it
//		}
//		return []Doc{d}, nil
//	})
//
//	sum, err := shards.Run(ctx, Clean, shards.Spec{Input: "in/*.jsonl.zst", Output: "out"})
//
// P is the type of per-run parameters (struct{} for NewMapper): NewMapperWith's setup
// function receives them once per shard (load a model there) and returns the record
// function.
type Mapper[P, In, Out any] struct {
	task  *fray.Task[TaskArg[P], ShardResult]
	setup func(ctx context.Context, p P) (RecordFunc[In, Out], error)
}

// NewMapper registers fn as the shard task name (unique in the binary).
func NewMapper[In, Out any](name string, fn RecordFunc[In, Out]) *Mapper[struct{}, In, Out] {
	return NewMapperWith(name, func(context.Context, struct{}) (RecordFunc[In, Out], error) { return fn, nil })
}

// NewMapperWith registers a mapper with parameters: setup runs once per shard, in the task,
// with the parameters bound by With, and returns the record function for that shard.
func NewMapperWith[P, In, Out any](name string, setup func(ctx context.Context, p P) (RecordFunc[In, Out], error)) *Mapper[P, In, Out] {
	m := &Mapper[P, In, Out]{setup: setup}
	m.task = fray.NewTask(name, func(ctx context.Context, a TaskArg[P]) (ShardResult, error) {
		return execShard(ctx, a, m.process)
	})
	return m
}

// Name returns the registered task name.
func (m *Mapper[P, In, Out]) Name() string { return m.task.Name() }

// With binds the parameters the setup function receives.
func (m *Mapper[P, In, Out]) With(p P) Job {
	return boundJob{name: m.task.Name(), j: bind(m.task, ".jsonl", p, m.process)}
}

func (m *Mapper[P, In, Out]) impl() jobImpl {
	var zero P
	return bind(m.task, ".jsonl", zero, m.process)
}

// process is the body of the mapper's shard task.
func (m *Mapper[P, In, Out]) process(ctx context.Context, sh *Shard, p P) (struct{}, error) {
	fn, err := m.setup(ctx, p)
	if err != nil {
		return struct{}{}, fmt.Errorf("setup: %w", err)
	}
	w, err := sh.Create(ctx)
	if err != nil {
		return struct{}{}, err
	}
	jw, err := jsonl.NewWriter[Out](w, jsonl.None)
	if err != nil {
		return struct{}{}, err
	}
	n := 0
	for rec, err := range Records[In](ctx, sh) {
		if err != nil {
			return struct{}{}, err
		}
		n++
		outs, err := fn(ctx, rec)
		if err != nil {
			return struct{}{}, fmt.Errorf("record %d of %s: %w", n, sh.Input, err)
		}
		for _, o := range outs {
			if err := jw.Write(o); err != nil {
				return struct{}{}, fmt.Errorf("record %d of %s: write: %w", n, sh.Input, err)
			}
		}
		sh.CountOut(int64(len(outs)))
	}
	return struct{}{}, jw.Close()
}

// ShardFunc is a whole-shard function, registered as a fray task, for outputs that are not
// JSON Lines of records (token shards, indexes, models): it gets the Shard to read
// (Open, Records) and write (Create), the bound parameters P, and returns a result R that
// is kept as JSON in the shard's success marker and in the Summary (see Extras).
//
//	var Tokenize = shards.NewShardFunc("pipeline.tokenize", func(ctx context.Context, sh *shards.Shard, enc string) (tokenize.Stats, error) {
//		w, err := sh.Create(ctx)
//		...
//	})
type ShardFunc[P, R any] struct {
	task *fray.Task[TaskArg[P], ShardResult]
	fn   func(ctx context.Context, sh *Shard, p P) (R, error)
}

// NewShardFunc registers fn as the shard task name (unique in the binary).
func NewShardFunc[P, R any](name string, fn func(ctx context.Context, sh *Shard, p P) (R, error)) *ShardFunc[P, R] {
	f := &ShardFunc[P, R]{fn: fn}
	f.task = fray.NewTask(name, func(ctx context.Context, a TaskArg[P]) (ShardResult, error) {
		return execShard(ctx, a, f.fn)
	})
	return f
}

// Name returns the registered task name.
func (f *ShardFunc[P, R]) Name() string { return f.task.Name() }

// With binds the parameters fn receives.
func (f *ShardFunc[P, R]) With(p P) Job {
	return boundJob{name: f.task.Name(), j: bind(f.task, "", p, f.fn)}
}

func (f *ShardFunc[P, R]) impl() jobImpl {
	var zero P
	return bind(f.task, "", zero, f.fn)
}

// Extras decodes the results (R of a ShardFunc) of the shards that are complete after a
// run, done and skipped alike, in shard order.
func Extras[R any](s *Summary) ([]R, error) {
	var out []R
	for _, r := range s.Shards {
		if (r.State != StateDone && r.State != StateSkipped) || len(r.Extra) == 0 {
			continue
		}
		var v R
		if err := json.Unmarshal(r.Extra, &v); err != nil {
			return out, fmt.Errorf("shards: result of shard %s: %w", r.Name, err)
		}
		out = append(out, v)
	}
	return out, nil
}
