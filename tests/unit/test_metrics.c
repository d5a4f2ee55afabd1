/*
 * test_metrics.c - counters, the histogram, label hygiene, concurrent
 * updates and the exposition format, read back from metrics_render.
 */
#include "check.h"
#include "metrics.h"
#include "util.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The value of the sample whose name and labels are exactly series, or
 * -1 when the exposition has no such line. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static char *render(void)
{
	struct buf b = BUF_INIT;

	metrics_render(&b);
	return buf_detach(&b, NULL);
}

/* True if s[0..n) is a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != ':')
			return false;
	return true;
}

/*
 * Checks every line is a comment or "name{labels} number", and that
 * every sample's family was announced with # TYPE before it.
 */
static bool exposition_ok(const char *text)
{
	char typed[256][96];
	size_t ntyped = 0;
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char name[96], *num_end;
		size_t nlen = strcspn(line, "{ ");
		bool known = false;

		if (!end)
			return false; /* the last line ends with \n too */
		if (!strncmp(line, "# TYPE ", 7)) {
			size_t k = strcspn(line + 7, " ");

			snprintf(typed[ntyped++ % 256], 96, "%.*s", (int)k,
				 line + 7);
		} else if (line[0] != '#') {
			const char *val = memchr(line, ' ', len);

			if (!name_ok(line, nlen) || nlen >= sizeof(name) ||
			    !val)
				return false;
			if (line[nlen] == '{' && val[-1] != '}')
				return false;
			strtod(val + 1, &num_end);
			if (num_end != end)
				return false;
			snprintf(name, sizeof(name), "%.*s", (int)nlen, line);
			for (size_t i = 0; i < ntyped && i < 256; i++) {
				size_t tl = strlen(typed[i]);

				if (!strncmp(name, typed[i], tl) &&
				    (!name[tl] ||
				     !strcmp(name + tl, "_bucket") ||
				     !strcmp(name + tl, "_sum") ||
				     !strcmp(name + tl, "_count")))
					known = true;
			}
			if (!known) {
				printf("  sample of an untyped family: %s\n",
				       name);
				return false;
			}
		}
		line = end + 1;
	}
	return true;
}

static void test_requests_counted_by_labels(void)
{
	char *text;

	metrics_observe_request("manifest", "GET", 200, 0, 700, 0.002);
	metrics_observe_request("manifest", "GET", 200, 0, 700, 0.003);
	metrics_observe_request("manifest", "PUT", 201, 700, 0, 0.02);
	metrics_observe_request("blob", "HEAD", 404, 0, 0, 0.001);
	text = render();

	CHECK(sample(text, "berth_http_requests_total{route=\"manifest\","
			   "method=\"GET\",status=\"200\"}") == 2);
	CHECK(sample(text, "berth_http_requests_total{route=\"manifest\","
			   "method=\"PUT\",status=\"201\"}") == 1);
	CHECK(sample(text, "berth_http_requests_total{route=\"blob\","
			   "method=\"HEAD\",status=\"404\"}") == 1);
	CHECK(sample(text, "berth_http_bytes_received_total") == 700);
	CHECK(sample(text, "berth_http_bytes_sent_total") == 1400);
	CHECK(exposition_ok(text));
	free(text);
}

