/*
 * test_config.c - registry:2 configuration files and REGISTRY_* variables
 * as berth reads them: defaults, every supported key, environment
 * precedence, refusals that name the key, and warnings for the rest.
 */
#include "check.h"
#include "config.h"
#include "log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define ERRLEN 512

static struct config *parse(const char *yaml, char *const *env, char *err)
{
	return config_parse(yaml, strlen(yaml), env, err, ERRLEN);
}

/* ---- capturing the warnings written to standard error ---------------- */

static FILE *capture_file;
static int capture_saved = -1;

static void capture_begin(void)
{
	fflush(stderr);
	log_threshold = LVL_INFO;
	capture_file = tmpfile();
	capture_saved = dup(STDERR_FILENO);
	dup2(fileno(capture_file), STDERR_FILENO);
}

/* Returns what was logged since capture_begin; the caller frees it. */
static char *capture_end(void)
{
	char *text;
	long len;

	fflush(stderr);
	log_threshold = LVL_ERROR;
	dup2(capture_saved, STDERR_FILENO);
	close(capture_saved);
	len = ftell(capture_file);
	text = calloc(1, (size_t)len + 1);
	rewind(capture_file);
	if (fread(text, 1, (size_t)len, capture_file) != (size_t)len)
		text[0] = '\0';
	fclose(capture_file);
	return text;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static const struct config_header *header(const struct config *c,
					  const char *name)
{
	for (size_t i = 0; i < c->http_headers_count; i++)
		if (!strcmp(c->http_headers[i].name, name))
			return &c->http_headers[i];
	return NULL;
}

/* ---- the tests -------------------------------------------------------- */

static void test_defaults(void)
{
	char err[ERRLEN];
	struct config *c;
	char *log;

	capture_begin();
	c = parse("", NULL, err);
	log = capture_end();
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(strstr(log, "configuration has no version") != NULL);
	CHECK_STR(c->version, "0.1");
	CHECK(c->log_level == LVL_INFO);
	CHECK_STR(c->log_formatter, "text");
	CHECK(!c->log_accesslog_disabled);
	CHECK_STR(c->http_addr, ":5000");
	CHECK_STR(c->http_host, "");
	CHECK(!c->http_relativeurls);
	CHECK_STR(c->http_secret, "");
	CHECK(c->http_headers_count == 0);
	CHECK_STR(c->http_prefix, "");
	CHECK(c->http_draintimeout == 0);
	CHECK_STR(c->http_debug_addr, "");
	CHECK(!c->http_prometheus_enabled);
	CHECK_STR(c->http_prometheus_path, "/metrics");
	CHECK_STR(c->storage_driver, "filesystem");
	CHECK_STR(c->fs_rootdirectory, "/var/lib/registry");
	CHECK(c->fs_maxthreads == 100);
	CHECK(!c->delete_enabled);
	CHECK(!c->readonly);
	CHECK(c->uploadpurging_enabled);
	CHECK(c->uploadpurging_age == 168 * 3600);
	CHECK(c->uploadpurging_interval == 24 * 3600);
	CHECK(!c->uploadpurging_dryrun);
	config_free(c);
	free(log);
}

/* The configuration registry:2's Debian package ships, without auth. */
static const char realistic[] = "version: 0.1\n"
				"log:\n"
				"  fields:\n"
				"    service: registry\n"
				"storage:\n"
				"  cache:\n"
				"    blobdescriptor: inmemory\n"
				"  filesystem:\n"
				"    rootdirectory: /var/lib/docker-registry\n"
				"  delete:\n"
				"    enabled: true\n"
				"http:\n"
				"  addr: :5000\n"
				"  headers:\n"
				"    X-Content-Type-Options: [nosniff]\n"
				"health:\n"
				"  storagedriver:\n"
				"    enabled: true\n"
				"    interval: 10s\n"
				"    threshold: 3\n";

static const char realistic_auth[] = "auth:\n"
				     "  htpasswd:\n"
				     "    realm: basic-realm\n"
				     "    path: /etc/docker/registry\n";

static void test_realistic(void)
{
	const struct config_header *h;
	char err[ERRLEN];
	struct config *c;
	char *log;

	capture_begin();
	c = parse(realistic, NULL, err);
	log = capture_end();
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_STR(log, "");
	CHECK_STR(c->storage_driver, "filesystem");
	CHECK_STR(c->fs_rootdirectory, "/var/lib/docker-registry");
	CHECK(c->delete_enabled);
	CHECK_STR(c->http_addr, ":5000");
	CHECK(c->http_headers_count == 1);
	h = header(c, "X-Content-Type-Options");
	CHECK(h && h->values[0] && !strcmp(h->values[0], "nosniff") &&
	      !h->values[1]);
	config_free(c);
	free(log);
}

/*
 * A registry that would run unprotected must refuse to start instead:
 * auth types berth lacks and an htpasswd section missing its file.
 */
static void test_auth_fails(void)
{
	char yaml[sizeof(realistic) + sizeof(realistic_auth)];
	char *env[] = {"REGISTRY_AUTH=htpasswd", NULL};
	char err[ERRLEN];
	struct config *c;

	snprintf(yaml, sizeof(yaml), "%s%s", realistic, realistic_auth);
	c = parse(yaml, NULL, err);
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->auth_htpasswd_realm, "basic-realm");
		CHECK_STR(c->auth_htpasswd_path, "/etc/docker/registry");
	}
	config_free(c);

	CHECK(parse("auth:\n  token:\n    realm: x\n", NULL, err) == NULL);
	CHECK_STR(err, "auth: token authentication is not available in "
		       "this build; berth supports htpasswd");

	CHECK(parse("auth: silly\n", NULL, err) == NULL);
	CHECK_STR(err, "auth: silly authentication is not available in "
		       "this build; berth supports htpasswd");

	c = parse("auth: ''\n", NULL, err);
	CHECK(c != NULL);
	CHECK(c && !c->auth_htpasswd_path);
	config_free(c);

	CHECK(parse(realistic, env, err) == NULL);
	CHECK_STR(err, "auth.htpasswd.realm: required");
}

