/*
 * config.h - berth's settings, read once from registry:2's config.yml keys
 * and REGISTRY_* environment overrides into one immutable struct.
 *
 * Precedence: built-in defaults, then the YAML file, then the environment.
 * An unknown key is logged as a warning; a value of the wrong type or out
 * of range makes config_load fail with a message naming the key.
 */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_header {
	char *name;
	char **values; /* NULL-terminated */
};

/* What an access rule allows, as bits. */
enum config_action {
	CONFIG_ACTION_PULL = 1 << 0,
	CONFIG_ACTION_PUSH = 1 << 1,
	CONFIG_ACTION_DELETE = 1 << 2,
};

/*
 * One rule of the access section: who may do what to which
 * repositories.  The lists are NULL-terminated and never NULL.
 */
struct config_access_rule {
	char **repositories; /* patterns: '*' one component, '**' any */
	char **users;	     /* user names; "*" is every logged-in user */
	char **groups;	     /* names defined in access.groups */
	unsigned actions;    /* enum config_action bits, never 0 */
};

struct config_access_group {
	char *name;
	char **members; /* NULL-terminated */
};

/* The access section: repository permissions for htpasswd users. */
struct config_access {
	char **admins; /* NULL-terminated; may do everything */
	struct config_access_group *groups;
	size_t groups_count;
	struct config_access_rule *anonymous; /* users, groups empty */
	size_t anonymous_count;
	struct config_access_rule *rules;
	size_t rules_count;
};

/*
 * One receiver of registry events (notifications.endpoints).  The lists
 * are NULL-terminated and never NULL.
 */
struct config_notify_endpoint {
	char *name; /* unique; names its queue on disk */
	char *url;  /* http:// or https:// */
	bool disabled;
	struct config_header *headers; /* sent with every delivery */
	size_t headers_count;
	int64_t timeout_ms;	   /* per delivery, default 1s */
	int threshold;		   /* failures before a backoff, 10 */
	int64_t backoff_ms;	   /* the pause after them, 1s */
	char **ignored_mediatypes; /* ignoredmediatypes, ignore.mediatypes */
	char **ignored_actions;	   /* ignore.actions: push, pull... */
};

struct config {
	char *version;	     /* "0.1" */
	int log_level;	     /* enum log_level */
	char *log_formatter; /* "text", "json" or "logfmt" */
	bool log_accesslog_disabled;

	char *http_addr; /* "host:port", ":port" or "[::1]:port" */
	char *http_host; /* external base URL, no trailing '/', or "" */
	bool http_relativeurls;
	char *http_secret;		    /* "" when unset */
	struct config_header *http_headers; /* extra response headers */
	size_t http_headers_count;
	char *http_tls_certificate;	 /* PEM chain; "" serves plain HTTP */
	char *http_tls_key;		 /* PEM private key */
	char *http_tls_minimum;		 /* "tls1.2" or "tls1.3" */
	char **http_cors_origins;	 /* exact allowed origins, or NULL */
	char **http_trusted_proxies;	 /* addresses or CIDRs, or NULL */
	int http_max_connections;	 /* http.limits.connections */
	int http_max_client_connections; /* ...connectionsperclient */
	int64_t http_idle_timeout;	 /* seconds a connection may sit idle */
	int http_rate;		      /* requests/s per client, 0 = no limit */
	int http_burst;		      /* requests a client may bunch up */
	char *http_prefix;	      /* "" or "/path", no trailing '/' */
	int64_t http_draintimeout;    /* seconds, 0 = none */
	char *http_debug_addr;	      /* "" when the debug server is off */
	bool http_prometheus_enabled; /* on the debug server */
	char *http_prometheus_path;   /* default "/metrics" */

