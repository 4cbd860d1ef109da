package migration_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/examples/migration"
)

// newJob starts a local job context with every resource the patterns ask for.
func newJob() (context.Context, func()) {
	jc, err := local.New(local.Options{Resources: fray.Resources{
		"CPU": 4, "GPU": 1, "memory": 16 << 30, "TPU": 8, "TPU-v4-32-head": 1, "head_node": 1,
	}})
	if err != nil {
		log.Fatal(err)
	}
	return fray.WithJobContext(context.Background(), jc), func() { jc.Close() }
}

// Pattern 1: a task with MaxCalls 1 and a TPU request runs in a fresh worker process.
func ExampleProcessOne() {
	ctx, done := newJob()
	defer done()
	dir, _ := os.MkdirTemp("", "migration")
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	_ = os.WriteFile(in, []byte("one\ntwo\n"), 0o644)

	st, err := migration.ProcessOne(ctx, in, out)
	text, _ := os.ReadFile(out)
	fmt.Printf("%+v %v %q\n", st, err, text)
	// Output: {Lines:2 Bytes:8} <nil> "ONE\nTWO\n"
}

// Pattern 2: the detached StatusActor on the head node, found again by name.
func ExampleStatusValue() {
	ctx, done := newJob()
	defer done()

	v, err := migration.StatusValue(ctx, "key")
	fmt.Printf("%q %v\n", v, err)

	// The same name finds the same actor: a value set through one handle is seen by the next.
	h, _ := migration.Status.Lookup(ctx, "status_actor", "marin")
	_, _ = migration.SetValue.Call(ctx, h, migration.KV{Key: "key", Value: "v1"})
	v, err = migration.StatusValue(ctx, "key")
	fmt.Printf("%q %v\n", v, err)
	// Output:
	// "" <nil>
	// "v1" <nil>
}

// Pattern 3: GetAll keeps input order; WaitRefs returns the first three.
func ExampleSquaresAndFirstThree() {
	ctx, done := newJob()
	defer done()

	results, ready, pending, err := migration.SquaresAndFirstThree(ctx, []int{1, 2, 3, 4, 5})
	fmt.Println(results, ready, pending, err)
	// Output: [1 4 9 16 25] 3 2 <nil>
}

// Pattern 4: a GPU task gets CUDA_VISIBLE_DEVICES naming the GPU it holds.
func ExampleRunBigTask() {
	ctx, done := newJob()
	defer done()

	s, err := migration.RunBigTask(ctx, []byte("data"))
	fmt.Println(s, err)
	// Output: 4 bytes on GPU "0" <nil>
}

// Pattern 5 with pip packages: compiled, not run (installing them needs a package index).
func ExampleTrainOnTPU() {
	ctx, done := newJob()
	defer done()

	s, err := migration.TrainOnTPU(ctx, migration.TrainConfig{Model: "bert", Steps: 100})
	fmt.Println(s, err)
}

// Pattern 5 with environment variables only: the task runs in a worker process whose
// environment carries them.
func ExampleTrainWithEnv() {
	ctx, done := newJob()
	defer done()

	s, err := migration.TrainWithEnv(ctx, migration.TrainConfig{Model: "bert", Steps: 100},
		map[string]string{"PJRT_DEVICE": "TPU"})
	fmt.Println(s, err)
	// Output: trained bert for 100 steps on TPU <nil>
}

// Migration step 7: one task per input file; a rerun skips the complete ones.
func ExampleCleanAll() {
	ctx, done := newJob()
	defer done()
	dir, _ := os.MkdirTemp("", "migration")
	defer os.RemoveAll(dir)
	_ = os.MkdirAll(filepath.Join(dir, "raw"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "raw", "a.jsonl"), []byte(`{"id":"1","text":" hello "}`+"\n"+`{"id":"2","text":"  "}`+"\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "raw", "b.jsonl"), []byte(`{"id":"3","text":"world"}`+"\n"), 0o644)

	for range 2 {
		sum, err := migration.CleanAll(ctx, filepath.Join(dir, "raw", "*.jsonl"), filepath.Join(dir, "clean"))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("shards %d done %d skipped %d, records in %d out %d\n", sum.Total, sum.Done, sum.Skipped, sum.RecordsIn, sum.RecordsOut)
	}
	n, _ := migration.CountLines(filepath.Join(dir, "clean", "a.jsonl"))
	fmt.Println("a.jsonl:", n, "record")
	// Output:
	// shards 2 done 2 skipped 0, records in 3 out 2
	// shards 2 done 0 skipped 2, records in 3 out 2
	// a.jsonl: 1 record
}
