#!/usr/bin/env bash
# run-all.sh OUTDIR: the spike's measurement set, each run with the load before and after:
# (A) driver side: (b), (c), (d) and variants, GIL modes pinned and thread; (B) worker side: today's
# hop and the Go binary as the worker; (C) the current bridge (scripts/bench-ray.sh,
# which must be given RAY_ADDRESS: it then neither starts nor stops a cluster); (D) checks;
# (E) micro, one process per GIL mode.
set -uo pipefail
out="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
: "${RAY_ADDRESS:?set RAY_ADDRESS (the shared cluster)}" "${FRAY_PYTHON:?set FRAY_PYTHON (the venv python)}"
mkdir -p "$out"
bin="$out/raydriver"
(cd "$here" && CGO_ENABLED=0 go build -o "$bin" .) || exit 1
run() { # name command...
	local name="$1"
	shift
	{
		echo "# $(date -u +%H:%M:%S) load before: $(cut -d' ' -f1-3 /proc/loadavg)"
		"$@" 2>&1
		echo "# $(date -u +%H:%M:%S) load after: $(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$out/$name.txt"
	grep -E '^(ratio|#)' "$out/$name.txt"
}
a=(-address "$RAY_ADDRESS" -python "$FRAY_PYTHON")
run A-driver timeout 900 "$bin" bench "${a[@]}" -reps "${REPS_A:-5}" -only noop,actor,put_get,put_get_copy,put_get_reuse,noop_par -modes pinned,thread
run B-worker timeout 900 "$bin" bench "${a[@]}" -reps "${REPS_B:-3}" -only noop,actor,noop_hop,actor_hop,noop_goworker,actor_goworker -modes pinned
run C-bridge timeout 900 bash -c "cd '$root' && scripts/bench-ray.sh -reps ${REPS_C:-3} -only noop,actor,put_get -sides direct,fray"
run D-checks timeout 300 "$bin" checks "${a[@]}"
for m in ensure pinned thread; do
	run "E-micro-$m" timeout 120 "$bin" micro -n 100000 -modes "$m" -python "$FRAY_PYTHON"
done
