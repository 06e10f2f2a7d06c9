/*
 * hello: the C baseline of scripts/bench.sh. A single-process, single-threaded
 * FastCGI responder on libfcgi (the FastCGI development kit) that answers
 * every request with the same hello world as the Go backends. It serves one
 * connection at a time: other connections wait in the listen backlog.
 *
 * Usage: hello 127.0.0.1:PORT
 *
 * Build: cc -O2 -o hello hello.c -lfcgi
 */
#include <fcgiapp.h>
#include <stdio.h>

static const int backlog = 1024;

int main(int argc, char **argv)
{
	FCGX_Request req;
	int sock;

	if (argc != 2) {
		fprintf(stderr, "usage: %s HOST:PORT\n", argv[0]);
		return 2;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "hello: FCGX_Init failed\n");
		return 1;
	}
	sock = FCGX_OpenSocket(argv[1], backlog);
	if (sock < 0) {
		fprintf(stderr, "hello: cannot listen on %s\n", argv[1]);
		return 1;
	}
	if (FCGX_InitRequest(&req, sock, 0) != 0) {
		fprintf(stderr, "hello: FCGX_InitRequest failed\n");
		return 1;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Content-Type: text/plain\r\n\r\nHello world!\n", req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
