#!/usr/bin/env bash
# ray-cluster.sh starts or stops a one-node Ray cluster for fray's Ray backend tests and
# benchmarks, bound to 127.0.0.1 with usage stats off and a "head_node" resource.
#
#   scripts/ray-cluster.sh start   # prints RAY_ADDRESS=<addr> and writes it to .cache/ray-address
#   scripts/ray-cluster.sh stop    # ray stop --force, removes .cache/ray-address
#   scripts/ray-cluster.sh address # prints the address of the running cluster
#
# Environment: FRAY_VENV (default ./.venv, created by scripts/setup-python.sh),
# RAY_NUM_CPUS (default 4), RAY_RESOURCES (JSON, default below), RAY_PORT (default: a free
# port, 6379 preferred).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FRAY_VENV:-$root/.venv}"
addr_file="$root/.cache/ray-address"
export RAY_USAGE_STATS_ENABLED=0

if [ ! -x "$venv/bin/ray" ]; then
	echo "ray-cluster: $venv/bin/ray not found; run scripts/setup-python.sh first" >&2
	exit 1
fi

free_port() {
	"$venv/bin/python" - <<'PY'
import socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
if free(6379):
    print(6379)
else:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# head_node marks the head; the rest is what fray's conformance suite (fraytest) expects a
# cluster to offer: TPU-like custom resources and exactly 2 "fraytest_widget".
default_resources='{"head_node": 1, "TPU": 4, "TPU-v4-32-head": 1, "fraytest_widget": 2}'

case "${1:-}" in
start)
	if [ -f "$addr_file" ] && "$venv/bin/ray" status --address "$(cat "$addr_file")" >/dev/null 2>&1; then
		echo "RAY_ADDRESS=$(cat "$addr_file")"
		exit 0
	fi
	mkdir -p "$(dirname "$addr_file")"
	port="${RAY_PORT:-$(free_port)}"
	"$venv/bin/ray" start --head --node-ip-address=127.0.0.1 --port="$port" \
		--num-cpus="${RAY_NUM_CPUS:-4}" --resources="${RAY_RESOURCES:-$default_resources}" \
		--include-dashboard=false --disable-usage-stats >"$root/.cache/ray-start.log" 2>&1 || {
		cat "$root/.cache/ray-start.log" >&2
		exit 1
	}
	mkdir -p "$(dirname "$addr_file")"
	echo "127.0.0.1:$port" >"$addr_file"
	echo "RAY_ADDRESS=127.0.0.1:$port"
	;;
stop)
	"$venv/bin/ray" stop --force >/dev/null 2>&1 || true
	rm -f "$addr_file"
	echo "ray-cluster: stopped"
	;;
address)
	cat "$addr_file"
	;;
*)
	echo "usage: $0 start|stop|address" >&2
	exit 2
	;;
esac
