#!/usr/bin/env bash
# bench.sh: throughput of cgiref's FastCGI and SCGI front ends behind nginx,
# side by side with nginx proxy_pass in front of net/http.Server (the
# alternative to a gateway protocol), the standard library's net/http/fcgi, a
# C responder on libfcgi, and nginx answering by itself (the ceiling). wrk drives every
# configuration in the same run, against the same hello-world handler
# (scripts/bench/internal/hello), and the script prints requests/s and the
# ratios between them.
#
# Configurations (nginx in front of each; client -> nginx over HTTP/1.1 with
# keep-alive):
#   nginx-return     nginx `return 200 "Hello world!\n"`: the ceiling
#   nethttp-ka       net/http.Server,      proxy_pass, HTTP/1.1, upstream keepalive 64
#   cgiref-fcgi-ka   cgiref fcgi.Serve,    upstream keepalive 64, fastcgi_keep_conn on
#   stdlib-fcgi-ka   net/http/fcgi.Serve,  upstream keepalive 64, fastcgi_keep_conn on
#   cgiref-fcgi      cgiref fcgi.Serve,    plain fastcgi_pass (a connection per request)
#   stdlib-fcgi      net/http/fcgi.Serve,  plain fastcgi_pass
#   libfcgi          C, FCGX_Accept_r loop (one connection at a time), plain fastcgi_pass
#   cgiref-scgi      cgiref scgi.Serve,    scgi_pass (SCGI has a connection per request)
#   gofloor-ka       Go, a fixed FastCGI answer per request (scripts/bench/gofloor),
#                    upstream keepalive 64, fastcgi_keep_conn on
#   gofloor          the same, plain fastcgi_pass (a connection per request)
#                    The two gofloor rows are a calibration, not a rival: what a
#                    request costs a Go FastCGI backend before it does any work.
#
# Method, and why:
#   - Everything listens on 127.0.0.1, on ports found free at start.
#   - nginx runs with worker_processes 1 (daemon off, access_log off): the
#     machine this was written for has 2 cores shared by wrk, nginx and the
#     backend, and one worker keeps nginx's share the same in every
#     configuration, the ceiling included. Keep-alive request limits are
#     raised so that neither side recycles connections mid-run.
#   - The Go backends run with the default GOMAXPROCS (the number of usable
#     cores): that is what a deployment gets, and net/http/fcgi and cgiref
#     are treated alike. GOMAXPROCS is removed from their environment.
#     They listen without TCP keep-alive probes on accepted connections, as
#     cmd/cgiref does (the probes cost four setsockopt calls per connection).
#   - Only one backend runs at a time: each configuration starts its own
#     backend process, checks with curl that the answer is exactly
#     "Hello world!\n" with status 200 (the run fails otherwise), warms up,
#     measures, then stops the backend.
#   - wrk is bounded by -d (and by timeout(1) as a safeguard); its socket
#     errors and non-2xx answers are printed next to the rate.
#   - Next to requests/s the table shows the CPU time (user + system, all
#     threads, from /proc) that the answering process spent per request: the
#     backend, or nginx's worker for the ceiling. It does not count nginx
#     or wrk, and it is much less sensitive than requests/s to other load on
#     the machine; the load average is printed with the results for that
#     reason. nginx's worker's CPU per request is shown next to it.
#   - With BENCH_ROUNDS > 1 the configurations run interleaved, round after
#     round, and the table shows the median rate (and median CPU).
#   - BENCH_PIN="0 1" pins nginx and wrk to CPU 0 and each backend to CPU 1
#     (taskset), so that the scheduler no longer moves the three across the
#     cores: the backends' CPU per request then moves by about 5% between
#     rounds instead of 15%, which is what comparing backends needs. The
#     backends' GOMAXPROCS follows their one CPU, as a deployment pinned the
#     same way gets. Requests/s then measure nginx and wrk on one core: the
#     ceiling (nginx return) has one core instead of two, so the ratios to
#     it are not those of an unpinned run.
#   - The ratios printed are those of the performance goals: cgiref fcgi
#     with keep-alive against proxy_pass to net/http and against the
#     ceiling, cgiref fcgi without keep-alive against libfcgi, cgiref scgi
#     against cgiref fcgi without keep-alive, and each cgiref backend's CPU
#     per request against net/http.Server's.
#
# Environment:
#   BENCH_DURATION  wrk duration per measurement (N, Ns, Nm or Nh) default 8s
#   BENCH_CONNS     wrk connections                              default 32
#   BENCH_THREADS   wrk threads                                  default 1
#   BENCH_WARMUP    wrk warm-up before each measurement, 0: none default 2s
#   BENCH_ROUNDS    measurements per configuration (median)      default 5
#   BENCH_UPSTREAM_KEEPALIVE  idle connections nginx keeps per
#                   keep-alive upstream                          default 64
#   BENCH_ONLY      extended regexp: run only matching configurations
#   BENCH_PROFILE   a directory: the Go backends write CPU profiles there
#                   (CONFIG.pprof, last round) and allocation profiles
#                   (CONFIG.mem.pprof), and the script prints
#                   `go tool pprof -top` for each. Profiling costs a few
#                   percent of throughput. scripts/profile.sh wraps this.
#   BENCH_MEMPROFILERATE  with BENCH_PROFILE: bytes per allocation sample
#                   (runtime.MemProfileRate; lower rates cost CPU that
#                   shows in the CPU profile)            default 524288
#   BENCH_PIN       "FRONT BACK": CPU lists (taskset -c) for nginx and wrk,
#                   and for the backends, e.g. "0 1": each backend
#                   then has cores of its own (and GOMAXPROCS as many),
#                   which steadies its CPU per request       default: none
#   NGINX           the nginx binary                             default: from PATH or /usr/sbin
#
# Missing tools (nginx, wrk, gcc, curl, libfcgi-dev) are installed with
# apt-get; Go must already be installed.
set -euo pipefail

