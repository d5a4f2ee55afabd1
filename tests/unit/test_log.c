/*
 * test_log.c - the three log formats, field splitting, escaping and the
 * access log, checked on what actually reaches the file descriptors.
 */
#include "check.h"
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *capture_file;
static int capture_saved;
static int capture_fd;

/* Sends fd (stderr or stdout) to a temporary file until capture_end. */
static void capture_begin(int fd)
{
	capture_fd = fd;
	capture_file = tmpfile();
	capture_saved = dup(fd);
	dup2(fileno(capture_file), fd);
}

/* Returns what was written since capture_begin; the caller frees it. */
static char *capture_end(void)
{
	char *text;
	long len;

	dup2(capture_saved, capture_fd);
	close(capture_saved);
	len = ftell(capture_file);
	text = calloc(1, (size_t)len + 1);
	rewind(capture_file);
	if (fread(text, 1, (size_t)len, capture_file) != (size_t)len)
		text[0] = '\0';
	fclose(capture_file);
	return text;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Parses one JSON line; NULL (and a failed check) when it is not. */
static json_t *parse_line(const char *line)
{
	json_error_t jerr;
	json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);

	if (!j)
		printf("  not JSON (%s): %s\n", jerr.text, line);
	CHECK(j != NULL);
	return j;
}

