/*
 * http.c - the HTTP glue over libmicrohttpd.
 *
 * libmicrohttpd calls one access handler several times per request: once
 * when the headers are in, once per piece of body, and once more at the
 * end of the body.  This file turns that into the simpler contract of
 * http.h (a handler, then optional body callbacks), sends responses
 * (sendfile for file-backed ones), and writes the access log.
 *
 * Each connection gets its own thread, so a handler may block on storage
 * without stalling other clients.
 */
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Per-connection buffer for headers and body pieces.  The library clears
 * it for every request, so a larger one costs small requests dearly
 * (256 KiB made a fifth of a manifest GET a memset); 64 KiB still hands
 * uploads pieces large enough to hash and write efficiently.
 */
#define CONNECTION_MEMORY (64 * 1024)

/*
 * A connection, tracked so that one that does not deliver a complete
 * request head within the idle timeout can be cut off: the library's
 * own timeout restarts with every byte, so a client trickling its
 * headers a byte at a time would otherwise hold a thread for ever.
 */
struct conn_track {
	struct conn_track *prev, *next;
	int fd;
	bool in_request;   /* a request head arrived, not yet answered */
	bool fresh;	   /* accepted, and no request head seen yet */
	uint64_t since_ns; /* when it began waiting for a head */
};

struct http_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t conns_lock;
	struct conn_track conns; /* list head */
	pthread_t reaper;
	bool reaper_running;
	bool stopping;
	pthread_cond_t stop_cond;
	uint64_t head_deadline_ns;
	int listen_fd;
	uint16_t port;
	http_handler_fn handler;
	void *arg;
	const char *const *extra_headers;
	bool tls;
	bool quiesced;
	unsigned inflight; /* atomic */
};

struct http_request {
	const char *route;
	char *repo;
	char *digest;
	struct MHD_Connection *conn;
	struct http_server *srv;
	const char *method;
	const char *path;

	http_body_fn on_body;
	http_end_fn on_end;
	http_free_fn on_free;
	void *ctx;
	bool body_stopped;
	bool ended;
	bool responded;
	bool in_first_call;
	struct MHD_Response *pending; /* answered early, queued next call */

	int status;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t started_ns;
	char peer[64];
	char client[64];
	char *note;
	char *user;
	struct buf headers; /* "name\0value\0" pairs for any response */
};

struct http_response {
	int status;
	struct MHD_Response *mhd;
	struct buf headers; /* "name\0value\0" pairs, added once the body is */
	uint64_t length;
};

const char *http_method(const struct http_request *req)
{
	return req->method;
}

const char *http_path(const struct http_request *req)
{
	return req->path;
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct header_join {
	const char *name;
	struct buf *out;
};

static enum MHD_Result on_header_value(void *cls, enum MHD_ValueKind kind,
				       const char *key, const char *value)
{
	struct header_join *j = cls;

	(void)kind;
	if (strcasecmp(key, j->name) != 0 || !value)
		return MHD_YES;
	if (j->out->len)
		buf_adds(j->out, ", ");
	buf_adds(j->out, value);
	return MHD_YES;
}

const char *http_header_all(const struct http_request *req, const char *name,
			    struct buf *out)
{
	struct header_join j = {name, out};

	buf_reset(out);
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, on_header_value,
				  &j);
	return out->len ? out->data : NULL;
}

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

int64_t http_content_length(const struct http_request *req)
{
	const char *v = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	long long n;

	if (!v || !*v)
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || n < 0)
		return -1;
	return n;
}

const char *http_client_addr(const struct http_request *req)
{
	return req->client;
}

const char *http_peer_addr(const struct http_request *req)
{
	return req->peer;
}

void http_set_client_addr(struct http_request *req, const char *addr)
{
	snprintf(req->client, sizeof(req->client), "%s", addr);
}

bool http_is_tls(const struct http_request *req)
{
	return req->srv->tls;
}

void http_set_route(struct http_request *req, const char *route)
{
	req->route = route;
}

void http_set_log_target(struct http_request *req, const char *repo,
			 const char *digest)
{
	if (repo) {
		free(req->repo);
		req->repo = xstrdup(repo);
	}
	if (digest) {
		free(req->digest);
		req->digest = xstrdup(digest);
	}
}

void http_set_user(struct http_request *req, const char *user)
{
	free(req->user);
	req->user = user ? xstrdup(user) : NULL;
}

