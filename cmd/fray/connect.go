package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/rayapi"
	"github.com/fray-go/fray/internal/raycluster"
)

// target is where a command's requests go, and how it was found (for messages).
type target struct {
	dashboard string // the dashboard's URL
	from      string
}

// resolveDashboard finds the dashboard's URL as the package documentation says: an
// http(s) address as is; else the address is a GCS address (empty: $RAY_ADDRESS, else the
// recorded cluster's, as for ray.Connect) whose dashboard the recorded cluster names or the GCS tells.
func resolveDashboard(ctx context.Context, g *globalFlags) (target, error) {
	addr, from := g.address, "--address"
	if addr == "" {
		addr, from = os.Getenv("RAY_API_SERVER_ADDRESS"), "$RAY_API_SERVER_ADDRESS"
	}
	if isURL(addr) {
		return target{strings.TrimRight(addr, "/"), from}, nil
	}
	var st *raycluster.State
	if dir := raycluster.FindStateDir(); dir != "" {
		if s, err := raycluster.Load(dir); err == nil {
			st = &s
		}
	}
	if addr == "" {
		if a := os.Getenv("RAY_ADDRESS"); a != "" {
			addr, from = a, "$RAY_ADDRESS"
		} else if st != nil {
			addr, from = st.Address, "the cluster recorded in "+st.Dir
		}
	}
	if isURL(addr) { // Ray's Jobs CLI accepts the dashboard's URL in RAY_ADDRESS too
		return target{strings.TrimRight(addr, "/"), from}, nil
	}
	if addr == "" {
		return target{}, fmt.Errorf("no cluster given: pass --address (the dashboard's URL or the GCS address), " +
			"set RAY_ADDRESS, or start one with `fray cluster start`")
	}
	if st != nil && st.Address == addr && st.Dashboard != "" {
		return target{st.Dashboard, from}, nil
	}
	url, err := dashboardFromGCS(ctx, addr, g.tokenFile)
	if err != nil {
		return target{}, fmt.Errorf("finding the dashboard of the cluster at %s (from %s): %w; pass its URL with --address http://HOST:PORT", addr, from, err)
	}
	return target{url, from + ", whose GCS names its dashboard"}, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// dashboardScript asks a cluster's GCS where its dashboard is (Ray's internal KV, what
// Ray's own `ray list` does); ray is pinned by scripts/setup-python.sh.
const dashboardScript = `
import sys
from ray._raylet import GcsClient
import ray._private.ray_constants as rc
addr = sys.argv[1]
if addr == "auto":
    from ray._private import services
    addr = services.canonicalize_bootstrap_address_or_die("auto")
v = GcsClient(address=addr).internal_kv_get(rc.DASHBOARD_ADDRESS.encode(), rc.KV_NAMESPACE_DASHBOARD, timeout=10)
print(v.decode() if v else "")
`

// dashboardFromGCS runs dashboardScript with the Python ray.Connect would use.
func dashboardFromGCS(ctx context.Context, gcs, tokenFile string) (string, error) {
	py := ray.FindPython()
	cmd := exec.CommandContext(ctx, py, "-c", dashboardScript, gcs)
	env := append(os.Environ(), "RAY_USAGE_STATS_ENABLED=0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0")
	if tok, _, err := ray.FindAuthToken(tokenFile); err != nil {
		return "", err
	} else if tok != "" {
		env = append(env, "RAY_AUTH_MODE=token", "RAY_AUTH_TOKEN="+tok)
	}
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			lines := strings.Split(strings.TrimSpace(string(ee.Stderr)), "\n")
			msg += ": " + lines[len(lines)-1]
		}
		return "", fmt.Errorf("asking the GCS with %s: %s", py, msg)
	}
	host := strings.TrimSpace(string(out))
	if host == "" {
		return "", fmt.Errorf("the cluster runs without its dashboard (start it with --include-dashboard=true; `fray cluster start` does when Ray's default extras are installed)")
	}
	return "http://" + host, nil
}

// client returns a client of the cluster's dashboard with its token.
func client(ctx context.Context, g *globalFlags) (*rayapi.Client, error) {
	t, err := resolveDashboard(ctx, g)
	if err != nil {
		return nil, err
	}
	tok, _, err := ray.FindAuthToken(g.tokenFile)
	if err != nil {
		return nil, err
	}
	return &rayapi.Client{BaseURL: t.dashboard, Token: tok}, nil
}