static void test_every_key(void)
{
	static const char yaml[] = "version: '0.1'\n"
				   "log:\n"
				   "  level: DEBUG\n"
				   "  formatter: json\n"
				   "  accesslog:\n"
				   "    disabled: true\n"
				   "http:\n"
				   "  net: tcp\n"
				   "  addr: 127.0.0.1:6000\n"
				   "  host: https://registry.example/\n"
				   "  prefix: /mirror/\n"
				   "  relativeurls: yes\n"
				   "  secret: s3cr3t\n"
				   "  draintimeout: 1m30s\n"
				   "  headers:\n"
				   "    X-Frame-Options: DENY\n"
				   "    Cache-Control: [no-store, private]\n"
				   "  debug:\n"
				   "    addr: '[::1]:5001'\n"
				   "    prometheus:\n"
				   "      enabled: true\n"
				   "      path: /m\n"
				   "storage:\n"
				   "  filesystem:\n"
				   "    rootdirectory: /srv/registry\n"
				   "    maxthreads: 50\n"
				   "  delete:\n"
				   "    enabled: on\n"
				   "  maintenance:\n"
				   "    uploadpurging:\n"
				   "      enabled: false\n"
				   "      age: 2h\n"
				   "      interval: 30m\n"
				   "      dryrun: true\n"
				   "    readonly:\n"
				   "      enabled: true\n"
				   "  redirect:\n"
				   "    disable: true\n";
	const struct config_header *h;
	char err[ERRLEN];
	struct config *c = parse(yaml, NULL, err);

	CHECK(c != NULL);
	if (!c) {
		printf("  err: %s\n", err);
		return;
	}
	CHECK(c->log_level == LVL_DEBUG);
	CHECK_STR(c->log_formatter, "json");
	CHECK(c->log_accesslog_disabled);
	CHECK_STR(c->http_addr, "127.0.0.1:6000");
	CHECK_STR(c->http_host, "https://registry.example");
	CHECK_STR(c->http_prefix, "/mirror");
	CHECK(c->http_relativeurls);
	CHECK_STR(c->http_secret, "s3cr3t");
	CHECK(c->http_draintimeout == 90);
	CHECK(c->http_headers_count == 2);
	h = header(c, "X-Frame-Options");
	CHECK(h && !strcmp(h->values[0], "DENY") && !h->values[1]);
	h = header(c, "Cache-Control");
	CHECK(h && !strcmp(h->values[0], "no-store") &&
	      !strcmp(h->values[1], "private") && !h->values[2]);
	CHECK_STR(c->http_debug_addr, "[::1]:5001");
	CHECK(c->http_prometheus_enabled);
	CHECK_STR(c->http_prometheus_path, "/m");
	CHECK_STR(c->fs_rootdirectory, "/srv/registry");
	CHECK(c->fs_maxthreads == 50);
	CHECK(c->delete_enabled);
	CHECK(!c->uploadpurging_enabled);
	CHECK(c->uploadpurging_age == 7200);
	CHECK(c->uploadpurging_interval == 1800);
	CHECK(c->uploadpurging_dryrun);
	CHECK(c->readonly);
	config_free(c);
}

