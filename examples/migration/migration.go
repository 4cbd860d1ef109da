// Package migration holds the Go side of every snippet in MIGRATION.md: the porting
// patterns of the Ray → Fray migration guide, as code that compiles, with runnable
// examples (example_test.go) whose output `go test` checks.
//
// The go blocks of MIGRATION.md, README.md and every other Markdown file of the module are
// copied from regions of compiled files (this package, examples/quickstart,
// cmd/fray-executor), named in a comment above each block
// (<!-- snippet: path/file.go#NAME -->) and marked in the file
//
//	// snippet:NAME
//	...
//	// end snippet:NAME
//
// TestSnippets fails when a go block differs from its region, names one that does not
// exist, or names none. After editing a region, rewrite the documents with
//
//	go generate ./examples/migration
//
// Use it like any package of tasks: call fray.Init first thing in main, make a job
// context, and call the functions here with it.
//
//	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "TPU": 4}})
//	...
//	ctx := fray.WithJobContext(context.Background(), jc)
//	stats, err := migration.ProcessOne(ctx, "in.txt", "out.txt") // a task in a fresh worker process
package migration

//go:generate go test -run ^TestSnippets$ -update .

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/processing/shards"
)

// snippet:pattern1-decl

// FileJob is process_file's two arguments as one value: a task takes one argument.
type FileJob struct{ Input, Output string }

// Stats is what ProcessFile returns.
type Stats struct{ Lines, Bytes int }

// ProcessFile is process_file as a registered task: declared once, at package level.
var ProcessFile = fray.NewTask("migration.processFile", processFile)

// processFile upper-cases a text file (the processing logic, unchanged).
func processFile(ctx context.Context, job FileJob) (Stats, error) {
	data, err := os.ReadFile(job.Input)
	if err != nil {
		return Stats{}, err
	}
	out := strings.ToUpper(string(data))
	st := Stats{Lines: strings.Count(out, "\n"), Bytes: len(out)}
	return st, os.WriteFile(job.Output, []byte(out), 0o644)
}

// end snippet:pattern1-decl

// snippet:pattern1-decorator

// RemoveLockfileOnExit is what a Python decorator such as @remove_tpu_lockfile_on_exit
// becomes: a function that wraps the task function before it is registered.
func RemoveLockfileOnExit[A, R any](lockfile string, fn func(context.Context, A) (R, error)) func(context.Context, A) (R, error) {
	return func(ctx context.Context, a A) (R, error) {
		defer os.Remove(lockfile)
		return fn(ctx, a)
	}
}

// ProcessFileOnTPU is process_file with the TPU lockfile removed whenever it returns.
var ProcessFileOnTPU = fray.NewTask("migration.processFileOnTPU",
	RemoveLockfileOnExit("/tmp/libtpu_lockfile", processFile))

// end snippet:pattern1-decorator

// ProcessOne is pattern 1's call site: options move from the decorator to the call.
func ProcessOne(ctx context.Context, in, out string) (Stats, error) {
	// snippet:pattern1-call
	ref, err := ProcessFile.Remote(ctx, FileJob{Input: in, Output: out},
		fray.TaskOptions{MaxCalls: 1, Resources: fray.Resources{"TPU": 4}})
	if err != nil {
		return Stats{}, err
	}
	result, err := ref.Get(ctx) // a Stats
	// end snippet:pattern1-call
	return result, err
}

// snippet:pattern2-decl

// StatusActor is a lock table kept by one actor (Marin's StatusActor).
type StatusActor struct{ data map[string]string }

// StatusConfig is the constructor's argument (Python's cache_size=10_000).
type StatusConfig struct{ CacheSize int }

// Status is the registered actor class: its constructor...
var Status = fray.NewActor("migration.StatusActor", func(ctx context.Context, cfg StatusConfig) (*StatusActor, error) {
	return &StatusActor{data: make(map[string]string, cfg.CacheSize)}, nil
})

// GetValue returns the value under key ("" if none).
func (s *StatusActor) GetValue(ctx context.Context, key string) (string, error) {
	return s.data[key], nil
}

// KV is SetValue's argument.
type KV struct{ Key, Value string }

// SetValue stores a value.
func (s *StatusActor) SetValue(ctx context.Context, kv KV) (struct{}, error) {
	s.data[kv.Key] = kv.Value
	return struct{}{}, nil
}

// ...and its methods, each registered once.
var (
	GetValue = fray.NewMethod(Status, "GetValue", (*StatusActor).GetValue)
	SetValue = fray.NewMethod(Status, "SetValue", (*StatusActor).SetValue)
)

// end snippet:pattern2-decl

// StatusValue is pattern 2's call site: create (or find) the detached actor on the head
// node and call a method.
func StatusValue(ctx context.Context, key string) (string, error) {
	// snippet:pattern2-call
	actor, err := Status.Create(ctx, StatusConfig{CacheSize: 10_000}, fray.ActorOptions{
		Name:        "status_actor",
		Namespace:   "marin",
		GetIfExists: true,
		Lifetime:    fray.Detached,
		Resources:   fray.Resources{"CPU": 0, "head_node": 0.0001}, // on the head node
	})
	if err != nil {
		return "", err
	}
	ref, err := GetValue.Remote(ctx, actor, key) // no .remote(): a call returns a Ref
	if err != nil {
		return "", err
	}
	result, err := ref.Get(ctx)
	// end snippet:pattern2-call
	return result, err
}

