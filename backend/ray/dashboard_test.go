package ray_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray/backend/ray"
)

// TestDashboardURL checks that the job context reports the cluster's dashboard (the
// project's clusters run it on loopback, with the state and Jobs APIs) and that it answers.
func TestDashboardURL(t *testing.T) {
	jc, _ := connect(t, ray.Options{})
	url := jc.DashboardURL()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("DashboardURL = %q, want http://127.0.0.1:<port> (scripts/ray-cluster.sh binds the dashboard to loopback)", url)
	}
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url + "/api/version")
	if err != nil {
		t.Fatalf("dashboard at %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Fatalf("dashboard at %s answered %s", url, resp.Status)
	}
}
