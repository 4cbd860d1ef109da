package local_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
)

// WhereAmI reports the process a task ran in, and what its environment says.
var WhereAmI = fray.NewTask("local_example.whereAmI", func(ctx context.Context, key string) (Place, error) {
	return Place{PID: os.Getpid(), Value: os.Getenv(key)}, nil
})

// Place is WhereAmI's result.
type Place struct {
	PID   int
	Value string
}

// New makes a job context on a private, in-process node with the given resources.
func ExampleNew() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	p, err := WhereAmI.Call(ctx, "HOME")
	fmt.Println(jc.Backend(), p.PID == os.Getpid(), err) // plain tasks run as goroutines
	// Output: local true <nil>
}

// MaxCalls runs a task in a worker process (this binary in worker mode: main, or TestMain,
// calls fray.Init first), a fresh one after every N calls, as Ray's max_calls does.
func ExampleOptions_processWorkers() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	a, _ := WhereAmI.Call(ctx, "", fray.TaskOptions{MaxCalls: 1})
	b, _ := WhereAmI.Call(ctx, "", fray.TaskOptions{MaxCalls: 1})
	fmt.Println(a.PID != os.Getpid(), a.PID != b.PID)

	// IsolateProcess runs every task of the job context in a worker process.
	iso, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2}, Isolation: local.IsolateProcess})
	if err != nil {
		log.Fatal(err)
	}
	defer iso.Close()
	c, _ := WhereAmI.Call(fray.WithJobContext(context.Background(), iso), "")
	fmt.Println(c.PID != os.Getpid())
	// Output:
	// true true
	// true
}

// A runtime environment's variables are set in the worker process that runs the task,
// never in the driver.
func ExampleOptions_runtimeEnv() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	env := fray.RuntimeEnv{Env: map[string]string{"PJRT_DEVICE": "TPU"}}
	p, err := WhereAmI.Call(ctx, "PJRT_DEVICE", fray.TaskOptions{RuntimeEnv: env})
	fmt.Println(p.Value, p.PID != os.Getpid(), os.Getenv("PJRT_DEVICE") == "", err)
	// Output: TPU true true <nil>
}

// A task that holds GPUs runs in a worker process whose CUDA_VISIBLE_DEVICES names exactly
// the GPU ids it holds; the node's GPU count is its "GPU" resource.
func ExampleOptions_gpuIDs() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "GPU": 4}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	one, _ := WhereAmI.Remote(ctx, "CUDA_VISIBLE_DEVICES", fray.TaskOptions{Resources: fray.Resources{"GPU": 1}})
	three, _ := WhereAmI.Remote(ctx, "CUDA_VISIBLE_DEVICES", fray.TaskOptions{Resources: fray.Resources{"GPU": 3}})
	a, _ := one.Get(ctx)
	b, _ := three.Get(ctx)
	ids := []string{a.Value, b.Value}
	slices.Sort(ids) // which task gets which ids depends on the order they start
	fmt.Println(len(a.Value), len(b.Value), ids)
	// Output: 1 5 [0 1,2,3]
}
