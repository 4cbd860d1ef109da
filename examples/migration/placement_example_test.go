package migration_test

import (
	"fmt"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/examples/migration"
)

// Placement groups: two tensor-parallel workers gang-scheduled with STRICT_PACK, one
// bundle each.
func ExampleServeTensorParallel() {
	ctx, done := newJob()
	defer done()
	out, err := migration.ServeTensorParallel(ctx, 2, fray.Resources{fray.CPU: 1}, "hi")
	fmt.Println(out, err)
	// Output: [hi[0/2] hi[1/2]] <nil>
}
