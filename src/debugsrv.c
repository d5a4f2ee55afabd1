/*
 * debugsrv.c - answers the few fixed paths of the debug listener.
 *
 * Every answer is small and made in memory: the metrics text, or one
 * line.  Nothing here reads a request body, and health answers come from
 * the cached verdict of health.c, so a hung store cannot hang a probe.
 */
#include "debugsrv.h"
#include "blobstats.h"
#include "config.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define DEBUG_MAX_CONNECTIONS 64

struct debugsrv {
	struct http_server *srv;
	struct blobstats *counter;
	struct health *health;
	const char *metrics_path; /* NULL when Prometheus is off */
};

static void send_text(struct http_request *req, int status, const char *text)
{
	struct http_response *res = http_response_new(status);

	http_response_body(res, "text/plain; charset=utf-8", text,
			   strlen(text));
	http_send(req, res);
}

static void serve_metrics(struct http_request *req)
{
	struct http_response *res = http_response_new(200);
	struct buf b = BUF_INIT;

	metrics_render(&b);
	http_response_body(res, METRICS_CONTENT_TYPE, b.data ? b.data : "",
			   b.len);
	http_send(req, res);
	buf_free(&b);
}

static void serve_readyz(struct debugsrv *d, struct http_request *req)
{
	char reason[200], line[210];

	if (health_ready(d->health, reason, sizeof(reason))) {
		send_text(req, 200, "ready\n");
		return;
	}
	snprintf(line, sizeof(line), "%s\n", reason);
	send_text(req, 503, line);
}

/* registry:2's /debug/health: check name to error, {} when none fail. */
static void serve_debug_health(struct debugsrv *d, struct http_request *req)
{
	struct http_response *res;
	json_t *body = json_object();
	char reason[200];
	char *text;
	int status = 200;

	if (!health_ready(d->health, reason, sizeof(reason))) {
		json_object_set_new(body, "storagedriver_filesystem",
				    json_string(reason));
		status = 503;
	}
	text = json_dumps(body, JSON_COMPACT);
	res = http_response_new(status);
	http_response_body(res, "application/json; charset=utf-8", text,
			   strlen(text));
	http_send(req, res);
	free(text);
	json_decref(body);
}

static void on_request(void *arg, struct http_request *req)
{
	struct debugsrv *d = arg;
	const char *method = http_method(req);
	const char *path = http_path(req);

	/* Probes and scrapes are not registry traffic: one label for all. */
	http_set_route(req, "debug");
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		struct http_response *res = http_response_new(405);

		http_response_header(res, "Allow", "GET, HEAD");
		http_response_body(res, "text/plain; charset=utf-8",
				   "method not allowed\n", 19);
		http_send(req, res);
		return;
	}

	if (d->metrics_path && !strcmp(path, d->metrics_path))
		serve_metrics(req);
	else if (!strcmp(path, "/healthz"))
		send_text(req, 200, "ok\n");
	else if (!strcmp(path, "/readyz"))
		serve_readyz(d, req);
	else if (!strcmp(path, "/debug/health"))
		serve_debug_health(d, req);
	else
		send_text(req, 404, "not found\n");
}

int debugsrv_start(const struct config *cfg, struct store *st, struct health *h,
		   struct debugsrv **out)
{
	struct http_options opts = {0};
	struct debugsrv *d;

	*out = NULL;
	if (!cfg->http_debug_addr || !cfg->http_debug_addr[0])
		return 0;

	d = xcalloc(1, sizeof(*d));
	d->health = h;
	if (cfg->http_prometheus_enabled)
		d->metrics_path = cfg->http_prometheus_path[0]
					  ? cfg->http_prometheus_path
					  : "/metrics";

	opts.addr = cfg->http_debug_addr;
	opts.max_connections = DEBUG_MAX_CONNECTIONS;
	opts.idle_timeout = 30;
	d->srv = http_start(&opts, on_request, d);
	if (!d->srv) {
		log_error("cannot start the debug listener addr=%s",
			  cfg->http_debug_addr);
		free(d);
		return -1;
	}
	if (d->metrics_path)
		d->counter = blobstats_start(st, DEBUGSRV_BLOBCOUNT_INTERVAL);

	log_info("debug listener serving addr=%s port=%u metrics=%s",
		 cfg->http_debug_addr, http_port(d->srv),
		 d->metrics_path ? d->metrics_path : "off");
	*out = d;
	return 0;
}

uint16_t debugsrv_port(const struct debugsrv *d)
{
	return d ? http_port(d->srv) : 0;
}

void debugsrv_stop(struct debugsrv *d)
{
	if (!d)
		return;
	http_stop(d->srv);
	blobstats_stop(d->counter);
	free(d);
}
