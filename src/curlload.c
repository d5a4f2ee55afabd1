/*
 * curlload.c - loads libcurl when berth first needs it.
 *
 * Only the S3 store and webhook notifications speak HTTP as a client, yet
 * Debian's libcurl brings more than a dozen libraries of its own
 * (Kerberos, LDAP, SSH, RTMP, HTTP/2, brotli ...), about 2 MiB of
 * resident memory in every process that links it, used or not.  So berth
 * does not link it: this file defines the few libcurl functions the rest
 * of berth calls, and the first call to one of them dlopen()s the library
 * and forwards to it.  A filesystem registry without notifications never
 * loads it.  Callers use libcurl's API unchanged, and see its own errors
 * (CURLE_FAILED_INIT, a NULL handle) if the library cannot be loaded;
 * the reason is logged once.
 */
#define CURL_DISABLE_TYPECHECK /* the definitions below, not the macros */
#include <curl/curl.h>

#include "log.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

/* The soname Debian's libcurl4 (and every build of curl 7 or 8) has. */
#define CURLLOAD_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *curl);
	void (*easy_reset)(CURL *curl);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode code);
	time_t (*getdate)(const char *p, const time_t *unused);
	struct curl_slist *(*slist_append)(struct curl_slist *list,
					   const char *s);
	void (*slist_free_all)(struct curl_slist *list);
	CURLcode (*easy_pause)(CURL *curl, int bitmask);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *multi, CURL *curl);
	CURLMcode (*multi_remove_handle)(CURLM *multi, CURL *curl);
	CURLMcode (*multi_perform)(CURLM *multi, int *running);
	CURLMcode (*multi_poll)(CURLM *multi, struct curl_waitfd *extra,
				unsigned int nextra, int timeout_ms,
				int *numfds);
	CURLMsg *(*multi_info_read)(CURLM *multi, int *left);
	CURLMcode (*multi_cleanup)(CURLM *multi);
} curlload;

static pthread_once_t curlload_once = PTHREAD_ONCE_INIT;
static bool curlload_ok;
static long curlload_flags = CURL_GLOBAL_DEFAULT; /* for the load */

/* Sets *SLOT to the address of SYMBOL in LIB; -1 if it has none. */
static int curlload_symbol(void *lib, const char *symbol, void *slot)
{
	void *addr = dlsym(lib, symbol);

	if (!addr) {
		log_error("cannot load libcurl symbol=%s err=%s", symbol,
			  dlerror());
		return -1;
	}
	memcpy(slot, &addr, sizeof(addr));
	return 0;
}

static void curlload_open(void)
{
	void *lib = dlopen(CURLLOAD_SONAME, RTLD_NOW | RTLD_LOCAL);
	int rc = 0;

	if (!lib) {
		log_error("cannot load libcurl, needed for S3 and notifications"
			  " lib=%s err=%s",
			  CURLLOAD_SONAME, dlerror());
		return;
	}

	rc |= curlload_symbol(lib, "curl_global_init", &curlload.global_init);
	rc |= curlload_symbol(lib, "curl_easy_init", &curlload.easy_init);
	rc |= curlload_symbol(lib, "curl_easy_cleanup", &curlload.easy_cleanup);
	rc |= curlload_symbol(lib, "curl_easy_reset", &curlload.easy_reset);
	rc |= curlload_symbol(lib, "curl_easy_perform", &curlload.easy_perform);
	rc |= curlload_symbol(lib, "curl_easy_setopt", &curlload.easy_setopt);
	rc |= curlload_symbol(lib, "curl_easy_getinfo", &curlload.easy_getinfo);
	rc |= curlload_symbol(lib, "curl_easy_strerror",
			      &curlload.easy_strerror);
	rc |= curlload_symbol(lib, "curl_getdate", &curlload.getdate);
	rc |= curlload_symbol(lib, "curl_slist_append", &curlload.slist_append);
	rc |= curlload_symbol(lib, "curl_slist_free_all",
			      &curlload.slist_free_all);
	rc |= curlload_symbol(lib, "curl_easy_pause", &curlload.easy_pause);
	rc |= curlload_symbol(lib, "curl_multi_init", &curlload.multi_init);
	rc |= curlload_symbol(lib, "curl_multi_add_handle",
			      &curlload.multi_add_handle);
	rc |= curlload_symbol(lib, "curl_multi_remove_handle",
			      &curlload.multi_remove_handle);
	rc |= curlload_symbol(lib, "curl_multi_perform",
			      &curlload.multi_perform);
	rc |= curlload_symbol(lib, "curl_multi_poll", &curlload.multi_poll);
	rc |= curlload_symbol(lib, "curl_multi_info_read",
			      &curlload.multi_info_read);
	rc |= curlload_symbol(lib, "curl_multi_cleanup",
			      &curlload.multi_cleanup);

	/* The library stays loaded for the life of the process. */
	if (rc == 0 && curlload.global_init(curlload_flags) != CURLE_OK)
		log_error("libcurl's global setup failed lib=%s",
			  CURLLOAD_SONAME);
	else
		curlload_ok = rc == 0;
}

