package shards_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/processing/shards"
)

// upperModel is a "model" actor: its constructor runs once per actor (counted in
// modelLoads), its batch method upper-cases texts with the model's suffix.
type upperModel struct {
	suffix  string
	batches atomic.Int64
}

var modelLoads atomic.Int64

// UpperModel's constructor argument is the suffix it appends.
var UpperModel = fray.NewActor("shardstest.UpperModel", func(_ context.Context, suffix string) (*upperModel, error) {
	modelLoads.Add(1)
	return &upperModel{suffix: suffix}, nil
})

// maxBatch is the largest batch UpperBatch has seen.
var maxBatch atomic.Int64

// UpperBatch maps a batch of records to a batch of results: empty texts are dropped,
// Fail fails the whole batch.
var UpperBatch = fray.NewMethod(UpperModel, "UpperBatch", func(m *upperModel, _ context.Context, batch []Rec) ([]Rec, error) {
	m.batches.Add(1)
	for n := int64(len(batch)); ; {
		cur := maxBatch.Load()
		if n <= cur || maxBatch.CompareAndSwap(cur, n) {
			break
		}
	}
	var out []Rec
	for _, r := range batch {
		if r.Fail {
			return nil, fmt.Errorf("record %d asked to fail", r.ID)
		}
		if r.Text != "" {
			r.Text = strings.ToUpper(r.Text) + m.suffix
			out = append(out, r)
		}
	}
	return out, nil
})

