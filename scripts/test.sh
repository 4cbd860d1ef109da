#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs Go modules and the Python
# virtualenv with Ray, starts a local Ray cluster on 127.0.0.1 (with Ray's token
# authentication), runs vet and all Go tests
# (the core packages under the race detector, the Ray backend against the real cluster),
# and stops the cluster again. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_USAGE_STATS_ENABLED=0

echo "== go modules"
go mod download

echo "== python virtualenv with ray"
scripts/setup-python.sh
export FRAY_PYTHON="$PWD/.venv/bin/python"

echo "== local ray cluster"
# Token authentication on, bound to 127.0.0.1; exports RAY_ADDRESS and the token's
# variables, which Ray's own tools and Python drivers need (fray's Go side finds the token
# file by itself). stop ends only this cluster.
cluster_env="$(scripts/ray-cluster.sh start)"
trap 'scripts/ray-cluster.sh stop >/dev/null 2>&1 || true' EXIT
eval "$cluster_env"
echo "ray cluster at $RAY_ADDRESS"

echo "== gofmt and go vet"
unformatted="$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)"
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== cross-builds (windows, darwin)"
# Every package builds (and vets, tests included) on windows and darwin: the OS-specific
# parts are build-tagged files (internal/osproc, internal/worker/sys_*.go), and worker
# processes answer a typed unsupported error outside unix.
GOOS=windows go build ./... && GOOS=windows go vet ./...
GOOS=darwin go build ./...
(cd fraytest/external/freshproc && GOOS=windows go build ./... && GOOS=darwin go build ./...)

# Core packages run under the race detector; the rest (Ray backend, data processing,
# examples) run without it because their cost is in real processes and Python.
# Both groups always run, so one failure does not hide another; the exit status is theirs.
status=0
core=(. ./backend/ ./backend/local/... ./fraytest/... ./internal/... ./executor/... ./worker/...)
echo "== go test -race (core packages)"
go test -race -count=1 -timeout 25m "${core[@]}" || status=1

echo "== go test (everything else, Ray backend included)"
others=$(go list ./... | grep -v -E '^github.com/fray-go/fray($|/backend$|/backend/local|/fraytest|/internal|/executor|/worker)')
# One package at a time: the Ray-using packages share one cluster and its detached
# "marin/status_actor", so they must not run side by side. (backend/ray's TestMultiNode
# also starts a two-node cluster of its own beside it, as `fray cluster start` and
# `fray cluster add-node` do, with its own state and temp dirs, and stops it again; so does
# cmd/fray's TestSubmitPipelineTwoNodes, which submits the flagship pipeline to its own.)
# shellcheck disable=SC2086
go test -p 1 -count=1 -timeout 45m $others || status=1

echo "== fraytest/external/freshproc (its own module: a backend on fray's public packages)"
# Not part of ./... above: a nested go.mod makes it a module of its own.
(cd fraytest/external/freshproc && go vet ./... && go test -race -count=1 -timeout 10m ./...) || status=1

if [ "$status" -ne 0 ]; then
	echo "== FAILED (see above)"
else
	echo "== all tests passed"
fi
exit "$status"