	char *storage_driver;	/* "filesystem" */
	char *fs_rootdirectory; /* default /var/lib/registry */
	int fs_maxthreads;	/* default 100, at least 25 */
	/* storage.s3.*, registry:2's keys; see docs/configuration.md. */
	char *s3_accesskey;
	char *s3_secretkey;
	char *s3_region;
	char *s3_regionendpoint; /* "" for AWS itself */
	char *s3_bucket;
	char *s3_rootdirectory;
	char *s3_storageclass;	    /* default STANDARD; NONE sends none */
	bool s3_secure;		    /* default true */
	bool s3_v4auth;		    /* default true; false is refused */
	bool s3_encrypt;	    /* default false */
	bool s3_forcepathstyle;	    /* default false */
	int s3_chunksize;	    /* default 10 MiB, at least 5 MiB */
	bool delete_enabled;	    /* storage.delete.enabled, default false */
	bool readonly;		    /* storage.maintenance.readonly.enabled */
	bool uploadpurging_enabled; /* default true */
	int64_t uploadpurging_age;  /* seconds, default 168h */
	int64_t uploadpurging_interval; /* seconds, default 24h */
	bool uploadpurging_dryrun;	/* default false */
	/* berth's storage lifecycle, also under storage.maintenance. */
	bool gc_enabled;	  /* gc.enabled: scheduled runs */
	int64_t gc_interval;	  /* seconds, default 24h */
	char *gc_window;	  /* "HH:MM-HH:MM" UTC, or "" */
	int64_t gc_graceperiod;	  /* seconds, default 1h */
	bool gc_deleteuntagged;	  /* default false */
	bool gc_dryrun;		  /* default false */
	int64_t lease_duration;	  /* seconds, default 2m (lease.h) */
	bool scrub_enabled;	  /* scrub.enabled, default false */
	int64_t scrub_interval;	  /* seconds, default 168h */
	int64_t usage_interval;	  /* seconds, 0: only on events */
	int64_t index_refresh;	  /* seconds between listing index reloads,
				   * 0: never; "auto" picks by driver */
	bool redirect_disable;	  /* storage.redirect.disable: serve blobs
				   * from berth, not by presigned URL */
	struct json_t *retention; /* rules (retention.h), or NULL */
	struct json_t *quotas;	  /* rules (usage.h), or NULL */

	/* auth.htpasswd: both set, or both NULL when auth is off. */
	char *auth_htpasswd_realm;
	char *auth_htpasswd_path;
	struct config_access *access; /* NULL without a section */

	/* notifications.endpoints, in the order configured. */
	struct config_notify_endpoint *notify_endpoints;
	size_t notify_endpoints_count;

	/* The web UI.  ui_registry_title is the top-level "title" key,
	 * there so that REGISTRY_TITLE works as in Joxit's UI. */
	bool ui_enabled;	 /* ui.enabled, default true */
	char *ui_title;		 /* "" means ui_registry_title, then "berth" */
	char *ui_registry_title; /* "" when unset */
	char *ui_delete;	 /* "auto" (storage.delete.enabled), "true"
				   * or "false" */
	char *ui_pullhost;	 /* host[:port] in pull commands, or "" */
};

/* storage.maintenance.index.refresh's "auto" on s3, in seconds. */
#define CONFIG_INDEX_REFRESH_S3 15

/*
 * Loads settings from path (NULL for none) and the process environment.
 * Returns a new struct the caller releases with config_free, or NULL after
 * writing an error that names the offending key into err (errlen bytes).
 */
struct config *config_load(const char *path, char *err, size_t errlen);

/*
 * The same from YAML text in memory and an explicit environment (a
 * NULL-terminated "NAME=value" array); for tests and for config_load.
 */
struct config *config_parse(const char *yaml, size_t len, char *const *env,
			    char *err, size_t errlen);

void config_free(struct config *c);

/*
 * Parses a registry:2 duration ("168h", "10m", "30s", "1h30m", "1.5h",
 * "500ms" rounds down) into seconds.  Units are ns, us, ms, s, m and h;
 * "0" alone needs none.  Returns 0, or -1 when malformed, negative, out
 * of range or a bare number such as "60".
 */
int config_parse_duration(const char *s, int64_t *seconds);
/* The same in milliseconds ("500ms" is 500), for finer timeouts. */
int config_parse_duration_ms(const char *s, int64_t *ms);

#endif
