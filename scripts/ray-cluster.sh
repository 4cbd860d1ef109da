#!/usr/bin/env bash
# ray-cluster.sh starts or stops a one-node Ray cluster for fray's Ray backend tests and
# benchmarks: usage stats off, a "head_node" resource, Ray's token authentication on, and
# every socket Ray opens bound to 127.0.0.1, so nothing on the network can reach it.
#
#   scripts/ray-cluster.sh start   # prints the variables below and writes .cache/ray-address
#   scripts/ray-cluster.sh env     # prints `export NAME=value` lines for the running cluster
#   scripts/ray-cluster.sh stop    # stops the cluster this script started, and nothing else
#   scripts/ray-cluster.sh address # prints the address of the running cluster
#   scripts/ray-cluster.sh add-node        # joins a second raylet to the running cluster
#   scripts/ray-cluster.sh kill-node TEMP  # SIGKILLs the added node using TEMP: raylet, workers
#
# add-node starts a worker node on this machine (`ray start --address`) with its own
# --temp-dir (RAY_TEMP_DIR, default a new directory under /tmp), its own free ports, the
# cluster's token, everything on 127.0.0.1, RAY_NUM_CPUS (default 2) and RAY_RESOURCES
# (default {}), and prints its temp dir; stop ends it with the head. kill-node simulates
# that node failing: its raylet (found by its --temp_dir) and every other process of the
# node die at once; the head and the rest of the cluster live on.
#
# What connects to the cluster needs its token: `eval "$(scripts/ray-cluster.sh env)"`
# exports RAY_ADDRESS, RAY_AUTH_MODE=token, RAY_AUTH_TOKEN_PATH (the token, a 0600 file,
# .cache/ray-auth-token) and RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which Ray's Python needs to
# keep 127.0.0.1 rather than rewrite it to the machine's address. fray's Go side finds the
# token file by itself (see backend/ray.Options.AuthTokenFile).
#
# Each start picks free ports for everything Ray listens on (GCS, node manager, object
# manager, runtime-env agent, dashboard and its agent, metrics, a worker port range) and uses
# its own --temp-dir, so it can run beside another Ray cluster on the machine; stop ends only
# the processes of the cluster it started (found by that --temp-dir), never `ray stop`,
# which would end every Ray process on the machine.
#
# Environment: FRAY_VENV (default ./.venv, created by scripts/setup-python.sh),
# RAY_CLUSTER_DIR (where the address, the token and the record of the started cluster are
# kept; default .cache, so a test can run its own cluster beside the one this script started),
# RAY_NUM_CPUS (default 4), RAY_RESOURCES (JSON, default below), RAY_PORT (the GCS port;
# default 6379 when free, else a free one), RAY_TEMP_DIR (default .cache/ray, or a directory
# under /tmp when that path is too long for Ray's unix sockets).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FRAY_VENV:-$root/.venv}"
cache="${RAY_CLUSTER_DIR:-$root/.cache}"
addr_file="$cache/ray-address"
token_file="$cache/ray-auth-token"
state_file="$cache/ray-cluster" # temp dir and address of the started cluster
nodes_file="$cache/ray-nodes"    # the temp dirs of the nodes add-node started, one a line
export RAY_USAGE_STATS_ENABLED=0

if [ ! -x "$venv/bin/ray" ]; then
	echo "ray-cluster: $venv/bin/ray not found; run scripts/setup-python.sh first" >&2
	exit 1
fi

