// Package raytest gates the tests that need a real Ray cluster, the same way everywhere:
// RAY_ADDRESS set → the test runs against that cluster; CI set without RAY_ADDRESS → the
// test fails (CI must start a cluster, with scripts/ray-cluster.sh, and never skip Ray
// tests); otherwise (a developer without a cluster) the test is skipped with a message
// that says how to start one.
//
//	func TestOnRay(t *testing.T) {
//		addr := raytest.Address(t) // skips or fails t when there is no cluster
//		jc, err := ray.Connect(context.Background(), ray.Options{Address: addr})
//		...
//	}
package raytest

import (
	"os"
	"testing"
)

// Address returns the cluster address from RAY_ADDRESS, or skips or fails t as above.
func Address(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("RAY_ADDRESS")
	if addr == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("RAY_ADDRESS is not set but CI is: start a cluster with eval \"$(scripts/ray-cluster.sh start)\", which exports RAY_ADDRESS and the token's variables")
		}
		t.Skip("RAY_ADDRESS not set: start a cluster with eval \"$(scripts/ray-cluster.sh start)\", which exports RAY_ADDRESS and the token's variables")
	}
	return addr
}