DURATION=${BENCH_DURATION:-8s}
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-1}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-5}
UPSTREAM_KA=${BENCH_UPSTREAM_KEEPALIVE:-64}
MEMRATE=${BENCH_MEMPROFILERATE:-524288}
ONLY=${BENCH_ONLY:-}
PROFILE=${BENCH_PROFILE:-}
PIN=${BENCH_PIN:-}

root=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "bench.sh: $*" >&2
	exit 1
}

# seconds DURATION: the wrk duration in whole seconds.
seconds() {
	[[ $1 =~ ^[0-9]+[smh]?$ ]] || die "bad duration $1 (want N, Ns, Nm or Nh)"
	case $1 in
	*h) echo $((10#${1%h} * 3600)) ;;
	*m) echo $((10#${1%m} * 60)) ;;
	*s) echo $((10#${1%s})) ;;
	*) echo $((10#$1)) ;;
	esac
}
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNS must be a positive integer"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "BENCH_THREADS must be a positive integer"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
[[ $UPSTREAM_KA =~ ^[1-9][0-9]*$ ]] || die "BENCH_UPSTREAM_KEEPALIVE must be a positive integer"
[[ $MEMRATE =~ ^[1-9][0-9]*$ ]] || die "BENCH_MEMPROFILERATE must be a positive integer"
((THREADS <= CONNS)) || die "BENCH_THREADS must not exceed BENCH_CONNS"
dur_s=$(seconds "$DURATION")
warm_s=$(seconds "$WARMUP")
((dur_s > 0)) || die "BENCH_DURATION must be positive"
if [[ -n $PROFILE ]]; then
	mkdir -p "$PROFILE" || die "cannot create BENCH_PROFILE=$PROFILE"
	PROFILE=$(cd "$PROFILE" && pwd)
fi

front_run=() back_run=()
if [[ -n $PIN ]]; then
	read -r pin_front pin_back extra <<<"$PIN"
	[[ -n $pin_back && -z $extra ]] || die "BENCH_PIN must be two CPU lists, such as \"0 1\""
	command -v taskset >/dev/null || die "BENCH_PIN needs taskset (util-linux)"
	for cpus in "$pin_front" "$pin_back"; do
		taskset -c "$cpus" true 2>/dev/null || die "BENCH_PIN: taskset refuses the CPU list $cpus"
	done
	front_run=(taskset -c "$pin_front") back_run=(taskset -c "$pin_back")
fi

# --- tools -------------------------------------------------------------------

install_missing() {
	local pkgs=() sudo=
	command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || pkgs+=(nginx)
	command -v wrk >/dev/null || pkgs+=(wrk)
	command -v gcc >/dev/null || pkgs+=(gcc)
	command -v curl >/dev/null || pkgs+=(curl)
	dpkg -s libfcgi-dev >/dev/null 2>&1 || [[ -e /usr/include/fcgiapp.h ]] || pkgs+=(libfcgi-dev)
	((${#pkgs[@]})) || return 0
	command -v apt-get >/dev/null || die "missing ${pkgs[*]} and no apt-get to install them"
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "missing ${pkgs[*]}: run as root or install sudo"
		sudo=sudo
	fi
	echo "installing ${pkgs[*]}" >&2
	$sudo apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
}
install_missing
command -v go >/dev/null || die "go is required"
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[[ -x $NGINX ]] || die "no nginx at $NGINX"

# --- processes -----------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgiref-bench.XXXXXX")
pids=()

# stop PID: SIGTERM, then SIGKILL after 5 s; reaps it and forgets it, so that
# cleanup never signals a reused PID.
stop() {
	local pid=$1 i p rest=()
	for p in "${pids[@]}"; do
		[[ $p == "$pid" ]] || rest+=("$p")
	done
	pids=("${rest[@]}")
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		stop "$pid"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port: sets REPLY to a TCP port on 127.0.0.1 that no socket uses and
# that this script has not handed out yet. Ports come from outside the
# kernel's ephemeral range, so that no outgoing connection takes one between
# this check and the bind.
read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
if ((eph_lo > 12000)); then
	port_lo=10000 port_n=$((eph_lo - 10000))
else
	port_lo=$((eph_hi + 1)) port_n=$((65535 - eph_hi))
fi
((port_n >= 100)) || die "no room outside the ephemeral port range $eph_lo-$eph_hi"
taken=" "
free_port() {
	local i p
	for ((i = 0; i < 500; i++)); do
		p=$((port_lo + (RANDOM * 32768 + RANDOM) % port_n))
		[[ $taken == *" $p "* ]] && continue
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		if command -v ss >/dev/null && [[ -n $(ss -Htan "( sport = :$p )") ]]; then
			continue
		fi
		taken+="$p "
		REPLY=$p
		return 0
	done
	die "no free port found"
}

# wait_port PORT PID: until something listens on PORT (10 s at most) while PID lives.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || die "process $2 exited before listening on port $1"
		sleep 0.1
	done
	die "nothing listens on port $1 after 10 s"
}

# --- configurations ----------------------------------------------------------------

# name | backend | nginx location body (@B@: the backend's port) | description
configs=(
	"nginx-return||return 200 \"Hello world!\\n\";|nginx return (ceiling)"
	"nethttp-ka|nethttp|proxy_pass http://up_@NAME@; proxy_http_version 1.1; proxy_set_header Connection \"\";|nginx -> net/http, proxy_pass keepalive"
	"cgiref-fcgi-ka|cgireffcgi|fastcgi_pass up_@NAME@; fastcgi_keep_conn on; include fastcgi.params;|nginx -> cgiref fcgi, keepalive"
	"stdlib-fcgi-ka|stdfcgi|fastcgi_pass up_@NAME@; fastcgi_keep_conn on; include fastcgi.params;|nginx -> net/http/fcgi, keepalive"
	"cgiref-fcgi|cgireffcgi|fastcgi_pass 127.0.0.1:@B@; include fastcgi.params;|nginx -> cgiref fcgi, no keepalive"
	"stdlib-fcgi|stdfcgi|fastcgi_pass 127.0.0.1:@B@; include fastcgi.params;|nginx -> net/http/fcgi, no keepalive"
	"libfcgi|libfcgi|fastcgi_pass 127.0.0.1:@B@; include fastcgi.params;|nginx -> libfcgi C, no keepalive"
	"cgiref-scgi|cgirefscgi|scgi_pass 127.0.0.1:@B@; include scgi.params;|nginx -> cgiref scgi"
	"gofloor-ka|gofloor|fastcgi_pass up_@NAME@; fastcgi_keep_conn on; include fastcgi.params;|nginx -> Go floor (fixed answer), ka"
	"gofloor|gofloor|fastcgi_pass 127.0.0.1:@B@; include fastcgi.params;|nginx -> Go floor (fixed answer), no ka"
)

names=()
declare -A backend location desc front_port back_port
for c in "${configs[@]}"; do
	IFS='|' read -r name be loc text <<<"$c"
	if [[ -n $ONLY ]] && ! [[ $name =~ $ONLY ]]; then
		continue
	fi
	names+=("$name")
	backend[$name]=$be
	desc[$name]=$text
	free_port
	front_port[$name]=$REPLY
	if [[ -n $be ]]; then
		free_port
		back_port[$name]=$REPLY
	fi
	loc=${loc//@B@/${back_port[$name]:-}}
	location[$name]=${loc//@NAME@/${name//-/_}}
done
((${#names[@]})) || die "BENCH_ONLY=$ONLY matches no configuration"

# --- build -------------------------------------------------------------------------

mkdir -p "$tmp/bin" "$tmp/nginx" "$tmp/out"
declare -A built
for name in "${names[@]}"; do
	be=${backend[$name]}
	[[ -z $be || -n ${built[$be]:-} ]] && continue
	built[$be]=1
	if [[ $be == libfcgi ]]; then
		gcc -O2 -Wall -Wextra -o "$tmp/bin/libfcgi" "$root/scripts/bench/libfcgi/hello.c" -lfcgi ||
			die "building the libfcgi responder failed"
	else
		(cd "$root" && go build -o "$tmp/bin/$be" "./scripts/bench/$be") || die "building $be failed"
	fi
done

# --- nginx -------------------------------------------------------------------------

# The CGI variables nginx sends, the same to every backend. nginx puts
# CONTENT_LENGTH first in SCGI requests by itself.
params=(
	"QUERY_STRING \$query_string"
	"REQUEST_METHOD \$request_method"
	"CONTENT_TYPE \$content_type"
	"SCRIPT_NAME \"\""
	"PATH_INFO \$uri"
	"REQUEST_URI \$request_uri"
	"DOCUMENT_URI \$document_uri"
	"DOCUMENT_ROOT \$document_root"
	"SERVER_PROTOCOL \$server_protocol"
	"REQUEST_SCHEME \$scheme"
	"HTTPS \$https if_not_empty"
	"GATEWAY_INTERFACE CGI/1.1"
	"SERVER_SOFTWARE nginx/\$nginx_version"
	"REMOTE_ADDR \$remote_addr"
	"REMOTE_PORT \$remote_port"
	"SERVER_ADDR \$server_addr"
	"SERVER_PORT \$server_port"
	"SERVER_NAME \$server_name"
)
{
	echo "fastcgi_param CONTENT_LENGTH \$content_length;"
	for p in "${params[@]}"; do echo "fastcgi_param $p;"; done
} >"$tmp/nginx/fastcgi.params"
{
	echo "scgi_param SCGI 1;"
	for p in "${params[@]}"; do echo "scgi_param $p;"; done
} >"$tmp/nginx/scgi.params"

{
	cat <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path $tmp/nginx/client_body;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    scgi_temp_path $tmp/nginx/scgi;
    proxy_temp_path $tmp/nginx/proxy;
    uwsgi_temp_path $tmp/nginx/uwsgi;
EOF
	for name in "${names[@]}"; do
		if [[ $name == *-ka ]]; then
			cat <<EOF
    upstream up_${name//-/_} {
        server 127.0.0.1:${back_port[$name]};
        keepalive $UPSTREAM_KA;
        keepalive_requests 100000000;
    }
EOF
		fi
	done
	for name in "${names[@]}"; do
		cat <<EOF
    server {  # $name
        listen 127.0.0.1:${front_port[$name]};
        location / { ${location[$name]} }
    }
EOF
	done
	echo "}"
} >"$tmp/nginx/nginx.conf"

# -e (nginx 1.19.5 and later) keeps even the start-up messages out of
# /var/log/nginx.
nginx_args=(-p "$tmp/nginx" -c "$tmp/nginx/nginx.conf")
nginx_help=$("$NGINX" -h 2>&1) || true
if [[ $nginx_help == *"-e filename"* ]]; then
	nginx_args+=(-e "$tmp/nginx/error.log")
fi
"$NGINX" -t -q "${nginx_args[@]}" ||
	die "nginx rejects the configuration $tmp/nginx/nginx.conf"
"${front_run[@]}" "$NGINX" "${nginx_args[@]}" &
nginx_pid=$!
pids+=("$nginx_pid")
for name in "${names[@]}"; do
	wait_port "${front_port[$name]}" "$nginx_pid"
done

# --- measuring -------------------------------------------------------------------

# start_backend NAME ROUND: starts NAME's backend; sets REPLY to its PID.
start_backend() {
	local name=$1 round=$2 be=${backend[$1]} port=${back_port[$1]} args=()
	if [[ $be == libfcgi ]]; then
		args=("127.0.0.1:$port")
	else
		args=(-listen "127.0.0.1:$port")
		if [[ -n $PROFILE && $round -eq $ROUNDS ]]; then
			args+=(-cpuprofile "$PROFILE/$name.pprof" -memprofile "$PROFILE/$name.mem.pprof" -memprofilerate "$MEMRATE")
		fi
	fi
	"${back_run[@]}" env -u GOMAXPROCS "$tmp/bin/$be" "${args[@]}" 2>"$tmp/out/$name.$round.stderr" &
	REPLY=$!
	pids+=("$REPLY")
	wait_port "$port" "$REPLY"
}

# check NAME: the answer through nginx must be 200 "Hello world!\n".
check() {
	local url="http://127.0.0.1:${front_port[$1]}/" out status body
	out=$(curl -sS --max-time 5 -o "$tmp/out/body" -w '%{http_code}' "$url") ||
		die "$1: curl $url failed"
	status=$out
	body=$(
		cat "$tmp/out/body"
		echo x
	)
	body=${body%x}
	if [[ $status != 200 || $body != $'Hello world!\n' ]]; then
		echo "$1: $url answered status $status, body:" >&2
		od -c "$tmp/out/body" | head -5 >&2
		tail -5 "$tmp/nginx/error.log" "$tmp/out/$1".*.stderr 2>/dev/null >&2 || true
		die "$1: the backend does not answer Hello world!"
	fi
}

# run_wrk NAME SECONDS OUTFILE. wrk runs in the background so that a signal
# reaches the traps at once instead of after wrk ends.
run_wrk() {
	local wpid rc=0
	"${front_run[@]}" timeout $(($2 + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${2}s" "http://127.0.0.1:${front_port[$1]}/" >"$3" 2>&1 &
	wpid=$!
	pids+=("$wpid")
	wait "$wpid" || rc=$?
	stop "$wpid"
	((rc == 0)) || die "$1: wrk failed (status $rc): $(cat "$3")"
}

# cpu_ticks PID: user + system CPU time of PID (all its threads), in clock ticks.
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || die "process $1 exited during the measurement"
	awk '{sub(/.*\) /, ""); print $12 + $13}' <<<"$stat"
}
hz=$(getconf CLK_TCK)

# nginx's worker (worker_processes 1): the process whose CPU per request
# nginx's own share is.
nginx_worker=
for ((i = 0; i < 50; i++)); do
	nginx_worker=$(awk '{print $1}' "/proc/$nginx_pid/task/$nginx_pid/children" 2>/dev/null) || true
	[[ -n $nginx_worker ]] && break
	sleep 0.1
done
[[ -n $nginx_worker ]] || die "nginx started no worker process"

# per_req TICKS REQUESTS: microseconds of CPU per request.
per_req() {
	awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN {printf "%.1f", n ? t / hz / n * 1e6 : 0}'
}

declare -A rates notes cpus ngcpus served
load_before=$(cut -d" " -f1-3 /proc/loadavg)
for ((round = 1; round <= ROUNDS; round++)); do
	for name in "${names[@]}"; do
		pid=
		if [[ -n ${backend[$name]} ]]; then
			start_backend "$name" "$round"
			pid=$REPLY
		fi
		check "$name"
		warm_n=0
		if ((warm_s > 0)); then
			run_wrk "$name" "$warm_s" "$tmp/out/warmup"
			warm_n=$(awk '/ requests in / {print $1}' "$tmp/out/warmup")
		fi
		out="$tmp/out/$name.$round.wrk"
		# The process serving the requests: the backend, or nginx's worker.
		cpid=${pid:-$nginx_worker}
		t0=$(cpu_ticks "$cpid")
		g0=$(cpu_ticks "$nginx_worker")
		run_wrk "$name" "$dur_s" "$out"
		t1=$(cpu_ticks "$cpid")
		g1=$(cpu_ticks "$nginx_worker")
		rate=$(awk '/^Requests\/sec:/ {print $2}' "$out")
		[[ -n $rate ]] || die "$name: no Requests/sec in the wrk output: $(cat "$out")"
		n=$(awk '/ requests in / {print $1}' "$out")
		# Every request this backend process answered (the check, the
		# warm-up and the measurement), for the allocation profile.
		served[$name]=$((1 + ${warm_n:-0} + ${n:-0}))
		rates[$name]+="$rate "
		cpu=$(per_req $((t1 - t0)) "$n")
		cpus[$name]+="$cpu "
		ngcpus[$name]+="$(per_req $((g1 - g0)) "$n") "
		note=$(grep -E '^ *(Socket errors|Non-2xx or 3xx responses):' "$out" | sed 's/^ *//' | paste -sd';' -) || true
		[[ -n $note ]] && notes[$name]+="round $round: $note; "
		echo "round $round/$ROUNDS  $(printf '%-15s %10s req/s %7s us CPU/req' "$name" "$rate" "$cpu")  ${note}" >&2
		if [[ -n $pid ]]; then
			stop "$pid"
			log="$tmp/out/$name.$round.stderr"
			if [[ -s $log ]]; then
				echo "  $name backend: $(wc -l <"$log") lines on stderr, the first 3:" >&2
				head -3 "$log" | sed 's/^/    /' >&2
			fi
		fi
	done
done

# --- report ------------------------------------------------------------------------

if [[ -s $tmp/nginx/error.log ]]; then
	echo "nginx error log: $(wc -l <"$tmp/nginx/error.log") lines at level warn or above, the first 5:" >&2
	head -5 "$tmp/nginx/error.log" | sed 's/^/    /' >&2
fi

# median FORMAT NUMBERS: the median of the space-separated NUMBERS, printed with FORMAT.
median() {
	tr ' ' '\n' <<<"$2" | grep . | sort -g | awk -v f="$1" '{v[NR] = $1} END {
		if (NR % 2) printf f, v[(NR + 1) / 2]; else printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A rps cpu_us ng_us
for name in "${names[@]}"; do
	rps[$name]=$(median %.0f "${rates[$name]}")
	cpu_us[$name]=$(median %.1f "${cpus[$name]}")
	ng_us[$name]=$(median %.1f "${ngcpus[$name]}")
done

echo
echo "cgiref benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(go version | awk '{print $3}'), $("$NGINX" -v 2>&1 | sed 's/.*: //'), wrk -t$THREADS -c$CONNS -d$DURATION (warm-up $WARMUP), rounds $ROUNDS (median), ${PIN:+pinned: nginx and wrk on CPU $pin_front, backends on CPU $pin_back, }load average before $load_before, after $(cut -d" " -f1-3 /proc/loadavg)"
echo
echo "CPU us/req: user+system CPU time of the process that answers (the backend; for nginx return, its worker) per request; less sensitive than requests/s to other load on the machine. nginx us/req: the same for nginx's worker."
echo
printf '| %-40s | %10s | %10s | %10s | %s | %s |\n' "configuration" "requests/s" "CPU us/req" "nginx us/req" "rounds (requests/s)" "wrk errors"
printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------------------------" "-----------:" "-----------:" "-------------:" "---" "---"
for name in "${names[@]}"; do
	printf '| %-40s | %10s | %10s | %12s | %s | %s |\n' "${desc[$name]}" "${rps[$name]}" "${cpu_us[$name]}" "${ng_us[$name]}" "${rates[$name]% }" "${notes[$name]:-none}"
done

# ratio LABEL A B GOAL: the requests/s of A over B, with the goal when there
# is one, and, when both have a backend, how many times less CPU per request
# A's backend uses than B's.
ratio() {
	local a=${rps[$2]:-} b=${rps[$3]:-} r verdict= eff=
	if [[ -z $a || -z $b || $b == 0 ]]; then
		printf '| %-46s | %7s | %-20s | %9s |\n' "$1" "n/a" "" ""
		return
	fi
	r=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')
	if [[ -n $4 && -n $PIN && $3 == nginx-return ]]; then
		verdict="pinned: not the goal" # the ceiling had one core, not two
	elif [[ -n $4 ]]; then
		verdict=$(awk -v r="$r" -v g="$4" 'BEGIN {print (r >= g) ? "meets" : "BELOW"}')
		verdict=">= $4: $verdict"
	fi
	if [[ -n ${backend[$2]} && -n ${backend[$3]} ]]; then
		eff=$(awk -v a="${cpu_us[$2]}" -v b="${cpu_us[$3]}" 'BEGIN {if (a > 0) printf "%.2fx", b / a}')
	fi
	printf '| %-46s | %7s | %-20s | %9s |\n' "$1" "${r}x" "$verdict" "$eff"
}
# cpu_ratio LABEL A B: the backend CPU per request of A over B's; the goal
# is below 1.
cpu_ratio() {
	local a=${cpu_us[$2]:-} b=${cpu_us[$3]:-} r verdict
	if [[ -z $a || -z $b || $b == 0.0 ]]; then
		printf '| %-46s | %7s | %-20s |\n' "$1" "n/a" ""
		return
	fi
	r=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')
	verdict=$(awk -v r="$r" 'BEGIN {print (r < 1) ? "meets" : "ABOVE"}')
	printf '| %-46s | %7s | %-20s |\n' "$1" "${r}x" "< 1: $verdict"
}
echo
echo "Goals (hello world, this run):"
echo
printf '| %-46s | %7s | %-20s | %9s |\n' "ratio of requests/s" "" "goal" "CPU/req B/A"
printf '|%s|%s|%s|%s|\n' "------------------------------------------------" "--------:" "----------------------" "----------:"
ratio "cgiref fcgi keepalive / net/http proxy_pass" cgiref-fcgi-ka nethttp-ka 1.15
ratio "cgiref fcgi keepalive / nginx return" cgiref-fcgi-ka nginx-return 0.40
ratio "cgiref fcgi / libfcgi, keepalive off" cgiref-fcgi libfcgi 1.3
ratio "cgiref scgi / cgiref fcgi keepalive off" cgiref-scgi cgiref-fcgi 1.1
echo
printf '| %-46s | %7s | %-20s |\n' "backend CPU per request" "" "goal"
printf '|%s|%s|%s|\n' "------------------------------------------------" "--------:" "----------------------"
cpu_ratio "cgiref fcgi keepalive / net/http proxy_pass" cgiref-fcgi-ka nethttp-ka
cpu_ratio "cgiref fcgi no keepalive / net/http proxy_pass" cgiref-fcgi nethttp-ka
cpu_ratio "cgiref scgi / net/http proxy_pass" cgiref-scgi nethttp-ka
echo
echo "Other ratios:"
echo
printf '| %-46s | %7s | %-20s | %9s |\n' "ratio of requests/s" "" "goal" "CPU/req B/A"
printf '|%s|%s|%s|%s|\n' "------------------------------------------------" "--------:" "----------------------" "----------:"
ratio "net/http proxy_pass / nginx return" nethttp-ka nginx-return ""
ratio "cgiref fcgi / net/http/fcgi, keepalive on" cgiref-fcgi-ka stdlib-fcgi-ka 1.5
ratio "cgiref fcgi / net/http/fcgi, keepalive off" cgiref-fcgi stdlib-fcgi 1.5
ratio "cgiref fcgi keepalive off / nginx return" cgiref-fcgi nginx-return ""
ratio "cgiref scgi / cgiref fcgi keepalive on" cgiref-scgi cgiref-fcgi-ka ""
ratio "cgiref scgi / nginx return" cgiref-scgi nginx-return ""
ratio "Go floor keepalive / net/http proxy_pass" gofloor-ka nethttp-ka ""
ratio "cgiref fcgi keepalive / Go floor keepalive" cgiref-fcgi-ka gofloor-ka ""
ratio "cgiref fcgi keepalive off / Go floor" cgiref-fcgi gofloor ""
ratio "libfcgi / Go floor" libfcgi gofloor ""

if [[ -n $PROFILE ]]; then
	for name in "${names[@]}"; do
		f="$PROFILE/$name.pprof"
		[[ -s $f ]] || continue
		cp "$tmp/bin/${backend[$name]}" "$PROFILE/${backend[$name]}"
		echo
		echo "== CPU profile of $name ($f), flat top 25 =="
		go tool pprof -top -nodecount=25 "$PROFILE/${backend[$name]}" "$f" 2>/dev/null
		echo "== cumulative top 25 =="
		go tool pprof -top -cum -nodecount=25 "$PROFILE/${backend[$name]}" "$f" 2>/dev/null
		m="$PROFILE/$name.mem.pprof"
		[[ -s $m ]] || continue
		echo
		echo "== allocation profile of $name ($m, $((${served[$name]})) requests served) =="
		# "Showing nodes accounting for X, P% of TOTAL total"
		nobj=$(go tool pprof -top -nodecount=1 -sample_index=alloc_objects "$PROFILE/${backend[$name]}" "$m" 2>/dev/null |
			awk '/ total$/ {print $(NF - 1)}')
		nbytes=$(go tool pprof -top -nodecount=1 -sample_index=alloc_space -unit=B "$PROFILE/${backend[$name]}" "$m" 2>/dev/null |
			awk '/ total$/ {v = $(NF - 1); sub(/B$/, "", v); print v}')
		awk -v o="$nobj" -v b="$nbytes" -v n="${served[$name]}" \
			'BEGIN {printf "about %.1f allocations and %.0f bytes per request (sampled estimate)\n", o / n, b / n}'
		echo "== allocated objects, flat top 25 =="
		go tool pprof -top -nodecount=25 -sample_index=alloc_objects "$PROFILE/${backend[$name]}" "$m" 2>/dev/null
		echo "== allocated objects, cumulative top 25 =="
		go tool pprof -top -cum -nodecount=25 -sample_index=alloc_objects "$PROFILE/${backend[$name]}" "$m" 2>/dev/null
		echo "== allocated bytes, flat top 25 =="
		go tool pprof -top -nodecount=25 -sample_index=alloc_space "$PROFILE/${backend[$name]}" "$m" 2>/dev/null
	done
fi