const char *http_user(const struct http_request *req)
{
	return req->user;
}

void http_add_header(struct http_request *req, const char *name,
		     const char *value)
{
	buf_add(&req->headers, name, strlen(name) + 1);
	buf_add(&req->headers, value, strlen(value) + 1);
}

void http_set_log_note(struct http_request *req, const char *note)
{
	free(req->note);
	req->note = xstrdup(note);
}

void http_read_body(struct http_request *req, http_body_fn on_body,
		    http_end_fn on_end, http_free_fn on_free, void *ctx)
{
	req->on_body = on_body;
	req->on_end = on_end;
	req->on_free = on_free;
	req->ctx = ctx;
}

struct http_response *http_response_new(int status)
{
	struct http_response *res = xcalloc(1, sizeof(*res));

	res->status = status;
	return res;
}

void http_response_header(struct http_response *res, const char *name,
			  const char *value)
{
	buf_add(&res->headers, name, strlen(name) + 1);
	buf_add(&res->headers, value, strlen(value) + 1);
}

void http_response_body(struct http_response *res, const char *type,
			const void *data, size_t len)
{
	res->mhd = MHD_create_response_from_buffer(len, (void *)data,
						   MHD_RESPMEM_MUST_COPY);
	res->length = len;
	if (type)
		http_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
}

/* Streams a reader that has no file descriptor, piece by piece. */
static ssize_t on_reader_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct store_reader *r = cls;
	long n = store_read(r, out, max);

	(void)pos;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n;
}

static void on_reader_free(void *cls)
{
	store_reader_close(cls);
}

void http_response_reader(struct http_response *res, const char *type,
			  struct store_reader *r, uint64_t offset, uint64_t len)
{
	int fd = store_reader_fd(r);

	/* libmicrohttpd closes the descriptor it is given, so hand it its
	 * own copy and let the reader keep (and close) the original. */
	if (fd != -1) {
		int copy = dup(fd);

		if (copy != -1) {
			res->mhd =
				MHD_create_response_from_fd_at_offset64(len,
									copy,
									offset);
			store_reader_close(r);
			goto out;
		}
	}
	res->mhd = MHD_create_response_from_callback(len, 256 * 1024,
						     on_reader_read, r,
						     on_reader_free);
out:
	res->length = len;
	if (type)
		http_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
}

static void add_headers(struct MHD_Response *mhd, const char *p,
			const char *end)
{
	while (p < end) {
		const char *name = p;
		const char *value = name + strlen(name) + 1;

		MHD_add_response_header(mhd, name, value);
		p = value + strlen(value) + 1;
	}
}

static bool has_body(const struct http_request *req)
{
	const char *te = http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);

	return http_content_length(req) > 0 || (te && *te);
}

static void queue(struct http_request *req, struct MHD_Response *mhd)
{
	if (MHD_queue_response(req->conn, (unsigned)req->status, mhd) !=
	    MHD_YES)
		log_error("queueing response failed path=%s status=%d",
			  req->path, req->status);
}

void http_send(struct http_request *req, struct http_response *res)
{
	const char *const *h;

	if (req->responded) {
		log_error("second response to one request dropped "
			  "path=%s status=%d",
			  req->path, res->status);
		goto out;
	}
	if (!res->mhd)
		http_response_body(res, NULL, "", 0);

	for (h = req->srv->extra_headers; h && h[0]; h += 2)
		MHD_add_response_header(res->mhd, h[0], h[1]);
	add_headers(res->mhd, res->headers.data,
		    res->headers.data + res->headers.len);
	add_headers(res->mhd, req->headers.data,
		    req->headers.data + req->headers.len);

	req->responded = true;
	req->status = res->status;
	req->bytes_out = strcmp(req->method, "HEAD") ? res->length : 0;

	/* A response queued while the headers are being handled makes the
	 * library close the connection afterwards.  When no body follows,
	 * hold it for the next call, which comes at once, and keep the
	 * connection alive; with a body coming, closing is right. */
	if (req->in_first_call && !has_body(req)) {
		req->pending = res->mhd;
		res->mhd = NULL;
		goto out;
	}
	queue(req, res->mhd);
out:
	if (res->mhd)
		MHD_destroy_response(res->mhd);
	buf_free(&res->headers);
	free(res);
}

static void send_plain(struct http_request *req, int status)
{
	http_send(req, http_response_new(status));
}