# free_ports prints "gcs node_manager object_manager runtime_env dashboard agent_http
# agent_grpc metrics worker_min worker_max": ports nothing listens on at 127.0.0.1 (or on all
# addresses). The worker range lies below the kernel's ephemeral ports and above Ray's
# default range (10002-19999), so another cluster with default ports keeps its own, and
# apart from the worker ranges of the raylets running on the machine (another cluster's, or
# this cluster's head when add-node runs), whose idle ports nobody listens on yet.
free_ports() {
	"$venv/bin/python" - "${RAY_PORT:-}" <<'PY'
import os, random, socket, sys

def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()

held, ports = [], []
want = sys.argv[1]
if want:
    ports.append(int(want))
elif free(6379):
    ports.append(6379)
while len(ports) < 8:  # held open together, so all differ
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    if s.getsockname()[1] not in ports:
        ports.append(s.getsockname()[1])
for s in held:
    s.close()
taken = []  # [lo, hi] worker port ranges of the raylets running here
for d in os.listdir("/proc"):
    try:
        with open("/proc/%s/cmdline" % d, "rb") as f:
            args = f.read().decode(errors="replace").split("\0")
    except OSError:
        continue
    r = dict(a[2:].split("=", 1) for a in args if a.startswith(("--min_worker_port=", "--max_worker_port=")))
    if len(r) == 2 and r["min_worker_port"].isdigit() and r["max_worker_port"].isdigit():
        taken.append((int(r["min_worker_port"]), int(r["max_worker_port"])))
n = 1000
for _ in range(200):
    lo = random.randrange(20000, 32000 - n)
    if (all(free(p) for p in range(lo, lo + n)) and not any(lo <= p < lo + n for p in ports)
            and not any(lo <= b and a < lo + n for a, b in taken)):
        break
else:
    sys.exit("ray-cluster: no free range of %d ports for Ray workers in 20000-32000" % n)
print(*ports, lo, lo + n - 1)
PY
}

# cluster_pids prints the processes of the cluster whose --temp-dir is $1: those with a
# directory argument in it (GCS, raylet, monitor, dashboard, log monitor: --session-dir,
# --temp_dir, --logs-dir and the like, so that a `less` of one of its logs is not one), and
# all their descendants (Ray's agents and workers, and the workers' children).
cluster_pids() {
	local temp="$1" p arg roots=""
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" != "$$" ] || continue
		while IFS= read -r -d '' arg; do
			case "$arg" in
			--session-dir=* | --session_dir=* | --temp-dir=* | --temp_dir=* | --logs-dir=* | --log-dir=* | --log_dir=*)
				case "${arg#*=}" in
				"$temp" | "$temp"/*)
					roots="$roots ${p#/proc/}"
					break
					;;
				esac
				;;
			esac
		done 2>/dev/null <"$p/cmdline"
	done
	[ -n "$roots" ] || return 0
	ps -eo pid=,ppid= | awk -v roots="$roots" '
		{ parent[$1] = $2 }
		END {
			n = split(roots, r, " ")
			for (i = 1; i <= n; i++) keep[r[i]] = 1
			do {
				grew = 0
				for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 }
			} while (grew)
			for (p in keep) print p
		}'
}

# raylet_pid prints the raylet whose --temp_dir is $1, if one runs.
raylet_pid() {
	local p first arg
	for p in /proc/[0-9]*; do
		first=""
		while IFS= read -r -d '' arg; do
			if [ -z "$first" ]; then
				first="$arg"
				case "$first" in */raylet) ;; *) break ;; esac
				continue
			fi
			if [ "$arg" = "--temp_dir=$1" ]; then
				echo "${p#/proc/}"
				return 0
			fi
		done 2>/dev/null <"$p/cmdline"
	done
}

