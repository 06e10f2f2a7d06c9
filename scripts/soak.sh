#!/usr/bin/env bash
# soak.sh: a long run of mixed load through nginx into `cgiref fcgi` (behind a
# keep-alive upstream) and `cgiref scgi`, watching each backend's resources.
# Not part of scripts/test.sh (it takes 10 minutes); run it before a release
# or after touching the servers' connection or buffer handling.
#
# What it does:
#   - builds cgiref, starts `cgiref fcgi` and `cgiref scgi` with `-app check`
#     and their default limits, and nginx (one worker, its own temporary
#     configuration, on 127.0.0.1, ports found free at start) in front of
#     both: fastcgi_pass to an upstream with keepalive 16 and
#     fastcgi_keep_conn on; scgi_pass (SCGI has a connection per request);
#   - runs wrk against both fronts at once for SOAK_DURATION, with a Lua
#     script (written next to the configuration) that mixes GET of the demo
#     listing with POSTs to /echo of bodies from 0 bytes to 256 KiB;
#   - samples every SOAK_INTERVAL each backend's RSS (VmRSS), open file
#     descriptors (/proc/PID/fd) and OS threads (/proc/PID/status), and
#     prints the samples as a table, then wrk's figures.
#
# It fails (exit status 1) when:
#   - wrk reports any socket error (connect, read, write, timeout) or any
#     answer other than 2xx/3xx, or a backend exits;
#   - a backend's RSS grows past 1.5 times its value at the first sample
#     after the warm-up (SOAK_WARMUP): a steady load must reach a steady
#     size, and a leak of a few KiB a request shows within minutes;
#   - a backend's open descriptors grow past its post-warm-up value plus 20
#     (connections come and go; a leak of one per request does not hide).
#
# Environment:
#   SOAK_DURATION  wrk's run (Ns or Nm)                default 10m
#   SOAK_INTERVAL  seconds between samples             default 10
#   SOAK_WARMUP    seconds before the reference sample default 10
#   SOAK_CONNS     wrk connections per front           default 16
#   NGINX          the nginx binary                    default: from PATH or /usr/sbin
# Missing tools (nginx, wrk, curl) are installed with apt-get.
set -euo pipefail

DURATION=${SOAK_DURATION:-10m}
INTERVAL=${SOAK_INTERVAL:-10}
WARMUP=${SOAK_WARMUP:-10}
CONNS=${SOAK_CONNS:-16}
RSS_FACTOR_PCT=150 # RSS may reach 150% of the post-warm-up sample
FD_SLACK=20        # descriptors may exceed the post-warm-up sample by 20

root=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "soak.sh: $*" >&2
	exit 1
}