static void test_env_beats_yaml(void)
{
	static const char yaml[] =
		"version: 0.1\n"
		"log:\n  level: info\n"
		"http:\n  addr: :5000\n  secret: fromfile\n"
		"storage:\n"
		"  filesystem:\n    rootdirectory: /from/file\n"
		"  maintenance:\n    uploadpurging:\n      enabled: true\n";
	char *env[] = {
		"PATH=/usr/bin",
		"REGISTRY_HTTP_ADDR=127.0.0.1:6000",
		"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/from/env",
		"REGISTRY_STORAGE_DELETE_ENABLED=true",
		"REGISTRY_LOG_LEVEL=debug",
		"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED=false",
		"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE=1h",
		"REGISTRY_HTTP_SECRET=",
		"REGISTRY_HTTP_RELATIVEURLS=true",
		NULL,
	};
	char err[ERRLEN];
	struct config *c = parse(yaml, env, err);

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_STR(c->http_addr, "127.0.0.1:6000");
	CHECK_STR(c->fs_rootdirectory, "/from/env");
	CHECK(c->delete_enabled);
	CHECK(c->log_level == LVL_DEBUG);
	CHECK(!c->uploadpurging_enabled);
	CHECK(c->uploadpurging_age == 3600);
	CHECK_STR(c->http_secret, "");
	CHECK(c->http_relativeurls);
	config_free(c);
}

static void test_env_headers(void)
{
	static const char yaml[] =
		"http:\n  headers:\n    X-Content-Type-Options: [nosniff]\n";
	char *env[] = {
		"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin="
		"[\"https://ui\"]",
		"REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS=[other]",
		"REGISTRY_HTTP_HEADERS_X-Two=[a, b]",
		NULL,
	};
	const struct config_header *h;
	char err[ERRLEN];
	struct config *c = parse(yaml, env, err);

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(c->http_headers_count == 3);
	h = header(c, "Access-Control-Allow-Origin");
	CHECK(h && !strcmp(h->values[0], "https://ui") && !h->values[1]);
	h = header(c, "X-CONTENT-TYPE-OPTIONS");
	CHECK(h && !strcmp(h->values[0], "other") && !h->values[1]);
	CHECK(header(c, "X-Content-Type-Options") == NULL);
	h = header(c, "X-Two");
	CHECK(h && !strcmp(h->values[0], "a") && !strcmp(h->values[1], "b"));
	config_free(c);
}

/*
 * REGISTRY_STORAGE replaces the whole section, and is applied before the
 * variables under it whatever their order in the environment.
 */
static void test_env_storage_section(void)
{
	static const char yaml[] =
		"storage:\n"
		"  filesystem:\n    rootdirectory: /from/file\n"
		"  maintenance:\n    readonly:\n      enabled: true\n";
	char *env[] = {
		"REGISTRY_STORAGE_DELETE_ENABLED=true",
		"REGISTRY_STORAGE=filesystem",
		NULL,
	};
	char err[ERRLEN];
	struct config *c = parse(yaml, env, err);

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_STR(c->storage_driver, "filesystem");
	CHECK_STR(c->fs_rootdirectory, "/var/lib/registry");
	CHECK(!c->readonly);
	CHECK(c->delete_enabled);
	config_free(c);

	c = parse("storage: filesystem\n", NULL, err);
	CHECK(c && !strcmp(c->storage_driver, "filesystem"));
	config_free(c);
}

