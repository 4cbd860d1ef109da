package ray_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/fraytest"
)

// TestConformance runs fray's conformance suite against the Ray backend: every subtest gets
// a fresh job (its own bridge, Ray job and random namespace); peers share the namespace.
func TestConformance(t *testing.T) {
	addr := clusterAddress(t)
	res, nodes := declaredResources(t, addr)
	fraytest.Run(t, fraytest.Backend{
		// The suite asks the cluster what it has instead of assuming a shape; the test
		// cluster (scripts/ray-cluster.sh) adds fraytest.SuggestedScarce for it.
		Resources: res,
		Nodes:     nodes,
		Scarce:    fraytest.SuggestedScarce,
		Name:      "ray",
		New: func(t *testing.T, o fraytest.Options) backend.JobContext {
			opts := ray.Options{Address: addr, Logger: testLogger(t)}
			if o.PeerOf != nil {
				opts.Namespace = o.PeerOf.(*ray.JobContext).Namespace()
			} else {
				var b [6]byte
				_, _ = rand.Read(b[:])
				opts.Namespace = "fraytest-" + hex.EncodeToString(b[:])
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			jc, err := ray.Connect(ctx, opts)
			if err != nil {
				t.Fatalf("ray.Connect: %v", err)
			}
			t.Cleanup(func() { jc.Close() })
			return jc
		},
		Caps:    fraytest.Capabilities{ProcessTasks: true, InfeasibleFailsFast: true, Streams: true},
		Timeout: 2 * time.Minute,
		Fetched: func(ctx context.Context, jc backend.JobContext) (int64, error) {
			return jc.(*ray.JobContext).ObjectsFetched(ctx)
		},
	})
}

// declaredResources asks the cluster at addr for its alive nodes' total resources and their
// number, through a short-lived job context of its own.
func declaredResources(t *testing.T, addr string) (fray.Resources, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jc, err := ray.Connect(ctx, ray.Options{Address: addr, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("ray.Connect: %v", err)
	}
	defer jc.Close()
	res, err := jc.ClusterResources(ctx)
	if err != nil {
		t.Fatalf("ClusterResources: %v", err)
	}
	nodes, err := jc.NodeCount(ctx)
	if err != nil {
		t.Fatalf("NodeCount: %v", err)
	}
	return res, nodes
}