static struct http_request *request_new(struct http_server *srv,
					struct MHD_Connection *conn,
					const char *url, const char *method)
{
	struct http_request *req = xcalloc(1, sizeof(*req));
	const union MHD_ConnectionInfo *info;

	req->conn = conn;
	req->srv = srv;
	req->method = method;
	req->path = url;
	req->started_ns = now_monotonic_ns();
	__atomic_add_fetch(&srv->inflight, 1, __ATOMIC_RELAXED);

	info = MHD_get_connection_info(conn,
				       MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info && info->client_addr) {
		const struct sockaddr *sa = info->client_addr;

		if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)sa)->sin6_addr,
				  req->peer, sizeof(req->peer));
		else if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)sa)->sin_addr,
				  req->peer, sizeof(req->peer));
	}
	memcpy(req->client, req->peer, sizeof(req->client));
	return req;
}

static void end_body(struct http_request *req)
{
	req->ended = true;
	if (req->responded)
		return;
	if (req->on_end)
		req->on_end(req->ctx, req);
	else
		send_plain(req, MHD_HTTP_INTERNAL_SERVER_ERROR);
	if (!req->responded) {
		log_error("handler sent no response path=%s", req->path);
		send_plain(req, MHD_HTTP_INTERNAL_SERVER_ERROR);
	}
}

struct framing {
	unsigned lengths;   /* Content-Length headers */
	unsigned encodings; /* Transfer-Encoding headers */
	bool bad_length;    /* a Content-Length that is not plain digits */
	bool bad_name;	    /* a mangled name a proxy could read otherwise */
	bool chunked_only;  /* every Transfer-Encoding says just chunked */
};

static enum MHD_Result on_framing_header(void *cls, enum MHD_ValueKind kind,
					 const char *key, const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		f->lengths++;
		if (!value || !*value ||
		    strspn(value, "0123456789") != strlen(value))
			f->bad_length = true;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->encodings++;
		if (!value || strcasecmp(value, "chunked") != 0)
			f->chunked_only = false;
	} else if (strpbrk(key, " \t") ||
		   !strncasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING, 17) ||
		   !strncasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH, 14)) {
		/* The library keeps "Name : v" as "Name " and glues a
		 * folded line onto the name; other readers would not. */
		f->bad_name = true;
	}
	return MHD_YES;
}

/*
 * Refuses a body whose length two readers could read two ways: a proxy
 * in front and berth must never disagree on where a request ends, or a
 * second request hidden in a body gets served.  Returns 0, or the
 * status to answer (400, or 501 for a coding berth does not know).
 */
static int framing_status(struct MHD_Connection *conn)
{
	struct framing f = {0, 0, false, false, true};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, on_framing_header, &f);
	if (f.encodings && !f.chunked_only)
		return MHD_HTTP_NOT_IMPLEMENTED;
	if (f.encodings > 1 || (f.encodings && f.lengths) || f.lengths > 1 ||
	    f.bad_length || f.bad_name)
		return MHD_HTTP_BAD_REQUEST;
	return 0;
}

/* Answers a malformed request; the library then closes the connection. */
static void refuse(struct http_request *req, int status)
{
	static const char body[] =
		"{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":"
		"\"ambiguous or unsupported request framing\"}]}";
	struct http_response *res = http_response_new(status);

	http_response_header(res, "Connection", "close");
	http_response_body(res, "application/json", body, sizeof(body) - 1);
	req->in_first_call = false; /* send now: never read the body */
	http_send(req, res);
}

