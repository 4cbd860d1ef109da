#!/usr/bin/env bash
# setup-python.sh creates ./.venv (or $FRAY_VENV) with the Python packages the Ray backend
# needs: ray with its "default" extras (the cluster, the driver API the bridge uses, and
# the dashboard that serves Ray's state API and Jobs API), cbor2 (the bridge's and
# the worker shim's codec for fray's wire frames) and virtualenv (Ray builds the virtualenv
# of a runtime env with pip packages, fray's RuntimeEnv.PackageRequirements, with it). It
# is idempotent: when the venv already has exactly the pinned versions it does nothing.
#
# Usage: scripts/setup-python.sh            # uses python3 from PATH
#        PYTHON=/usr/bin/python3.11 scripts/setup-python.sh
set -euo pipefail

RAY_VERSION=2.60.0
CBOR2_VERSION=6.2.1
VIRTUALENV_VERSION=21.15.11

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FRAY_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

have_versions() {
	[ -x "$venv/bin/python" ] || return 1
	"$venv/bin/python" - "$RAY_VERSION" "$CBOR2_VERSION" "$VIRTUALENV_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
ok = (version("ray"), version("cbor2"), version("virtualenv")) == tuple(sys.argv[1:4])
import aiohttp, opencensus, prometheus_client  # ray[default]: dashboard, state API, Jobs API
sys.exit(0 if ok else 1)
PY
}

if have_versions; then
	echo "setup-python: $venv already has ray==$RAY_VERSION cbor2==$CBOR2_VERSION virtualenv==$VIRTUALENV_VERSION"
	exit 0
fi

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
	echo "setup-python: Ray $RAY_VERSION needs Python >= 3.10; set PYTHON to one" >&2
	exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
	echo "setup-python: creating $venv with $("$python" --version 2>&1)"
	"$python" -m venv "$venv"
fi

echo "setup-python: installing ray[default]==$RAY_VERSION cbor2==$CBOR2_VERSION virtualenv==$VIRTUALENV_VERSION into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
	"ray[default]==$RAY_VERSION" "cbor2==$CBOR2_VERSION" "virtualenv==$VIRTUALENV_VERSION"

have_versions || { echo "setup-python: install finished but versions do not match" >&2; exit 1; }
echo "setup-python: ok ($venv)"
