#!/usr/bin/env bash
# Runs every package's tests as Windows binaries under Wine: cross-compiles
# them (GOOS=windows GOARCH=amd64 go test -c) and runs each in its own
# network namespace (a private loopback), with code page 1252 (LANG=C.UTF-8),
# and the transcode tests again with code page 932 (LANG=ja_JP.UTF-8).
#
# It installs what it needs with apt-get when missing (Debian's wine and
# wine64 8.0, the MinGW-w64 cross compiler, locales) and keeps a Wine prefix
# in a cache folder ($CGIREF_WINE_CACHE, default ~/.cache/cgiref-wine).
# Debian's Wine 8 lacks bcryptprimitives.dll!ProcessPrng, which Go 1.24+
# calls at start-up: scripts/wine/processprng.c is built into a small
# bcryptprimitives.dll that the prefix loads instead of Wine's own.
#
# Usage: scripts/wine.sh [package ...]   (default: ./...)
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "scripts/wine.sh needs root (apt-get, unshare -n)"

# apt_install installs Debian packages, waiting while another dpkg run holds
# the lock.
apt_install() {
	for try in $(seq 1 60); do
		if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/tmp/cgiref-wine-apt.log 2>&1; then
			return 0
		fi
		if grep -q 'Could not get lock\|Unable to acquire the dpkg' /tmp/cgiref-wine-apt.log; then
			sleep 10
			continue
		fi
		if [ "$try" = 1 ] && grep -q 'Unable to locate package\|has no installation candidate' /tmp/cgiref-wine-apt.log; then
			apt-get update >/dev/null
			continue
		fi
		cat /tmp/cgiref-wine-apt.log >&2
		return 1
	done
	fail "dpkg stayed locked"
}

WINE64=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
MINGW=x86_64-w64-mingw32-gcc
need=()
[ -x "$WINE64" ] || need+=(wine wine64)
command -v "$MINGW" >/dev/null || need+=(gcc-mingw-w64-x86-64-win32)
command -v locale-gen >/dev/null || need+=(locales)
command -v unshare >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}"
	apt_install "${need[@]}" || fail "apt-get install ${need[*]}"
fi
[ -x "$WINE64" ] || WINE64=$(command -v wine64 || command -v wine) || fail "wine64 is missing"
[ -x "$WINESERVER" ] || WINESERVER=$(command -v wineserver) || fail "wineserver is missing"

# Code page 932 needs the ja_JP.UTF-8 locale.
if ! locale -a 2>/dev/null | grep -qi '^ja_JP\.utf-\?8$'; then
	echo "generating the ja_JP.UTF-8 locale"
	grep -q '^ja_JP.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null || echo 'ja_JP.UTF-8 UTF-8' >>/etc/locale.gen
	locale-gen >/dev/null || fail "locale-gen ja_JP.UTF-8"
fi

cache=${CGIREF_WINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cgiref-wine}
mkdir -p "$cache"
export WINEPREFIX=$cache/prefix WINEARCH=win64 WINEDEBUG=-all
# bcryptprimitives: ours; mscoree, mshtml: no Mono or Gecko prompts.
export WINEDLLOVERRIDES='bcryptprimitives=n;mscoree,mshtml='

dll=$cache/bcryptprimitives.dll
if [ ! -f "$dll" ] || [ scripts/wine/processprng.c -nt "$dll" ] || [ scripts/wine/processprng.def -nt "$dll" ]; then
	"$MINGW" -shared -O2 -o "$dll" scripts/wine/processprng.c scripts/wine/processprng.def -lbcrypt ||
		fail "building bcryptprimitives.dll"
fi
if [ ! -f "$WINEPREFIX/system.reg" ]; then
	echo "creating the Wine prefix $WINEPREFIX"
	LANG=C.UTF-8 "$WINE64" wineboot -i >"$cache/wineboot.log" 2>&1 || { cat "$cache/wineboot.log"; fail "wineboot"; }
	"$WINESERVER" -w
fi
cp "$dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"

bin=$(mktemp -d /tmp/cgiref-wine.XXXXXX)
trap 'rm -rf "$bin"' EXIT
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

# run_one runs one test binary in its own network namespace, with its own
# wineserver (Wine's sockets live in the wineserver's namespace), from the
# package's folder as go test does.
run_one() { # name exe dir lang [extra env]
	local name=$1 exe=$2 dir=$3 lang=$4
	shift 4
	local start=$SECONDS rc=0 log
	log=$bin/$(echo "$name" | tr / _)-$lang.log
	(cd "$dir" && env LANG="$lang" LC_ALL="$lang" "$@" unshare -n sh -c '
		ip link set lo up || exit 97
		"$0" -p0
		timeout 600 "$1" "$2" -test.count=1 -test.timeout=540s -test.v
		rc=$?
		"$0" -w
		exit $rc' "$WINESERVER" "$WINE64" "$exe") >"$log" 2>&1 || rc=$?
	printf '%-40s %-12s %4ss  %s\n' "$name" "$lang" "$((SECONDS - start))" "$([ $rc = 0 ] && echo ok || echo "FAIL ($rc)")"
	if [ $rc != 0 ]; then
		grep -v '^=== \(RUN\|PAUSE\|CONT\|NAME\)\|^ *--- PASS' "$log" | sed 's/^/    /' 
		return 1
	fi
	grep -o 'Wine 8 artifact: [^;:]*' "$log" | sort | uniq -c | sed 's/^/    tolerated:/' || true
}

failed=0
start=$SECONDS
for pkg in $(go list "${pkgs[@]}"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	has_tests=$(GOOS=windows go list -f '{{if or .TestGoFiles .XTestGoFiles}}yes{{end}}' "$pkg")
	[ "$has_tests" = yes ] || continue
	name=${pkg#github.com/cgiref/cgiref/}
	exe=$bin/$(echo "$name" | tr / _).test.exe
	GOOS=windows GOARCH=amd64 go test -c -o "$exe" "$pkg" || { echo "FAIL: building $pkg"; failed=1; continue; }
	run_one "$name" "$exe" "$dir" C.UTF-8 CGIREF_TEST_ACP=1252 || failed=1
	if [ "$name" = transcode ]; then
		run_one "$name" "$exe" "$dir" ja_JP.UTF-8 CGIREF_TEST_ACP=932 || failed=1
	fi
done
echo "wine: $((SECONDS - start))s"
[ $failed = 0 ] || fail "tests under Wine"
echo "scripts/wine.sh: all packages passed under Wine"
