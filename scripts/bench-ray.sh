#!/usr/bin/env bash
# bench-ray.sh compares fray on Ray with Ray used directly from Python (and the local
# backend) on one Ray cluster in one invocation; see backend/ray/bench. Prints
# `name value unit` lines and ratios. Starts a cluster (and stops it afterwards) when
# RAY_ADDRESS is unset.
#
#   scripts/bench-ray.sh [-reps N] [-only spin,noop,actor,put_get] [-sides direct,fray,local]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup-python.sh >/dev/null
started=""
if [ -z "${RAY_ADDRESS:-}" ]; then
	eval "export $(scripts/ray-cluster.sh start)"
	started=1
fi
trap '[ -n "$started" ] && scripts/ray-cluster.sh stop >/dev/null' EXIT
go build -o "$root/.cache/fray-ray-bench" ./backend/ray/bench
"$root/.cache/fray-ray-bench" -address "$RAY_ADDRESS" "$@"
