/*
 * main.c - the berth command: serve, user, version and help.
 *
 * `berth serve [config.yml]` loads the settings, opens the store, builds
 * the registry and serves until SIGTERM or SIGINT, then stops accepting
 * and lets requests in flight finish within http.draintimeout.  SIGHUP
 * reloads what can change safely: users and permissions, CORS origins,
 * certificates and the log level.  Under systemd it reports readiness,
 * stopping and watchdog pings.
 */
#include "access.h"
#include "api.h"
#include "session.h"
#include "ui.h"
#include "config.h"
#include "debugsrv.h"
#include "digest.h"
#include "health.h"
#include "notify.h"
#include "cors.h"
#include "gccmd.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "purge.h"
#include "registry.h"
#include "sdnotify.h"
#include "store.h"
#include "tls.h"
#include "usercmd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Objects a reload replaced; requests may still hold them. */
struct retired {
	struct retired *next;
	struct config *cfg;
	struct access *access;
	struct cors *cors;
};

struct server {
	const char *config_path;
	struct config *cfg;
	struct store *store;
	struct registry *reg;
	struct access *access;
	struct cors *cors;
	struct tls *tls;
	struct api *api;
	struct ui *ui;
	struct sessions *sessions;
	struct http_server *http;
	struct purger *purger;
	struct health *health;
	struct notify *notify;
	struct debugsrv *debug;
	struct lifecycle *lifecycle;
	const char **headers;
	struct retired *retired;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: berth <command> [arguments]\n"
		"\n"
		"  serve [config.yml]   serve the registry (settings from the\n"
		"                       file, then REGISTRY_* variables)\n"
		"  user add|passwd|del FILE NAME\n"
		"                       keep an htpasswd file (bcrypt)\n"
		"  garbage-collect [-d] [-m] [config.yml]\n"
		"                       delete unreferenced blobs offline\n"
		"  help                 show this text\n"
		"  --version            print berth's version\n"
		"\n"
		"Without a file, REGISTRY_CONFIGURATION_PATH names one.\n"
		"Signals: TERM drains and stops, HUP reloads users, access\n"
		"rules, CORS origins, certificates and the log level.\n");
}

/*
 * Flattens the configured extra headers into name, value pairs.  The
 * Access-Control-* ones are left to CORS, which answers each origin
 * properly instead of sending one fixed value to everyone.
 */
static const char **extra_headers(const struct config *cfg)
{
	size_t n = 0, k = 0;
	const char **pairs;

	for (size_t i = 0; i < cfg->http_headers_count; i++)
		for (char **v = cfg->http_headers[i].values; *v; v++)
			n++;
	pairs = xcalloc(2 * n + 1, sizeof(*pairs));
	for (size_t i = 0; i < cfg->http_headers_count; i++) {
		if (cors_manages_header(cfg->http_headers[i].name))
			continue;
		for (char **v = cfg->http_headers[i].values; *v; v++) {
			pairs[k++] = cfg->http_headers[i].name;
			pairs[k++] = *v;
		}
	}
	return pairs;
}

/* Opens TLS when a certificate is configured; false on a bad one. */
static bool open_tls(const struct config *cfg, struct tls **out)
{
	char err[512];

	*out = NULL;
	if (!cfg->http_tls_certificate || !*cfg->http_tls_certificate)
		return true;
	if (!cfg->http_tls_key || !*cfg->http_tls_key) {
		log_error("http.tls.certificate needs http.tls.key");
		return false;
	}
	*out = tls_open(cfg->http_tls_certificate, cfg->http_tls_key,
			cfg->http_tls_minimum, err, sizeof(err));
	if (!*out)
		log_error("cannot use the TLS certificate reason=\"%s\"", err);
	return *out != NULL;
}

static const int signals[] = {SIGTERM, SIGINT, SIGHUP};

