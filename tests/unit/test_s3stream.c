/*
 * test_s3stream.c - streamed GETs from an S3 store, against a small HTTP
 * server on loopback that answers as told: a whole body read in small
 * and large pieces and slowly, a body cut short of its Content-Length
 * (an error, never a complete object), error statuses, and a stream
 * closed early that must leave no connection behind.
 */
#include "check.h"
#include "s3.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* What the server answers to the next request. */
struct answer {
	int status;
	size_t length; /* the Content-Length it announces */
	size_t sent;   /* body bytes it really sends before closing */
};

struct server {
	int listen_fd;
	int port;
	pthread_t thread;
	struct answer answer;
	int requests;
	bool peer_closed; /* the last send failed: the client went away */
	int closed;	  /* connections the server is done with */
};

/* The body's byte at offset i: a pattern a shifted read would break. */
static char body_byte(size_t i)
{
	return (char)((i * 7) ^ (i >> 11));
}

/* Reads a request's head; false when the client closed instead. */
static bool read_head(int fd)
{
	char buf[4096];
	size_t n = 0;
	ssize_t got;

	while (n < sizeof(buf) - 1) {
		got = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (got <= 0)
			return false;
		n += (size_t)got;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return true;
	}
	return false;
}

static void send_body(struct server *s, int fd)
{
	char chunk[65536];
	size_t at = 0, n;

	while (at < s->answer.sent) {
		n = s->answer.sent - at;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = body_byte(at + i);
		if (send(fd, chunk, n, MSG_NOSIGNAL) != (ssize_t)n) {
			s->peer_closed = true;
			return;
		}
		at += n;
	}
}