static void track_request(struct http_request *req, bool starting)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(req->conn,
					MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_track *t = info ? info->socket_context : NULL;

	if (!t)
		return;
	pthread_mutex_lock(&req->srv->conns_lock);
	t->in_request = starting;
	t->fresh = false;
	t->since_ns = now_monotonic_ns();
	pthread_mutex_unlock(&req->srv->conns_lock);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;

	(void)version;
	if (!req) {
		int refused;

		req = request_new(srv, conn, url, method);
		*con_cls = req;
		track_request(req, true);
		req->in_first_call = true;
		refused = framing_status(conn);
		if (refused)
			refuse(req, refused);
		else
			srv->handler(srv->arg, req);
		req->in_first_call = false;
		return MHD_YES;
	}

	if (req->pending) {
		queue(req, req->pending);
		MHD_destroy_response(req->pending);
		req->pending = NULL;
		return MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;

		req->bytes_in += n;
		*upload_data_size = 0;
		if (req->responded || req->body_stopped || !req->on_body)
			return MHD_YES;
		if (req->on_body(req->ctx, upload_data, n) != 0)
			req->body_stopped = true;
		return MHD_YES;
	}

	if (!req->ended)
		end_body(req);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *con_cls;
	double ms;

	(void)cls;
	(void)conn;
	if (!req)
		return;

	ms = (double)(now_monotonic_ns() - req->started_ns) / 1e6;
	{
		struct log_access_entry e = {
			req->client,
			req->user,
			req->method,
			req->path,
			req->status,
			req->bytes_in,
			req->bytes_out,
			ms / 1e3,
			req->repo ? req->repo : req->note,
			req->digest,
			toe != MHD_REQUEST_TERMINATED_COMPLETED_OK,
		};
		log_access(&e);
		metrics_observe_request(req->route, req->method, req->status,
					req->bytes_in, req->bytes_out,
					ms / 1e3);
	}

	if (req->on_free)
		req->on_free(req->ctx);
	track_request(req, false);
	__atomic_sub_fetch(&req->srv->inflight, 1, __ATOMIC_RELAXED);
	if (req->pending)
		MHD_destroy_response(req->pending);
	free(req->note);
	free(req->user);
	free(req->repo);
	free(req->digest);
	buf_free(&req->headers);
	free(req);
	*con_cls = NULL;
}

/* Splits "host:port", ":port" or "[v6]:port"; host is "" for any. */
static int split_addr(const char *addr, char *host, size_t hostlen, char *port,
		      size_t portlen)
{
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (!colon || !colon[1] || strlen(colon + 1) >= portlen)
		return -1;
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n >= hostlen)
		return -1;
	memcpy(host, addr, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int try_listen(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			ai->ai_protocol);
	int one = 1, zero = 0;

	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, 1024) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Binds the configured address.  An empty host means every address
 * (IPv6 and IPv4 on one socket); a name that resolves to several
 * addresses binds the first IPv4 one, as "localhost:5000" users expect.
 */
static int listen_on(const char *addr)
{
	struct addrinfo hints = {0}, *res, *ai;
	char host[256], port[16];
	int fd = -1, rc;

	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) == -1) {
		log_error("invalid listen address addr=%s", addr);
		return -1;
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	hints.ai_family = *host ? AF_UNSPEC : AF_INET6;
	rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		log_error("cannot resolve listen address addr=%s err=%s", addr,
			  gai_strerror(rc));
		return -1;
	}

	for (int pass = 0; pass < 2 && fd == -1; pass++)
		for (ai = res; ai && fd == -1; ai = ai->ai_next)
			if ((ai->ai_family == AF_INET) == (pass == 0) ||
			    (!*host && pass == 1))
				fd = try_listen(ai);
	freeaddrinfo(res);
	if (fd == -1)
		log_error("cannot listen addr=%s err=%s", addr,
			  strerror(errno));
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_debug("http server says msg=\"%s\"", msg);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	struct conn_track *t = *socket_context;

	pthread_mutex_lock(&srv->conns_lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		t = xcalloc(1, sizeof(*t));
		t->fd = info ? info->connect_fd : -1;
		t->fresh = true;
		t->since_ns = now_monotonic_ns();
		t->next = srv->conns.next;
		t->prev = &srv->conns;
		t->next->prev = t;
		srv->conns.next = t;
		*socket_context = t;
	} else if (t) {
		/* Unlinked before the library closes the descriptor, so the
		 * reaper never touches a number reused by another socket. */
		t->prev->next = t->next;
		t->next->prev = t->prev;
		free(t);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&srv->conns_lock);
}

/* Cuts off connections that have waited too long for a request head. */
static void *reap(void *arg)
{
	struct http_server *srv = arg;
	struct timespec next;

	pthread_mutex_lock(&srv->conns_lock);
	while (!srv->stopping) {
		uint64_t now = now_monotonic_ns();

		for (struct conn_track *t = srv->conns.next; t != &srv->conns;
		     t = t->next)
			if (!t->in_request && t->fd != -1 &&
			    now - t->since_ns > srv->head_deadline_ns) {
				shutdown(t->fd, SHUT_RDWR);
				t->fd = -1;
			}
		clock_gettime(CLOCK_REALTIME, &next);
		next.tv_sec += 1;
		pthread_cond_timedwait(&srv->stop_cond, &srv->conns_lock,
				       &next);
	}
	pthread_mutex_unlock(&srv->conns_lock);
	return NULL;
}