[[ $DURATION =~ ^([0-9]+)([sm])$ ]] || die "SOAK_DURATION must be Ns or Nm, not $DURATION"
dur_s=$((10#${BASH_REMATCH[1]}))
[[ ${BASH_REMATCH[2]} == s ]] || dur_s=$((dur_s * 60))
[[ $INTERVAL =~ ^[1-9][0-9]*$ ]] || die "SOAK_INTERVAL must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "SOAK_WARMUP must be an integer"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "SOAK_CONNS must be a positive integer"
((dur_s > WARMUP + INTERVAL)) || die "SOAK_DURATION must exceed SOAK_WARMUP + SOAK_INTERVAL"

# --- tools -------------------------------------------------------------------------

install_missing() {
	local pkgs=() sudo=
	command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || pkgs+=(nginx)
	command -v wrk >/dev/null || pkgs+=(wrk)
	command -v curl >/dev/null || pkgs+=(curl)
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

# --- processes ----------------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgiref-soak.XXXXXX")
pids=()

# stop PID: SIGTERM, then SIGKILL after 5 s; reaps it and forgets it.
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

# free_port: sets REPLY to a free TCP port on 127.0.0.1 outside the
# ephemeral range, not handed out before.
read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
if ((eph_lo > 12000)); then
	port_lo=10000 port_n=$((eph_lo - 10000))
else
	port_lo=$((eph_hi + 1)) port_n=$((65535 - eph_hi))
fi
taken=" "
free_port() {
	local i p
	for ((i = 0; i < 500; i++)); do
		p=$((port_lo + (RANDOM * 32768 + RANDOM) % port_n))
		[[ $taken == *" $p "* ]] && continue
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
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

# --- backends -----------------------------------------------------------------------

mkdir -p "$tmp/bin" "$tmp/nginx"
(cd "$root" && go build -o "$tmp/bin/cgiref" ./cmd/cgiref) || die "building cgiref failed"

free_port && fcgi_port=$REPLY
free_port && scgi_port=$REPLY
free_port && fcgi_front=$REPLY
free_port && scgi_front=$REPLY

"$tmp/bin/cgiref" fcgi -listen "127.0.0.1:$fcgi_port" -app check 2>"$tmp/fcgi.log" &
fcgi_pid=$!
pids+=("$fcgi_pid")
"$tmp/bin/cgiref" scgi -listen "127.0.0.1:$scgi_port" -app check 2>"$tmp/scgi.log" &
scgi_pid=$!
pids+=("$scgi_pid")
wait_port "$fcgi_port" "$fcgi_pid"
wait_port "$scgi_port" "$scgi_pid"

# --- nginx ---------------------------------------------------------------------------

params=(
	"QUERY_STRING \$query_string"
	"REQUEST_METHOD \$request_method"
	"CONTENT_TYPE \$content_type"
	"CONTENT_LENGTH \$content_length"
	"SCRIPT_NAME \"\""
	"PATH_INFO \$uri"
	"REQUEST_URI \$request_uri"
	"SERVER_PROTOCOL \$server_protocol"
	"REQUEST_SCHEME \$scheme"
	"GATEWAY_INTERFACE CGI/1.1"
	"SERVER_SOFTWARE nginx/\$nginx_version"
	"REMOTE_ADDR \$remote_addr"
	"REMOTE_PORT \$remote_port"
	"SERVER_ADDR \$server_addr"
	"SERVER_PORT \$server_port"
	"SERVER_NAME \$server_name"
)
for p in "${params[@]}"; do echo "fastcgi_param $p;"; done >"$tmp/nginx/fastcgi.params"
{
	echo "scgi_param SCGI 1;"
	for p in "${params[@]}"; do
		[[ $p == CONTENT_LENGTH* ]] || echo "scgi_param $p;" # nginx sends it first by itself
	done
} >"$tmp/nginx/scgi.params"

cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    default_type text/plain;
    client_max_body_size 1m;
    client_body_buffer_size 512k;
    client_body_temp_path $tmp/nginx/client_body;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    scgi_temp_path $tmp/nginx/scgi;
    proxy_temp_path $tmp/nginx/proxy;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    upstream cgiref_fcgi {
        server 127.0.0.1:$fcgi_port;
        keepalive 16;
    }
    server {  # FastCGI
        listen 127.0.0.1:$fcgi_front;
        location / {
            fastcgi_pass cgiref_fcgi;
            fastcgi_keep_conn on;
            include fastcgi.params;
        }
    }
    server {  # SCGI
        listen 127.0.0.1:$scgi_front;
        location / {
            scgi_pass 127.0.0.1:$scgi_port;
            include scgi.params;
        }
    }
}
EOF
nginx_args=(-p "$tmp/nginx" -c "$tmp/nginx/nginx.conf")
if [[ $("$NGINX" -h 2>&1 || true) == *"-e filename"* ]]; then
	nginx_args+=(-e "$tmp/nginx/error.log")
fi
"$NGINX" -t -q "${nginx_args[@]}" || die "nginx rejects $tmp/nginx/nginx.conf"
"$NGINX" "${nginx_args[@]}" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_port "$fcgi_front" "$nginx_pid"
wait_port "$scgi_front" "$nginx_pid"

# Both paths answer before the load begins.
for front in "$fcgi_front" "$scgi_front"; do
	got=$(curl -sS --max-time 10 "http://127.0.0.1:$front/soak?x=1") || die "GET through port $front failed"
	[[ $got == "Hello world!"* ]] || die "GET through port $front answered: ${got:0:200}"
	got=$(curl -sS --max-time 10 --data-binary 'ping' "http://127.0.0.1:$front/echo") || die "POST through port $front failed"
	[[ $got == ping ]] || die "POST /echo through port $front answered: ${got:0:200}"
done

# --- load ----------------------------------------------------------------------------

# One request in three is a GET of the demo listing; the others POST bodies
# of sizes cycling from 0 bytes to 256 KiB to /echo.
cat >"$tmp/mix.lua" <<'EOF'
local sizes = {0, 1, 100, 1000, 4095, 4097, 16384, 65536, 100000, 262144}
local bodies = {}
for i, n in ipairs(sizes) do
  bodies[i] = string.rep("x", n)
end
local n = 0
request = function()
  n = n + 1
  if n % 3 == 0 then
    return wrk.format("GET", "/soak?n=" .. n)
  end
  local body = bodies[(n % #bodies) + 1]
  return wrk.format("POST", "/echo", {["Content-Type"] = "application/octet-stream"}, body)
end
EOF

wrk_run() { # PORT OUT
	timeout $((dur_s + 60)) wrk -t1 -c"$CONNS" -d"${dur_s}s" --timeout 10s -s "$tmp/mix.lua" \
		"http://127.0.0.1:$1/" >"$2" 2>&1
}
wrk_run "$fcgi_front" "$tmp/wrk-fcgi.txt" &
wrk_fcgi=$!
wrk_run "$scgi_front" "$tmp/wrk-scgi.txt" &
wrk_scgi=$!

# sample PID: "RSS_KiB FDS THREADS", or "- - -" when PID is gone.
sample() {
	local rss thr fds
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null) || rss=
	thr=$(awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null) || thr=
	fds=$(ls "/proc/$1/fd" 2>/dev/null | wc -l) || fds=
	if [[ -z $rss ]]; then
		echo "- - -"
		return
	fi
	echo "$rss $fds $thr"
}

echo "soak.sh: ${dur_s} s of load, $CONNS connections per front, samples every ${INTERVAL} s, reference after ${WARMUP} s"
printf '%6s | %10s %5s %7s | %10s %5s %7s\n' "t (s)" "fcgi RSS" "fds" "threads" "scgi RSS" "fds" "threads"
declare -A ref_rss ref_fds max_rss max_fds
failed=()
start=$SECONDS
next=$INTERVAL
while kill -0 "$wrk_fcgi" 2>/dev/null || kill -0 "$wrk_scgi" 2>/dev/null; do
	if ((SECONDS - start < next)); then
		sleep 0.5
		continue
	fi
	t=$((SECONDS - start))
	next=$((next + INTERVAL))
	line=$(printf '%6d |' "$t")
	for b in fcgi scgi; do
		pid_var=${b}_pid
		read -r rss fds thr <<<"$(sample "${!pid_var}")"
		if [[ $rss == - ]]; then
			failed+=("cgiref $b exited during the run")
			line+=$(printf ' %10s %5s %7s |' - - -)
			continue
		fi
		line+=$(printf ' %7d KiB %5d %7d |' "$rss" "$fds" "$thr")
		if ((t >= WARMUP)) && [[ -z ${ref_rss[$b]:-} ]]; then
			ref_rss[$b]=$rss ref_fds[$b]=$fds max_rss[$b]=$rss max_fds[$b]=$fds
		elif [[ -n ${ref_rss[$b]:-} ]]; then
			((rss > max_rss[$b])) && max_rss[$b]=$rss
			((fds > max_fds[$b])) && max_fds[$b]=$fds
		fi
	done
	echo "${line% |}"
done
wait "$wrk_fcgi" || failed+=("wrk against the FastCGI front failed (exit status $?)")
wait "$wrk_scgi" || failed+=("wrk against the SCGI front failed (exit status $?)")

# --- verdict --------------------------------------------------------------------------

for b in fcgi scgi; do
	echo
	echo "-- wrk through nginx to cgiref $b"
	cat "$tmp/wrk-$b.txt"
	out=$(<"$tmp/wrk-$b.txt")
	[[ $out == *"requests in"* ]] || failed+=("wrk against $b gave no result")
	[[ $out != *"Socket errors"* ]] || failed+=("$b: wrk socket errors: $(grep 'Socket errors' <<<"$out")")
	[[ $out != *"Non-2xx or 3xx"* ]] || failed+=("$b: $(grep 'Non-2xx' <<<"$out" | sed 's/^ *//')")
	if [[ -z ${ref_rss[$b]:-} ]]; then
		failed+=("$b: no sample after the warm-up")
		continue
	fi
	limit_rss=$((ref_rss[$b] * RSS_FACTOR_PCT / 100))
	limit_fds=$((ref_fds[$b] + FD_SLACK))
	printf 'cgiref %s: RSS %d KiB after the warm-up, at most %d KiB since (bound %d KiB); fds %d, at most %d (bound %d)\n' \
		"$b" "${ref_rss[$b]}" "${max_rss[$b]}" "$limit_rss" "${ref_fds[$b]}" "${max_fds[$b]}" "$limit_fds"
	((max_rss[$b] <= limit_rss)) || failed+=("$b: RSS grew from ${ref_rss[$b]} KiB to ${max_rss[$b]} KiB (bound ${RSS_FACTOR_PCT}%)")
	((max_fds[$b] <= limit_fds)) || failed+=("$b: open descriptors grew from ${ref_fds[$b]} to ${max_fds[$b]} (bound +$FD_SLACK)")
done
for b in fcgi scgi; do
	if [[ -s $tmp/$b.log ]]; then
		echo
		echo "-- cgiref $b log (last 20 lines of $(wc -l <"$tmp/$b.log"))"
		tail -20 "$tmp/$b.log"
	fi
done
if [[ -s $tmp/nginx/error.log ]] && grep -q '\[\(error\|crit\|alert\|emerg\)\]' "$tmp/nginx/error.log"; then
	echo
	echo "-- nginx errors (last 20)"
	grep '\[\(error\|crit\|alert\|emerg\)\]' "$tmp/nginx/error.log" | tail -20
	failed+=("nginx logged errors")
fi
echo
if ((${#failed[@]})); then
	printf 'soak.sh: FAIL: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "soak.sh: passed"
