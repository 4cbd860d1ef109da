package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fray-go/fray/backend/ray"
	"github.com/fray-go/fray/internal/raycluster"
)

// newClusterNodeCmds returns `fray cluster add-node` and `fray cluster kill-node`: a second
// raylet on this machine joined to the recorded cluster, and its simulated failure (for
// multi-node tests; see raycluster.AddNode and raycluster.KillNode).
func newClusterNodeCmds(f *clusterFlags) []*cobra.Command {
	var node raycluster.NodeConfig
	add := &cobra.Command{
		Use:   "add-node",
		Short: "Join a worker node on this machine to the recorded cluster (own temp dir and ports, 127.0.0.1)",
		Long: `Start a worker node on this machine ('ray start --address') joined to the cluster recorded
in the state directory: its own temp directory and free ports, the cluster's token, every
socket on 127.0.0.1, and its own CPUs and custom resources (such as {"node_b": 1}, by which
tasks and actors are pinned to it). It prints the node's temp directory, which kill-node
takes; 'fray cluster stop' ends the node with the head.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if node.NumCPUs < 0 {
				return usagef("invalid --num-cpus %d: must be 0 (2) or more", node.NumCPUs)
			}
			cfg := node
			if cfg.Python == "" {
				cfg.Python = ray.FindPython()
			}
			temp, err := raycluster.AddNode(cmd.Context(), f.dir(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), temp)
			return nil
		},
	}
	fl := add.Flags()
	fl.StringVar(&f.stateDir, "state-dir", "", "where the address, token and state files are (default: the nearest .cache holding them, else ./.cache)")
	fl.StringVar(&node.Python, "python", "", "the Python of a virtualenv with Ray (default: as ray.Connect finds it)")
	fl.IntVar(&node.NumCPUs, "num-cpus", 2, "the node's logical CPUs")
	fl.StringVar(&node.Resources, "resources", "{}", "the node's custom resources, a JSON object")
	fl.StringVar(&node.TempDir, "temp-dir", "", "the node's Ray temp directory (default: a new one under /tmp)")

	kill := &cobra.Command{
		Use:   "kill-node TEMP_DIR",
		Short: "Kill a node add-node started, as if its machine died (raylet and workers, SIGKILL)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := raycluster.KillNode(f.dir(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "killed node %s (%d processes)\n", args[0], n)
			return nil
		},
	}
	kill.Flags().StringVar(&f.stateDir, "state-dir", "", "where the address, token and state files are (default: the nearest .cache holding them, else ./.cache)")
	return []*cobra.Command{add, kill}
}
