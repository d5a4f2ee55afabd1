/*
 * fuzz_htpasswd.c - password files, "name:hash" per line
 * (htpasswd_parse, htpasswd_scheme, htpasswd_name_valid).
 *
 * The file is read again whenever it changes, so a half-written or
 * hostile file must load without crashing and let in exactly the users
 * it lists with a strong hash.  The number of users loaded is compared
 * with a second, plain reading of the format: lines split on '\n',
 * blank lines and '#' comments skipped, the first ':' splitting name
 * from hash, the first line of a name listed twice winning.
 */
#include "fuzz.h"
#include "htpasswd.h"
#include "log.h"

#include <ctype.h>

#define FUZZ_MAX_USERS 4096

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every skipped line is a warning; they would drown the output. */
	log_threshold = LVL_ERROR;
	return 0;
}

static char *trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

static bool seen(char **names, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* The user a line grants, or NULL; checks what the scheme says. */
static char *line_user(char *line)
{
	char *colon, *name, *hash;
	const char *scheme;
	bool accepted;

	name = trim(line);
	if (!*name || *name == '#' || !(colon = strchr(name, ':')))
		return NULL;
	*colon = '\0';
	hash = trim(colon + 1);

	scheme = htpasswd_scheme(hash, &accepted);
	FUZZ_CHECK(scheme != NULL);
	if (accepted)
		FUZZ_CHECK(strncmp(hash, "$2", 2) == 0 ||
			   strncmp(hash, "$5$", 3) == 0 ||
			   strncmp(hash, "$6$", 3) == 0);
	if (!htpasswd_name_valid(name) || !*hash || !accepted)
		return NULL;
	FUZZ_CHECK(!strchr(name, ':') && *name != '#');
	return name;
}

/* How many distinct users the text should let log in; -1 if too many. */
static long expected_users(const uint8_t *data, size_t size)
{
	char *copy = fuzz_cstring(data, size), *names[FUZZ_MAX_USERS];
	size_t count = 0, start = 0;

	for (size_t i = 0; i <= size; i++) {
		char *name;

		if (i < size && data[i] != '\n')
			continue;
		copy[i] = '\0';
		/* A NUL inside a line voids the whole line. */
		if (memchr(data + start, '\0', i - start))
			copy[start] = '\0';
		name = line_user(copy + start);
		start = i + 1;
		if (!name || seen(names, count, name))
			continue;
		if (count == FUZZ_MAX_USERS)
			break;
		names[count++] = name;
	}
	free(copy);
	return count == FUZZ_MAX_USERS ? -1 : (long)count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	struct htpasswd *h;
	long want;

	if (!text)
		abort();
	memcpy(text, data, size);
	h = htpasswd_parse(text, size, "fuzz");
	FUZZ_CHECK(h != NULL);

	want = expected_users(data, size);
	if (want >= 0)
		FUZZ_CHECK(htpasswd_count(h) == (size_t)want);
	FUZZ_CHECK(!htpasswd_changed(h, "/nonexistent"));

	htpasswd_free(h);
	free(text);
	return 0;
}