/* Fills the library's option list; returns the number of items used. */
static size_t daemon_options(struct http_server *srv,
			     const struct http_options *opts,
			     struct MHD_OptionItem *o)
{
	size_t n = 0;

	o[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER,
					 (intptr_t)on_mhd_log, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET,
					 srv->listen_fd, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
					 (intptr_t)on_completed, srv};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
					 (intptr_t)on_connection, srv};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					 CONNECTION_MEMORY, NULL};
	o[n++] = (struct MHD_OptionItem){
		MHD_OPTION_CONNECTION_LIMIT,
		opts->max_connections ? (intptr_t)opts->max_connections : 1024,
		NULL};
	if (opts->max_client_connections)
		o[n++] = (struct MHD_OptionItem){
			MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			(intptr_t)opts->max_client_connections, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
					 opts->idle_timeout
						 ? (intptr_t)opts->idle_timeout
						 : 300,
					 NULL};
	if (opts->tls) {
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						 (void *)tls_priorities(
							 opts->tls)};
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK,
						 0, tls_cert_callback()};
	}
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	return n;
}

struct http_server *http_start(const struct http_options *opts,
			       http_handler_fn handler, void *arg)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	struct MHD_OptionItem options[16];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG | MHD_USE_ITC;

	srv->handler = handler;
	srv->arg = arg;
	pthread_mutex_init(&srv->conns_lock, NULL);
	pthread_cond_init(&srv->stop_cond, NULL);
	srv->conns.next = srv->conns.prev = &srv->conns;
	srv->head_deadline_ns =
		(uint64_t)(opts->idle_timeout ? opts->idle_timeout : 300) *
		1000000000u;
	srv->extra_headers = opts->extra_headers;
	srv->tls = opts->tls != NULL;
	if (srv->tls)
		flags |= MHD_USE_TLS;
	srv->listen_fd = listen_on(opts->addr);
	if (srv->listen_fd == -1)
		goto fail;
	srv->port = bound_port(srv->listen_fd);

	daemon_options(srv, opts, options);
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, srv,
				       MHD_OPTION_ARRAY, options,
				       MHD_OPTION_END);
	if (!srv->daemon) {
		log_error("cannot start http server addr=%s", opts->addr);
		goto fail;
	}
	srv->reaper_running = pthread_create(&srv->reaper, NULL, reap, srv) ==
			      0;
	return srv;

fail:
	if (srv->listen_fd != -1)
		close(srv->listen_fd);
	free(srv);
	return NULL;
}

uint16_t http_port(const struct http_server *srv)
{
	return srv->port;
}

void http_quiesce(struct http_server *srv)
{
	int fd;

	if (srv->quiesced)
		return;
	srv->quiesced = true;

	/* Taking the listening socket back stops new connections and
	 * leaves its closing to us, whatever the library version does. */
	fd = MHD_quiesce_daemon(srv->daemon);
	if (fd != -1)
		close(fd);
}

/*
 * Requests begun and not finished, plus connections accepted within the
 * last second whose first request head has not arrived yet: a client
 * that connected just before a stop is most likely sending one.
 */
unsigned http_inflight(struct http_server *srv)
{
	unsigned n = __atomic_load_n(&srv->inflight, __ATOMIC_RELAXED);
	uint64_t now = now_monotonic_ns();

	pthread_mutex_lock(&srv->conns_lock);
	for (struct conn_track *t = srv->conns.next; t != &srv->conns;
	     t = t->next)
		if (t->fresh && now - t->since_ns < 1000000000u)
			n++;
	pthread_mutex_unlock(&srv->conns_lock);
	return n;
}

void http_stop(struct http_server *srv)
{
	if (!srv)
		return;
	http_quiesce(srv);
	if (srv->reaper_running) {
		pthread_mutex_lock(&srv->conns_lock);
		srv->stopping = true;
		pthread_cond_signal(&srv->stop_cond);
		pthread_mutex_unlock(&srv->conns_lock);
		pthread_join(srv->reaper, NULL);
	}
	MHD_stop_daemon(srv->daemon);
	pthread_cond_destroy(&srv->stop_cond);
	pthread_mutex_destroy(&srv->conns_lock);
	free(srv);
}