func newModelPool(t *testing.T, ctx context.Context, suffix string, size int) *actorpool.Pool[upperModel, []Rec, []Rec] {
	t.Helper()
	p, err := actorpool.New(ctx, UpperModel, suffix, UpperBatch, actorpool.Options{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestRunBatches(t *testing.T) {
	ctx := newJob(t, 4)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	var big []Rec
	for i := range 23 {
		big = append(big, Rec{ID: 100 + i, Text: fmt.Sprintf("rec %d", i)})
	}
	writeShard(t, filepath.Join(in, "a.jsonl"), recs(0, 1, 2))
	writeShard(t, filepath.Join(in, "b.jsonl.zst"), append(big, Rec{ID: 200}))
	modelLoads.Store(0)
	maxBatch.Store(0)
	pool := newModelPool(t, ctx, "!", 2)
	var progress strings.Builder
	spec := shards.BatchSpec{Spec: shards.Spec{Input: filepath.Join(in, "*.jsonl*"), Output: out, Progress: &progress}, BatchSize: 5}
	sum, err := shards.RunBatches(ctx, pool, spec)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 2 || sum.RecordsIn != 27 || sum.RecordsOut != 26 {
		t.Fatalf("summary %s", sum)
	}
	if got := readShard(t, filepath.Join(out, "a.jsonl")); len(got) != 3 || got[2].Text != "DOC 2!" {
		t.Fatalf("a.jsonl: %+v", got)
	}
	got := readShard(t, filepath.Join(out, "b.jsonl.zst"))
	for i, r := range got {
		if r.ID != 100+i || r.Text != fmt.Sprintf("REC %d!", i) {
			t.Fatalf("b.jsonl.zst[%d] = %+v: out of order or wrong", i, r)
		}
	}
	if n := maxBatch.Load(); n != 5 {
		t.Fatalf("largest batch %d, want BatchSize 5", n)
	}
	if n := modelLoads.Load(); n != 2 {
		t.Fatalf("the model was loaded %d times for 2 actors; want once per actor", n)
	}
	if !strings.Contains(progress.String(), "2 done") {
		t.Fatalf("progress output %q lacks the summary", progress.String())
	}

	// Unchanged: both shards are skipped. Another model argument redoes them.
	sum, err = shards.RunBatches(ctx, pool, spec)
	if err != nil || sum.Skipped != 2 || sum.Done != 0 || sum.RecordsIn != 27 {
		t.Fatalf("rerun: %s, %v; want both shards skipped with their counts", sum, err)
	}
	other := newModelPool(t, ctx, "?", 1)
	sum, err = shards.RunBatches(ctx, other, spec)
	if err != nil || sum.Done != 2 {
		t.Fatalf("another model: %s, %v; want both shards redone", sum, err)
	}
	if got := readShard(t, filepath.Join(out, "a.jsonl")); got[0].Text != "DOC 0?" {
		t.Fatalf("a.jsonl after the other model: %+v", got)
	}
}

// UpperTexts upper-cases texts: what a pool for RunBatchesWith runs (only the texts cross
// to the actor).
var UpperTexts = fray.NewMethod(UpperModel, "UpperTexts", func(m *upperModel, _ context.Context, texts []string) ([]string, error) {
	out := make([]string, len(texts))
	for i, s := range texts {
		out[i] = strings.ToUpper(s) + m.suffix
	}
	return out, nil
})

// TestRunBatchesWith: only what prepare makes crosses to the actors; merge puts each
// answer back into its record, in input order across batches; a merge error fails the
// shard (and only it).
func TestRunBatchesWith(t *testing.T) {
	ctx := newJob(t, 4)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	var many []Rec
	for i := range 23 {
		many = append(many, Rec{ID: 100 + i, Text: fmt.Sprintf("rec %d", i)})
	}
	writeShard(t, filepath.Join(in, "a.jsonl.zst"), many)
	writeShard(t, filepath.Join(in, "bad.jsonl"), []Rec{{ID: 1, Text: "x"}, {ID: 2, Text: "merge fails"}})
	pool, err := actorpool.New(ctx, UpperModel, "!", UpperTexts, actorpool.Options{Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	texts := func(rs []Rec) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.Text
		}
		return out
	}
	merge := func(rs []Rec, up []string) ([]Rec, error) {
		if len(up) != len(rs) {
			return nil, fmt.Errorf("%d answers for %d records", len(up), len(rs))
		}
		for i := range rs {
			if up[i] == "MERGE FAILS!" {
				return nil, errors.New("merge refused the batch")
			}
			rs[i].Text = up[i]
		}
		return rs, nil
	}
	spec := shards.BatchSpec{Spec: shards.Spec{Input: filepath.Join(in, "*.jsonl*"), Output: out}, BatchSize: 4}
	sum, err := shards.RunBatchesWith(ctx, pool, spec, texts, merge)
	var se *shards.Error
	if !errors.As(err, &se) || sum.Done != 1 || sum.Failed != 1 || !strings.Contains(err.Error(), "merge refused") {
		t.Fatalf("summary %s, err %v; want a.jsonl.zst done and bad.jsonl failed by merge", sum, err)
	}
	got := readShard(t, filepath.Join(out, "a.jsonl.zst"))
	if len(got) != len(many) {
		t.Fatalf("%d records out, want %d", len(got), len(many))
	}
	for i, r := range got {
		if r.ID != 100+i || r.Text != fmt.Sprintf("REC %d!", i) {
			t.Fatalf("a.jsonl.zst[%d] = %+v: out of order or not merged", i, r)
		}
	}
}

func TestRunBatchesFailingShard(t *testing.T) {
	ctx := newJob(t, 4)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	writeShard(t, filepath.Join(in, "good.jsonl"), recs(0, 1, 2))
	writeShard(t, filepath.Join(in, "bad.jsonl"), append(recs(10, 11), Rec{ID: 12, Fail: true}))
	pool := newModelPool(t, ctx, "", 1)
	spec := shards.BatchSpec{Spec: shards.Spec{Input: filepath.Join(in, "*.jsonl"), Output: out}, BatchSize: 2}
	sum, err := shards.RunBatches(ctx, pool, spec)
	var se *shards.Error
	if !errors.As(err, &se) || len(se.Failed) != 1 || se.Failed[0].Name != "bad.jsonl" || !errors.Is(err, fray.ErrTaskFailed) {
		t.Fatalf("error %v, want a *shards.Error naming bad.jsonl with the method's error", err)
	}
	if sum.Done != 1 || sum.Failed != 1 {
		t.Fatalf("summary %s", sum)
	}
	for _, f := range files(t, out) {
		if f == "bad.jsonl" {
			t.Fatal("the failed shard published an output")
		}
	}
	if _, err := shards.RunBatches(ctx, pool, shards.BatchSpec{Spec: spec.Spec, BatchSize: -1}); err == nil {
		t.Fatal("a negative BatchSize was accepted")
	}
}

// TestRunBatchesCancel: a cancelled run stops, publishes nothing for the shards it cut
// short, and leaves no goroutine behind (TestMain checks).
func TestRunBatchesCancel(t *testing.T) {
	ctx := newJob(t, 4)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	writeShard(t, filepath.Join(in, "a.jsonl"), recs(0, 1, 2))
	pool := newModelPool(t, ctx, "", 1)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	sum, err := shards.RunBatches(cctx, pool, shards.BatchSpec{Spec: shards.Spec{Input: filepath.Join(in, "*.jsonl"), Output: out}})
	if !errors.Is(err, context.Canceled) || sum.Done != 0 || sum.Pending != 1 {
		t.Fatalf("cancelled run: %s, %v", sum, err)
	}
}