static void block_signals(sigset_t *set)
{
	/* Blocked before any thread starts, so only the main loop sees
	 * them, through sigtimedwait. */
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaddset(set, signals[i]);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int server_open(struct server *s)
{
	struct http_options opts = {0};
	char err[512];
	int e;

	e = store_open(s->cfg, &s->store, err, sizeof(err));
	if (e) {
		log_error("cannot open storage driver=%s reason=\"%s\"",
			  s->cfg->storage_driver, err);
		return -1;
	}
	s->access = access_open(s->cfg, err, sizeof(err));
	if (!s->access) {
		log_error("cannot set up logins reason=\"%s\"", err);
		return -1;
	}
	if (!open_tls(s->cfg, &s->tls))
		return -1;
	s->reg = registry_open(s->cfg, s->store);
	if (!s->reg)
		return -1;
	s->lifecycle = lifecycle_start(s->cfg, s->store, registry_index(s->reg),
				       err, sizeof(err));
	if (!s->lifecycle) {
		log_error("cannot start the storage lifecycle reason=\"%s\"",
			  err);
		return -1;
	}
	registry_set_lifecycle(s->reg, s->lifecycle);
	s->cors = cors_new(s->cfg);
	s->api = api_new(s->cfg, s->reg, s->access, s->cors);
	s->sessions = sessions_new();
	s->ui = ui_new(s->cfg, s->reg, s->sessions);
	registry_on_change(s->reg, ui_on_change, s->ui);
	lifecycle_on_change(s->lifecycle, ui_on_change, s->ui);
	ui_set_usage(s->ui, lifecycle_usage(s->lifecycle));
	api_set_ui(s->api, s->ui, s->sessions);
	s->health = health_new(s->store, 1000, !s->cfg->readonly);
	if (!s->health || notify_open(s->cfg, &s->notify) != 0)
		return -1;
	api_set_ops(s->api, s->notify, s->health);
	if (debugsrv_start(s->cfg, s->store, s->health, &s->debug) != 0)
		return -1;
	api_set_lifecycle(s->api, s->lifecycle);

	s->headers = extra_headers(s->cfg);
	opts.addr = s->cfg->http_addr;
	opts.extra_headers = s->headers;
	opts.tls = s->tls;
	opts.max_connections = (size_t)s->cfg->http_max_connections;
	opts.max_client_connections =
		(size_t)s->cfg->http_max_client_connections;
	opts.idle_timeout = (unsigned)s->cfg->http_idle_timeout;
	s->http = http_start(&opts, api_handle, s->api);
	if (!s->http)
		return -1;

	if (s->cfg->uploadpurging_enabled && !s->cfg->readonly)
		s->purger = purge_start(s->store, s->cfg->uploadpurging_age,
					s->cfg->uploadpurging_interval,
					s->cfg->uploadpurging_dryrun);
	return 0;
}

/* Names settings that changed but only take effect after a restart. */
static void warn_restart_needed(const struct config *old,
				const struct config *new)
{
	static const struct {
		const char *key;
		size_t offset;
	} fixed[] = {
		{"http.addr", offsetof(struct config, http_addr)},
		{"http.host", offsetof(struct config, http_host)},
		{"http.prefix", offsetof(struct config, http_prefix)},
		{"http.tls.certificate",
		 offsetof(struct config, http_tls_certificate)},
		{"http.tls.key", offsetof(struct config, http_tls_key)},
		{"storage.filesystem.rootdirectory",
		 offsetof(struct config, fs_rootdirectory)},
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		const char *a = *(char **)((char *)old + fixed[i].offset);
		const char *b = *(char **)((char *)new + fixed[i].offset);

		if (strcmp(a ? a : "", b ? b : "") != 0)
			log_warn("reload cannot change this setting, restart "
				 "to apply key=%s",
				 fixed[i].key);
	}
	if (old->delete_enabled != new->delete_enabled ||
	    old->readonly != new->readonly)
		log_warn("reload cannot change storage policies, restart to "
			 "apply key=storage");
}

/* Whether two NULL-terminated lists of origins differ. */
static bool origins_differ(char **a, char **b)
{
	for (; a && *a && b && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return true;
	return (a && *a) || (b && *b);
}

/*
 * Says which reloadable settings a reload changes, compared with the
 * last configuration applied.  Users are counted by access_open.
 */
static void log_reload_changes(const struct config *prev,
			       const struct config *next)
{
	struct buf list = BUF_INIT;

	if (!origins_differ(prev->http_cors_origins, next->http_cors_origins))
		return;
	for (char **o = next->http_cors_origins; o && *o; o++)
		buf_addf(&list, "%s%s", list.len ? " " : "", *o);
	log_info("reload changed CORS origins key=http.cors.origins "
		 "origins=\"%s\"",
		 list.len ? list.data : "");
	buf_free(&list);
}

/* SIGHUP: re-reads the configuration and applies what can change. */
static void server_reload(struct server *s)
{
	struct retired *r;
	struct config *cfg;
	struct access *access;
	struct cors *cors;
	char err[512];

	cfg = config_load(s->config_path, err, sizeof(err));
	if (!cfg) {
		log_error("reload refused, configuration kept reason=\"%s\"",
			  err);
		return;
	}
	access = access_open(cfg, err, sizeof(err));
	if (!access) {
		log_error("reload refused, logins kept reason=\"%s\"", err);
		config_free(cfg);
		return;
	}

	log_set_formatter(cfg->log_formatter);
	log_set_access(!cfg->log_accesslog_disabled);
	if (notify_reload(s->notify, cfg) != 0)
		log_error("reload could not start every notification endpoint");
	if (cfg->log_level != (int)log_threshold) {
		log_threshold = (enum log_level)cfg->log_level;
		log_warn("reload changed the log level level=%d",
			 cfg->log_level);
	}
	warn_restart_needed(s->cfg, cfg);
	log_reload_changes(s->retired ? s->retired->cfg : s->cfg, cfg);
	cors = cors_new(cfg);
	s->access = access;
	s->cors = cors;
	/* From here on access and cors are the old ones, to retire. */
	api_swap(s->api, &access, &cors);
	if (s->tls)
		tls_refresh(s->tls, true);

	r = xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	r->access = access;
	r->cors = cors;
	r->next = s->retired;
	s->retired = r;
	log_info("reload done: users, access rules, CORS origins and "
		 "certificates are current");
}

/* Waits for requests in flight, at most the drain timeout. */
static void server_drain(struct server *s)
{
	uint64_t deadline = now_monotonic_ns() +
			    (uint64_t)s->cfg->http_draintimeout * 1000000000u;
	struct timespec pause = {0, 50 * 1000 * 1000};
	struct timespec settle = {0, 300 * 1000 * 1000};

	/* Readiness says no at once; the listener stays open a moment so
	 * connections already made (still in the kernel's queue) are taken
	 * and served rather than reset. */
	health_set_stopping(s->health);
	if (s->cfg->http_draintimeout > 0)
		nanosleep(&settle, NULL);
	http_quiesce(s->http);
	while (http_inflight(s->http) && now_monotonic_ns() < deadline)
		nanosleep(&pause, NULL);
	if (http_inflight(s->http))
		log_warn("drain timeout reached, closing requests=%u",
			 http_inflight(s->http));
}

static void server_close(struct server *s)
{
	purge_stop(s->purger);
	http_stop(s->http);
	debugsrv_stop(s->debug);
	notify_close(s->notify);
	health_free(s->health);
	api_free(s->api);
	if (s->reg)
		registry_set_lifecycle(s->reg, NULL);
	lifecycle_stop(s->lifecycle); /* it may still tell the UI of changes */
	ui_free(s->ui);
	sessions_free(s->sessions);
	registry_close(s->reg);
	tls_close(s->tls);
	cors_free(s->cors);
	access_close(s->access);
	while (s->retired) {
		struct retired *r = s->retired;

		s->retired = r->next;
		cors_free(r->cors);
		access_close(r->access);
		config_free(r->cfg);
		free(r);
	}
	if (s->store)
		s->store->ops->close(s->store);
	free(s->headers);
	config_free(s->cfg);
}

/* Tells the service manager STATE; a failure is worth a warning only. */
static void server_notify(const char *state)
{
	int err = sdnotify_send(state);

	if (err < 0)
		log_warn("service manager notification failed state=%s err=%s",
			 state, strerror(-err));
}

/* Serves until TERM or INT, reloading on HUP, pinging any watchdog. */
static void server_run(struct server *s, const sigset_t *set)
{
	uint64_t watchdog_us = sdnotify_watchdog_usec();
	struct timespec wait = {3600, 0};
	int sig;

	if (watchdog_us) {
		wait.tv_sec = (time_t)(watchdog_us / 2 / 1000000);
		wait.tv_nsec = (long)(watchdog_us / 2 % 1000000) * 1000;
	}
	server_notify("READY=1");

	for (;;) {
		sig = sigtimedwait(set, NULL, &wait);
		if (sig == -1) {
			if (watchdog_us)
				server_notify("WATCHDOG=1");
			continue;
		}
		if (sig != SIGHUP)
			break;
		server_notify("RELOADING=1");
		server_reload(s);
		server_notify("READY=1");
	}
	log_info("stopping signal=%d inflight=%u", sig, http_inflight(s->http));
	server_notify("STOPPING=1");
	server_drain(s);
}

static int serve(const char *path)
{
	struct server s = {0};
	sigset_t set;
	char err[512];
	int rc = 1;

	s.config_path = path;
	/* A first, silent pass learns the log format, so that the second
	 * one's warnings come out in it. */
	log_threshold = LVL_NONE;
	s.cfg = config_load(path, err, sizeof(err));
	log_threshold = LVL_INFO;
	if (s.cfg)
		log_set_formatter(s.cfg->log_formatter);
	config_free(s.cfg);
	s.cfg = config_load(path, err, sizeof(err));
	if (!s.cfg) {
		fprintf(stderr, "berth: configuration error: %s\n", err);
		return 1;
	}
	log_threshold = (enum log_level)s.cfg->log_level;
	log_set_formatter(s.cfg->log_formatter);
	log_set_access(!s.cfg->log_accesslog_disabled);
	block_signals(&set);

	if (server_open(&s) == 0) {
		log_info("berth serving version=%s addr=%s port=%u tls=%d "
			 "root=%s",
			 BERTH_VERSION, s.cfg->http_addr, http_port(s.http),
			 s.tls != NULL, s.cfg->fs_rootdirectory);
		server_run(&s, &set);
		rc = 0;
	}
	server_close(&s);
	return rc;
}

int main(int argc, char **argv)
{
	digest_init();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("berth %s\n", BERTH_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "serve"))
		return serve(argc > 2 ? argv[2] : NULL);
	if (!strcmp(argv[1], "user"))
		return usercmd_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "garbage-collect"))
		return gccmd_main(argc - 1, argv + 1);

	fprintf(stderr, "berth: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
