package cli

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/executor"
)

// BackendConfig is what the CLI's flags say about the backend.
type BackendConfig struct {
	Name       string // "local" or "ray"
	RayAddress string // ray only: "auto", "127.0.0.1:6379", ... ("" means RAY_ADDRESS, else auto)
	Namespace  string // named-actor namespace (default "marin")
	Prefix     string // the executor prefix, exported to steps as FRAY_PREFIX where possible
}

// Connect starts the job context the CLI runs on. This is the only place that knows the
// backends (MIGRATION.md, Pattern 8): local gets a head_node resource of 1 as Marin's local Ray
// cluster does, so the StatusActor's {"head_node": 0.0001} is feasible; Ray gets the
// namespace and FRAY_PREFIX in the job's runtime environment, so every step process sees it;
// on local, FRAY_PREFIX is set in this process's environment.
func Connect(ctx context.Context, cfg BackendConfig) (backend.JobContext, error) {
	switch cfg.Name {
	case "", "local":
		// Everything local runs in (or is started from) this process: the variable set here
		// is what steps, and worker processes started later, see.
		if cfg.Prefix != "" {
			if err := os.Setenv(executor.PrefixEnv, cfg.Prefix); err != nil {
				return nil, err
			}
		}
		return local.New(local.Options{
			Resources: fray.Resources{"CPU": float64(runtime.NumCPU()), "head_node": 1},
			Namespace: cfg.Namespace,
		})
	case "ray":
		return ray.Connect(ctx, ray.Options{
			Address:   cfg.RayAddress,
			Namespace: cfg.Namespace,
			Env:       map[string]string{executor.PrefixEnv: cfg.Prefix},
		})
	}
	return nil, fmt.Errorf("unknown backend %q: use --backend local or --backend ray", cfg.Name)
}