static void test_drivers(void)
{
	char *s3[] = {"REGISTRY_STORAGE=s3", NULL};
	char *bucket[] = {"REGISTRY_STORAGE_S3_BUCKET=b", NULL};
	char err[ERRLEN];

	char *s3env[] = {"REGISTRY_STORAGE_S3_REGIONENDPOINT=http://127.0.0.1:9",
			 "REGISTRY_STORAGE_S3_CHUNKSIZE=6291456",
			 "REGISTRY_STORAGE_S3_FORCEPATHSTYLE=true", NULL};
	struct config *c;

	c = parse("", s3, err);
	CHECK(c && !strcmp(c->storage_driver, "s3"));
	CHECK(c && c->s3_secure && c->s3_v4auth && !c->s3_encrypt &&
	      c->s3_chunksize == 10 << 20 && !c->s3_forcepathstyle);
	CHECK(c && !strcmp(c->s3_storageclass, "STANDARD"));
	config_free(c);

	c = parse("storage:\n  s3:\n    bucket: b\n    region: r\n"
		  "    rootdirectory: /reg\n",
		  s3env, err);
	CHECK(c && !strcmp(c->s3_bucket, "b") && !strcmp(c->s3_region, "r"));
	CHECK(c && !strcmp(c->s3_rootdirectory, "/reg"));
	CHECK(c && !strcmp(c->s3_regionendpoint, "http://127.0.0.1:9"));
	CHECK(c && c->s3_chunksize == 6 << 20 && c->s3_forcepathstyle);
	config_free(c);

	CHECK(parse("storage:\n  s3:\n    chunksize: 1000\n", NULL, err) ==
	      NULL);
	CHECK(strstr(err, "storage.s3.chunksize") != NULL);

	CHECK(parse("storage: inmemory\n", NULL, err) == NULL);
	CHECK_STR(err, "storage: driver \"inmemory\" is not supported by "
		       "this build");

	CHECK(parse("storage:\n  azure:\n    container: b\n  delete:\n"
		    "    enabled: true\n",
		    NULL, err) == NULL);
	CHECK_STR(err, "storage: driver \"azure\" is not supported by "
		       "this build");

	CHECK(parse("storage:\n  filesystem:\n    rootdirectory: /a\n", bucket,
		    err) == NULL);
	CHECK_STR(err, "storage: exactly one driver may be configured, "
		       "found \"filesystem\" and \"s3\"");
}

struct bad_case {
	const char *yaml;
	const char *env;
	const char *err;
};

static const struct bad_case bad_cases[] = {
	{"http:\n  addr: abc\n", NULL,
	 "http.addr: expected host:port, got \"abc\""},
	{"http:\n  addr: :0\n", NULL,
	 "http.addr: expected host:port, got \":0\""},
	{"http:\n  addr: :65536\n", NULL,
	 "http.addr: expected host:port, got \":65536\""},
	{"http:\n  addr: ::1:5000\n", NULL,
	 "http.addr: expected host:port, got \"::1:5000\""},
	{"http:\n  addr: '[::1]5000'\n", NULL,
	 "http.addr: expected host:port, got \"[::1]5000\""},
	{"http:\n  addr: [a]\n", NULL,
	 "http.addr: expected host:port, got a list"},
	{"storage:\n  delete:\n    enabled: maybe\n", NULL,
	 "storage.delete.enabled: expected true or false, got \"maybe\""},
	{"", "REGISTRY_STORAGE_DELETE_ENABLED=maybe",
	 "storage.delete.enabled: expected true or false, got \"maybe\""},
	{"http:\n  draintimeout: 10\n", NULL,
	 "http.draintimeout: expected a duration such as 30s or 1h30m, "
	 "got \"10\""},
	{"storage:\n  maintenance:\n    uploadpurging:\n      interval: 0s\n",
	 NULL,
	 "storage.maintenance.uploadpurging.interval: expected a "
	 "duration of at least 1s, got \"0s\""},
	{"log:\n  level: loud\n", NULL,
	 "log.level: expected error, warn, info or debug, got \"loud\""},
	{"log:\n  formatter: xml\n", NULL,
	 "log.formatter: expected text, json or logfmt, got \"xml\""},
	{"http:\n  host: ftp://x\n", NULL,
	 "http.host: expected a URL starting with http:// or https://, "
	 "got \"ftp://x\""},
	{"http:\n  host: https://\n", NULL,
	 "http.host: expected a URL starting with http:// or https://, "
	 "got \"https://\""},
	{"http:\n  net: unix\n  addr: /run/registry.sock\n", NULL,
	 "http.net: unix sockets are not supported, use tcp"},
	{"http:\n  prefix: registry\n", NULL,
	 "http.prefix: expected a path starting with /, got \"registry\""},
	{"storage:\n  filesystem:\n    maxthreads: 10\n", NULL,
	 "storage.filesystem.maxthreads: expected a whole number from 25 "
	 "to 2147483647, got \"10\""},
	{"storage:\n  filesystem:\n    rootdirectory: ''\n", NULL,
	 "storage.filesystem.rootdirectory: expected a non-empty string, "
	 "got \"\""},
	{"http:\n  headers:\n    X-A:\n      b: c\n", NULL,
	 "http.headers.X-A: expected a list of strings, got a mapping"},
	{"http:\n  headers:\n    X-A: [\"a\\r\\nSet-Cookie: x\"]\n", NULL,
	 "http.headers.X-A: expected a list of one-line strings, got "
	 "\"a\r\nSet-Cookie: x\""},
	{"http:\n  headers:\n    X-A: [~]\n", NULL,
	 "http.headers.X-A: expected a list of one-line strings, got null"},
	{"http:\n  headers:\n    X A: [b]\n", NULL,
	 "http.headers.X A: not a valid header name"},
	{"http: 5\n", NULL, "http: expected a mapping, got \"5\""},
	{"version: 0.2\n", NULL, "version: expected 0.1, got \"0.2\""},
	{"http:\n  tls:\n    letsencrypt:\n      email: a@b\n", NULL,
	 "http.tls.letsencrypt: built-in Let's Encrypt is not available; "
	 "let certbot or uacme renew the files, berth reloads them when "
	 "they change"},
	{"http:\n  tls:\n    minimumtls: tls1.0\n", NULL,
	 "http.tls.minimumtls: expected tls1.2 or tls1.3, got "
	 "\"tls1.0\""},
	{"http:\n  cors:\n    origins: {a: b}\n", NULL,
	 "http.cors.origins: expected a list of strings, got a mapping"},
	{"- a\n- b\n", NULL,
	 "configuration must be a mapping of sections, got a list"},
	{"http:\n  addr: :1\n  addr: :2\n", NULL,
	 "line 3: duplicate key http.addr"},
	{"", "REGISTRY_HTTP_ADDR=[", NULL},
};

