#!/usr/bin/env bash
# fuzz-long.sh runs every fuzz target (scripts/fuzz-targets.sh) for
# FUZZ_LONG_TIME each, default 10m: about two hours and twenty minutes for the
# 14 targets of today. It is not part of scripts/test.sh (which fuzzes each
# target for a few seconds); run it before a release or after changing a
# parser. It stops at the first failure and prints the failing input, which
# go test keeps under the package's testdata/fuzz/ as a regression case.
#
#   scripts/fuzz-long.sh                   every target, 10 minutes each
#   FUZZ_LONG_TIME=2m scripts/fuzz-long.sh
#   scripts/fuzz-long.sh FuzzParams        only targets matching a regexp
set -euo pipefail
cd "$(dirname "$0")/.."

TIME=${FUZZ_LONG_TIME:-10m}
only=${1:-}

targets=$(scripts/fuzz-targets.sh)
[[ -z $only ]] || targets=$(grep -E " ($only)\$" <<<"$targets" || true)
[[ -n $targets ]] || { echo "fuzz-long.sh: no target matches $only" >&2; exit 2; }
echo "fuzz-long.sh: $(wc -l <<<"$targets") targets, $TIME each"
while read -r pkg target; do
	echo "-- $(date +%T) $pkg $target"
	if ! scripts/fuzz-one.sh "$pkg" "$target" "$TIME"; then
		echo "fuzz-long.sh: FAIL $pkg $target" >&2
		exit 1
	fi
done <<<"$targets"
echo "fuzz-long.sh: every target passed"
