// Command frayclitest is the Go program cmd/fray's tests submit as a Ray job: a driver that
// runs on the cluster, connects with ray.Connect (RAY_ADDRESS is the job's), runs a task and
// a named actor, reads a file shipped with --working-dir, and prints what it got.
//
//	frayclitest ok NAME     task, actor NAME, data.txt of the working directory
//	                        ($FRAYCLITEST_SHIP=working_dir: ray.ShipWorkingDir;
//	                        $FRAYCLITEST_WHERE=RES: also where= the binary a task
//	                        pinned by the resource RES ran)
//	frayclitest fail CODE   exits with CODE
//	frayclitest sleep       prints "sleeping" and waits to be stopped
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
)

// Double is a task.
var Double = fray.NewTask("frayclitest.double", func(ctx context.Context, x int) (int, error) {
	return 2 * x, nil
})

// Where is the path of the binary a worker runs.
var Where = fray.NewTask("frayclitest.where", func(ctx context.Context, _ int) (string, error) {
	return os.Executable()
})

// Greeter is an actor class.
type Greeter struct{ greeting string }

// GreeterClass creates Greeters.
var GreeterClass = fray.NewActor("frayclitest.Greeter", func(ctx context.Context, g string) (*Greeter, error) {
	return &Greeter{greeting: g}, nil
})

// Greet greets.
var Greet = fray.NewMethod(GreeterClass, "Greet", func(s *Greeter, ctx context.Context, who string) (string, error) {
	return s.greeting + ", " + who, nil
})

func main() {
	fray.Init()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: frayclitest ok NAME | fail CODE | sleep")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "fail":
		code, _ := strconv.Atoi(os.Args[2])
		fmt.Println("failing on purpose")
		os.Exit(code)
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(10 * time.Minute)
		return
	}
	if err := run(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "frayclitest:", err)
		os.Exit(1)
	}
}

func run(actorName string) error {
	ctx := context.Background()
	opts := ray.Options{Namespace: "frayclitest"}
	if os.Getenv("FRAYCLITEST_SHIP") == "working_dir" { // as on a cluster of several nodes
		opts.Ship = ray.ShipWorkingDir
	}
	jc, err := ray.Connect(ctx, opts)
	if err != nil {
		return err
	}
	defer jc.Close()
	ctx = fray.WithJobContext(ctx, jc)
	ref, err := Double.Remote(ctx, 21)
	if err != nil {
		return err
	}
	v, err := ref.Get(ctx)
	if err != nil {
		return err
	}
	h, err := GreeterClass.Create(ctx, "hello", fray.ActorOptions{Name: actorName})
	if err != nil {
		return err
	}
	g, err := Greet.Call(ctx, h, "cluster")
	if err != nil {
		return err
	}
	data, err := os.ReadFile("data.txt")
	if err != nil {
		return err
	}
	fmt.Printf("double=%d greet=%q data=%q\n", v, g, string(data))
	if res := os.Getenv("FRAYCLITEST_WHERE"); res != "" {
		exe, err := Where.Call(ctx, 0, fray.TaskOptions{Resources: fray.Resources{"CPU": 1, res: 0.01}})
		if err != nil {
			return err
		}
		fmt.Printf("where=%s\n", exe)
	}
	return nil
}