/*
 * Redirects are on unless storage.redirect.disable; the listing index
 * is refreshed every 15s on s3 unless told otherwise, never on a
 * filesystem unless told.
 */
static void test_redirect_and_refresh(void)
{
	char *s3[] = {"REGISTRY_STORAGE=s3", NULL};
	char *env[] = {"REGISTRY_STORAGE=s3",
		       "REGISTRY_STORAGE_REDIRECT_DISABLE=true",
		       "REGISTRY_STORAGE_MAINTENANCE_INDEX_REFRESH=2s", NULL};
	char err[ERRLEN];
	struct config *c;

	c = parse("", NULL, err);
	CHECK(c && !c->redirect_disable && c->index_refresh == 0);
	config_free(c);

	c = parse("", s3, err);
	CHECK(c && !c->redirect_disable &&
	      c->index_refresh == CONFIG_INDEX_REFRESH_S3);
	config_free(c);

	c = parse("", env, err);
	CHECK(c && c->redirect_disable && c->index_refresh == 2);
	config_free(c);

	c = parse("storage:\n  s3: {}\n  maintenance:\n    index:\n"
		  "      refresh: 0\n",
		  NULL, err);
	CHECK(c && c->index_refresh == 0);
	config_free(c);

	c = parse("storage:\n  maintenance:\n    index:\n      refresh: 1m\n"
		  "  redirect:\n    disable: false\n",
		  NULL, err);
	CHECK(c && c->index_refresh == 60 && !c->redirect_disable);
	config_free(c);

	CHECK(parse("storage:\n  maintenance:\n    index:\n"
		    "      refresh: often\n",
		    NULL, err) == NULL);
	CHECK(strstr(err, "storage.maintenance.index.refresh") != NULL);
	CHECK(parse("storage:\n  redirect:\n    disable: maybe\n", NULL, err) ==
	      NULL);
	CHECK(strstr(err, "storage.redirect.disable") != NULL);
}

static void test_invalid_values(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *t = &bad_cases[i];
		char *env[] = {(char *)t->env, NULL};
		char err[ERRLEN];
		struct config *c = parse(t->yaml, env, err);

		CHECK(c == NULL);
		config_free(c);
		if (t->err)
			CHECK_STR(err, t->err);
		else
			CHECK(strstr(err,
				     "REGISTRY_HTTP_ADDR: invalid YAML: ") ==
			      err);
	}
}

