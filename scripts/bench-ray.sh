#!/usr/bin/env bash
# bench-ray.sh compares fray on Ray with Ray used directly from Python (and the local
# backend) on one Ray cluster in one invocation; see backend/ray/bench. Prints
# `name value unit` lines and ratios. Starts a cluster (and stops it afterwards) when
# RAY_ADDRESS is unset: one with as many CPUs as the machine has cores (Ray's own default),
# not the test cluster's 4 (scripts/ray-cluster.sh), which on a 2-core machine runs 4 busy
# workers on 2 cores and measures the kernel's wake-up latency more than Ray or fray. Set
# RAY_NUM_CPUS to choose. A cluster of scripts/ray-cluster.sh that already runs is used (and
# left running). With RAY_ADDRESS set to a cluster with token authentication, export its
# token's variables too (`eval "$(scripts/ray-cluster.sh env)"` for one of the script's).
#
#   scripts/bench-ray.sh [-reps N] [-only spin,noop,actor,put_get,put_get_64m,sync_task,sync_actor,shared_ref,pg] [-sides direct,fray,local]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup-python.sh >/dev/null
started=""
if [ -z "${RAY_ADDRESS:-}" ]; then
	if cluster_env="$(scripts/ray-cluster.sh env 2>/dev/null)"; then
		echo "bench-ray: using the running cluster of scripts/ray-cluster.sh (RAY_NUM_CPUS does not apply)" >&2
	else
		cluster_env="$(RAY_NUM_CPUS="${RAY_NUM_CPUS:-$(nproc)}" scripts/ray-cluster.sh start)"
		started=1
	fi
	# RAY_ADDRESS and the token's variables: the direct-Ray side is a Python driver and
	# needs them; fray's side finds the token by itself.
	eval "$cluster_env"
fi
trap '[ -n "$started" ] && scripts/ray-cluster.sh stop >/dev/null' EXIT
go build -o "$root/.cache/fray-ray-bench" ./backend/ray/bench
"$root/.cache/fray-ray-bench" -address "$RAY_ADDRESS" "$@"
