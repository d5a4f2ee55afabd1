/*
 * retention.h - rules that expire old tags, per repository pattern.
 *
 * storage.maintenance.retention is a list of rules; the first whose
 * repositories pattern matches a repository governs it:
 *
 *   - repositories: [library/app, team]  patterns as in acl.h
 *     keeplast: 10          keep the 10 most recently pushed tags
 *     keeptags: ^v[0-9]+$   keep tags this regular expression matches
 *     olderthan: 720h       only tags pushed longer ago may expire
 *
 * A tag expires when none of the rule's keep conditions holds: it is
 * not among the newest keeplast tags, does not match keeptags, and was
 * pushed more than olderthan ago (when olderthan is given).  A rule
 * needs keeplast or olderthan, or it would expire nothing.  Push time is
 * when the tag was last set: the time of its current link.  In a
 * repository a rule governs, manifests left without a tag are deleted by
 * the collection too, since expiring tags alone frees nothing.
 */
#ifndef BERTH_RETENTION_H
#define BERTH_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct scan;
struct scan_repo;
struct retention;

/*
 * Builds rules from their configuration, a JSON array of objects whose
 * values may be strings (as the YAML configuration gives them) or
 * numbers.  NULL or JSON null means no rules.  Returns 0 with *out set
 * (free with retention_free), or -1 with a reason in err.
 */
int retention_parse(const struct json_t *conf, struct retention **out,
		    char *err, size_t errlen);
void retention_free(struct retention *rt);

/* Only checks conf, for the configuration loader; 0 or -1 with err. */
int retention_check(const struct json_t *conf, char *err, size_t errlen);

/* How many rules there are. */
size_t retention_count(const struct retention *rt);

/*
 * Decides which tags of r (a repository of scan s) expire at time now,
 * writing one flag per tag (r->ntags of them) into expired.  Returns
 * true when a rule governs r, false (all flags clear) when none does.
 * rt may be NULL.
 */
bool retention_expire(const struct retention *rt, struct scan *s,
		      struct scan_repo *r, int64_t now, bool *expired);

#endif