static void test_addr_forms(void)
{
	static const char *const good[] = {
		":5000",
		"localhost:5000",
		"0.0.0.0:65535",
		"[::1]:5000",
		"[::]:80",
		"[fe80::1%eth0]:8080",
		"registry-1.local:1",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *env[2] = {NULL, NULL};
		char err[ERRLEN];
		struct config *c;

		env[0] = malloc(64);
		snprintf(env[0], 64, "REGISTRY_HTTP_ADDR=\"%s\"", good[i]);
		c = parse("", env, err);
		CHECK(c && !strcmp(c->http_addr, good[i]));
		config_free(c);
		free(env[0]);
	}
}

static void test_unknown_key_warns(void)
{
	static const char yaml[] =
		"version: 0.1\n"
		"bogus: 1\n"
		"http:\n  addr: :5000\n  foo: bar\n"
		"storage:\n"
		"  filesystem:\n    rootdirectory: /r\n    bar: x\n"
		"  delete:\n    enabled: true\n    soon: true\n";
	char *env[] = {
		"REGISTRY_HTTP_FOO=1",
		"REGISTRY_CONFIGURATION_PATH=/etc/x.yml",
		"REGISTRY_HTTP_ADDRESS=:1",
		NULL,
	};
	char err[ERRLEN];
	struct config *c;
	char *log;

	capture_begin();
	c = parse(yaml, env, err);
	log = capture_end();
	CHECK(c != NULL);
	CHECK(c && !strcmp(c->fs_rootdirectory, "/r") && c->delete_enabled);
	CHECK(strstr(log, "unknown configuration key key=bogus\n") != NULL);
	CHECK(strstr(log, "unknown configuration key key=http.foo\n") != NULL);
	CHECK(strstr(log, "key=storage.filesystem.bar\n") != NULL);
	CHECK(strstr(log, "key=storage.delete.soon\n") != NULL);
	CHECK(strstr(log, "name=REGISTRY_HTTP_FOO\n") != NULL);
	CHECK(strstr(log, "name=REGISTRY_HTTP_ADDRESS\n") != NULL);
	CHECK(strstr(log, "CONFIGURATION_PATH") == NULL);
	CHECK(count_of(log, "level=warn") == 6);
	config_free(c);
	free(log);
}

static void test_unsupported_sections(void)
{
	static const char yaml[] =
		"version: 0.1\n"
		"notifications:\n"
		"  endpoints:\n"
		"    - name: a\n      url: http://127.0.0.1:1/\n"
		"    - name: b\n      url: http://127.0.0.1:2/\n"
		"redis:\n  addr: 127.0.0.1:6379\n  pool:\n    maxidle: 16\n"
		"health:\n  storagedriver:\n    enabled: true\n"
		"validation:\n  disabled: true\n"
		"compatibility:\n  schema1:\n    enabled: false\n"
		"log:\n  fields:\n    service: registry\n"
		"storage:\n  tag:\n    concurrencylimit: 8\n"
		"  redirect:\n    disable: true\n";
	char *env[] = {"REGISTRY_PROXY_REMOTEURL=https://upstream", NULL};
	char err[ERRLEN];
	struct config *c;
	char *log;

	capture_begin();
	c = parse(yaml, env, err);
	log = capture_end();
	CHECK(c != NULL);
	CHECK(count_of(log, "notifications") == 0); /* supported */
	CHECK(c && c->notify_endpoints_count == 2);
	CHECK(count_of(log, "section=redis\n") == 1);
	CHECK(count_of(log, "section=proxy\n") == 1);
	CHECK(count_of(log, "level=warn") == 2);
	config_free(c);
	free(log);
}

static void test_loglevel_alias(void)
{
	char *env[] = {"REGISTRY_LOGLEVEL=error", NULL};
	char err[ERRLEN];
	struct config *c;

	c = parse("loglevel: debug\n", NULL, err);
	CHECK(c && c->log_level == LVL_DEBUG);
	config_free(c);

	c = parse("loglevel: debug\nlog:\n  level: warning\n", NULL, err);
	CHECK(c && c->log_level == LVL_WARN);
	config_free(c);

	c = parse("", env, err);
	CHECK(c && c->log_level == LVL_ERROR);
	config_free(c);
}

