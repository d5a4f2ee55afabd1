/*
 * fuzz_config.c - the configuration file and REGISTRY_* overrides
 * (config_parse, config_parse_duration).
 *
 * Input: YAML text, then optionally a NUL byte followed by environment
 * lines "REGISTRY_...=value", one per line.  A configuration written by
 * someone else (a mounted secret, a generated file) must never crash
 * berth; it is either refused with a message or yields settings that
 * keep the promises config.h makes about them.
 */
#include "config.h"
#include "fuzz.h"
#include "log.h"

#define FUZZ_MAX_ENV 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Unknown keys are warnings; thousands a second help nobody. */
	log_threshold = LVL_ERROR;
	return 0;
}

/* Splits text into at most FUZZ_MAX_ENV lines, in place. */
static void split_env(char *text, char **env)
{
	size_t n = 0;

	while (text && *text && n < FUZZ_MAX_ENV) {
		char *nl = strchr(text, '\n');

		env[n++] = text;
		if (nl)
			*nl++ = '\0';
		text = nl;
	}
	env[n] = NULL;
}

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

static void check_config(const struct config *c)
{
	static const char *const formatters[] = {"text", "json", "logfmt",
						 NULL};
	size_t plen;

	FUZZ_CHECK(c->version && c->http_addr && c->http_host &&
		   c->http_secret && c->http_prefix && c->storage_driver &&
		   c->fs_rootdirectory && c->log_formatter);
	FUZZ_CHECK(c->log_level >= LVL_ERROR && c->log_level <= LVL_DEBUG);
	FUZZ_CHECK(one_of(c->log_formatter, formatters));

	plen = strlen(c->http_prefix);
	FUZZ_CHECK(plen == 0 || (c->http_prefix[0] == '/' &&
				 c->http_prefix[plen - 1] != '/'));
	FUZZ_CHECK(c->http_headers_count == 0 || c->http_headers);
	FUZZ_CHECK(c->fs_maxthreads >= 25);
	FUZZ_CHECK(c->uploadpurging_age >= 0 &&
		   c->uploadpurging_interval >= 0 && c->http_draintimeout >= 0);
	FUZZ_CHECK(!c->auth_htpasswd_realm == !c->auth_htpasswd_path);
}

/* Durations appear in several keys; the parser must never go negative. */
static void check_duration(const char *s)
{
	int64_t secs = -12345;

	if (config_parse_duration(s, &secs) == 0)
		FUZZ_CHECK(secs >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *rest;
	size_t rest_len;
	char *yaml, *envtext, *env[FUZZ_MAX_ENV + 1];
	char err[512] = "";
	struct config *c;

	fuzz_split(data, size, '\0', &yaml, &rest, &rest_len);
	envtext = fuzz_cstring(rest, rest_len);
	split_env(envtext, env);

	c = config_parse(yaml, strlen(yaml), env, err, sizeof(err));
	if (c)
		check_config(c);
	else
		FUZZ_CHECK(err[0] != '\0');
	config_free(c);

	if (strlen(yaml) < 64)
		check_duration(yaml);
	free(envtext);
	free(yaml);
	return 0;
}
