package executor_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/executor"
)

// CountConfig configures the example steps.
type CountConfig struct {
	Input  executor.Path       // OutputPathOf(another step, "words.txt"), or empty
	Output executor.Path       // ThisOutputPath()
	Words  executor.Value[int] // Versioned: changes the output path
	Note   string              // unversioned: does not
}

// WriteWords writes Words words (or, with an Input, the input's words upper-cased).
var WriteWords = executor.NewStepFn("executor_example.writeWords", func(ctx context.Context, c CountConfig) error {
	text := strings.Repeat("word ", c.Words.Get())
	if c.Input.String() != "" {
		in, err := executor.ReadFile(ctx, c.Input.String())
		if err != nil {
			return err
		}
		text = strings.ToUpper(string(in))
	}
	return executor.WriteFile(ctx, c.Output.Join("words.txt"), []byte(text))
})

// exampleSteps are two steps, the second reading the first's output.
func exampleSteps(words int, note string) (raw, upper *executor.Step) {
	raw = executor.NewStep("words/raw", WriteWords, CountConfig{
		Output: executor.ThisOutputPath(), Words: executor.Versioned(words), Note: note})
	upper = executor.NewStep("words/upper", WriteWords, CountConfig{
		Input: executor.OutputPathOf(raw, "words.txt"), Output: executor.ThisOutputPath()})
	return raw, upper
}

// Plan shows the output paths without running anything. The hash covers versioned values
// and the dependencies' versions, so it is the same on every machine, and it is the one
// Marin computes: the first 6 hex digits of md5(json.dumps(version, sort_keys=True)).
func ExamplePlan() {
	_, upper := exampleSteps(3, "first try")
	plan, err := executor.Plan("/data", upper)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range plan {
		fmt.Println(s.Name, s.OutputPath, s.Deps)
	}
	fmt.Println(plan[0].Version)

	// An unversioned field does not change the path; a versioned one does.
	_, same := exampleSteps(3, "second try")
	_, other := exampleSteps(4, "first try")
	p1, _ := executor.Plan("/data", same)
	p2, _ := executor.Plan("/data", other)
	fmt.Println(p1[1].OutputPath == plan[1].OutputPath, p2[1].OutputPath == plan[1].OutputPath)
	// Output:
	// words/raw /data/words/raw-150373 []
	// words/upper /data/words/upper-49babe [/data/words/raw-150373]
	// {"config": {"Words": 3}, "dependencies": [], "name": "words/raw"}
	// true false
}

// Run runs the steps on a job context; a second run skips them as already successful.
func ExampleRun() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2, "head_node": 1}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	prefix, _ := os.MkdirTemp("", "executor-example")
	defer os.RemoveAll(prefix)

	_, upper := exampleSteps(2, "")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range 2 {
		rep, err := executor.Run(ctx, executor.Options{Prefix: prefix, Logger: quiet}, upper)
		if err != nil {
			log.Fatal(err)
		}
		for _, s := range rep.Steps {
			fmt.Println(s.Name, s.State, strings.TrimPrefix(s.OutputPath, prefix))
		}
	}
	plan, _ := executor.Plan(prefix, upper)
	out, _ := os.ReadFile(plan[1].OutputPath + "/words.txt")
	fmt.Printf("%q\n", out)
	// Output:
	// words/raw succeeded /words/raw-0b97ac
	// words/upper succeeded /words/upper-3478fb
	// words/raw skipped /words/raw-0b97ac
	// words/upper skipped /words/upper-3478fb
	// "WORD WORD "
}
