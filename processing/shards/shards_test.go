package shards_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/processing/jsonl"
	"github.com/fray-go/fray/processing/shards"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	fray.Init()
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Rec is the test record.
type Rec struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	Fail bool   `json:"fail,omitempty"`
}

var upperCalls atomic.Int64

// Upper upper-cases the text, drops empty records, fails on Fail and panics on "panic".
var Upper = shards.NewMapper("shardstest.upper", func(ctx context.Context, r Rec) ([]Rec, error) {
	upperCalls.Add(1)
	if r.Fail {
		return nil, fmt.Errorf("record %d asked to fail", r.ID)
	}
	if r.Text == "panic" {
		panic("record asked to panic")
	}
	if r.Text == "" {
		return nil, nil
	}
	r.Text = strings.ToUpper(r.Text)
	return []Rec{r}, nil
})

// Repeat writes each record Times times, with a suffix: a mapper with parameters.
type RepeatParams struct {
	Times  int
	Suffix string
}

var Repeat = shards.NewMapperWith("shardstest.repeat", func(ctx context.Context, p RepeatParams) (shards.RecordFunc[Rec, Rec], error) {
	if p.Times < 0 {
		return nil, errors.New("negative Times")
	}
	return func(ctx context.Context, r Rec) ([]Rec, error) {
		out := make([]Rec, p.Times)
		for i := range out {
			out[i] = Rec{ID: r.ID, Text: r.Text + p.Suffix}
		}
		return out, nil
	}, nil
})

// ByteCount is a ShardFunc: it copies the input bytes and reports how many there were.
type ByteStats struct {
	Bytes int64 `json:"bytes"`
	Lines int64 `json:"lines"`
}

var ByteCount = shards.NewShardFunc("shardstest.bytecount", func(ctx context.Context, sh *shards.Shard, _ struct{}) (ByteStats, error) {
	r, err := sh.Open(ctx)
	if err != nil {
		return ByteStats{}, err
	}
	defer r.Close()
	w, err := sh.Create(ctx)
	if err != nil {
		return ByteStats{}, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return ByteStats{}, err
	}
	if _, err := w.Write(b); err != nil {
		return ByteStats{}, err
	}
	lines := int64(bytes.Count(b, []byte("\n")))
	sh.CountIn(lines)
	sh.CountOut(lines)
	return ByteStats{Bytes: int64(len(b)), Lines: lines}, nil
})

var startedBlock = make(chan struct{}, 100)

// Block waits for its ctx to end, and tracks how many run at once.
var Block = shards.NewMapper("shardstest.block", func(ctx context.Context, r Rec) ([]Rec, error) {
	startedBlock <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
})

var (
	gateStarted = make(chan struct{}, 100)
	gateRelease = make(chan struct{})
)

// Gate announces that it started, then waits to be released.
var Gate = shards.NewShardFunc("shardstest.gate", func(ctx context.Context, sh *shards.Shard, _ struct{}) (struct{}, error) {
	gateStarted <- struct{}{}
	select {
	case <-gateRelease:
		return struct{}{}, nil
	case <-ctx.Done():
		return struct{}{}, ctx.Err()
	}
})

func newJob(t *testing.T, cpus float64) context.Context {
	t.Helper()
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": cpus}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Close() })
	return fray.WithJobContext(context.Background(), jc)
}

