package worker

import (
	"errors"
	"strings"
	"testing"

	"github.com/fray-go/fray"
)

func TestNoWorkerProcessesError(t *testing.T) {
	err := errNoWorkerProcessesOn("windows")
	var ue *fray.UnsupportedError
	if !errors.As(err, &ue) || !errors.Is(err, fray.ErrUnsupported) {
		t.Fatalf("err = %v (%T), want a *fray.UnsupportedError", err, err)
	}
	if !strings.Contains(err.Error(), "worker processes on windows") || !strings.Contains(err.Error(), "Linux or macOS") {
		t.Fatalf("message does not name the OS and what to do: %v", err)
	}
}
