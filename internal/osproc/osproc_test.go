package osproc

import (
	"errors"
	"os"
	"runtime"
	"testing"
)

func TestUnsupportedError(t *testing.T) {
	err := error(&UnsupportedError{Call: "kill", OS: "plan9"})
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("%v does not match ErrUnsupported", err)
	}
	if want := "fray: kill is not supported on plan9; it needs a unix system (Linux or macOS)"; err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestThisOS(t *testing.T) {
	u, err := Rusage()
	kerr := Kill(os.Getpid(), 0)
	switch runtime.GOOS {
	case "windows", "plan9", "js", "wasip1":
		if !errors.Is(err, ErrUnsupported) || !errors.Is(kerr, ErrUnsupported) {
			t.Fatalf("Rusage: %v, Kill: %v; want ErrUnsupported on %s", err, kerr, runtime.GOOS)
		}
	default:
		if err != nil || u.MaxRSS <= 0 {
			t.Fatalf("Rusage() = %+v, %v", u, err)
		}
		if kerr != nil {
			t.Fatalf("Kill(self, 0) = %v", kerr)
		}
	}
}
