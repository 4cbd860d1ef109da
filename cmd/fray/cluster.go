package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/rayapi"
	"github.com/fray-go/fray/internal/raycluster"
)

// clusterFlags are the flags of the cluster commands.
type clusterFlags struct {
	stateDir  string
	python    string
	numCPUs   int
	resources string
	port      int
	tempDir   string
	dashboard string
	printEnv  bool
}

// dir is the state directory: --state-dir, else the nearest .cache with a recorded
// cluster, else .cache here.
func (f *clusterFlags) dir() string {
	if f.stateDir != "" {
		return f.stateDir
	}
	if d := raycluster.FindStateDir(); d != "" {
		return d
	}
	return raycluster.DefaultStateDir
}

func newClusterCmd() *cobra.Command {
	f := &clusterFlags{}
	stateFlag := func(c *cobra.Command) {
		c.Flags().StringVar(&f.stateDir, "state-dir", "", "where the address, token and state files are (default: the nearest .cache holding them, else ./.cache)")
	}
	start := &cobra.Command{
		Use:   "start",
		Short: "Start a local Ray head for development (token auth, every socket on 127.0.0.1)",
		Long: `Start a one-node Ray cluster on this machine: a head with the head_node resource, Ray's
token authentication on (a new token per start, in a 0600 file), every socket Ray opens
bound to 127.0.0.1 (the dashboard, with the Jobs and state APIs, too), free ports, and its
own temp directory, so it runs beside other Ray clusters. It writes .cache/ray-address,
.cache/ray-auth-token and .cache/ray-cluster (or under --state-dir), where the other fray
commands and ray.Connect look, in the working directory or a parent. A cluster recorded
there that still runs is left as it is. Ray's own tools need the variables that
'fray cluster env' prints.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validDashboardFlag(f.dashboard); err != nil {
				return err
			}
			if f.numCPUs < 0 {
				return usagef("invalid --num-cpus %d: must be 0 (Ray's default: every core) or more", f.numCPUs)
			}
			py := f.python
			if py == "" {
				py = ray.FindPython()
			}
			dir := f.stateDir
			if dir == "" {
				if dir = raycluster.FindStateDir(); dir == "" {
					dir = raycluster.DefaultStateDir
				}
			}
			st, err := raycluster.Start(cmd.Context(), raycluster.Config{StateDir: dir, Python: py,
				NumCPUs: f.numCPUs, Resources: f.resources, Port: f.port, TempDir: f.tempDir, Dashboard: f.dashboard})
			if err != nil {
				return err
			}
			if f.printEnv {
				printEnv(cmd.OutOrStdout(), st)
				return nil
			}
			describe(cmd.OutOrStdout(), st)
			return nil
		},
	}
	stateFlag(start)
	fl := start.Flags()
	fl.StringVar(&f.python, "python", "", "the Python of a virtualenv with Ray; ray is run from its directory (default: as ray.Connect finds it)")
	fl.IntVar(&f.numCPUs, "num-cpus", 0, "the head's logical CPUs (0: Ray's default, every core)")
	fl.StringVar(&f.resources, "resources", raycluster.DefaultResources, "the head's custom resources, a JSON object")
	fl.IntVar(&f.port, "port", 0, "the GCS port (0: 6379 when free, else a free one)")
	fl.StringVar(&f.tempDir, "temp-dir", "", "Ray's temp directory for this cluster (default: <state-dir>/ray, or a new one under /tmp when that is too long)")
	fl.StringVar(&f.dashboard, "dashboard", "auto", "run the dashboard (Jobs and state APIs): auto (when Ray's default extras are installed), true or false")
	fl.BoolVar(&f.printEnv, "print-env", false, "print the variables of 'fray cluster env' instead of a description")

	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the cluster that 'fray cluster start' started, and nothing else",
		Long: `Stop the cluster recorded in the state directory: its processes (found by its temp
directory, and their descendants) get SIGTERM, and SIGKILL after 10 s; its address, token
and state files are removed. Other Ray clusters on the machine are left alone (this is not
'ray stop').`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := f.dir()
			n, err := raycluster.Stop(dir)
			if errors.Is(err, raycluster.ErrNotStarted) {
				fmt.Fprintf(cmd.OutOrStdout(), "no cluster recorded in %s\n", dir)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stopped the cluster of %s (%d processes)\n", dir, n)
			return nil
		},
	}
	stateFlag(stop)

	status := &cobra.Command{
		Use:   "status",
		Short: "Show the recorded cluster, its nodes and their resources",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := running(f.dir())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			describe(w, st)
			if addrs, err := raycluster.Listening(st); err == nil {
				fmt.Fprintf(w, "listening    %s\n", strings.Join(addrs, " "))
			}
			if st.Dashboard == "" {
				fmt.Fprintln(w, "(no dashboard: nodes are listed through it)")
				return nil
			}
			tok, _, err := ray.FindAuthToken(st.TokenPath())
			if err != nil {
				return err
			}
			c := &rayapi.Client{BaseURL: st.Dashboard, Token: tok}
			return printNodes(cmd.Context(), w, c)
		},
	}
	stateFlag(status)

	env := &cobra.Command{
		Use:   "env",
		Short: "Print export lines for the recorded cluster (for Ray's own tools: eval \"$(fray cluster env)\")",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := running(f.dir())
			if err != nil {
				return err
			}
			printEnv(cmd.OutOrStdout(), st)
			return nil
		},
	}
	stateFlag(env)

	address := &cobra.Command{
		Use:   "address",
		Short: "Print the recorded cluster's GCS address",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := running(f.dir())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), st.Address)
			return nil
		},
	}
	stateFlag(address)
	return group("cluster", "Start, stop and inspect a local Ray cluster for development",
		append([]*cobra.Command{start, stop, status, env, address}, newClusterNodeCmds(f)...)...)
}

func validDashboardFlag(v string) error {
	switch v {
	case "auto", "true", "false":
		return nil
	}
	return usagef("invalid --dashboard %q: use auto, true or false", v)
}

// running loads the cluster recorded in dir and checks that it runs.
func running(dir string) (raycluster.State, error) {
	st, err := raycluster.Load(dir)
	if err != nil {
		return st, err
	}
	if !raycluster.Running(st) {
		return st, fmt.Errorf("the cluster recorded in %s (temp dir %s) does not run; start it again with `fray cluster start`", dir, st.TempDir)
	}
	return st, nil
}

// describe prints where the cluster is.
func describe(w io.Writer, st raycluster.State) {
	fmt.Fprintf(w, "Ray cluster  %s\n", st.Address)
	if st.Dashboard != "" {
		fmt.Fprintf(w, "dashboard    %s (Jobs and state APIs; loopback only)\n", st.Dashboard)
	}
	fmt.Fprintf(w, "token        %s (Ray's token authentication)\n", st.TokenPath())
	fmt.Fprintf(w, "temp dir     %s\n", st.TempDir)
	fmt.Fprintf(w, "fray commands and ray.Connect below %s find it; Ray's tools: eval \"$(fray cluster env)\"\n", filepath.Dir(st.Dir))
}

// printEnv prints what Ray's own tools (and Python drivers) need, as export lines.
func printEnv(w io.Writer, st raycluster.State) {
	fmt.Fprintf(w, "export RAY_ADDRESS=%s\n", shellQuote(st.Address))
	fmt.Fprintln(w, "export RAY_AUTH_MODE=token")
	fmt.Fprintf(w, "export RAY_AUTH_TOKEN_PATH=%s\n", shellQuote(st.TokenPath()))
	fmt.Fprintln(w, "export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0")
	if st.Dashboard != "" {
		fmt.Fprintf(w, "export RAY_API_SERVER_ADDRESS=%s\n", shellQuote(st.Dashboard))
	}
}

// printNodes prints the cluster's nodes and their resources from the state API.
func printNodes(ctx context.Context, w io.Writer, c *rayapi.Client) error {
	l, err := c.List(ctx, "nodes", 0, true)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tIP\tHEAD\tSTATE\tRESOURCES")
	for _, n := range l.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", short(str(n["node_id"]), 12), str(n["node_ip"]),
			n["is_head_node"] == true, str(n["state"]), resources(n["resources_total"]))
	}
	return tw.Flush()
}

// resources formats a resource map: CPU first, memory in GiB, Ray's node:* markers left out.
func resources(v any) string {
	m, _ := v.(map[string]any)
	var keys []string
	for k := range m {
		if !strings.HasPrefix(k, "node:") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == "CPU") != (keys[j] == "CPU") {
			return keys[i] == "CPU"
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		f, _ := m[k].(float64)
		switch k {
		case "memory", "object_store_memory":
			parts = append(parts, fmt.Sprintf("%s=%.1fGiB", k, f/(1<<30)))
		default:
			parts = append(parts, fmt.Sprintf("%s=%g", k, f))
		}
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:+,@%=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
