package ray_test

import (
	"fmt"
	"os"
)

func runHelper(mode string) int {
	switch mode {
	default:
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		return 2
	}
}
