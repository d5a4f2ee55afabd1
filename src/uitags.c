/*
 * uitags.c - the web UI's tag list: a repository's tags with digest,
 * size, platforms and dates, filtered, sorted across all of them and
 * cut into pages on the server.
 *
 * The rows come from the tag cache and the summaries from the manifest
 * cache, so a warm page of 10,000 tags sorted by date is a sort in
 * memory; only the page's rows are turned into JSON.
 */
#include "uiapi.h"
#include "uiapi_int.h"
#include "http.h"
#include "meta.h"
#include "tagcache.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum tag_sort { SORT_NAME, SORT_VERSION, SORT_DATE };

/* A tag on its way into a page, with what it sorts by. */
struct item {
	const struct tag_row *row;
	const struct meta *m; /* NULL until needed, or unreadable */
	int64_t when;	      /* created, else pushed */
};

static bool skip_v(const char *s)
{
	return (s[0] == 'v' || s[0] == 'V') && isdigit((unsigned char)s[1]);
}

/* Compares digit runs as numbers; moves past them. */
static int number_cmp(const char **a, const char **b)
{
	const char *x = *a, *y = *b;
	size_t nx, ny;
	int c;

	while (*x == '0' && isdigit((unsigned char)x[1]))
		x++;
	while (*y == '0' && isdigit((unsigned char)y[1]))
		y++;
	for (nx = 0; isdigit((unsigned char)x[nx]); nx++)
		;
	for (ny = 0; isdigit((unsigned char)y[ny]); ny++)
		;
	c = nx != ny ? (nx < ny ? -1 : 1) : memcmp(x, y, nx);
	*a = x + nx;
	*b = y + ny;
	return c;
}

int uiapi_version_cmp(const char *a, const char *b)
{
	const char *x = a + skip_v(a), *y = b + skip_v(b);

	while (*x && *y) {
		int c;

		if (isdigit((unsigned char)*x) && isdigit((unsigned char)*y))
			c = number_cmp(&x, &y);
		else
			c = (unsigned char)*x++ - (unsigned char)*y++;
		if (c)
			return c < 0 ? -1 : 1;
	}
	/* "1.0-rc1" is before "1.0"; "1.0.1" after it. */
	if (*x != *y)
		return !*x ? (*y == '-' ? 1 : -1) : (*x == '-' ? -1 : 1);
	return strcmp(a, b);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->row->name,
		      ((const struct item *)b)->row->name);
}

static int by_version(const void *a, const void *b)
{
	return uiapi_version_cmp(((const struct item *)a)->row->name,
				 ((const struct item *)b)->row->name);
}

static int by_date(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return strcmp(x->row->name, y->row->name);
}

static bool sort_params(struct http_request *req, enum tag_sort *sort,
			bool *desc)
{
	const char *s = http_query(req, "sort");
	const char *o = http_query(req, "order");

	if (!s || !strcmp(s, "name"))
		*sort = SORT_NAME;
	else if (!strcmp(s, "version"))
		*sort = SORT_VERSION;
	else if (!strcmp(s, "date"))
		*sort = SORT_DATE;
	else
		goto bad;
	*desc = *sort != SORT_NAME;
	if (o && !strcmp(o, "asc"))
		*desc = false;
	else if (o && !strcmp(o, "desc"))
		*desc = true;
	else if (o)
		goto bad;
	return true;
bad:
	uiapi_send_error(req, 400, "UNSUPPORTED",
			 "sort must be name, version or "
			 "date, and order asc or desc");
	return false;
}

