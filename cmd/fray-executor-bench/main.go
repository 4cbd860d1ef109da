// Command fray-executor-bench measures the executor and prints `name value unit` lines:
//
//   - planning (versions, output paths, resolved configs) of a 1,000-step random DAG, and a
//     full dry run of it on the local backend (status and owner look-ups, info records);
//
//   - executor overhead per no-op step on the local backend, against two baselines run in
//     the same invocation: calling the step function in a plain loop, and submitting the
//     same no-op as plain fray tasks (Remote + Get) without the executor.
//
//     go run ./cmd/fray-executor-bench [-steps 1000] [-noop 300]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/executor"
)

// DAGConfig is a step config with typical marker use.
type DAGConfig struct {
	Inputs []executor.Path
	Output executor.Path
	Seed   executor.Value[int]
	Params map[string]executor.Value[float64]
	Note   string
}

func noop(ctx context.Context, c DAGConfig) error { return nil }

// Noop is a step function that does nothing.
var Noop = executor.NewStepFn("bench.noop", noop)

// plainTask is the same no-op as a plain fray task (baseline).
var plainTask = fray.NewTask("bench.plain", func(ctx context.Context, c DAGConfig) (bool, error) {
	return true, noop(ctx, c)
})

func randomDAG(n int, seed uint64) []*executor.Step {
	r := rand.New(rand.NewPCG(seed, 1))
	steps := make([]*executor.Step, n)
	for i := range steps {
		c := DAGConfig{Output: executor.ThisOutputPath(), Seed: executor.Versioned(i),
			Params: map[string]executor.Value[float64]{"lr": executor.Versioned(r.Float64()), "wd": executor.Versioned(0.1)},
			Note:   "unversioned"}
		if i > 0 {
			for k := r.IntN(4); k > 0; k-- {
				c.Inputs = append(c.Inputs, executor.OutputPathOf(steps[r.IntN(i)], "part"))
			}
		}
		steps[i] = executor.NewStep(fmt.Sprintf("layer%d/step%d", i/100, i), Noop, c)
	}
	return steps
}

func newJob() (backend.JobContext, context.Context) {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": float64(runtime.NumCPU()), "head_node": 1}, Namespace: "marin"})
	if err != nil {
		slog.Error("fray-executor-bench failed", "err", err)
		os.Exit(1)
	}
	return jc, fray.WithJobContext(context.Background(), jc)
}

func main() {
	fray.Init()
	nSteps := flag.Int("steps", 1000, "steps in the random DAG")
	nNoop := flag.Int("noop", 300, "independent no-op steps for the overhead measurement")
	base := flag.String("dir", "", "directory for the benchmark's prefixes (default: the system temp dir)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			slog.Error("fray-executor-bench failed", "err", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	dag := randomDAG(*nSteps, 42)
	t0 := time.Now()
	if _, err := executor.Plan("/bench/prefix", dag...); err != nil {
		slog.Error("fray-executor-bench failed", "err", err)
		os.Exit(1)
	}
	planDur := time.Since(t0)
	fmt.Printf("plan_%d_step_dag %.1f ms\n", *nSteps, ms(planDur))

	jc, ctx := newJob()
	dir, err := os.MkdirTemp(*base, "fray-executor-bench-")
	if err != nil {
		slog.Error("fray-executor-bench failed", "err", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	t0 = time.Now()
	rep, err := executor.Run(ctx, executor.Options{Prefix: dir + "/dry", DryRun: true, Logger: quiet, ExperimentName: "bench", GitCommit: "bench"}, dag...)
	if err != nil || len(rep.Steps) != *nSteps {
		slog.Error("dry run failed", "err", err)
		os.Exit(1)
	}
	dry := time.Since(t0)
	fmt.Printf("plan_and_dry_run_%d_step_dag %.1f ms\n", *nSteps, ms(dry))
	fmt.Printf("plan_and_dry_run_target_ratio %.3f x_of_1s\n", dry.Seconds())

	// Overhead per no-op step.
	noops := make([]*executor.Step, *nNoop)
	cfgs := make([]DAGConfig, *nNoop)
	for i := range noops {
		cfgs[i] = DAGConfig{Seed: executor.Versioned(i), Note: "x"}
		noops[i] = executor.NewStep(fmt.Sprintf("noop/%d", i), Noop, DAGConfig{Output: executor.ThisOutputPath(), Seed: executor.Versioned(i)})
	}
	t0 = time.Now()
	for i := range cfgs {
		_ = noop(ctx, cfgs[i])
	}
	loop := time.Since(t0)
	t0 = time.Now()
	refs := make([]fray.Ref[bool], len(cfgs))
	for i := range cfgs {
		if refs[i], err = plainTask.Remote(ctx, cfgs[i]); err != nil {
			slog.Error("fray-executor-bench failed", "err", err)
			os.Exit(1)
		}
	}
	if _, err := fray.GetAll(ctx, refs); err != nil {
		slog.Error("fray-executor-bench failed", "err", err)
		os.Exit(1)
	}
	tasks := time.Since(t0)
	t0 = time.Now()
	if _, err := executor.Run(ctx, executor.Options{Prefix: dir + "/run", Logger: quiet, ExperimentName: "bench", GitCommit: "bench", PrefixEnv: executor.PrefixEnvNever}, noops...); err != nil {
		slog.Error("fray-executor-bench failed", "err", err)
		os.Exit(1)
	}
	ex := time.Since(t0)
	t0 = time.Now()
	if _, err := executor.Run(ctx, executor.Options{Prefix: dir + "/run", Logger: quiet, ExperimentName: "bench", GitCommit: "bench", PrefixEnv: executor.PrefixEnvNever}, noops...); err != nil {
		slog.Error("fray-executor-bench failed", "err", err)
		os.Exit(1)
	}
	rerun := time.Since(t0)
	n := float64(*nNoop)
	fmt.Printf("noop_step_plain_loop %.3f us/step\n", us(loop)/n)
	fmt.Printf("noop_step_plain_fray_task %.1f us/step\n", us(tasks)/n)
	fmt.Printf("noop_step_executor_run %.1f us/step\n", us(ex)/n)
	fmt.Printf("noop_step_executor_rerun_all_skipped %.1f us/step\n", us(rerun)/n)
	fmt.Printf("executor_vs_plain_loop_ratio %.0f x\n", ex.Seconds()/max(loop.Seconds(), 1e-9))
	fmt.Printf("executor_vs_plain_fray_task_ratio %.1f x\n", ex.Seconds()/tasks.Seconds())
	fmt.Printf("executor_overhead_per_step %.1f us/step\n", (us(ex)-us(tasks))/n)
	_ = jc.Close()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
