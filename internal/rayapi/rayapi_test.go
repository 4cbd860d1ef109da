package rayapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestHTTPError(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   []string
	}{
		{401, "Unauthorized: Missing authentication token", []string{"401 Unauthorized", "requires its token", "RAY_AUTH_TOKEN_PATH", "Missing authentication token"}},
		{403, "Forbidden: Invalid authentication token", []string{"403 Forbidden", "requires its token"}},
		{404, "Job raysubmit_x does not exist", []string{"404 Not Found", "does not exist"}},
		{500, "", []string{"500 Internal Server Error"}},
	} {
		err := fmt.Errorf("wrapped: %w", &HTTPError{Method: "GET", URL: "/api/jobs/x", Status: c.status, Body: c.body})
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%d: %q lacks %q", c.status, err, w)
			}
		}
		if NotFound(err) != (c.status == 404) {
			t.Errorf("NotFound(%d) = %v", c.status, NotFound(err))
		}
	}
	if NotFound(errors.New("404")) {
		t.Error("NotFound of a plain error")
	}
}

func TestTrimBody(t *testing.T) {
	tb := "Traceback (most recent call last):\n" + strings.Repeat("  File \"x.py\", line 1\n", 20) + "ValueError: bad runtime_env"
	got := trimBody(tb)
	if !strings.HasSuffix(got, "ValueError: bad runtime_env") || strings.Count(got, "\n") != 5 {
		t.Errorf("trimBody kept %q; want the last 6 lines", got)
	}
	if got := trimBody(strings.Repeat("x", 5000)); len(got) != 2000 {
		t.Errorf("trimBody of one long line: %d bytes, want 2000", len(got))
	}
}

func TestJobHelpers(t *testing.T) {
	for s, want := range map[string]bool{JobPending: false, JobRunning: false, JobStopped: true, JobSucceeded: true, JobFailed: true} {
		if Terminal(s) != want {
			t.Errorf("Terminal(%s) = %v", s, !want)
		}
	}
	if got := PackageURI(PackageName("ABC123")); got != "gcs://_ray_pkg_abc123.zip" {
		t.Errorf("package URI %q", got)
	}
	if (Job{JobID: "02000000"}).ID() != "02000000" || (Job{JobID: "02000000", SubmissionID: "raysubmit_x"}).ID() != "raysubmit_x" {
		t.Error("Job.ID prefers the submission id, else the Ray job id")
	}
}