static void test_histogram_is_cumulative(void)
{
	const char *h = "berth_http_request_duration_seconds";
	char series[160];
	char *text;

	metrics_observe_request("hist", "GET", 200, 0, 0, 0.004);
	metrics_observe_request("hist", "GET", 200, 0, 0, 0.04);
	metrics_observe_request("hist", "GET", 200, 0, 0, 0.05);
	metrics_observe_request("hist", "GET", 200, 0, 0, 7200);
	text = render();

	snprintf(series, sizeof(series),
		 "%s_bucket{route=\"hist\","
		 "le=\"0.005\"}",
		 h);
	CHECK(sample(text, series) == 1);
	snprintf(series, sizeof(series),
		 "%s_bucket{route=\"hist\","
		 "le=\"0.05\"}",
		 h);
	CHECK(sample(text, series) == 3); /* le is inclusive */
	snprintf(series, sizeof(series),
		 "%s_bucket{route=\"hist\","
		 "le=\"300\"}",
		 h);
	CHECK(sample(text, series) == 3);
	snprintf(series, sizeof(series),
		 "%s_bucket{route=\"hist\","
		 "le=\"+Inf\"}",
		 h);
	CHECK(sample(text, series) == 4);
	snprintf(series, sizeof(series), "%s_count{route=\"hist\"}", h);
	CHECK(sample(text, series) == 4);
	snprintf(series, sizeof(series), "%s_sum{route=\"hist\"}", h);
	CHECK(sample(text, series) > 7200.09 && sample(text, series) < 7200.1);
	free(text);
}

static void test_labels_stay_bounded(void)
{
	char *text;

	metrics_observe_request("Evil\"route\n", "BREW", 999, 0, 0, -1);
	metrics_observe_request(NULL, "GET", 200, 0, 0, 0);
	metrics_observe_request("averyveryverylongroutenamethatgoesonforever",
				"PROPFIND", 207, 0, 0, 0);
	text = render();
	CHECK(sample(text, "berth_http_requests_total{route=\"other\","
			   "method=\"OTHER\",status=\"0\"}") == 1);
	CHECK(sample(text, "berth_http_requests_total{route=\"other\","
			   "method=\"GET\",status=\"200\"}") == 1);
	CHECK(sample(text, "berth_http_requests_total{route=\"other\","
			   "method=\"OTHER\",status=\"207\"}") == 1);
	CHECK(strstr(text, "Evil") == NULL);
	CHECK(exposition_ok(text));
	free(text);
}

#define THREADS 8
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	static const char *const routes[] = {"tags", "catalog", "referrers"};
	long id = (long)arg;

	for (int i = 0; i < PER_THREAD; i++)
		metrics_observe_request(routes[(i + id) % 3], "GET", 200, 1, 2,
					0.001);
	return NULL;
}

static void test_concurrent_updates_add_up(void)
{
	pthread_t t[THREADS];
	double total = 0, before_in, after_in;
	char *text = render();

	before_in = sample(text, "berth_http_bytes_received_total");
	free(text);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	text = render();
	total += sample(text, "berth_http_requests_total{route=\"tags\","
			      "method=\"GET\",status=\"200\"}");
	total += sample(text, "berth_http_requests_total{route=\"catalog\","
			      "method=\"GET\",status=\"200\"}");
	total += sample(text, "berth_http_requests_total{route=\"referrers\","
			      "method=\"GET\",status=\"200\"}");
	after_in = sample(text, "berth_http_bytes_received_total");
	CHECK(total == THREADS * PER_THREAD);
	CHECK(after_in - before_in == THREADS * PER_THREAD);
	free(text);
}

static void test_full_table_overflows(void)
{
	char route[16], *text;
	double counted = 0;

	/* The duration table has 64 series; some are taken already. */
	for (int i = 0; i < 80; i++) {
		snprintf(route, sizeof(route), "r%d", i);
		metrics_observe_request(route, "GET", 200, 0, 0, 0.001);
	}
	text = render();
	for (int i = 0; i < 80; i++) {
		char series[128];
		double v;

		snprintf(series, sizeof(series),
			 "berth_http_request_duration_seconds_count"
			 "{route=\"r%d\"}",
			 i);
		v = sample(text, series);
		if (v > 0)
			counted += v;
	}
	counted += sample(text, "berth_http_request_duration_seconds_count"
				"{route=\"overflow\"}");
	CHECK(counted == 80);
	CHECK(sample(text, "berth_http_request_duration_seconds_count"
			   "{route=\"overflow\"}") > 0);
	CHECK(exposition_ok(text));
	free(text);
}