# alive reports whether process $1 exists and is not a zombie waiting to be reaped.
alive() {
	local st
	st="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# running reports whether the cluster recorded in the state file still runs.
running() {
	[ -f "$state_file" ] || return 1
	# shellcheck disable=SC1090
	. "$state_file"
	[ -n "$(cluster_pids "$temp")" ]
}

print_env() {
	# shellcheck disable=SC1090
	. "$state_file"
	printf 'export RAY_ADDRESS=%q\n' "$address"
	echo "export RAY_AUTH_MODE=token"
	printf 'export RAY_AUTH_TOKEN_PATH=%q\n' "$token_file"
	echo "export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0"
}

# head_node marks the head. The conformance suite (fraytest) sizes its requests from what the
# cluster reports; 4 "TPU" let its accelerator subtests run here, and "fraytest_widget"
# (fraytest.SuggestedScarce) is the custom resource only the suite uses.
default_resources='{"head_node": 1, "TPU": 4, "TPU-v4-32-head": 1, "fraytest_widget": 2}'
no_resources='{}' # an added node's default

case "${1:-}" in
start)
	if running; then
		print_env
		exit 0
	fi
	mkdir -p "$cache"
	chmod 700 "$cache"
	rm -f "$nodes_file" # a previous cluster's
	if [ -n "${RAY_TEMP_DIR:-}" ]; then
		temp="$RAY_TEMP_DIR"
		mkdir -p "$temp"
	else
		# Ray's unix sockets live at <temp>/session_<date>_<time>_<pid>/sockets/plasma_store
		# (about 60 bytes below temp), and a socket path has at most 107 bytes.
		temp="$cache/ray"
		if [ "${#temp}" -gt 45 ]; then
			temp="$(mktemp -d /tmp/fray-ray.XXXXXX)"
		fi
		rm -rf "$temp" # the previous cluster's logs
		mkdir -p "$temp"
	fi
	temp="$(cd "$temp" && pwd -P)"
	# A new token for each cluster, readable by this user only.
	(umask 077 && "$venv/bin/python" -c 'import secrets; print(secrets.token_hex(32), end="")' >"$token_file")
	chmod 600 "$token_file"
	read -r port nm om renv dash ahttp agrpc metrics wmin wmax <<<"$(free_ports)"
	# Recorded first, so that stop finds what a failed start left running.
	{
		echo "temp=$(printf %q "$temp")"
		echo "address=127.0.0.1:$port"
	} >"$state_file"
	# Token authentication for every process of the cluster (they inherit the environment);
	# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 stops Ray from replacing --node-ip-address=127.0.0.1
	# with the machine's address, which every server binds to. RUNTIME_ENV_RETRY_TIMES=1:
	# Ray's runtime-env agent runs a failed pip install once, not 3 times 1 s apart; what
	# makes pip fail (no such distribution, conflicting versions) does not go away on a
	# retry, and pip retries network errors itself.
	# The dashboard (and with it the state API and the Jobs API) serves on loopback only and
	# needs Ray's "default" extras (scripts/setup-python.sh installs them). It is on when the
	# venv has them, unless RAY_INCLUDE_DASHBOARD=false; token authentication stays on.
	dashboard="${RAY_INCLUDE_DASHBOARD:-}"
	if [ -z "$dashboard" ]; then
		if "$venv/bin/python" -c 'import aiohttp, opencensus, prometheus_client' 2>/dev/null; then
			dashboard=true
		else
			dashboard=false
		fi
	fi
	RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$token_file" RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 \
		RUNTIME_ENV_RETRY_TIMES=1 \
		"$venv/bin/ray" start --head --node-ip-address=127.0.0.1 --port="$port" \
		--temp-dir="$temp" --node-manager-port="$nm" --object-manager-port="$om" \
		--runtime-env-agent-port="$renv" --include-dashboard="$dashboard" --dashboard-host=127.0.0.1 \
		--dashboard-port="$dash" --dashboard-agent-listen-port="$ahttp" \
		--dashboard-agent-grpc-port="$agrpc" --metrics-export-port="$metrics" \
		--min-worker-port="$wmin" --max-worker-port="$wmax" \
		--num-cpus="${RAY_NUM_CPUS:-4}" --resources="${RAY_RESOURCES:-$default_resources}" \
		--disable-usage-stats >"$cache/ray-start.log" 2>&1 || {
		cat "$cache/ray-start.log" >&2
		exit 1
	}
	echo "127.0.0.1:$port" >"$addr_file"
	print_env
	;;
env)
	if ! running; then
		echo "ray-cluster: no cluster started by this script runs; scripts/ray-cluster.sh start" >&2
		exit 1
	fi
	print_env
	;;
