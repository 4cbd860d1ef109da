#!/usr/bin/env bash
# Regenerates examples/pipeline/report.png, the screenshot in examples/pipeline/README.md.
# It runs the flagship pipeline with its default flags on the local backend, into a
# temporary prefix, on its corpus (the Go distribution's documentation and sources and the
# system's man pages, which every machine that builds this module has), then renders the
# report.html it wrote with headless Chromium, and crops and palettes the PNG
# (scripts/pngshrink) to keep it well under 300 KB.
#
#   apt-get install -y chromium      # once
#   scripts/report-screenshot.sh     # or: scripts/report-screenshot.sh /tmp/report.png
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-examples/pipeline/report.png}"

browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
	echo "report-screenshot: needs Chromium (apt-get install -y chromium)" >&2
	exit 1
fi

prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
go run ./examples/pipeline --prefix "$prefix/out" --progress=false | tee "$prefix/run.log"
report="$(sed -n 's/^report: //p' "$prefix/run.log" | tail -n 1)"
if [ ! -f "$report" ]; then
	echo "report-screenshot: the pipeline did not print where its report is" >&2
	exit 1
fi

# A tall window holds the whole page; the white space below it is trimmed afterwards.
raw="$prefix/raw.png"
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
	--window-size=1280,2400 --screenshot="$raw" "file://$report" 2>"$prefix/chromium.log" ||
	{ cat "$prefix/chromium.log" >&2; exit 1; }
go run ./scripts/pngshrink -margin 16 "$raw" "$out"
echo "wrote $out ($(wc -c <"$out") bytes)"