static void test_storage_gauges(void)
{
	char *text = render();

	/* Unknown until a first full count. */
	CHECK(sample(text, "berth_storage_blobs") == -1);
	free(text);

	metrics_storage_count_begin();
	metrics_storage_add(1, 100); /* lands while the walk runs */
	metrics_storage_set(10, 5000, 1700000000);
	text = render();
	CHECK(sample(text, "berth_storage_blobs") == 11);
	CHECK(sample(text, "berth_storage_bytes") == 5100);
	CHECK(sample(text, "berth_storage_counted_timestamp_seconds") ==
	      1700000000);
	free(text);

	metrics_storage_add(2, 20);
	metrics_gc_run(true, 3, 120);
	metrics_gc_run(false, 0, 0);
	text = render();
	CHECK(sample(text, "berth_storage_blobs") == 10);
	CHECK(sample(text, "berth_storage_bytes") == 5000);
	CHECK(sample(text, "berth_gc_runs_total{result=\"ok\"}") == 1);
	CHECK(sample(text, "berth_gc_runs_total{result=\"failed\"}") == 1);
	CHECK(sample(text, "berth_gc_freed_bytes_total") == 120);
	CHECK(sample(text, "berth_gc_freed_blobs_total") == 3);
	CHECK(sample(text, "berth_gc_last_run_timestamp_seconds") > 0);
	free(text);
}

static void test_gauges_and_auth(void)
{
	char *text;

	metrics_upload_begin();
	metrics_upload_begin();
	metrics_upload_end();
	metrics_auth_failure();
	text = render();
	CHECK(sample(text, "berth_uploads_in_flight") == 1);
	CHECK(sample(text, "berth_auth_failures_total") == 1);
	free(text);
	metrics_upload_end();
	text = render();
	CHECK(sample(text, "berth_uploads_in_flight") == 0);
	free(text);
}

static void collect_two(void *arg, struct buf *out)
{
	metrics_family(out, "berth_test_value", "gauge", "A test value.");
	buf_addf(out, "berth_test_value{name=\"");
	metrics_label_value(out, arg);
	buf_addf(out, "\"} 2\n");
}

static void test_collectors(void)
{
	char *text;

	CHECK(metrics_add_collector(collect_two, "a\"b\\c\nd") == 0);
	text = render();
	CHECK(sample(text, "berth_test_value{name=\"a\\\"b\\\\c\\nd\"}") == 2);
	CHECK(exposition_ok(text));
	free(text);

	metrics_remove_collector(collect_two, "a\"b\\c\nd");
	text = render();
	CHECK(strstr(text, "berth_test_value") == NULL);
	free(text);
}

static void test_process_values(void)
{
	char *text = render();
	double fds = sample(text, "process_open_fds");
	int fd;

	CHECK(fds >= 3);
	CHECK(sample(text, "process_resident_memory_bytes") > 100000);
	CHECK(sample(text, "process_start_time_seconds") >
	      (double)now_seconds() - 3600);
	CHECK(sample(text, "process_start_time_seconds") <=
	      (double)now_seconds() + 1);
	CHECK(sample(text, "process_max_fds") > 0);
	CHECK(sample(text, "berth_build_info{version=\"" BERTH_VERSION "\"}") ==
	      1);
	free(text);

	fd = open("/dev/null", O_RDONLY);
	text = render();
	CHECK(sample(text, "process_open_fds") == fds + 1);
	free(text);
	close(fd);
}

int main(void)
{
	RUN(test_requests_counted_by_labels);
	RUN(test_histogram_is_cumulative);
	RUN(test_labels_stay_bounded);
	RUN(test_concurrent_updates_add_up);
	RUN(test_full_table_overflows);
	RUN(test_storage_gauges);
	RUN(test_gauges_and_auth);
	RUN(test_collectors);
	RUN(test_process_values);
	return check_done();
}
