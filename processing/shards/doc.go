// Package shards runs a function over sharded files as fray tasks: one task per input
// shard, on local disk or in a bucket, with the caller's fray.TaskOptions. It is the Go form
// of the "helper function to reduce boilerplate" of the migration guide's step 7, the
// pattern every Marin transform script repeats: list the input files, submit one task per
// file with its resources (pattern 1: the options move to the call site), wait for them as
// they finish, skip what is already done.
//
// # Functions are registered tasks
//
// The function must be a registered fray task so Ray workers (and local worker processes)
// can run it, so it is declared at package level. A Mapper works on JSON Lines records:
//
//	var Clean = shards.NewMapper("pipeline.clean", func(ctx context.Context, d Doc) ([]Doc, error) {
//		return []Doc{d}, nil // zero, one or more output records per input record
//	})
//
// NewMapperWith takes parameters (bound per run with With) and a setup function that runs
// once per shard, for example to load a model. A ShardFunc gets the whole Shard, for outputs
// that are not JSON Lines records (token shards, say), and returns a result per shard that
// the run collects (Extras).
//
// # Running
//
//	sum, err := shards.Run(ctx, Classify.With(params), shards.Spec{
//		Input:    "/data/docs/*.jsonl.zst",      // or s3://bucket/docs/*.jsonl.zst, mem://...
//		Output:   "/data/scored",                // outputs keep their names relative to the glob base
//		Options:  fray.TaskOptions{MaxCalls: 1, Resources: fray.Resources{"CPU": 1}},
//		Progress: os.Stderr,                     // progress bar and summary; nil is quiet
//	})
//
// Run submits at most Spec.MaxInFlight shard tasks at a time and collects them with
// fray.Wait as they finish. A failing shard does not stop the others: Run returns a *Error
// naming every failed shard, after the rest are done, and their outputs are kept.
//
// # Completeness: atomic outputs plus a success marker
//
// Every output is written through storage's atomic writers: it appears under its name only
// when complete, never half-written, and a failing or panicking shard publishes nothing.
// After publishing it, the shard task writes a success marker, <Output>/.shards/<output
// name>.json, holding the shard's counts, its function's result and a fingerprint of the
// function name and its parameters. A shard is complete, and skipped by the next Run, when
// its marker exists with the same fingerprint and its output exists. The marker (rather than
// the output alone) is what lets a skipped shard still report its record counts and results,
// and keeps a run with other parameters from mistaking another run's outputs for its own.
// The fingerprint does not cover the function's code: after changing the code, write to a
// new output directory (the executor's versioned output paths do this) or set Spec.Redo.
//
// # Files and compression
//
// Inputs are read and outputs written by extension, as processing/jsonl does: ".gz" is
// gzip, ".zst" (or ".zstd") zstandard, anything else plain. Output names are the inputs'
// names relative to the glob's base with the data extension replaced by Spec.OutputExt and
// the compression chosen by Spec.Compression (by default the input's).
package shards
