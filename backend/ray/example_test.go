package ray_test

import (
	"context"
	"fmt"
	"log"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
)

// Connect starts the job on a Ray cluster; everything after it is the same code as on the
// local backend. It needs a running cluster (scripts/ray-cluster.sh start), so this
// example is compiled but not run.
func ExampleConnect() {
	ctx := context.Background()
	jc, err := ray.Connect(ctx, ray.Options{
		Address:   "auto",  // or "127.0.0.1:6379"; empty: $RAY_ADDRESS, else .cache/ray-address, else auto
		Namespace: "marin", // named actors are found in this namespace
		Ship:      ray.ShipWorkingDir,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx = fray.WithJobContext(ctx, jc)

	total, err := jc.ClusterResources(ctx) // ray.cluster_resources()
	if err != nil {
		log.Fatal(err)
	}
	v, err := Square.Call(ctx, 12, fray.TaskOptions{Resources: fray.Resources{"CPU": 1}})
	fmt.Println(total["CPU"], v, err)
}
