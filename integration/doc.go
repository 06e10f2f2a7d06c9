//go:build integration

// Package integration runs the cgiref command behind real web servers:
// Apache httpd (mod_cgi, mod_cgid, mod_proxy_fcgi, mod_fcgid,
// mod_proxy_scgi), nginx (FastCGI over TCP, a unix socket and a keep-alive
// upstream; SCGI), lighttpd (mod_cgi, mod_fastcgi spawning cgiref, a FastCGI
// authorizer, mod_scgi) and Caddy (reverse_proxy with the FastCGI transport);
// the operations tests add HAProxy (fcgi-app and tcp-check health checks)
// and Prometheus (scraping the -status listener).
//
// Every server is started by the tests themselves on 127.0.0.1, on a free
// port, in the foreground, with a configuration rendered from the templates
// in docs/conf (the very files the deployment guides in docs/ show) into a
// temporary directory, and stopped by its process id.
// The tests send real HTTP requests and compare the bytes that come back.
//
// The package holds tests only and builds only with the integration tag:
//
//	go test -tags integration -count=1 -v ./integration/
//
// scripts/integration.sh installs the servers on a Debian machine and runs
// that command. A server that is not installed makes its tests fail; nothing
// is skipped. CGIREF_BINARY names a prebuilt cgiref command to test instead
// of building ./cmd/cgiref.
package integration
