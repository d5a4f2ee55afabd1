/*
 * main.c - the berth command: serve, version and help.
 *
 * `berth serve [config.yml]` loads the settings, opens the store, builds
 * the registry and serves until SIGTERM or SIGINT.
 */
#include "access.h"
#include "api.h"
#include "config.h"
#include "cors.h"
#include "http.h"
#include "log.h"
#include "purge.h"
#include "registry.h"
#include "store.h"
#include "tls.h"
#include "usercmd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: berth <command> [arguments]\n"
		"\n"
		"  serve [config.yml]   serve the registry (settings from the\n"
		"                       file, then REGISTRY_* variables)\n"
		"  user add|passwd|del FILE NAME\n"
		"                       keep an htpasswd file (bcrypt)\n"
		"  help                 show this text\n"
		"  --version            print berth's version\n"
		"\n"
		"Without a file, REGISTRY_CONFIGURATION_PATH names one.\n");
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

static int wait_for_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigwait(&set, &sig);
	return sig;
}

static void block_signals(void)
{
	sigset_t set;

	/* Blocked before any thread starts, so only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int serve(const char *path)
{
	struct http_options opts = {0};
	struct http_server *srv = NULL;
	struct purger *purger = NULL;
	struct registry *reg = NULL;
	struct store *st = NULL;
	struct config *cfg;
	struct api *api = NULL;
	struct access *access = NULL;
	struct cors *cors = NULL;
	struct tls *tls = NULL;
	const char **headers = NULL;
	char err[512];
	int rc = 1, e, sig;

	cfg = config_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "berth: configuration error: %s\n", err);
		return 1;
	}
	log_threshold = (enum log_level)cfg->log_level;
	block_signals();

	e = store_fs_open(cfg->fs_rootdirectory, &st);
	if (e) {
		log_error("cannot open storage root=%s err=\"%s\"",
			  cfg->fs_rootdirectory, store_strerror(e));
		goto out;
	}
	access = access_open(cfg, err, sizeof(err));
	if (!access) {
		log_error("cannot set up logins reason=\"%s\"", err);
		goto out;
	}
	if (!open_tls(cfg, &tls))
		goto out;
	reg = registry_open(cfg, st);
	if (!reg)
		goto out;
	cors = cors_new(cfg);
	api = api_new(cfg, reg, access, cors);

	headers = extra_headers(cfg);
	opts.addr = cfg->http_addr;
	opts.extra_headers = headers;
	opts.tls = tls;
	srv = http_start(&opts, api_handle, api);
	if (!srv)
		goto out;
	if (cfg->uploadpurging_enabled && !cfg->readonly)
		purger = purge_start(st, cfg->uploadpurging_age,
				     cfg->uploadpurging_interval,
				     cfg->uploadpurging_dryrun);
	log_info("berth serving version=%s addr=%s port=%u tls=%d root=%s",
		 BERTH_VERSION, cfg->http_addr, http_port(srv), tls != NULL,
		 cfg->fs_rootdirectory);

	sig = wait_for_signal();
	log_info("stopping signal=%d", sig);
	rc = 0;
out:
	purge_stop(purger);
	http_stop(srv);
	api_free(api);
	cors_free(cors);
	registry_close(reg);
	tls_close(tls);
	access_close(access);
	if (st)
		st->ops->close(st);
	free(headers);
	config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
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

	fprintf(stderr, "berth: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
