package ray_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/fraytest"
)

// TestConformance runs fray's conformance suite against the Ray backend: every subtest gets
// a fresh job (its own bridge, Ray job and random namespace); peers share the namespace.
func TestConformance(t *testing.T) {
	addr := clusterAddress(t)
	fraytest.Run(t, fraytest.Backend{
		Name: "ray",
		New: func(t *testing.T, o fraytest.Options) fray.JobContext {
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
		Caps:    fraytest.Capabilities{ProcessTasks: true, InfeasibleFailsFast: true},
		Timeout: 2 * time.Minute,
	})
}