static void test_yaml_syntax_error(void)
{
	static const char yaml[] = "version: 0.1\n"
				   "http:\n"
				   "  addr: :5000\n"
				   "  headers: [a\n"
				   "storage: {\n";
	char err[ERRLEN];

	CHECK(parse(yaml, NULL, err) == NULL);
	CHECK(!strncmp(err, "line 5, column ", 15));

	CHECK(parse("a: b\n\tc: d\n", NULL, err) == NULL);
	CHECK(!strncmp(err, "line 2, column ", 15));
}

/* Aliases that multiply into a million nodes are refused, not expanded. */
static void test_alias_bomb(void)
{
	static const char yaml[] =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
	char err[ERRLEN];

	CHECK(parse(yaml, NULL, err) == NULL);
	CHECK(strstr(err, "too large") != NULL);
}

static void test_durations(void)
{
	static const struct {
		const char *text;
		int64_t seconds; /* -1: malformed */
	} cases[] = {
		{"0", 0},
		{"0s", 0},
		{"30s", 30},
		{"10m", 600},
		{"168h", 604800},
		{"24h", 86400},
		{"1h30m", 5400},
		{"500ms", 0},
		{"1500ms", 1},
		{"1.5h", 5400},
		{".5m", 30},
		{"2.s", 2},
		{"90000000us", 90},
		{"3000000000ns", 3},
		{"1\xc2\xb5s", 0},
		{"1h1m1s1ms", 3661},
		{"+5s", 5},
		{"0.0002777778h", 1},
		{"", -1},
		{"5", -1},
		{"00", -1},
		{"-5s", -1},
		{"5d", -1},
		{"5 s", -1},
		{"s", -1},
		{".s", -1},
		{"1h 2m", -1},
		{"9999999999999h", -1},
		{"2562047h", 9223369200},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = -2;
		int rc = config_parse_duration(cases[i].text, &got);

		if (cases[i].seconds < 0) {
			CHECK(rc == -1);
		} else {
			CHECK(rc == 0 && got == cases[i].seconds);
			if (rc != 0 || got != cases[i].seconds)
				printf("  duration \"%s\": rc=%d got=%lld\n",
				       cases[i].text, rc, (long long)got);
		}
	}
}

static void test_load_file(void)
{
	char path[] = "/tmp/berth-config-XXXXXX";
	char err[ERRLEN];
	struct config *c;
	int fd = mkstemp(path);

	CHECK(fd != -1);
	if (fd == -1)
		return;
	CHECK(write(fd, realistic, strlen(realistic)) ==
	      (ssize_t)strlen(realistic));
	close(fd);

	c = config_load(path, err, sizeof(err));
	CHECK(c && !strcmp(c->fs_rootdirectory, "/var/lib/docker-registry"));
	config_free(c);

	setenv("REGISTRY_CONFIGURATION_PATH", path, 1);
	setenv("REGISTRY_STORAGE_DELETE_ENABLED", "false", 1);
	c = config_load(NULL, err, sizeof(err));
	CHECK(c && !strcmp(c->fs_rootdirectory, "/var/lib/docker-registry"));
	CHECK(c && !c->delete_enabled);
	config_free(c);
	unsetenv("REGISTRY_CONFIGURATION_PATH");
	unsetenv("REGISTRY_STORAGE_DELETE_ENABLED");

	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, "http:\n  addr: [\n", 16) == 16);
	close(fd);
	CHECK(config_load(path, err, sizeof(err)) == NULL);
	CHECK(!strncmp(err, path, strlen(path)) &&
	      strstr(err, ": line 3, column") != NULL);

	unlink(path);
	CHECK(config_load(path, err, sizeof(err)) == NULL);
	CHECK(strstr(err, path) && strstr(err, "No such file"));
}

int main(void)
{
	/* Warnings are checked where they matter and are noise elsewhere. */
	log_threshold = LVL_ERROR;
	RUN(test_defaults);
	RUN(test_realistic);
	RUN(test_auth_fails);
	RUN(test_every_key);
	RUN(test_env_beats_yaml);
	RUN(test_env_headers);
	RUN(test_env_storage_section);
	RUN(test_drivers);
	RUN(test_redirect_and_refresh);
	RUN(test_invalid_values);
	RUN(test_addr_forms);
	RUN(test_unknown_key_warns);
	RUN(test_unsupported_sections);
	RUN(test_loglevel_alias);
	RUN(test_yaml_syntax_error);
	RUN(test_alias_bomb);
	RUN(test_durations);
	RUN(test_load_file);
	return check_done();
}
