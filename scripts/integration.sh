#!/usr/bin/env bash
# Runs cgiref behind real web servers (Apache httpd, nginx, lighttpd, Caddy,
# HAProxy) and under Prometheus:
# installs them with apt when they are missing (Debian/Ubuntu), checks that
# every one is there, then runs the Go tests in integration/. The tests start
# each server themselves on 127.0.0.1 with a configuration rendered from
# docs/conf (the files the deployment guides show) into a temporary
# directory; the system's own configuration and ports are never used. A
# missing server is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(nginx lighttpd lighttpd-mod-openssl apache2 libapache2-mod-fcgid caddy haproxy prometheus php-fpm systemd curl)

fail() {
	echo "integration: $*" >&2
	exit 1
}

missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
	command -v apt-get >/dev/null || fail "missing packages ${missing[*]} and no apt-get to install them"
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || fail "missing packages ${missing[*]}: run as root or install sudo"
		sudo=(sudo)
	fi
	echo "integration: installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# What the tests run; each must be present.
for cmd in nginx lighttpd apache2 caddy haproxy prometheus systemd-socket-activate curl go; do
	PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null || fail "$cmd is not installed"
done
for mod in mod_cgi mod_cgid mod_proxy_fcgi mod_proxy_scgi mod_fcgid mod_mpm_event mod_mpm_prefork mod_ssl mod_socache_shmcb; do
	[ -f "/usr/lib/apache2/modules/$mod.so" ] || fail "Apache module $mod is missing"
done
[ -f /usr/lib/lighttpd/mod_openssl.so ] || fail "lighttpd's mod_openssl is missing"
compgen -G '/usr/sbin/php-fpm*' >/dev/null || fail "php-fpm is not installed"
[ -f /etc/nginx/fastcgi_params ] && [ -f /etc/nginx/scgi_params ] || fail "nginx's fastcgi_params or scgi_params is missing"

export PATH="$PATH:/usr/sbin:/sbin"
exec go test -tags integration -count=1 -timeout 10m -v ./integration/