static const char *jstr(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static void test_formatter_names(void)
{
	CHECK(log_set_formatter("json") == 0);
	CHECK(log_formatter() == LOG_FORMAT_JSON);
	CHECK(log_set_formatter("logfmt") == 0);
	CHECK(log_formatter() == LOG_FORMAT_LOGFMT);
	CHECK(log_set_formatter("xml") == -1);
	CHECK(log_formatter() == LOG_FORMAT_LOGFMT);
	CHECK(log_set_formatter("text") == 0);
	CHECK(log_formatter() == LOG_FORMAT_TEXT);
}

static void test_text_keeps_the_line(void)
{
	char *out;

	log_set_formatter("text");
	capture_begin(STDERR_FILENO);
	log_warn("blob write failed repo=%s digest=%s", "a/b", "sha256:00");
	log_debug("not shown at info level x=%d", 1);
	out = capture_end();

	CHECK(count_lines(out) == 1);
	CHECK(strstr(out, " level=warn blob write failed repo=a/b "
			  "digest=sha256:00\n") != NULL);
	CHECK(out[4] == '-' && out[10] == 'T');
	free(out);
}

static void test_text_escapes_newlines(void)
{
	char *out;

	log_set_formatter("text");
	capture_begin(STDERR_FILENO);
	log_error("bad name name=%s", "x\ny\x01");
	out = capture_end();
	CHECK(count_lines(out) == 1);
	CHECK(strstr(out, "name=x\\ny\\x01\n") != NULL);
	free(out);
}

static void test_logfmt_fields(void)
{
	char *out;

	log_set_formatter("logfmt");
	capture_begin(STDERR_FILENO);
	log_info("cannot open storage root=%s err=\"%s\" n=%d", "/var/x",
		 "No such \"file\"", 3);
	log_info("stopping signal=15");
	log_info("no fields at all");
	log_info("file gone err=No such file or directory path=/x");
	log_info("http server says msg=\"%s\" level=%s", "hi there", "x");
	out = capture_end();

	CHECK(count_lines(out) == 5);
	CHECK(strstr(out,
		     " level=info msg=\"cannot open storage\" "
		     "root=/var/x err=\"No such \\\"file\\\"\" n=3\n") != NULL);
	CHECK(strstr(out, " level=info msg=stopping signal=15\n") != NULL);
	CHECK(strstr(out, " msg=\"no fields at all\"\n") != NULL);
	CHECK(strstr(out, " msg=\"file gone\" err=\"No such file or "
			  "directory\" path=/x\n") != NULL);
	CHECK(strstr(out, " msg=\"http server says\" fields.msg=\"hi there\" "
			  "fields.level=x\n") != NULL);
	CHECK(strncmp(out, "time=", 5) == 0);
	free(out);
}

static void test_json_fields(void)
{
	char *out, *nl;
	json_t *j;

	log_set_formatter("json");
	capture_begin(STDERR_FILENO);
	log_error("upload failed repo=%s bytes=%d err=\"%s\"", "lib/alpine", 42,
		  "disk \"full\"\n");
	out = capture_end();
	log_set_formatter("text");

	CHECK(count_lines(out) == 1);
	nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	j = parse_line(out);
	if (j) {
		CHECK_STR(jstr(j, "level"), "error");
		CHECK_STR(jstr(j, "msg"), "upload failed");
		CHECK_STR(jstr(j, "repo"), "lib/alpine");
		CHECK_STR(jstr(j, "bytes"), "42");
		CHECK_STR(jstr(j, "err"), "disk \"full\"\n");
		CHECK(jstr(j, "time") && strlen(jstr(j, "time")) == 24);
	}
	json_decref(j);
	free(out);
}

static void test_json_invalid_utf8(void)
{
	char *out;
	json_t *j;

	log_set_formatter("json");
	capture_begin(STDERR_FILENO);
	log_warn("odd path path=/v2/\xff\xfe/\xc3\xa9");
	out = capture_end();
	log_set_formatter("text");

	out[strcspn(out, "\n")] = '\0';
	j = parse_line(out);
	if (j)
		CHECK_STR(jstr(j, "path"), "/v2/\xc3\xbf\xc3\xbe/\xc3\xa9");
	json_decref(j);
	free(out);
}

static struct log_access_entry sample_entry(void)
{
	struct log_access_entry e = {
		.client = "127.0.0.1",
		.user = "alice",
		.method = "PUT",
		.path = "/v2/lib/x/manifests/a b\"\n",
		.status = 201,
		.bytes_in = 1234,
		.bytes_out = 0,
		.seconds = 0.25,
		.repository = "lib/x",
		.digest = "sha256:ab",
	};

	return e;
}

static void test_access_text(void)
{
	struct log_access_entry e = sample_entry();
	char *out;

	log_set_formatter("text");
	capture_begin(STDOUT_FILENO);
	log_access(&e);
	e.user = NULL;
	e.repository = NULL;
	e.digest = NULL;
	e.aborted = true;
	log_access(&e);
	out = capture_end();

	CHECK(count_lines(out) == 2);
	CHECK(strstr(out,
		     " level=info access client=127.0.0.1 user=alice "
		     "method=PUT path=\"/v2/lib/x/manifests/a b\\\"\\n\" "
		     "status=201 bytes_in=1234 bytes_out=0 "
		     "duration=0.250000 repository=lib/x digest=sha256:ab\n") !=
	      NULL);
	CHECK(strstr(out, "access client=127.0.0.1 method=PUT") != NULL);
	CHECK(strstr(out, "duration=0.250000 aborted=true\n") != NULL);
	free(out);
}

static void test_access_json(void)
{
	struct log_access_entry e = sample_entry();
	char *out;
	json_t *j;

	log_set_formatter("json");
	capture_begin(STDOUT_FILENO);
	log_access(&e);
	out = capture_end();
	log_set_formatter("text");

	CHECK(count_lines(out) == 1);
	out[strcspn(out, "\n")] = '\0';
	j = parse_line(out);
	if (j) {
		CHECK_STR(jstr(j, "msg"), "access");
		CHECK_STR(jstr(j, "path"), "/v2/lib/x/manifests/a b\"\n");
		CHECK(json_integer_value(json_object_get(j, "status")) == 201);
		CHECK(json_integer_value(json_object_get(j, "bytes_in")) ==
		      1234);
		CHECK(json_real_value(json_object_get(j, "duration")) == 0.25);
		CHECK_STR(jstr(j, "user"), "alice");
		CHECK(json_object_get(j, "aborted") == NULL);
	}
	json_decref(j);
	free(out);
}

static void test_access_disabled(void)
{
	struct log_access_entry e = sample_entry();
	char *out;

	log_set_access(false);
	capture_begin(STDOUT_FILENO);
	log_access(&e);
	out = capture_end();
	log_set_access(true);
	CHECK(log_access_enabled());
	CHECK_STR(out, "");
	free(out);

	/* The level does not silence the access log: it is not a level. */
	log_threshold = LVL_ERROR;
	capture_begin(STDOUT_FILENO);
	log_access(&e);
	out = capture_end();
	log_threshold = LVL_INFO;
	CHECK(count_lines(out) == 1);
	free(out);
}

int main(void)
{
	RUN(test_formatter_names);
	RUN(test_text_keeps_the_line);
	RUN(test_text_escapes_newlines);
	RUN(test_logfmt_fields);
	RUN(test_json_fields);
	RUN(test_json_invalid_utf8);
	RUN(test_access_text);
	RUN(test_access_json);
	RUN(test_access_disabled);
	return check_done();
}
