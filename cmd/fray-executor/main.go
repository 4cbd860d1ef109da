// Command fray-executor is an example pipeline run by the executor's command line
// (executor/cli): three versioned steps — generate numbers, square them, summarise — that
// read and write through executor.ReadFile/WriteFile, so the prefix can be a local path or
// a bucket URL.
//
//	go run ./cmd/fray-executor --prefix /tmp/demo            # run
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
	Output executor.Path
	Count  executor.Value[int]
}

// SquaresConfig configures the squares step.
type SquaresConfig struct {
	Input  executor.Path
	Output executor.Path
}

// StatsConfig configures the stats step.
type StatsConfig struct {
	Input  executor.Path
	Output executor.Path
	Label  string // unversioned: changing it does not rerun anything
}

// Numbers writes 1..Count, one per line.
var Numbers = executor.NewStepFn("demo.numbers", func(ctx context.Context, c NumbersConfig) error {
	var b strings.Builder
	for i := 1; i <= c.Count.Get(); i++ {
		fmt.Fprintln(&b, i)
	}
	return executor.WriteFile(ctx, c.Output.Join("numbers.txt"), []byte(b.String()))
})

// Squares squares every number.
var Squares = executor.NewStepFn("demo.squares", func(ctx context.Context, c SquaresConfig) error {
	in, err := executor.ReadFile(ctx, c.Input.Join("numbers.txt"))
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
	return executor.WriteFile(ctx, c.Output.Join("squares.txt"), []byte(b.String()))
})

// Stats sums the squares.
var Stats = executor.NewStepFn("demo.stats", func(ctx context.Context, c StatsConfig) error {
	in, err := executor.ReadFile(ctx, c.Input.Join("squares.txt"))
	if err != nil {
		return err
	}
	var sum, n int
	for _, f := range strings.Fields(string(in)) {
		v, err := strconv.Atoi(f)
		if err != nil {
			return err
		}
		sum += v
		n++
	}
	b, _ := json.Marshal(map[string]any{"label": c.Label, "count": n, "sum_of_squares": sum})
	return executor.WriteFile(ctx, c.Output.Join("stats.json"), b)
})

func main() {
	fray.Init()
	numbers := executor.NewStep("demo/numbers", Numbers, NumbersConfig{Output: executor.ThisOutputPath(), Count: executor.Versioned(1000)})
	numbers.Description = "the integers 1..1000"
	squares := executor.NewStep("demo/squares", Squares, SquaresConfig{Input: executor.OutputPathOf(numbers), Output: executor.ThisOutputPath()})
	stats := executor.NewStep("demo/stats", Stats, StatsConfig{Input: executor.OutputPathOf(squares), Output: executor.ThisOutputPath(), Label: "demo"})
	stats.Resources = fray.Resources{"CPU": 1}
	cli.Main(stats)
}