/* Answers each connection's requests, closing after every answer. */
static void *serve(void *arg)
{
	struct server *s = arg;
	char head[256];
	int fd, len;

	while ((fd = accept(s->listen_fd, NULL, NULL)) != -1) {
		while (read_head(fd)) {
			s->requests++;
			len = snprintf(head, sizeof(head),
				       "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
				       "Connection: close\r\n\r\n",
				       s->answer.status, s->answer.length);
			if (send(fd, head, (size_t)len, MSG_NOSIGNAL) == len)
				send_body(s, fd);
			break;
		}
		close(fd);
		__atomic_add_fetch(&s->closed, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void server_start(struct server *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s->listen_fd != -1);
	CHECK(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(s->listen_fd, 8) == 0);
	CHECK(getsockname(s->listen_fd, (struct sockaddr *)&sa, &salen) == 0);
	s->port = ntohs(sa.sin_port);
	pthread_create(&s->thread, NULL, serve, s);
}

static void server_stop(struct server *s)
{
	shutdown(s->listen_fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

static struct server srv;
static struct s3 *client;

static int open_stream(struct s3_stream **out)
{
	struct s3_req req = {.method = "GET",
			     .key = "blobs/data",
			     .headers = {"Range: bytes=0-"}};

	return s3_stream_open(client, &req, out);
}

/*
 * Reads the stream from body offset at to its end in pieces of step
 * bytes, checking every byte; returns the last read's result (0 or an
 * error) and sets *total to the bytes read.
 */
static long read_all(struct s3_stream *st, size_t at, size_t step,
		     size_t *total)
{
	char *buf = malloc(step);
	size_t from = at;
	long n;

	while ((n = s3_stream_read(st, buf, step)) > 0) {
		for (long i = 0; i < n; i++)
			if (buf[i] != body_byte(at + (size_t)i)) {
				n = -EBADMSG;
				goto out;
			}
		at += (size_t)n;
	}
out:
	free(buf);
	*total = at - from;
	return n;
}

static void whole_body(void)
{
	const size_t steps[] = {1000, 65536 + 3, 1 << 20};
	struct s3_stream *st = NULL;
	size_t total;

	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		srv.answer = (struct answer){206, 5 << 20, 5 << 20};
		CHECK(open_stream(&st) == 0);
		CHECK(s3_stream_length(st) == 5 << 20);
		CHECK(read_all(st, 0, steps[i], &total) == 0);
		CHECK(total == 5 << 20);
		s3_stream_close(st);
	}
}

/* The server fills every buffer while the reader is away. */
static void slow_reader(void)
{
	struct s3_stream *st = NULL;
	char buf[100];
	size_t total;

	srv.answer = (struct answer){200, 3 << 20, 3 << 20};
	CHECK(open_stream(&st) == 0);
	CHECK(s3_stream_read(st, buf, sizeof(buf)) > 0);
	usleep(300 * 1000);
	s3_stream_close(st);

	CHECK(open_stream(&st) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(s3_stream_read(st, buf, 1) == 1);
		CHECK(buf[0] == body_byte((size_t)i));
		usleep(100 * 1000);
	}
	CHECK(read_all(st, 3, 4096, &total) == 0);
	CHECK(total == (3 << 20) - 3);
	s3_stream_close(st);
}

static void empty_body(void)
{
	struct s3_stream *st = NULL;
	char buf[16];

	srv.answer = (struct answer){200, 0, 0};
	CHECK(open_stream(&st) == 0);
	CHECK(s3_stream_read(st, buf, sizeof(buf)) == 0);
	s3_stream_close(st);
}

/* A body that stops short of its length ends in an error. */
static void cut_short(void)
{
	struct s3_stream *st = NULL;
	size_t total;

	srv.answer = (struct answer){206, 2 << 20, 700 * 1024 + 5};
	CHECK(open_stream(&st) == 0);
	CHECK(read_all(st, 0, 65536, &total) == -EIO);
	CHECK(total == 700 * 1024 + 5);
	CHECK(s3_stream_read(st, &total, 1) == -EIO);
	s3_stream_close(st);
}

static void error_status(void)
{
	struct s3_stream *st = NULL;
	int before;

	srv.answer = (struct answer){404, 0, 0};
	CHECK(open_stream(&st) == -ENOENT && st == NULL);
	srv.answer = (struct answer){403, 0, 0};
	CHECK(open_stream(&st) == -EACCES && st == NULL);

	/* A server error is tried again, then given up. */
	before = srv.requests;
	srv.answer = (struct answer){503, 0, 0};
	CHECK(open_stream(&st) == -EIO && st == NULL);
	CHECK(srv.requests - before > 1);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Waits until the server is done with n connections in all. */
static bool server_closed(int n)
{
	for (int i = 0; i < 100; i++) {
		if (__atomic_load_n(&srv.closed, __ATOMIC_SEQ_CST) >= n)
			return true;
		usleep(20 * 1000);
	}
	return false;
}

/* A stream closed after a few bytes drops its connection. */
static void closed_early(void)
{
	struct s3_stream *st = NULL;
	char buf[10];
	int fds, closed;

	CHECK(server_closed(srv.requests));
	fds = count_fds();
	for (int i = 0; i < 20; i++) {
		closed = __atomic_load_n(&srv.closed, __ATOMIC_SEQ_CST);
		srv.peer_closed = false;
		srv.answer = (struct answer){206, 64 << 20, 64 << 20};
		CHECK(open_stream(&st) == 0);
		CHECK(s3_stream_read(st, buf, sizeof(buf)) == sizeof(buf));
		s3_stream_close(st);

		/* The server saw the client go before the body was sent. */
		CHECK(server_closed(closed + 1));
		CHECK(srv.peer_closed);
	}
	CHECK(count_fds() == fds);
}

int main(void)
{
	struct s3_options o = {.accesskey = "AKIDEXAMPLE",
			       .secretkey = "secret",
			       .region = "us-east-1",
			       .bucket = "bucket"};
	char endpoint[64], err[256];

	server_start(&srv);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", srv.port);
	o.endpoint = endpoint;
	CHECK(s3_open(&o, &client, err, sizeof(err)) == 0);

	RUN(whole_body);
	RUN(slow_reader);
	RUN(empty_body);
	RUN(cut_short);
	RUN(error_status);
	RUN(closed_early);

	s3_close(client);
	server_stop(&srv);
	return check_done();
}