// closeJob closes the job context in ctx, which waits for every task to return.
func closeJob(t *testing.T, ctx context.Context) {
	t.Helper()
	jc, err := fray.JobContextFrom(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := jc.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeShard writes recs to path as JSONL, compressed by its extension.
func writeShard(t *testing.T, path string, recs []Rec) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := jsonl.NewWriter[Rec](f, jsonl.CompressionFor(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readShard(t *testing.T, path string) []Rec {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := jsonl.ReadAll[Rec](f, jsonl.Options{Name: path})
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return recs
}

func recs(ids ...int) []Rec {
	out := make([]Rec, len(ids))
	for i, id := range ids {
		out[i] = Rec{ID: id, Text: fmt.Sprintf("doc %d", id)}
	}
	return out
}

// files lists the regular files under dir, relative, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// threeShards writes a plain, a gzip and a zstd shard with 3, 2 and 4 records (one empty).
func threeShards(t *testing.T, in string) {
	writeShard(t, filepath.Join(in, "a.jsonl"), recs(0, 1, 2))
	writeShard(t, filepath.Join(in, "b.jsonl.gz"), recs(10, 11))
	writeShard(t, filepath.Join(in, "c.jsonl.zst"), append(recs(20, 21, 22), Rec{ID: 23}))
	writeShard(t, filepath.Join(in, "ignored.txt"), recs(99))
}

func TestMapperCompressionByExtension(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	threeShards(t, in)
	sum, err := shards.Run(ctx, Upper, shards.Spec{Input: in + "/*.jsonl*", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 3 || sum.Done != 3 || sum.Skipped != 0 || sum.Failed != 0 || sum.RecordsIn != 9 || sum.RecordsOut != 8 {
		t.Fatalf("summary %+v", sum)
	}
	if got := files(t, out); !slices.Equal(got, []string{
		".shards/a.jsonl.json", ".shards/b.jsonl.gz.json", ".shards/c.jsonl.zst.json", "a.jsonl", "b.jsonl.gz", "c.jsonl.zst"}) {
		t.Fatalf("output files %v", got)
	}
	// The compressed outputs really are gzip and zstd (jsonl decodes them by name).
	got := readShard(t, filepath.Join(out, "c.jsonl.zst"))
	if len(got) != 3 || got[0].Text != "DOC 20" || got[2].ID != 22 {
		t.Fatalf("c.jsonl.zst: %+v", got)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "b.jsonl.gz"))
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		t.Fatalf("b.jsonl.gz is not gzip: % x", raw[:min(4, len(raw))])
	}
	if g := readShard(t, filepath.Join(out, "b.jsonl.gz")); len(g) != 2 || g[1].Text != "DOC 11" {
		t.Fatalf("b.jsonl.gz: %+v", g)
	}
	if outs := sum.Outputs(); len(outs) != 3 || outs[0] != filepath.Join(out, "a.jsonl") {
		t.Fatalf("Outputs() = %v", outs)
	}
}

func TestConvertCompression(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	threeShards(t, in)
	if _, err := shards.Run(ctx, Upper, shards.Spec{Input: in + "/*.jsonl*", Output: out, Compression: shards.Zstd}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.jsonl.zst", "b.jsonl.zst", "c.jsonl.zst"} {
		raw, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Fatalf("%s is not zstd", name)
		}
	}
	if _, err := shards.Run(ctx, Upper, shards.Spec{Input: in + "/*.jsonl*", Output: filepath.Join(dir, "plain"), Compression: shards.Plain, OutputExt: ".json"}); err != nil {
		t.Fatal(err)
	}
	if got := readShard(t, filepath.Join(dir, "plain", "b.json")); len(got) != 2 {
		t.Fatalf("b.json: %+v", got)
	}
}

func TestSkipCompleteShards(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	threeShards(t, in)
	spec := shards.Spec{Input: in + "/*.jsonl*", Output: out}
	first, err := shards.Run(ctx, Upper, spec)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(filepath.Join(out, "a.jsonl"))
	calls := upperCalls.Load()
	second, err := shards.Run(ctx, Upper, spec)
	if err != nil {
		t.Fatal(err)
	}
	if second.Skipped != 3 || second.Done != 0 || upperCalls.Load() != calls {
		t.Fatalf("second run: %+v (record calls %d → %d)", second, calls, upperCalls.Load())
	}
	// Skipped shards report the counts recorded in their markers.
	if second.RecordsIn != first.RecordsIn || second.RecordsOut != first.RecordsOut {
		t.Fatalf("skipped counts %d/%d, first run %d/%d", second.RecordsIn, second.RecordsOut, first.RecordsIn, first.RecordsOut)
	}
	for _, r := range second.Shards {
		if r.State != shards.StateSkipped {
			t.Fatalf("shard %s: state %s", r.Name, r.State)
		}
	}
	after, _ := os.Stat(filepath.Join(out, "a.jsonl"))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("a skipped shard's output was rewritten")
	}
	// A deleted output or a corrupt marker makes the shard incomplete again.
	if err := os.Remove(filepath.Join(out, "b.jsonl.gz")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, ".shards", "c.jsonl.zst.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := shards.Run(ctx, Upper, spec)
	if err != nil {
		t.Fatal(err)
	}
	if third.Done != 2 || third.Skipped != 1 || third.Shards[0].State != shards.StateSkipped {
		t.Fatalf("third run: %+v", third)
	}
	// Redo processes everything.
	fourth, err := shards.Run(ctx, Upper, shards.Spec{Input: spec.Input, Output: out, Redo: true})
	if err != nil || fourth.Done != 3 {
		t.Fatalf("redo: %+v, %v", fourth, err)
	}
}

func TestParamsChangeRedoes(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	writeShard(t, filepath.Join(in, "a.jsonl"), recs(1, 2))
	spec := shards.Spec{Input: in + "/*.jsonl", Output: out}
	if sum, err := shards.Run(ctx, Repeat.With(RepeatParams{Times: 2, Suffix: "!"}), spec); err != nil || sum.RecordsOut != 4 {
		t.Fatalf("%+v, %v", sum, err)
	}
	if sum, err := shards.Run(ctx, Repeat.With(RepeatParams{Times: 2, Suffix: "!"}), spec); err != nil || sum.Skipped != 1 {
		t.Fatalf("same params: %+v, %v", sum, err)
	}
	sum, err := shards.Run(ctx, Repeat.With(RepeatParams{Times: 3, Suffix: "?"}), spec)
	if err != nil || sum.Done != 1 || sum.RecordsOut != 6 {
		t.Fatalf("new params: %+v, %v", sum, err)
	}
	got := readShard(t, filepath.Join(out, "a.jsonl"))
	if len(got) != 6 || got[0].Text != "doc 1?" {
		t.Fatalf("output %+v", got)
	}
	// A setup error fails the shard.
	_, err = shards.Run(ctx, Repeat.With(RepeatParams{Times: -1}), shards.Spec{Input: spec.Input, Output: filepath.Join(dir, "neg")})
	if !errors.Is(err, shards.ErrShardsFailed) || !strings.Contains(err.Error(), "negative Times") {
		t.Fatalf("setup error: %v", err)
	}
}

func TestFailingShardKeepsOthersAndResumes(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	writeShard(t, filepath.Join(in, "a.jsonl"), recs(1, 2))
	writeShard(t, filepath.Join(in, "b.jsonl.gz"), append(recs(3), Rec{ID: 4, Fail: true}, Rec{ID: 5}))
	writeShard(t, filepath.Join(in, "c.jsonl.zst"), []Rec{{ID: 6, Text: "panic"}})
	writeShard(t, filepath.Join(in, "d.jsonl"), recs(7))
	var progress bytes.Buffer
	spec := shards.Spec{Input: in + "/*", Output: out, Progress: &progress}
	sum, err := shards.Run(ctx, Upper, spec)
	var se *shards.Error
	if !errors.As(err, &se) || !errors.Is(err, shards.ErrShardsFailed) {
		t.Fatalf("error %v (%T), want *shards.Error", err, err)
	}
	if names := se.FailedNames(); !slices.Equal(names, []string{"b.jsonl.gz", "c.jsonl.zst"}) {
		t.Fatalf("failed shards %v", names)
	}
	if !strings.Contains(err.Error(), "b.jsonl.gz") || !strings.Contains(err.Error(), "record 4 asked to fail") || !strings.Contains(err.Error(), "record asked to panic") {
		t.Fatalf("error text does not name the shards and causes: %v", err)
	}
	if !errors.Is(err, fray.ErrTaskFailed) {
		t.Fatalf("the shard errors are not task errors: %v", err)
	}
	if sum.Done != 2 || sum.Failed != 2 || sum.Shards[1].State != shards.StateFailed || sum.Shards[1].Err == "" {
		t.Fatalf("summary %+v", sum)
	}
	// Outputs of the good shards are kept; the failed ones left nothing, not even temp files.
	if got := files(t, out); !slices.Equal(got, []string{".shards/a.jsonl.json", ".shards/d.jsonl.json", "a.jsonl", "d.jsonl"}) {
		t.Fatalf("output files %v", got)
	}
	if !strings.Contains(progress.String(), "4 shards: 2 done, 0 skipped (complete), 2 failed") {
		t.Fatalf("progress output lacks the summary:\n%s", progress.String())
	}
	// Fix the inputs and run again: only the failed shards run.
	writeShard(t, filepath.Join(in, "b.jsonl.gz"), recs(3, 4, 5))
	writeShard(t, filepath.Join(in, "c.jsonl.zst"), recs(6))
	sum, err = shards.Run(ctx, Upper, spec)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 2 || sum.Skipped != 2 || sum.Shards[1].State != shards.StateDone || sum.Shards[0].State != shards.StateSkipped {
		t.Fatalf("resumed run: %+v", sum)
	}
	if got := readShard(t, filepath.Join(out, "b.jsonl.gz")); len(got) != 3 {
		t.Fatalf("b after resume: %+v", got)
	}
}

func TestGlobRecursiveKeepsRelativePaths(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	writeShard(t, filepath.Join(in, "top.jsonl"), recs(1))
	writeShard(t, filepath.Join(in, "x", "one.jsonl.gz"), recs(2))
	writeShard(t, filepath.Join(in, "x", "y", "two.jsonl.zst"), recs(3))
	writeShard(t, filepath.Join(in, "x", "y", "skip.json"), recs(4))
	sum, err := shards.Run(ctx, Upper, shards.Spec{Input: in + "/**/*.jsonl*", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 3 {
		t.Fatalf("matched %d shards", sum.Total)
	}
	for _, p := range []string{"top.jsonl", "x/one.jsonl.gz", "x/y/two.jsonl.zst"} {
		if got := readShard(t, filepath.Join(out, p)); len(got) != 1 {
			t.Fatalf("%s: %+v", p, got)
		}
	}
	// A glob without wildcards is one file.
	sum, err = shards.Run(ctx, Upper, shards.Spec{Input: filepath.Join(in, "x", "one.jsonl.gz"), Output: filepath.Join(dir, "single")})
	if err != nil || sum.Total != 1 || sum.Shards[0].Name != "one.jsonl.gz" {
		t.Fatalf("single file: %+v, %v", sum, err)
	}
	// No match is an error, not an empty success.
	_, err = shards.Run(ctx, Upper, shards.Spec{Input: in + "/*.parquet", Output: out})
	if !errors.Is(err, shards.ErrNoInput) {
		t.Fatalf("no input: %v", err)
	}
}

func TestOutputCollision(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeShard(t, filepath.Join(in, "a.jsonl"), recs(1))
	writeShard(t, filepath.Join(in, "a.jsonl.gz"), recs(2))
	_, err := shards.Run(ctx, Upper, shards.Spec{Input: in + "/*", Output: filepath.Join(dir, "out"), Compression: shards.Plain})
	if err == nil || !strings.Contains(err.Error(), "would both write") {
		t.Fatalf("collision: %v", err)
	}
}

var memRuns atomic.Int64

func TestMemBuckets(t *testing.T) {
	ctx := newJob(t, 2)
	// mem:// buckets live as long as the process: a fresh name per run of the test.
	bucket := fmt.Sprintf("mem://shards-test-%d", memRuns.Add(1))
	fs, release, err := shards.OpenBucket(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for i, name := range []string{"in/p0.jsonl.gz", "in/p1.jsonl.zst"} {
		var buf bytes.Buffer
		w, _ := jsonl.NewWriter[Rec](&buf, jsonl.CompressionFor(name))
		for _, r := range recs(i*10, i*10+1) {
			_ = w.Write(r)
		}
		_ = w.Close()
		if err := fs.WriteFileAtomic(ctx, name, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := shards.Run(ctx, ByteCount, shards.Spec{Input: bucket + "/in/*.jsonl*", Output: bucket + "/out/copy"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 2 || sum.Shards[1].Output != bucket+"/out/copy/p1.jsonl.zst" {
		t.Fatalf("summary %+v", sum)
	}
	stats, err := shards.Extras[ByteStats](sum)
	if err != nil || len(stats) != 2 || stats[0].Lines != 2 || stats[0].Bytes == 0 {
		t.Fatalf("extras %+v, %v", stats, err)
	}
	rc, err := fs.NewReader(ctx, "out/copy/p1.jsonl.zst")
	if err != nil {
		t.Fatal(err)
	}
	got, err := jsonl.ReadAll[Rec](rc, jsonl.Options{Name: "p1.jsonl.zst"})
	rc.Close()
	if err != nil || len(got) != 2 || got[1].ID != 11 {
		t.Fatalf("copied shard %+v, %v", got, err)
	}
	// Skipped shards still report their results, from the markers.
	sum, err = shards.Run(ctx, ByteCount, shards.Spec{Input: bucket + "/in/*.jsonl*", Output: bucket + "/out/copy"})
	if err != nil || sum.Skipped != 2 {
		t.Fatalf("rerun %+v, %v", sum, err)
	}
	again, err := shards.Extras[ByteStats](sum)
	if err != nil || !slices.Equal(again, stats) {
		t.Fatalf("extras of skipped shards %+v, want %+v (%v)", again, stats, err)
	}
}

func TestMaxInFlightBoundsConcurrency(t *testing.T) {
	ctx := newJob(t, 4)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	for i := range 5 {
		writeShard(t, filepath.Join(in, fmt.Sprintf("s%d.jsonl", i)), recs(0, 1))
	}
	var (
		sum *shards.Summary
		err error
		wg  sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		sum, err = shards.Run(ctx, Gate, shards.Spec{Input: in + "/*.jsonl", Output: filepath.Join(dir, "out"), MaxInFlight: 2})
	}()
	// The node has room for 4 tasks, but only 2 are submitted at a time: each release lets
	// exactly one more start.
	<-gateStarted
	<-gateStarted
	for range 3 {
		select {
		case <-gateStarted:
			t.Fatal("a third shard task started while two were in flight with MaxInFlight 2")
		case <-time.After(50 * time.Millisecond):
		}
		gateRelease <- struct{}{}
		<-gateStarted
	}
	gateRelease <- struct{}{}
	gateRelease <- struct{}{}
	wg.Wait()
	if err != nil || sum.Done != 5 {
		t.Fatalf("%+v, %v", sum, err)
	}
	// Without the bound, the node's 4 CPUs are what limits: 4 start at once.
	wg.Add(1)
	go func() {
		defer wg.Done()
		sum, err = shards.Run(ctx, Gate, shards.Spec{Input: in + "/*.jsonl", Output: filepath.Join(dir, "out2")})
	}()
	for range 4 {
		<-gateStarted
	}
	for range 5 {
		gateRelease <- struct{}{}
	}
	wg.Wait()
	if err != nil || sum.Done != 5 {
		t.Fatalf("%+v, %v", sum, err)
	}
	for len(gateStarted) > 0 {
		<-gateStarted
	}
}

func TestSubmissionErrorStopsRun(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeShard(t, filepath.Join(in, "a.jsonl"), recs(1))
	writeShard(t, filepath.Join(in, "b.jsonl"), recs(2))
	sum, err := shards.Run(ctx, Upper, shards.Spec{Input: in + "/*.jsonl", Output: filepath.Join(dir, "out"),
		Options: fray.TaskOptions{Resources: fray.Resources{"GPU": 1}}})
	if !errors.Is(err, fray.ErrInfeasible) || !strings.Contains(err.Error(), "a.jsonl") {
		t.Fatalf("infeasible request: %v", err)
	}
	if sum.Pending != 2 || sum.Done != 0 {
		t.Fatalf("summary %+v", sum)
	}
	_, err = shards.Run(ctx, Upper, shards.Spec{Input: in + "/*.jsonl", Output: filepath.Join(dir, "out"),
		Options: fray.TaskOptions{Resources: fray.Resources{"num_cpus": 1}}})
	if !errors.Is(err, fray.ErrInvalidResources) {
		t.Fatalf("invalid resources: %v", err)
	}
}

func TestCancelStopsInFlightShards(t *testing.T) {
	ctx := newJob(t, 2)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for i := range 4 {
		writeShard(t, filepath.Join(in, fmt.Sprintf("s%d.jsonl", i)), recs(i))
	}
	rctx, cancel := context.WithCancel(ctx)
	var (
		sum *shards.Summary
		err error
		wg  sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		sum, err = shards.Run(rctx, Block, shards.Spec{Input: in + "/*.jsonl", Output: out})
	}()
	<-startedBlock
	cancel()
	wg.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if sum.Done != 0 || sum.Pending+sum.Failed != 4 {
		t.Fatalf("summary %+v", sum)
	}
	// Nothing was published, and no temporary file is left behind once the cancelled tasks
	// have returned (the local backend reports a task cancelled at once, before its function
	// returns; closing the job waits for them).
	closeJob(t, ctx)
	if got := files(t, out); len(got) != 0 {
		t.Fatalf("files after cancel: %v", got)
	}
	for len(startedBlock) > 0 {
		<-startedBlock
	}
}

func TestNoJobContext(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, filepath.Join(dir, "a.jsonl"), recs(1))
	_, err := shards.Run(context.Background(), Upper, shards.Spec{Input: dir + "/*.jsonl", Output: filepath.Join(dir, "out")})
	if !errors.Is(err, fray.ErrNoJobContext) {
		t.Fatalf("got %v", err)
	}
}

func TestWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := shards.NewWriter[Rec](ctx, dir, "docs-%03d.jsonl.zst", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs(0, 1, 2, 3, 4, 5, 6) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Count() != 7 || len(w.Shards()) != 3 || w.Shards()[2] != filepath.Join(dir, "docs-002.jsonl.zst") {
		t.Fatalf("count %d, shards %v", w.Count(), w.Shards())
	}
	if got := readShard(t, filepath.Join(dir, "docs-002.jsonl.zst")); len(got) != 1 || got[0].ID != 6 {
		t.Fatalf("last shard %+v", got)
	}
	// Abort keeps published shards and drops the one being written.
	w, _ = shards.NewWriter[Rec](ctx, filepath.Join(dir, "ab"), "p-%d.jsonl", 2)
	for _, r := range recs(0, 1, 2) {
		_ = w.Write(r)
	}
	w.Abort()
	if got := files(t, filepath.Join(dir, "ab")); !slices.Equal(got, []string{"p-0.jsonl"}) || len(w.Shards()) != 1 {
		t.Fatalf("after abort: %v %v", got, w.Shards())
	}
	for _, bad := range []string{"docs.jsonl", "a/%d.jsonl", "%d-%d.jsonl", "%s.jsonl"} {
		if _, err := shards.NewWriter[Rec](ctx, dir, bad, 1); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestGlobAndRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeShard(t, filepath.Join(dir, "a.jsonl.gz"), recs(1, 2))
	writeShard(t, filepath.Join(dir, "b.jsonl.zst"), recs(3))
	writeShard(t, filepath.Join(dir, "c.txt"), recs(4))
	paths, err := shards.Glob(ctx, dir+"/*.jsonl*")
	if err != nil || !slices.Equal(paths, []string{filepath.Join(dir, "a.jsonl.gz"), filepath.Join(dir, "b.jsonl.zst")}) {
		t.Fatalf("Glob: %v, %v", paths, err)
	}
	var ids []int
	for _, p := range paths {
		for r, err := range shards.Read[Rec](ctx, p) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
	}
	if !slices.Equal(ids, []int{1, 2, 3}) {
		t.Fatalf("read ids %v", ids)
	}
	for _, err := range shards.Read[Rec](ctx, filepath.Join(dir, "missing.jsonl")) {
		if err == nil {
			t.Fatal("reading a missing file gave no error")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte("{\"id\": 1}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	var last error
	for _, err := range shards.Read[Rec](ctx, filepath.Join(dir, "bad.jsonl")) {
		n++
		last = err
	}
	var le *jsonl.LineError
	if n != 2 || !errors.As(last, &le) || le.Line != 2 {
		t.Fatalf("bad line: %d items, last error %v", n, last)
	}
}

func TestDirectNeedsNoJobContext(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	threeShards(t, in)
	writeShard(t, filepath.Join(in, "d.jsonl"), []Rec{{ID: 30, Text: "panic"}})
	sum, err := shards.Run(ctx, Upper, shards.Spec{Input: in + "/*.jsonl*", Output: out, Direct: true})
	var se *shards.Error
	if !errors.As(err, &se) || !slices.Equal(se.FailedNames(), []string{"d.jsonl"}) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("error %v", err)
	}
	if sum.Done != 3 || sum.RecordsOut != 8 {
		t.Fatalf("summary %+v", sum)
	}
	if got := readShard(t, filepath.Join(out, "c.jsonl.zst")); len(got) != 3 || got[0].Text != "DOC 20" {
		t.Fatalf("c.jsonl.zst: %+v", got)
	}
	// The markers are the same as a task's: a task run skips what the direct run did.
	tctx := newJob(t, 2)
	sum, err = shards.Run(tctx, Upper, shards.Spec{Input: in + "/*.jsonl.*", Output: out})
	if err != nil || sum.Skipped != 2 {
		t.Fatalf("task run after direct run: %+v, %v", sum, err)
	}
}
