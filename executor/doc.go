// Package executor runs versioned, resumable pipeline steps on fray: the Marin executor
// (marin/execution/executor.py) in Go, written only against the fray API, so a pipeline
// runs unchanged on the local backend and on Ray (MIGRATION.md, Patterns 2, 7 and 8).
// cmd/fray-executor is a complete three-step program; ExamplePlan and ExampleRun show the
// output paths and a run; MIGRATION.md's pattern 7 maps every Marin concept to its name here.
//
// # Declaring steps
//
// A step function is a fray task registered at package level, typed by its config:
//
//	type TokenizeConfig struct {
//		Input  executor.Path           // a marker until the executor resolves it
//		Output executor.Path
//		Vocab  executor.Value[string]  // versioned: part of the output path's hash
//		Shards int                     // unversioned: changing it reruns nothing
//	}
//
//	var Tokenize = executor.NewStepFn("marin.tokenize", func(ctx context.Context, c TokenizeConfig) error {
//		data, err := executor.ReadFile(ctx, c.Input.Join("docs.jsonl"))
//		...
//		return executor.WriteFile(ctx, c.Output.Join("tokens.bin"), out)
//	})
//
// A step is a name, a function and a config (NewStep checks the config type at compile
// time), plus optional Description, Resources, RuntimeEnv and an OutputPath override:
//
//	raw := executor.NewStep("documents/fineweb", Download, DownloadConfig{Out: executor.ThisOutputPath()})
//	tok := executor.NewStep("tokenized/fineweb", Tokenize, TokenizeConfig{
//		Input:  executor.OutputPathOf(raw),
//		Output: executor.ThisOutputPath(),
//		Vocab:  executor.Versioned("gpt2"),
//	})
//	tok.Resources = fray.Resources{"CPU": 8}
//
// and a program runs them with executor.Run (a job context in ctx), or with the command
// line in package executor/cli: cli.Main(tok) gives Marin's executor_main flags.
//
// # Markers in typed configs
//
// Marin puts marker objects where config values go; Go configs are typed, so markers are
// two field types that hold either a marker or a concrete value:
//
//   - Path holds a path. OutputPathOf(step, sub...) is another step's output directory
//     (a dependency; .NonBlocking() makes it a pseudo-dependency that is versioned but not
//     run or waited on), InputPath(name) is a hard-coded input at prefix/name,
//     ThisOutputPath(sub...) is the step's own output directory, LiteralPath(s) is a
//     plain, unversioned path.
//   - Value[T] holds a value; Versioned(v) makes it part of the version. Plain fields, and
//     Unversioned(v), do not affect the version.
//
// The step function receives a copy of its config in which every Path marker is replaced
// by its concrete path (Path.String, Path.Join); the original config is never modified.
// Both types marshal — to JSON for the .executor_info record, and with fray's codec for the
// task argument — as their bare concrete value, so a resolved config reads and travels like
// a struct of strings and numbers. A marker that was not resolved refuses to marshal.
//
// Markers may sit in struct fields, slices, arrays, maps with string keys, pointers and
// interface values (an `any` field holding a Path works). Versioned of a Value or of a
// Path marker (anywhere inside the value) is an error, as is a marker in an unexported
// field or in a map with non-string keys.
//
// # Versions and output paths
//
// The executor walks each config (struct fields by their JSON name, "a.b"; slice items
// "a.[i]"; map values "a.k", keys in sorted order) and builds Marin's version:
//
//	{"name": step name, "config": {key: versioned value | "DEP[i]" | "DEP[i]/sub" | input name},
//	 "dependencies": [version of each blocking dependency],
//	 "pseudo_dependencies": [...]}            // only when there are any
//
// Dependency indices i count blocking and non-blocking references together, in walk
// order. The version is encoded exactly as Python's json.dumps(version, sort_keys=True)
// (ASCII escapes, ", " and ": " separators, Python float repr), hashed with md5, and the
// first 6 hex digits give the output path prefix/name-<hash>. The hash therefore does not
// depend on the machine, the Go version, map order or the prefix, and equals Marin's for
// the same version. The function name is not part of the version; ThisOutputPath's
// sub-path is not either (as in Marin). Steps with equal versions are one step: they run
// once and share an output path.
//
// # Files
//
//   - <output>/.executor_status: JSON lines {"date","status","message","task_id"}, statuses
//     RUNNING, SUCCESS, FAILED (message: the error), DEP_FAILED, and WAITING as Marin writes
//     it. task_id is the owner id of the executor that wrote the line. Object stores cannot
//     append, so each event rewrites the whole file atomically (write elsewhere, then
//     publish). A file that does not parse is a *StatusFileError naming the file and the
//     line, and is never overwritten.
//   - <output>/.executor_info: one JSON object: name, fn_name, resolved config,
//     description, override_output_path, version, hash, dependencies (output paths),
//     pseudo_dependencies, output_path, resources, runtime_env.
//   - <output>/.executor_lease.<generation>: the step's lease (LeaseRecord, JSON), see
//     Ownership below.
//   - <InfoBasePath>/<experiment>-<hash>.json (default <prefix>/experiments): name,
//     description, prefix, user, git_commit, created_date, hash, and "steps": every
//     step's info record, one per line.
//
// Paths are local paths or bucket URLs (file://, mem://, s3://, gs://, azblob://) handled
// by package storage; a URL's query string (bucket options) stays at the end when paths
// are joined. mem:// buckets are shared by everything in one process under the same URL.
//
// # Running
//
// Run plans every step, picks the run set (the given steps and their blocking
// dependencies; with RunOnly, the steps whose names match one of the regular expressions
// plus their dependencies that are not already successful; a pattern that matches nothing
// is a warning), writes the info records and then starts every step whose dependencies in
// the run set are done, up to MaxConcurrent at once. For each step it first takes
// ownership (below), then reads the status file: no status, or RUNNING/WAITING left by an
// owner that is gone, runs the step; FAILED or DEP_FAILED is refused with a
// *FailedPreviouslyError unless ForceRunFailed; SUCCESS is skipped and recorded as
// "Step was already successful". A failed step is recorded FAILED with its error, its
// dependents are recorded DEP_FAILED and not launched, other branches go on, and Run
// returns a *RunError naming the failed steps. DryRun stops after the info records and
// reports, per step, whether it would run, skip, wait for another executor or be refused.
//
// Each step runs as a fray task named "<fn short name>:<step name>" with the step's
// Resources and RuntimeEnv. The prefix reaches it in its ctx (Prefix, StepInfoFrom) and,
// where the backend supports per-task environment variables, as FRAY_PREFIX in its
// RuntimeEnv.Env (Options.PrefixEnv: by default the executor tries, and if a backend
// answers fray.ErrUnsupported at submission it logs that once and submits without it; the
// CLI also exports FRAY_PREFIX to the local process and to Ray's job environment). On the
// local backend a task with an environment runs in a worker process, so each step is
// isolated in its own process there, as on Ray; a mem:// prefix, which lives in one
// process, keeps steps in-process instead. A step that uses a mem:// path and would still
// run in a worker process (a RuntimeEnv of its own, PrefixEnvAlways, a GPU, a job context
// with local.IsolateProcess, or any step on Ray) is refused before anything runs with an
// *InMemoryPathError naming the step and the reason.
//
// # Ownership: step leases and the StatusActor
//
// An executor owns a step from before it reads the step's status file until it has
// written the final status; only the owner rewrites the status file, so no event is lost,
// and only the owner runs the step. Ownership has two layers.
//
// The lease holds across processes and machines that share nothing but the prefix (two
// cron runs on the local backend, each with its own cluster). It is a file beside the
// output, <output>/.executor_lease.<generation>, with the owner id, host, pid, the last
// renewal time and the TTL (Options.LeaseTTL, default 60s). An executor takes it by
// creating the next generation with an exclusive create (storage.FS.CreateExclusive:
// conditional writes on S3, GCS and Azure, mem://'s lock, a hard link on local disks), and
// only after the current generation is released or expired; of several executors taking
// over one expired lease, exactly one creates the next generation. The owner renews the
// lease every TTL/4 and releases it when done, also when the run is interrupted. An
// executor that finds a live lease of another executor waits (polls every PollInterval,
// Marin's 5 s) and then uses the result: it sees SUCCESS and skips the step as "Step was
// already successful". An executor that dies (SIGKILL included) stops renewing, and its
// steps are taken over one TTL after its last renewal. An owner that cannot renew for 3/4
// of the TTL, or finds a newer generation, has lost the lease (*LeaseLostError): it stops
// the step and writes nothing more. The guarantee, and what it assumes (exclusive create
// and consistent listing in the storage, clocks that agree within TTL/4, no stall of an
// owner longer than TTL/4), is spelled out in lease.go.
//
// The StatusActor orders executors that share one cluster (on Ray, all drivers of the
// cluster) before they touch the storage. It is one detached, named actor per cluster,
// created exactly as Marin's executor creates it: name "status_actor", GetIfExists,
// fray.Detached, namespace "marin", resources {"CPU": 0, "head_node": 0.0001}. It maps
// output path → owner id, with GetOwner, CompareAndSetOwner and List; an executor takes a
// step with a compare-and-set, then its lease, and gives both back when the step is
// finished. The owner id names a job-scoped, named owner actor that each run creates
// ("fray-executor-<random>", namespace "marin"); an owner whose actor cannot be looked up
// or answers that it died is gone (a ping that times out counts as alive), and its entry is
// taken over.
//
// Status: ListStatuses (the CLI's status command) computes CANCELLED for a step whose last
// event is RUNNING or WAITING and whose lease is not live — released (the run was
// interrupted, as by Ctrl-C), expired (its executor was killed) or absent. A run that is
// interrupted reports its running steps as StateInterrupted, and the next run reruns them.
//
// Temporary files: a write cut short by a kill leaves "<name>.<hex>.tmp" in a local
// output directory. Before an owner runs a step again it removes those files in the
// step's output directory (not in other steps' output directories below it), since under
// the lease no other writer can be active there.
package executor
