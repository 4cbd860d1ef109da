package jsonl_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/fray-go/fray/processing/jsonl"
	"github.com/fray-go/fray/storage"
)

// Example_storage writes a zstd-compressed JSONL object through the storage
// layer (atomically: the key appears only on Close) and streams it back.
func Example_storage() {
	dir, err := os.MkdirTemp("", "jsonl-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	fs, err := storage.Open(ctx, dir) // or "s3://bucket?region=...", "mem://", ...
	if err != nil {
		log.Fatal(err)
	}
	defer fs.Close()

	key := fs.Join("shards", "part-000.jsonl.zst")
	sw, err := fs.NewWriter(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	w, err := jsonl.NewWriter[jsonl.Record](sw, jsonl.CompressionFor(key))
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		if err := w.Write(jsonl.Record{"id": fmt.Sprint("doc-", i), "n": i}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // flush the zstd stream
		log.Fatal(err)
	}
	if err := sw.Close(); err != nil { // publish the object
		log.Fatal(err)
	}

	rc, err := fs.NewReader(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	r, err := jsonl.NewReader[jsonl.Record](rc, jsonl.Options{Name: key})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for rec, err := range r.All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec["id"], rec["n"])
	}
	// Output:
	// doc-0 0
	// doc-1 1
	// doc-2 2
}