static json_t *platforms_json(const struct meta *m)
{
	json_t *a = json_array();
	char ds[DIGEST_MAX_STR + 1];

	for (size_t i = 0; m && i < m->nplatforms; i++) {
		const struct meta_platform *p = &m->platforms[i];

		json_t *o = json_object();

		digest_format(&p->digest, ds);
		uiapi_put(o, "os", json_string(p->os));
		uiapi_put(o, "architecture", json_string(p->arch));
		uiapi_put(o, "variant", json_string(p->variant));
		uiapi_put(o, "size", json_integer((json_int_t)p->size));
		uiapi_put(o, "digest", json_string(ds));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *tag_json(const struct item *it)
{
	const struct meta *m = it->m;
	const char *kind = NULL;
	char ds[DIGEST_MAX_STR + 1];
	json_t *t = json_object();

	if (m)
		kind = m->kind == META_INDEX ? "index" : "image";
	digest_format(&it->row->digest, ds);
	uiapi_put(t, "name", json_string(it->row->name));
	uiapi_put(t, "digest", json_string(ds));
	uiapi_put(t, "kind", uiapi_str_or_null(kind));
	uiapi_put(t, "mediaType", uiapi_str_or_null(m ? m->media_type : NULL));
	uiapi_put(t, "artifactType",
		  uiapi_str_or_null(m ? m->artifact_type : NULL));
	uiapi_put(t, "size", json_integer((json_int_t)(m ? m->size : 0)));
	uiapi_put(t, "created",
		  uiapi_time_or_null(m ? m->created : META_TIME_UNKNOWN));
	uiapi_put(t, "pushed", uiapi_time_or_null(it->row->pushed));
	uiapi_put(t, "platforms", platforms_json(m));
	return t;
}

/* Keeps the rows matching q and digest; fetches summaries if asked. */
static size_t filter_rows(struct call *c, const struct tag_table *t,
			  const char *q, const struct digest *digest,
			  bool with_meta, struct item *out)
{
	size_t n = 0;

	for (size_t i = 0; i < t->count; i++) {
		const struct tag_row *row = &t->rows[i];
		struct item *it = &out[n];

		if ((*q && !strcasestr(row->name, q)) ||
		    (digest && !digest_equal(digest, &row->digest)))
			continue;
		it->row = row;
		it->m = with_meta ? meta_get(c->api->metas, &row->digest)
				  : NULL;
		it->when = it->m && it->m->created != META_TIME_UNKNOWN
				   ? it->m->created
				   : row->pushed;
		n++;
	}
	return n;
}

static void sort_items(struct item *v, size_t n, enum tag_sort sort, bool desc)
{
	int (*cmp)(const void *, const void *) = sort == SORT_DATE ? by_date
						 : sort == SORT_VERSION
							 ? by_version
							 : by_name;

	if (sort != SORT_NAME && n > 1) /* rows come sorted by name */
		qsort(v, n, sizeof(*v), cmp);
	for (size_t i = 0; desc && i < n / 2; i++) {
		struct item tmp = v[i];

		v[i] = v[n - 1 - i];
		v[n - 1 - i] = tmp;
	}
}

/* The JSON of the page's items, fetching summaries still missing. */
static json_t *page_json(struct call *c, struct item *v, size_t n,
			 const struct paging *p)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		if (!uiapi_in_page(p, i))
			continue;
		if (!v[i].m)
			v[i].m = meta_get(c->api->metas, &v[i].row->digest);
		json_array_append_new(list, tag_json(&v[i]));
	}
	return list;
}

static bool digest_param(struct http_request *req, struct digest *d,
			 bool *given)
{
	const char *s = http_query(req, "digest");

	*given = s && *s;
	if (!*given || !digest_parse(s, d))
		return true;
	uiapi_send_error(req, 400, "DIGEST_INVALID", "digest is not a digest");
	return false;
}

static void send_tags(struct call *c, const char *repo,
		      const struct tag_table *t, const char *q,
		      const struct digest *digest, enum tag_sort sort,
		      bool desc, const struct paging *p)
{
	static const char *const sort_names[] = {"name", "version", "date"};
	struct item *v = xcalloc(t->count + 1, sizeof(*v));
	size_t n = filter_rows(c, t, q, digest, sort == SORT_DATE, v);
	json_t *list, *body = json_object();

	sort_items(v, n, sort, desc);
	list = page_json(c, v, n, p);
	for (size_t i = 0; i < n; i++)
		meta_release(c->api->metas, v[i].m);
	free(v);

	uiapi_put(body, "repository", json_string(repo));
	uiapi_put(body, "total", json_integer((json_int_t)n));
	uiapi_put(body, "page", json_integer((json_int_t)p->page));
	uiapi_put(body, "perPage", json_integer((json_int_t)p->per_page));
	uiapi_put(body, "sort", json_string(sort_names[sort]));
	uiapi_put(body, "order", json_string(desc ? "desc" : "asc"));
	uiapi_put(body, "tags", list);
	uiapi_put(body, "permissions", uiapi_permissions(c, repo));
	uiapi_send_json(c->req, 200, body);
}

/*
 * NEEDSWORK: right after start, sorting a big repository by date waits
 * until every image config has been read (about 0.6 s for 10,000 tags),
 * unless the background thread got there first; the catalog avoids such
 * waits by answering "pending", this page does not yet.
 */
void uitags_get(struct call *c)
{
	char q[UIAPI_QUERY_MAX + 1];
	const struct tag_table *t;
	struct paging p;
	enum tag_sort sort;
	struct digest d;
	const char *repo;
	bool desc, by_digest;

	if (!uiapi_repo_param(c->req, &repo) ||
	    !uiapi_query_param(c->req, q, sizeof(q)) ||
	    !uiapi_paging_params(c->req, &p) ||
	    !sort_params(c->req, &sort, &desc) ||
	    !digest_param(c->req, &d, &by_digest) ||
	    !uiapi_require_pull(c, repo))
		return;
	http_set_log_note(c->req, repo);

	t = tagcache_get(c->api->tags, repo);
	if (!t) {
		uiapi_send_error(c->req, 404, "NAME_UNKNOWN",
				 "no repository of that name");
		return;
	}
	send_tags(c, repo, t, q, by_digest ? &d : NULL, sort, desc, &p);
	tagcache_release(c->api->tags, t);
}
