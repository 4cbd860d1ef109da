package shards

import (
	"context"
	"fmt"
	"sync"

	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/processing/jsonl"
)

// DefaultBatchSize is BatchSpec.BatchSize's default.
const DefaultBatchSize = 64

// BatchSpec says what RunBatches processes and how.
type BatchSpec struct {
	// Spec gives the input, output, compression, progress, Name and Redo, as for Run.
	// Options, MaxInFlight and Direct do not apply: the pool's actors do the work.
	Spec
	// BatchSize is the number of records per call of the pool's method (the last batch of
	// a shard may be smaller). Default DefaultBatchSize.
	BatchSize int
	// ShardsInFlight is how many shards are read and written at once. Default: the pool's
	// Size + 1, so that every actor can work on a shard of its own while the next shard is
	// read.
	ShardsInFlight int
}

// RunBatches is batch inference over sharded files, the Go form of Ray Data's
// ds.map_batches(Model, concurrency=N, batch_size=B): the records of every input shard that
// is not complete yet are read in this process, in batches of BatchSize, and sent to
// pool, whose actors (N of them, each holding its model, loaded once by the actor's
// constructor) return a batch of output records for each; the outputs are written, in
// input order, as the shard's output, published atomically with a success marker, as Run
// does. Complete shards are skipped: their markers carry pool.Identity() (the method and
// its constructor argument), so another model or argument redoes them.
//
//	pool, err := actorpool.New(ctx, Model, modelPath, ScoreBatch, actorpool.Options{Size: 4})
//	defer pool.Close()
//	sum, err := shards.RunBatches(ctx, pool, shards.BatchSpec{
//		Spec:      shards.Spec{Input: "docs/*.jsonl.zst", Output: "scored"},
//		BatchSize: 256,
//	})
//
// Memory stays bounded whatever the input size: at most ShardsInFlight shards are open,
// and each has no more than 2 × pool.Capacity() batches read and not yet written
// (actorpool.Pool.MapSeq). A failing batch fails its shard, which publishes nothing; the
// other shards go on, and RunBatches returns a *Error naming the failed shards, as Run
// does. An actor that dies is replaced by the pool and its batches are run again (see
// actorpool), so a batch function must not depend on which actor, or how often, ran it.
func RunBatches[S, In, Out any](ctx context.Context, pool *actorpool.Pool[S, []In, []Out], spec BatchSpec) (*Summary, error) {
	return RunBatchesWith(ctx, pool, spec, func(b []In) []In { return b },
		func(_ []In, out []Out) ([]Out, error) { return out, nil })
}

// RunBatchesWith is RunBatches for a pool whose method takes and returns something other
// than the shard's records: prepare makes a call's input from a batch of records (only
// what the actor needs, for example the texts a model scores, so that the rest of each
// record never crosses to it and back), and merge makes the batch's output records from
// the batch and the call's output (for example each record with its score). prepare runs
// as the shard is read, merge as the outputs are written, both in this process; an error
// from merge fails the shard.
//
//	sum, err := shards.RunBatchesWith(ctx, pool, spec,
//		func(docs []Doc) []string { return texts(docs) },
//		func(docs []Doc, scores []float64) ([]Scored, error) { return zip(docs, scores) })
func RunBatchesWith[S, Rec, Out, CallIn, CallOut any](ctx context.Context, pool *actorpool.Pool[S, CallIn, CallOut], spec BatchSpec,
	prepare func([]Rec) CallIn, merge func([]Rec, CallOut) ([]Out, error)) (*Summary, error) {
	if spec.Name == "" {
		spec.Name = pool.Method()
	}
	size := spec.BatchSize
	if size == 0 {
		size = DefaultBatchSize
	}
	par := spec.ShardsInFlight
	if par == 0 {
		par = pool.Size() + 1
	}
	check := func() error {
		if size < 0 || par < 0 {
			return fmt.Errorf("shards: %s: BatchSize (%d) and ShardsInFlight (%d) must be positive (0 means the default)", spec.Name, spec.BatchSize, spec.ShardsInFlight)
		}
		return nil
	}
	body := func(ctx context.Context, sh *Shard, _ struct{}) (struct{}, error) {
		return struct{}{}, processBatches(ctx, pool, sh, size, prepare, merge)
	}
	return runPlanned(ctx, spec.Spec, ".jsonl", "batches:"+pool.Identity(), check,
		func(ctx context.Context, _ []plannedShard, todo []int, arg func(int) TaskArg[struct{}], record func(int, ShardResult, error)) error {
			var (
				mu  sync.Mutex
				wg  sync.WaitGroup
				sem = make(chan struct{}, par)
			)
			for _, i := range todo {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
				}
				if ctx.Err() != nil {
					break
				}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					res, err := execShard(ctx, arg(i), body)
					if err != nil && ctx.Err() != nil {
						return // interrupted: counted as pending
					}
					mu.Lock()
					defer mu.Unlock()
					record(i, res, err)
				}()
			}
			wg.Wait()
			return ctx.Err()
		})
}

// processBatches streams one shard's records through the pool in batches of size and
// writes the outputs in input order.
func processBatches[S, In, Out, CallIn, CallOut any](ctx context.Context, pool *actorpool.Pool[S, CallIn, CallOut], sh *Shard, size int,
	prepare func([]In) CallIn, merge func([]In, CallOut) ([]Out, error)) error {
	w, err := sh.Create(ctx)
	if err != nil {
		return err
	}
	jw, err := jsonl.NewWriter[Out](w, jsonl.None)
	if err != nil {
		return err
	}
	var readErr error
	// The batches sent and not yet written, oldest first: MapSeq reads the batches and
	// yields the results in one goroutine, in input order, at most 2 × Capacity apart.
	var sent [][]In
	batches := func(yield func(CallIn) bool) {
		batch := make([]In, 0, size)
		for rec, err := range Records[In](ctx, sh) {
			if err != nil {
				readErr = err
				return
			}
			batch = append(batch, rec)
			if len(batch) == size {
				sent = append(sent, batch)
				if !yield(prepare(batch)) {
					return
				}
				batch = make([]In, 0, size)
			}
		}
		if len(batch) > 0 {
			sent = append(sent, batch)
			yield(prepare(batch))
		}
	}
	for r := range pool.MapSeq(ctx, batches) {
		if r.Err != nil {
			return fmt.Errorf("batch %d (records %d to %d) of %s: %w", r.Index, r.Index*size+1, (r.Index+1)*size, sh.Input, r.Err)
		}
		recs := sent[0]
		sent[0] = nil
		sent = sent[1:]
		outs, err := merge(recs, r.Value)
		if err != nil {
			return fmt.Errorf("batch %d (records %d to %d) of %s: %w", r.Index, r.Index*size+1, r.Index*size+len(recs), sh.Input, err)
		}
		for _, o := range outs {
			if err := jw.Write(o); err != nil {
				return fmt.Errorf("batch %d of %s: write: %w", r.Index, sh.Input, err)
			}
		}
		sh.CountOut(int64(len(outs)))
	}
	if readErr != nil {
		return readErr
	}
	return jw.Close()
}
