// snippet:pattern7-example

// Command fray-executor is a complete three-step pipeline run by the executor's command
// line (executor/cli, Marin's executor_main): generate numbers, square them, summarise.
// It is MIGRATION.md's pattern 7 example, and uses each of Marin's executor concepts once:
// versioned and unversioned config values, output_path_of with and without a sub-path, a
// non-blocking dependency, this_output_path with and without a name, and the prefix.
//
//	go run ./cmd/fray-executor --prefix /tmp/demo            # run (a second run skips all)
//	go run ./cmd/fray-executor --prefix /tmp/demo --dry-run  # plan only
//	go run ./cmd/fray-executor status --prefix /tmp/demo     # status table
//	go run ./cmd/fray-executor --prefix /tmp/demo --backend ray --ray-address auto
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/executor/cli"
)

// NumbersConfig configures the numbers step.
type NumbersConfig struct {
	Output executor.Path       // this_output_path()
	Count  executor.Value[int] // versioned(1000): part of the output path's hash
}

// SquaresConfig configures the squares step.
type SquaresConfig struct {
	Input  executor.Path // output_path_of(numbers, "numbers.txt")
	Output executor.Path // this_output_path("squares.txt")
}

// StatsConfig configures the stats step.
type StatsConfig struct {
	Squares executor.Path // output_path_of(squares)
	Numbers executor.Path // output_path_of(numbers), non-blocking
	Output  executor.Path // this_output_path()
	Label   string        // unversioned: changing it reruns nothing
}

// Numbers writes 1..Count, one per line. Step functions are fray tasks registered at
// package level, so a worker process (or a Ray worker) finds them by name.
var Numbers = executor.NewStepFn("demo.numbers", func(ctx context.Context, c NumbersConfig) error {
	var b strings.Builder
	for i := 1; i <= c.Count.Get(); i++ {
		fmt.Fprintln(&b, i)
	}
	return executor.WriteFile(ctx, c.Output.Join("numbers.txt"), []byte(b.String()))
})

// Squares squares every number.
var Squares = executor.NewStepFn("demo.squares", func(ctx context.Context, c SquaresConfig) error {
	in, err := executor.ReadFile(ctx, c.Input.String())
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, f := range strings.Fields(string(in)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return err
		}
		fmt.Fprintln(&b, n*n)
	}
	return executor.WriteFile(ctx, c.Output.String(), []byte(b.String()))
})

// Stats sums the squares and records where the run's outputs are.
var Stats = executor.NewStepFn("demo.stats", func(ctx context.Context, c StatsConfig) error {
	squares, err := executor.ReadFile(ctx, c.Squares.Join("squares.txt"))
	if err != nil {
		return err
	}
	var sum, n int
	for _, f := range strings.Fields(string(squares)) {
		v, err := strconv.Atoi(f)
		if err != nil {
			return err
		}
		sum += v
		n++
	}
	b, err := json.Marshal(map[string]any{
		"label":          c.Label,
		"count":          n,
		"sum_of_squares": sum,
		"numbers":        c.Numbers.String(),   // the pseudo-dependency's output directory
		"prefix":         executor.Prefix(ctx), // also $FRAY_PREFIX where the backend sets it
	})
	if err != nil {
		return err
	}
	return executor.WriteFile(ctx, c.Output.Join("stats.json"), b)
})

// Pipeline returns the three steps; the last one is enough to run them all, since the
// executor runs a step's dependencies first.
func Pipeline() []*executor.Step {
	numbers := executor.NewStep("demo/numbers", Numbers, NumbersConfig{
		Output: executor.ThisOutputPath(),
		Count:  executor.Versioned(1000),
	})
	numbers.Description = "the integers 1..1000"
	squares := executor.NewStep("demo/squares", Squares, SquaresConfig{
		Input:  executor.OutputPathOf(numbers, "numbers.txt"),
		Output: executor.ThisOutputPath("squares.txt"),
	})
	stats := executor.NewStep("demo/stats", Stats, StatsConfig{
		Squares: executor.OutputPathOf(squares),
		Numbers: executor.OutputPathOf(numbers).NonBlocking(),
		Output:  executor.ThisOutputPath(),
		Label:   "demo",
	})
	stats.Resources = fray.Resources{"CPU": 1}
	return []*executor.Step{numbers, squares, stats}
}

func main() {
	fray.Init() // a worker process serves the step functions here and never returns
	cli.Main(Pipeline()...)
}

// end snippet:pattern7-example
