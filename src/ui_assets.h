/*
 * ui_assets.h - the web UI's files, compiled into berth.
 *
 * tools/embed.c generates the definitions from the ui/ directory at
 * build time (build/ui_assets.c).  The array is sorted by name with
 * strcmp, so lookups can binary-search it.
 */
#ifndef BERTH_UI_ASSETS_H
#define BERTH_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
	const char *name; /* path below ui/, e.g. "app.js" */
	const char *data; /* the file's bytes (not NUL-terminated) */
	size_t len;
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_assets_count;

#endif
