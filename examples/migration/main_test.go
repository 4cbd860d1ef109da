package migration_test

import (
	"os"
	"testing"

	"github.com/fray-go/fray"
)

// TestMain serves worker processes: patterns 1, 4 and 5 run tasks in processes started
// from this test binary.
func TestMain(m *testing.M) {
	fray.Init()
	os.Exit(m.Run())
}
