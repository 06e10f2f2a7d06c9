#!/usr/bin/env bash
# fuzz-targets.sh prints every fuzz target of the module, one "PACKAGE TARGET"
# a line: the functions named Fuzz* at the start of a line in a package's
# _test.go files. scripts/test.sh and scripts/fuzz-long.sh run them.
set -euo pipefail
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "$pkg $target"
	done
done
