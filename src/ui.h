/*
 * ui.h - berth's web UI, served from berth's own origin beside /v2/.
 *
 * The page, its scripts and styles are compiled into the binary
 * (ui_assets.h).  ui_handle answers every request that is not for the
 * distribution API: the files under /ui/, the small JSON API under
 * /ui/api/ (uiapi.h), and the page itself at / and at every address the
 * page's own router uses (/r/<repository>, /login, /settings), so that
 * reloading or sharing a link works.
 */
#ifndef BERTH_UI_H
#define BERTH_UI_H

struct access;
struct config;
struct http_request;
struct http_response;
struct registry;
struct sessions;
struct usage;

struct ui;

/*
 * Builds the UI for cfg and reg, with logins kept in sessions.  None of
 * the three is owned; all must outlive the UI.  Never fails (the assets
 * are part of the binary); the caller frees the result with ui_free.
 */
struct ui *ui_new(const struct config *cfg, struct registry *reg,
		  struct sessions *sessions);
void ui_free(struct ui *ui);

/*
 * Answers req, whose path (under http.prefix, if one is set) does not
 * start with /v2.  access is the access control in force for this
 * request (not owned).  Sends exactly one response.
 */
void ui_handle(struct ui *ui, struct http_request *req, struct access *access);

/*
 * Tells the UI's caches that a repository changed: tag was set or
 * deleted, or, with tag NULL, anything else (a manifest deleted, the
 * repository removed).  Safe from any thread; cheap, never blocks on
 * storage.  Its shape fits a change callback: arg is the struct ui.
 */
void ui_on_change(void *arg, const char *repo, const char *tag);

/*
 * Gives the catalog the bytes each repository holds (usage.h; not
 * owned, must outlive the UI).  Without it the catalog shows none.
 */
void ui_set_usage(struct ui *ui, struct usage *usage);

/* For uiapi.c: the configured title (ui.title, then REGISTRY_TITLE). */
const char *ui_title(const struct config *cfg);
/* For uiapi.c: the headers every UI response carries (CSP and kin). */
void ui_security_headers(struct http_response *res);

#endif