/* Loads libcurl on the first call; true when its functions can be used. */
static bool curlload_ready(void)
{
	pthread_once(&curlload_once, curlload_open);
	return curlload_ok;
}

/*
 * Only records FLAGS: berth calls this when it starts, whether or not it
 * will ever send a request, so the library's own global setup waits for
 * the load, which the first call needing a handle makes.  libcurl 7.84
 * and later make that setup safe while other threads run.
 */
CURLcode curl_global_init(long flags)
{
	curlload_flags = flags;
	return CURLE_OK;
}

CURL *curl_easy_init(void)
{
	if (!curlload_ready())
		return NULL;
	return curlload.easy_init();
}

void curl_easy_cleanup(CURL *curl)
{
	/* Without the library there is no handle to clean up. */
	if (curl && curlload_ready())
		curlload.easy_cleanup(curl);
}

void curl_easy_reset(CURL *curl)
{
	if (curl && curlload_ready())
		curlload.easy_reset(curl);
}

CURLcode curl_easy_perform(CURL *curl)
{
	if (!curlload_ready())
		return CURLE_FAILED_INIT;
	return curlload.easy_perform(curl);
}

/*
 * The argument's type follows from the option's number, as libcurl
 * itself reads it: a long, a function pointer, a curl_off_t, or else an
 * object pointer (strings, lists, blobs), by ranges of 10000.
 */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	union {
		long number;
		void (*function)(void);
		curl_off_t offset;
		void *object;
	} arg;
	CURLcode rc;
	va_list ap;

	if (!curlload_ready())
		return CURLE_FAILED_INIT;

	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT) {
		arg.number = va_arg(ap, long);
		rc = curlload.easy_setopt(curl, option, arg.number);
	} else if (option >= CURLOPTTYPE_FUNCTIONPOINT &&
		   option < CURLOPTTYPE_OFF_T) {
		arg.function = va_arg(ap, void (*)(void));
		rc = curlload.easy_setopt(curl, option, arg.function);
	} else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB) {
		arg.offset = va_arg(ap, curl_off_t);
		rc = curlload.easy_setopt(curl, option, arg.offset);
	} else {
		arg.object = va_arg(ap, void *);
		rc = curlload.easy_setopt(curl, option, arg.object);
	}
	va_end(ap);
	return rc;
}

/* Every kind of information is returned through a pointer. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	if (!curlload_ready())
		return CURLE_FAILED_INIT;

	va_start(ap, info);
	rc = curlload.easy_getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

const char *curl_easy_strerror(CURLcode code)
{
	if (!curlload_ready())
		return "libcurl could not be loaded";
	return curlload.easy_strerror(code);
}

time_t curl_getdate(const char *p, const time_t *unused)
{
	if (!curlload_ready())
		return -1;
	return curlload.getdate(p, unused);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	if (!curlload_ready())
		return NULL;
	return curlload.slist_append(list, s);
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list && curlload_ready())
		curlload.slist_free_all(list);
}

CURLcode curl_easy_pause(CURL *curl, int bitmask)
{
	if (!curlload_ready())
		return CURLE_FAILED_INIT;
	return curlload.easy_pause(curl, bitmask);
}

CURLM *curl_multi_init(void)
{
	if (!curlload_ready())
		return NULL;
	return curlload.multi_init();
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl)
{
	if (!curlload_ready())
		return CURLM_INTERNAL_ERROR;
	return curlload.multi_add_handle(multi, curl);
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl)
{
	if (!curlload_ready())
		return CURLM_INTERNAL_ERROR;
	return curlload.multi_remove_handle(multi, curl);
}

CURLMcode curl_multi_perform(CURLM *multi, int *running)
{
	if (!curlload_ready())
		return CURLM_INTERNAL_ERROR;
	return curlload.multi_perform(multi, running);
}

CURLMcode curl_multi_poll(CURLM *multi, struct curl_waitfd *extra,
			  unsigned int nextra, int timeout_ms, int *numfds)
{
	if (!curlload_ready())
		return CURLM_INTERNAL_ERROR;
	return curlload.multi_poll(multi, extra, nextra, timeout_ms, numfds);
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *left)
{
	if (!curlload_ready())
		return NULL;
	return curlload.multi_info_read(multi, left);
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
	/* Without the library there is no handle to clean up. */
	if (!multi || !curlload_ready())
		return CURLM_OK;
	return curlload.multi_cleanup(multi);
}
