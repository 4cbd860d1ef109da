//go:build !unix

package procpool

import (
	"os"
	"runtime"

	"github.com/fray-go/fray"
)

// lockFile refuses: virtualenvs serve worker processes, which need a unix system (see
// internal/worker's Start).
func lockFile(*os.File) error {
	return &fray.UnsupportedError{Backend: "worker-process", Feature: "runtime environments (virtualenvs) on " + runtime.GOOS,
		Hint: "they serve worker processes, which need Linux or macOS"}
}

func unlockFile(*os.File) error { return nil }
