// snippet:quickstart

// Command quickstart is the README's first program: one task, run on the local backend, or
// on a Ray cluster with -ray ADDRESS.
//
//	go run ./examples/quickstart                    # prints 9 <nil>
//	go run ./examples/quickstart -ray 127.0.0.1:6379
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/backend/ray"
)

// Square is declared once, at package level, under a stable name, so a worker process
// (the same binary) finds it.
var Square = fray.NewTask("examples.square", func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

// snippet:pattern8
func main() {
	fray.Init() // a worker process serves calls here and never returns
	rayAddress := flag.String("ray", "", `Ray cluster address ("auto", "127.0.0.1:6379"); empty: the local backend`)
	flag.Parse()

	jc, err := connect(context.Background(), *rayAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc) // or fray.SetDefaultJobContext(jc)

	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// connect starts the backend: Ray when an address is given (Python's ray.init plus
// RayJobContext), else the local backend (LocalJobContext), with the head_node resource
// a local Ray cluster would have. (A failed start returns a nil interface, not a nil
// *ray.JobContext in one.)
func connect(ctx context.Context, rayAddress string) (backend.JobContext, error) {
	if rayAddress != "" {
		jc, err := ray.Connect(ctx, ray.Options{Address: rayAddress, Namespace: "marin"})
		if err != nil {
			return nil, err
		}
		return jc, nil
	}
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}})
	if err != nil {
		return nil, err
	}
	return jc, nil
}

// end snippet:pattern8

func run(ctx context.Context, w io.Writer) error {
	ref, err := Square.Remote(ctx, 3, fray.TaskOptions{Resources: fray.Resources{"CPU": 1}})
	if err != nil {
		return err
	}
	v, err := ref.Get(ctx) // an int
	fmt.Fprintln(w, v, err)
	return err
}

// end snippet:quickstart
