package shards_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/processing/shards"
)

// Line is the example's record.
type Line struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// Shout upper-cases each record and drops empty ones.
var Shout = shards.NewMapper("shards_example.shout", func(ctx context.Context, l Line) ([]Line, error) {
	if l.Text == "" {
		return nil, nil
	}
	l.Text = strings.ToUpper(l.Text)
	return []Line{l}, nil
})

// CountWords counts the words of a shard: a ShardFunc with a result per shard.
var CountWords = shards.NewShardFunc("shards_example.countWords", func(ctx context.Context, sh *shards.Shard, _ struct{}) (int, error) {
	words := 0
	for l, err := range shards.Records[Line](ctx, sh) {
		if err != nil {
			return 0, err
		}
		words += len(strings.Fields(l.Text))
	}
	return words, nil
})

func exampleInput() string {
	dir, err := os.MkdirTemp("", "shards-example")
	if err != nil {
		log.Fatal(err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "in"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "in", "a.jsonl"), []byte(`{"n":1,"text":"hello world"}`+"\n"+`{"n":2,"text":""}`+"\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "in", "b.jsonl"), []byte(`{"n":3,"text":"fray"}`+"\n"), 0o644)
	return dir
}

// Run maps every input shard as one fray task; a second run skips the complete shards.
func ExampleRun() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	dir := exampleInput()
	defer os.RemoveAll(dir)

	spec := shards.Spec{
		Input:   filepath.Join(dir, "in", "*.jsonl"),
		Output:  filepath.Join(dir, "out"),
		Options: fray.TaskOptions{Resources: fray.Resources{"CPU": 1}},
	}
	for range 2 {
		sum, err := shards.Run(ctx, Shout, spec)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(sum.Total, "shards:", sum.Done, "done,", sum.Skipped, "skipped;", sum.RecordsIn, "records in,", sum.RecordsOut, "out")
	}
	for l, err := range shards.Read[Line](ctx, filepath.Join(dir, "out", "a.jsonl")) {
		fmt.Println(l, err)
	}
	// Output:
	// 2 shards: 2 done, 0 skipped; 3 records in, 2 out
	// 2 shards: 0 done, 2 skipped; 3 records in, 2 out
	// {1 HELLO WORLD} <nil>
}

// A ShardFunc returns a result per shard, which Extras collects in shard order.
func ExampleExtras() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	dir := exampleInput()
	defer os.RemoveAll(dir)

	sum, err := shards.Run(ctx, CountWords, shards.Spec{Input: filepath.Join(dir, "in", "*.jsonl"), Output: filepath.Join(dir, "counts")})
	if err != nil {
		log.Fatal(err)
	}
	words, err := shards.Extras[int](sum)
	fmt.Println(words, err)
	// Output: [2 1] <nil>
}
