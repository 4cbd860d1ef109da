#!/usr/bin/env bash
# ray-cluster.sh starts or stops a one-node Ray cluster for fray's Ray backend tests and
# benchmarks: usage stats off, a "head_node" resource, Ray's token authentication on, and
# every socket Ray opens bound to 127.0.0.1, so nothing on the network can reach it.
#
#   scripts/ray-cluster.sh start   # prints the variables below and writes .cache/ray-address
#   scripts/ray-cluster.sh env     # prints `export NAME=value` lines for the running cluster
#   scripts/ray-cluster.sh stop    # stops the cluster this script started, and nothing else
#   scripts/ray-cluster.sh address # prints the address of the running cluster
#   scripts/ray-cluster.sh add-node        # joins a worker node (a second raylet) to it
#   scripts/ray-cluster.sh kill-node TEMP  # kills that node (raylet and workers, SIGKILL)
#
# add-node starts a worker node on this machine (`ray start --address`) with its own
# --temp-dir (RAY_TEMP_DIR, default a new directory under /tmp), free ports, the cluster's
# token, every socket on 127.0.0.1, RAY_NUM_CPUS (default 2) and RAY_RESOURCES (default {}),
# and prints its temp dir; stop ends it with the head. kill-node simulates that node's
# machine dying: its raylet (found by its temp dir) and every process below it die at once.
#
# What connects to the cluster needs its token: `eval "$(scripts/ray-cluster.sh env)"`
# exports RAY_ADDRESS, RAY_AUTH_MODE=token, RAY_AUTH_TOKEN_PATH (the token, a 0600 file,
# .cache/ray-auth-token), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which Ray's Python needs to
# keep 127.0.0.1 rather than rewrite it to the machine's address, and RAY_API_SERVER_ADDRESS
# (the dashboard, for Ray's Jobs CLI). fray's Go side finds the address and the token file
# by itself (see backend/ray.Options), and so does the `fray` command.
#
# Each start picks free ports for everything Ray listens on (GCS, node manager, object
# manager, runtime-env agent, dashboard and its agent, metrics, a worker port range) and uses
# its own --temp-dir, so it can run beside another Ray cluster on the machine; stop ends only
# the processes of the cluster it started (found by that --temp-dir), never `ray stop`,
# which would end every Ray process on the machine.
#
# The work is done by `fray cluster` (cmd/fray, internal/raycluster), built here into
# .cache/bin/fray: this script only maps its environment variables to that command's flags,
# so the test cluster and `fray cluster start` are one implementation.
#
# Environment: FRAY_VENV (default ./.venv, created by scripts/setup-python.sh),
# RAY_NUM_CPUS (default 4), RAY_RESOURCES (JSON, default below), RAY_PORT (the GCS port;
# default 6379 when free, else a free one), RAY_TEMP_DIR (default .cache/ray, or a directory
# under /tmp when that path is too long for Ray's unix sockets), RAY_INCLUDE_DASHBOARD
# (auto, true or false; default auto: on when the venv has Ray's "default" extras).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FRAY_VENV:-$root/.venv}"
cache="$root/.cache"
export RAY_USAGE_STATS_ENABLED=0

if [ ! -x "$venv/bin/ray" ]; then
	echo "ray-cluster: $venv/bin/ray not found; run scripts/setup-python.sh first" >&2
	exit 1
fi

# head_node marks the head. The conformance suite (fraytest) sizes its requests from what the
# cluster reports; 4 "TPU" let its accelerator subtests run here, and "fraytest_widget"
# (fraytest.SuggestedScarce) is the custom resource only the suite uses.
default_resources='{"head_node": 1, "TPU": 4, "TPU-v4-32-head": 1, "fraytest_widget": 2}'

mkdir -p "$cache"
chmod 700 "$cache"
fray="$cache/bin/fray"
(cd "$root" && go build -o "$fray" ./cmd/fray) || {
	echo "ray-cluster: building cmd/fray failed" >&2
	exit 1
}

case "${1:-}" in
start)
	# The dashboard (and with it the state API and the Jobs API) serves on loopback only and
	# needs Ray's "default" extras (scripts/setup-python.sh installs them): on when the venv
	# has them, unless RAY_INCLUDE_DASHBOARD=false; token authentication stays on.
	args=(cluster start --print-env --state-dir "$cache" --python "$venv/bin/python"
		--num-cpus "${RAY_NUM_CPUS:-4}" --resources "${RAY_RESOURCES:-$default_resources}"
		--dashboard "${RAY_INCLUDE_DASHBOARD:-auto}")
	if [ -n "${RAY_PORT:-}" ]; then args+=(--port "$RAY_PORT"); fi
	if [ -n "${RAY_TEMP_DIR:-}" ]; then args+=(--temp-dir "$RAY_TEMP_DIR"); fi
	exec "$fray" "${args[@]}"
	;;
env | address)
	exec "$fray" cluster "$1" --state-dir "$cache"
	;;
stop)
	"$fray" cluster stop --state-dir "$cache" >/dev/null
	echo "ray-cluster: stopped"
	;;
add-node)
	args=(cluster add-node --state-dir "$cache" --python "$venv/bin/python"
		--num-cpus "${RAY_NUM_CPUS:-2}" --resources "${RAY_RESOURCES:-{\}}")
	if [ -n "${RAY_TEMP_DIR:-}" ]; then args+=(--temp-dir "$RAY_TEMP_DIR"); fi
	exec "$fray" "${args[@]}"
	;;
kill-node)
	exec "$fray" cluster kill-node --state-dir "$cache" "${2:-}"
	;;
*)
	echo "usage: $0 start|env|stop|address|add-node|kill-node TEMP_DIR" >&2
	exit 2
	;;
esac
