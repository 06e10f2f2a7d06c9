#!/usr/bin/env bash
# fuzz-one.sh PKG TARGET FUZZTIME: fuzzes one target (scripts/test.sh and
# scripts/fuzz-long.sh run every target through it) and prints its last
# line, or, when it fails, its whole output and exits 1.
#
# Go's fuzzing coordinator sometimes ends a run that found nothing with
# "context deadline exceeded" when the time is up while a worker is still
# busy with an input; such a run, with no failing input written, is run once
# more. A real failure writes its input to the package's testdata/fuzz and
# fails at once.
set -uo pipefail
(($# == 3)) || { echo "usage: fuzz-one.sh PKG TARGET FUZZTIME" >&2; exit 2; }
pkg=$1 target=$2 fuzztime=$3
log=$(mktemp "${TMPDIR:-/tmp}/cgiref-fuzz.XXXXXX")
trap 'rm -f "$log"' EXIT

run() {
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" </dev/null >"$log" 2>&1
}

if ! run; then
	if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
		echo "   the fuzzing coordinator timed out at the end of the run; running it again"
		run || { cat "$log"; exit 1; }
	else
		cat "$log"
		exit 1
	fi
fi
tail -1 "$log"
