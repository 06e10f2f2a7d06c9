#!/usr/bin/env bash
# The project's test command (README): formatting, vet for linux and
# windows, staticcheck, the race-enabled test suite, a short run of every
# fuzz target, and the real-web-server integration tests. It installs what
# it needs and fails loudly when something is missing.
#
# Fuzzing: every parser of untrusted bytes has a target (FastCGI records,
# params and connections, the SCGI header, environ.NewRequest and the TLS
# variables, header fields, the validator, latin-1 text, the files app's
# paths, cgiref call's SCGI and FastCGI answers: scripts/fuzz-targets.sh lists
# them). Each runs FUZZTIME (default 8s): 14 targets, 112 s of fuzzing in
# all, the total printed when the step starts. FUZZTIME=30s scripts/test.sh
# fuzzes longer; scripts/fuzz-long.sh runs every target for 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2   # staticcheck 2026.1.x, through the Go module proxy
FUZZTIME=${FUZZTIME:-8s}   # per fuzz target; any -fuzztime value

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || fail "go is not installed"
go version

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || fail "not gofmt-formatted: $unformatted"

step "go mod tidy"
go mod tidy -diff || fail "go.mod or go.sum is not tidy: run go mod tidy"

step "go vet (linux)"
go vet ./...
step "go vet and build (windows)"
GOOS=windows go vet ./...
GOOS=windows go build ./...

step "staticcheck $STATICCHECK_VERSION"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...

step "go test -race"
go test -race -count=1 ./...

targets=$(scripts/fuzz-targets.sh)
ntargets=$(wc -l <<<"$targets")
if [[ $FUZZTIME =~ ^([0-9]+)s$ ]]; then
	step "fuzz targets: $ntargets targets, $FUZZTIME each, $((ntargets * BASH_REMATCH[1])) s in all"
else
	step "fuzz targets: $ntargets targets, $FUZZTIME each"
fi
# scripts/fuzz-one.sh runs each target (and runs a target again when Go's
# fuzzing coordinator times out at the end of a run that found nothing).
while read -r pkg target; do
	echo "-- $pkg $target"
	scripts/fuzz-one.sh "$pkg" "$target" "$FUZZTIME" || fail "fuzz $pkg $target"
done <<<"$targets"

step "Windows tests under Wine"
scripts/wine.sh

step "integration with real web servers"
[ -x scripts/integration.sh ] || fail "scripts/integration.sh is missing"
scripts/integration.sh

echo
echo "scripts/test.sh: all checks passed"
