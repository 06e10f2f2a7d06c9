#!/usr/bin/env bash
# profile.sh: CPU and allocation profiles of the Go backends under nginx load,
# as scripts/bench/PROFILE.md reports them.
#
# Usage: scripts/profile.sh [DIR]
#
# It runs scripts/bench.sh once (one round) for nginx proxy_pass -> net/http
# and cgiref's FastCGI (keep-alive and not) and SCGI backends, with
# BENCH_PROFILE=DIR (default: a new temporary directory): each backend
# writes DIR/CONFIG.pprof (CPU) and DIR/CONFIG.mem.pprof (allocations), and
# the binaries are copied next to them, so that
#
#	go tool pprof -http=: DIR/cgireffcgi DIR/cgiref-fcgi-ka.pprof
#
# opens one later. bench.sh prints the flat and cumulative top 25 of each
# profile and the allocations per request; this script then prints the
# share of the CPU profile that goes to each cost that scripts/bench/PROFILE.md
# discusses (a pprof -focus on the functions named below).
#
# Environment: PROFILE_ONLY, an extended regexp of configurations (default
# the four above); BENCH_DURATION (default 10s), BENCH_MEMPROFILERATE
# (default 524288, the runtime's: finer sampling costs CPU that then shows in
# the CPU profile) and the rest of bench.sh's variables.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-}
if [[ -z $dir ]]; then
	dir=$(mktemp -d "${TMPDIR:-/tmp}/cgiref-profile.XXXXXX")
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
only=${PROFILE_ONLY:-'^(nethttp-ka|cgiref-fcgi-ka|cgiref-fcgi|cgiref-scgi)$'}

BENCH_ONLY=$only BENCH_ROUNDS=1 BENCH_DURATION=${BENCH_DURATION:-10s} BENCH_PROFILE=$dir \
	"$root/scripts/bench.sh"

# The costs, as pprof -focus regexps over the CPU profile's stacks. A sample
# counts in every cost whose function is on its stack, so shares overlap
# (syscalls happen inside the others).
costs=(
	"syscalls (read, write, accept, close, shutdown, epoll)|^(internal/runtime/syscall/linux\.Syscall6|syscall\.Syscall.*|syscall\.RawSyscall.*|internal/runtime/syscall\.Syscall6)$"
	"  reads on the connection (FD.Read)|^internal/poll\.\(\*FD\)\.Read$"
	"  writes on the connection (FD.Write)|^internal/poll\.\(\*FD\)\.Write$"
	"  accepting connections (FD.Accept)|^internal/poll\.\(\*FD\)\.Accept$"
	"  closing connections (FD.Close, Shutdown)|^internal/poll\.\(\*FD\)\.(Close|Shutdown)$"
	"scheduler (findRunnable, park, futex, wake-ups)|^runtime\.(findRunnable|park_m|schedule|futex|wakep|notewakeup|notesleep|stopm|startm)$"
	"goroutine creation (runtime.newproc)|^runtime\.newproc$"
	"goroutine stack growth (runtime.newstack)|^runtime\.newstack$"
	"allocation (mallocgc)|^runtime\.mallocgc$"
	"  of which allocation profiling (profilealloc)|^runtime\.profilealloc$"
	"garbage collection (gcBgMarkWorker, gcAssist, sweep)|^runtime\.(gcBgMarkWorker|gcAssistAlloc|bgsweep|sweepone|gcDrain.*)$"
	"connection set-up (fcgi.newConn, scgi newConn)|^github\.com/cgiref/cgiref/(fcgi\.newConn|scgi\.\(\*Server\)\.newConn)$"
	"  slog logger per connection (Logger.With)|^log/slog\.\(\*Logger\)\.With$"
	"SCGI per-request log writer and peer address (NewLogWriter, remote)|^github\.com/cgiref/cgiref/(gateway\.NewLogWriter|scgi\.\(\*conn\)\.remote)$"
	"FastCGI PARAMS -> environ map (decodeParams)|^github\.com/cgiref/cgiref/fcgi\.decodeParams$"
	"SCGI header -> environ map (readHeader)|^github\.com/cgiref/cgiref/scgi\.readHeader$"
	"environ -> *http.Request (environ.NewRequest, NewRequestWithContext)|^github\.com/cgiref/cgiref/environ\.NewRequest(WithContext)?$"
	"request context (context.WithCancelCause, WithValue, cancel)|^context\.(WithCancelCause|WithValue|WithCancel|\(\*cancelCtx\)\.cancel|withCancel)$"
	"gateway.Handler.Run (the core, app included)|^github\.com/cgiref/cgiref/gateway\.\(\*Handler\)\.Run$"
	"the app (hello.Handler)|^github\.com/cgiref/cgiref/scripts/bench/internal/hello\.Handler$"
	"FastCGI background read of an inline request (fcgi conn.backgroundRead)|^github\.com/cgiref/cgiref/fcgi\.\(\*conn\)\.backgroundRead$"
	"SCGI close watcher goroutine (scgi conn.watch.func1)|^github\.com/cgiref/cgiref/scgi\.\(\*conn\)\.watch\.func1$"
	"net/http: reading and parsing the request|^net/http\.\(\*conn\)\.readRequest$"
	"net/http: the handler call (serverHandler.ServeHTTP)|^net/http\.serverHandler\.ServeHTTP$"
)

echo
echo "== shares of each CPU profile (a sample counts once per cost on its stack) =="
for f in "$dir"/*.pprof; do
	[[ $f == *.mem.pprof ]] && continue
	name=$(basename "$f" .pprof)
	bin=
	case $name in
	nethttp*) bin=$dir/nethttp ;;
	cgiref-fcgi*) bin=$dir/cgireffcgi ;;
	cgiref-scgi*) bin=$dir/cgirefscgi ;;
	stdlib-fcgi*) bin=$dir/stdfcgi ;;
	esac
	[[ -x $bin ]] || continue
	echo
	echo "-- $name --"
	for c in "${costs[@]}"; do
		label=${c%%|*}
		re=${c#*|}
		share=$(go tool pprof -top -nodecount=1000000 -focus="$re" "$bin" "$f" 2>/dev/null |
			awk '/ total$/ {gsub(/%/, "", $(NF - 3)); print $(NF - 3)}')
		[[ -n $share && $share != 0 ]] && printf '%6s%%  %s\n' "$share" "$label"
	done
done
echo
echo "profiles and binaries in $dir"