stop)
	if [ ! -f "$state_file" ]; then
		echo "ray-cluster: no cluster started by this script"
		exit 0
	fi
	# shellcheck disable=SC1090
	. "$state_file"
	# One snapshot: once the raylet is gone its children belong to init, not to the cluster.
	pids="$(cluster_pids "$temp")"
	if [ -f "$nodes_file" ]; then
		while IFS= read -r node; do
			[ -n "$node" ] && pids="$pids $(cluster_pids "$node")"
		done <"$nodes_file"
	fi
	# shellcheck disable=SC2086
	pids="$(echo $pids)" # one line, or empty
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		for _ in $(seq 1 50); do
			left=""
			for p in $pids; do
				if alive "$p"; then left="$left $p"; fi
			done
			pids="$left"
			[ -n "$pids" ] || break
			sleep 0.2
		done
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
		fi
	fi
	rm -f "$addr_file" "$state_file" "$token_file" "$nodes_file"
	echo "ray-cluster: stopped"
	;;
add-node)
	if ! running; then
		echo "ray-cluster: no cluster started by this script runs; scripts/ray-cluster.sh start first" >&2
		exit 1
	fi
	if [ -n "${RAY_TEMP_DIR:-}" ]; then
		node="$RAY_TEMP_DIR"
		mkdir -p "$node"
	else
		node="$(mktemp -d /tmp/fray-ray-node.XXXXXX)"
	fi
	node="$(cd "$node" && pwd -P)"
	# Recorded first, so that stop ends what a failed start left running.
	echo "$node" >>"$nodes_file"
	read -r _ nm om renv _ ahttp agrpc metrics wmin wmax <<<"$(RAY_PORT= free_ports)"
	log="$node/ray-start.log"
	# Ray on Linux replaces 127.0.0.1 with the machine's address unless
	# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and with that set `ray start --address` refuses
	# to start a worker node ("not supported on Windows and OSX"). So this runs Ray's own
	# `ray start` with that one check lifted for its command-line module only: the node's
	# processes get the variable and keep every socket on 127.0.0.1, like the head's.
	RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$token_file" RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 \
		RUNTIME_ENV_RETRY_TIMES=1 \
		"$venv/bin/python" - start --address="$address" --node-ip-address=127.0.0.1 \
		--temp-dir="$node" --node-manager-port="$nm" --object-manager-port="$om" \
		--runtime-env-agent-port="$renv" --dashboard-agent-listen-port="$ahttp" \
		--dashboard-agent-grpc-port="$agrpc" --metrics-export-port="$metrics" \
		--min-worker-port="$wmin" --max-worker-port="$wmax" \
		--num-cpus="${RAY_NUM_CPUS:-2}" --resources="${RAY_RESOURCES:-$no_resources}" \
		--disable-usage-stats >"$log" 2>&1 <<'PY' || {
import sys, types
from ray.scripts import scripts

real = scripts.ray_constants
lifted = types.ModuleType(real.__name__)
lifted.__getattr__ = lambda name: getattr(real, name)
lifted.ENABLE_RAY_CLUSTER = True  # read by scripts.py only: the worker-node check
scripts.ray_constants = lifted
sys.argv = ["ray"] + sys.argv[1:]
sys.exit(scripts.main())
PY
		cat "$log" >&2
		exit 1
	}
	echo "$node"
	;;
kill-node)
	node="${2:-}"
	if [ -d "$node" ]; then node="$(cd "$node" && pwd -P)"; fi # as add-node recorded it
	if [ -z "$node" ] || ! grep -qxF -- "$node" "$nodes_file" 2>/dev/null; then
		echo "ray-cluster: kill-node needs the temp dir of a node add-node started (listed in $nodes_file)" >&2
		exit 2
	fi
	pid="$(raylet_pid "$node")"
	if [ -z "$pid" ]; then
		echo "ray-cluster: no raylet runs with --temp_dir=$node" >&2
		exit 1
	fi
	# One snapshot of the node's processes (its workers are the raylet's descendants), then
	# the raylet first: as when the machine dies, no worker of the node outlives it to
	# finish a task.
	pids="$(cluster_pids "$node")"
	kill -KILL "$pid"
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	echo "ray-cluster: killed raylet $pid and the $(echo $pids | wc -w) processes of node $node"
	;;
address)
	cat "$addr_file"
	;;
*)
	echo "usage: $0 start|env|stop|address|add-node|kill-node TEMP_DIR" >&2
	exit 2
	;;
esac
