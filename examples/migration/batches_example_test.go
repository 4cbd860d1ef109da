package migration_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fray-go/fray/examples/migration"
)

// Pattern 6: batches over a pool of model actors (Ray's ActorPool.map), results in order.
func ExampleScoreBatches() {
	ctx, done := newJob()
	defer done()
	out, err := migration.ScoreBatches(ctx, [][]migration.Doc{
		{{ID: "1", Text: "a short one"}, {ID: "2", Text: "hi"}},
		{{ID: "3", Text: "three words here"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, batch := range out {
		for _, s := range batch {
			fmt.Println(s.ID, s.Words, s.Long)
		}
	}
	// Output:
	// 1 3 true
	// 2 1 false
	// 3 3 true
}

// Pattern 6: Ray Data's map_batches over JSON Lines shards, on a pool of model actors;
// the second run skips the complete shards.
func ExampleScoreFiles() {
	ctx, done := newJob()
	defer done()
	dir, _ := os.MkdirTemp("", "migration")
	defer os.RemoveAll(dir)
	_ = os.MkdirAll(filepath.Join(dir, "docs"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "docs", "a.jsonl"), []byte(`{"id":"1","text":"one two three"}`+"\n"+`{"id":"2","text":"four"}`+"\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "docs", "b.jsonl"), []byte(`{"id":"3","text":"five six"}`+"\n"), 0o644)
	for range 2 {
		sum, err := migration.ScoreFiles(ctx, filepath.Join(dir, "docs", "*.jsonl"), filepath.Join(dir, "scored"))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("shards %d done %d skipped %d, records in %d out %d\n", sum.Total, sum.Done, sum.Skipped, sum.RecordsIn, sum.RecordsOut)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "scored", "a.jsonl"))
	fmt.Print(string(b))
	// Output:
	// shards 2 done 2 skipped 0, records in 3 out 3
	// shards 2 done 0 skipped 2, records in 3 out 3
	// {"id":"1","text":"one two three","words":3,"long":true}
	// {"id":"2","text":"four","words":1,"long":false}
}
