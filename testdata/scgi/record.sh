#!/bin/sh
# record.sh records the SCGI requests that nginx (scgi_pass), lighttpd
# (mod_scgi) and Apache (mod_proxy_scgi) send, into the *.scgi files of this
# folder. They seed scgi's FuzzParseHeader and are parsed by its tests.
#
# For each server: the recorder (recorder/main.go) listens on 127.0.0.1, the
# server runs in the foreground on 127.0.0.1 with its own configuration in a
# temporary folder, curl sends a GET and a POST through it, and the server is
# stopped by its PID. Run from anywhere: sh testdata/scgi/record.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

(cd "$here/recorder" && go build -o "$tmp/recorder" .)

# free_port prints a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for FILE: wait (at most 10 s) until FILE exists.
wait_for() { i=0; while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; [ -s "$1" ]; }

# wait_port PORT: wait (at most 10 s) until something listens on PORT.
wait_port() {
	i=0
	until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' "$1" 2>/dev/null; do
		sleep 0.1; i=$((i+1)); [ $i -lt 100 ] || return 1
	done
}

# record NAME START_COMMAND...: record one server.
record() {
	name=$1; shift
	rm -f "$tmp/ready"
	"$tmp/recorder" -listen "127.0.0.1:$backend" -prefix "$name" -dir "$here" -n 2 -ready "$tmp/ready" &
	rpid=$!
	pids="$pids $rpid"
	wait_for "$tmp/ready"
	"$@" &
	spid=$!
	pids="$pids $spid"
	wait_port "$front"
	curl -sS --max-time 10 "http://127.0.0.1:$front/app/path%20x?x=1&y=%C3%A9" -H 'X-Custom: a b' -H 'Cookie: k=v'
	curl -sS --max-time 10 "http://127.0.0.1:$front/app/post" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary 'name=value&other=%00x'
	wait "$rpid" || true
	kill "$spid"
	wait "$spid" 2>/dev/null || true
}

backend=$(free_port)

front=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
user root;
error_log $tmp/nginx/error.log;
pid $tmp/nginx/nginx.pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	scgi_temp_path $tmp/nginx/scgi;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	server {
		listen 127.0.0.1:$front;
		server_name localhost;
		location / {
			include /etc/nginx/scgi_params;
			scgi_pass 127.0.0.1:$backend;
		}
	}
}
CONF
record nginx nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;'

front=$(free_port)
mkdir -p "$tmp/lighttpd"
cat >"$tmp/lighttpd/lighttpd.conf" <<CONF
server.document-root = "$tmp/lighttpd"
server.bind = "127.0.0.1"
server.port = $front
server.errorlog = "$tmp/lighttpd/error.log"
server.modules += ( "mod_scgi" )
scgi.server = ( "/" => (( "host" => "127.0.0.1", "port" => $backend, "check-local" => "disable" )) )
CONF
record lighttpd lighttpd -D -f "$tmp/lighttpd/lighttpd.conf"

front=$(free_port)
mkdir -p "$tmp/apache"
cat >"$tmp/apache/httpd.conf" <<CONF
ServerRoot "$tmp/apache"
DefaultRuntimeDir "$tmp/apache"
PidFile "$tmp/apache/httpd.pid"
ErrorLog "$tmp/apache/error.log"
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_scgi_module /usr/lib/apache2/modules/mod_proxy_scgi.so
User www-data
Group www-data
Listen 127.0.0.1:$front
ServerName localhost
DocumentRoot "$tmp/apache"
ProxyPass "/app/" "scgi://127.0.0.1:$backend/app/"
CONF
record apache env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apache2 -X -f "$tmp/apache/httpd.conf"