// Square squares a number.
var Square = fray.NewTask("migration.square", func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

// SquaresAndFirstThree is pattern 3: get all results, and wait for the first three.
func SquaresAndFirstThree(ctx context.Context, items []int) (results []int, ready, pending int, err error) {
	// snippet:pattern3
	refs := make([]fray.Ref[int], 0, len(items))
	for _, x := range items {
		r, err := Square.Remote(ctx, x)
		if err != nil {
			return nil, 0, 0, err
		}
		refs = append(refs, r)
	}

	// Blocking wait for all, in input order.
	results, err = fray.GetAll(ctx, refs)
	if err != nil {
		return nil, 0, 0, err
	}

	// Wait for the first 3 to complete (ready and pending keep input order).
	doneRefs, pendingRefs, err := fray.WaitRefs(ctx, refs, 3, 10*time.Second)
	if err != nil {
		return nil, 0, 0, err
	}
	doneResults, err := fray.GetAll(ctx, doneRefs)
	// end snippet:pattern3
	return results, len(doneResults), len(pendingRefs), err
}

// BigTask stands for a task that needs a big machine: it reports the GPU it was given.
var BigTask = fray.NewTask("migration.bigTask", func(ctx context.Context, data []byte) (string, error) {
	return fmt.Sprintf("%d bytes on GPU %q", len(data), os.Getenv("CUDA_VISIBLE_DEVICES")), nil
})

// RunBigTask is pattern 4: resources at the call site, keyed as Ray keys them.
func RunBigTask(ctx context.Context, data []byte) (string, error) {
	// snippet:pattern4
	options := fray.TaskOptions{Resources: fray.Resources{
		"CPU":            4,
		"GPU":            1,
		"memory":         8 << 30, // bytes
		"TPU":            8,
		"TPU-v4-32-head": 1,
	}}
	ref, err := BigTask.Remote(ctx, data, options)
	// end snippet:pattern4
	if err != nil {
		return "", err
	}
	return ref.Get(ctx)
}

// TrainConfig configures TrainModel.
type TrainConfig struct {
	Model string
	Steps int
}

// TrainModel stands for a training function: it reports the device its environment names.
var TrainModel = fray.NewTask("migration.trainModel", func(ctx context.Context, cfg TrainConfig) (string, error) {
	return fmt.Sprintf("trained %s for %d steps on %s", cfg.Model, cfg.Steps, os.Getenv("PJRT_DEVICE")), nil
})

// TrainOnTPU is pattern 5: pip packages and environment variables for one task. The
// packages need a package index (or Ray's), so the example that calls it is compiled, not
// run; TrainWithEnv runs the same call with environment variables only.
func TrainOnTPU(ctx context.Context, cfg TrainConfig) (string, error) {
	// snippet:pattern5
	runtimeEnv := fray.RuntimeEnv{
		PackageRequirements: []string{"transformers>=4.0", "torch"},  // Ray's "pip"
		Env:                 map[string]string{"PJRT_DEVICE": "TPU"}, // Ray's "env_vars"
	}
	ref, err := TrainModel.Remote(ctx, cfg, fray.TaskOptions{RuntimeEnv: runtimeEnv})
	// end snippet:pattern5
	if err != nil {
		return "", err
	}
	return ref.Get(ctx)
}

// TrainWithEnv runs TrainModel with environment variables only (no packages to install).
func TrainWithEnv(ctx context.Context, cfg TrainConfig, env map[string]string) (string, error) {
	return TrainModel.Call(ctx, cfg, fray.TaskOptions{RuntimeEnv: fray.RuntimeEnv{Env: env}})
}

// snippet:step7-decl

// Doc is one JSON Lines record of a transform's input.
type Doc struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Clean is a transform script's per-record function: trim the text, drop empty records.
var Clean = shards.NewMapper("migration.clean", func(ctx context.Context, doc Doc) ([]Doc, error) {
	doc.Text = strings.TrimSpace(doc.Text)
	if doc.Text == "" {
		return nil, nil // zero, one or more records out per record in
	}
	return []Doc{doc}, nil
})

// end snippet:step7-decl

// CleanAll is step 7's call site: one fray task per input file, complete files skipped.
func CleanAll(ctx context.Context, input, output string) (*shards.Summary, error) {
	// snippet:step7-call
	sum, err := shards.Run(ctx, Clean, shards.Spec{
		Input:   input,  // a glob: "gs://bucket/raw/**/*.jsonl.gz", "/data/raw/*.jsonl.zst"
		Output:  output, // outputs keep their names relative to the glob's base
		Options: fray.TaskOptions{MaxCalls: 1, Resources: fray.Resources{"CPU": 1}},
	})
	// end snippet:step7-call
	return sum, err
}

// CountLines counts a file's lines; the examples use it to show outputs.
func CountLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}
