/*
 * tls.h - TLS for the main listener, with GnuTLS under libmicrohttpd.
 *
 * The certificate chain and key come from PEM files and are looked at
 * again, at most once a second, when a handshake starts: a renewal that
 * replaces the files (certbot, uacme) takes effect for new connections
 * without a restart, and connections already open keep theirs.  Only
 * TLS 1.2 and 1.3 are offered.
 */
#ifndef BERTH_TLS_H
#define BERTH_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct tls;

/*
 * Loads cert_path and key_path; minimum is "tls1.2" or "tls1.3".
 * Returns NULL with a message in err when the files cannot be used.
 * Only one struct tls may be open at a time: the library's certificate
 * callback carries no pointer of ours, so it finds the open one.
 */
struct tls *tls_open(const char *cert_path, const char *key_path,
		     const char *minimum, char *err, size_t errlen);
void tls_close(struct tls *t);

/* The GnuTLS priority string for the configured versions. */
const char *tls_priorities(const struct tls *t);

/* The certificate callback, as libmicrohttpd's HTTPS_CERT_CALLBACK. */
void *tls_cert_callback(void);

/* Looks at the files now and reloads them if they changed. */
void tls_refresh(struct tls *t, bool force);

#endif
