/*
 * tls.c - the certificate and key the TLS listener presents, kept
 * current with the files on disk.
 *
 * Each load makes a new immutable set of credentials.  A handshake takes
 * pointers into the newest set, and GnuTLS may hold them for the life of
 * the session, so sets that are replaced are kept until tls_close rather
 * than freed: renewals are rare and a set is a few kilobytes.
 */
#include "tls.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHAIN_MAX 16

struct creds {
	struct creds *older;
	gnutls_pcert_st chain[CHAIN_MAX];
	unsigned chain_len;
	gnutls_privkey_t key;
};

/* What identifies a version of a file, to notice a replacement. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct tls {
	char *cert_path;
	char *key_path;
	const char *priorities;
	pthread_mutex_t lock;
	struct creds *current; /* newest first, older ones chained */
	struct file_id cert_id, key_id;
	int64_t checked; /* when the files were last looked at */
};

static struct tls *open_tls;

static void creds_free(struct creds *c)
{
	while (c) {
		struct creds *older = c->older;

		for (unsigned i = 0; i < c->chain_len; i++)
			gnutls_pcert_deinit(&c->chain[i]);
		if (c->key)
			gnutls_privkey_deinit(c->key);
		free(c);
		c = older;
	}
}

static int read_datum(const char *path, gnutls_datum_t *d, char *err,
		      size_t errlen)
{
	int rc = gnutls_load_file(path, d);

	if (rc < 0)
		snprintf(err, errlen, "cannot read %s: %s", path,
			 gnutls_strerror(rc));
	return rc < 0 ? -1 : 0;
}

/*
 * Whether key is the private half of the certificate's public key.  A
 * renewal caught between writing its two files, or a wrong key, would
 * otherwise be served and fail every handshake.
 */
static bool key_matches(gnutls_pcert_st *cert, gnutls_privkey_t key)
{
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	gnutls_x509_crt_fmt_t der = GNUTLS_X509_FMT_DER;
	gnutls_pubkey_t pub;
	bool same = false;

	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
	    gnutls_pubkey_export2(pub, der, &a) == 0 &&
	    gnutls_pubkey_export2(cert->pubkey, der, &b) == 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(pub);
	return same;
}

static struct creds *creds_load(const char *cert_path, const char *key_path,
				char *err, size_t errlen)
{
	struct creds *c = xcalloc(1, sizeof(*c));
	gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
	int rc;

	if (read_datum(cert_path, &cert, err, errlen) ||
	    read_datum(key_path, &key, err, errlen))
		goto fail;

	c->chain_len = CHAIN_MAX;
	rc = gnutls_pcert_list_import_x509_raw(c->chain, &c->chain_len, &cert,
					       GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || c->chain_len == 0) {
		snprintf(err, errlen, "%s holds no usable certificate: %s",
			 cert_path, gnutls_strerror(rc));
		c->chain_len = 0;
		goto fail;
	}
	if (gnutls_privkey_init(&c->key) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(c->key, &key,
						 GNUTLS_X509_FMT_PEM, NULL,
						 0)) < 0) {
		snprintf(err, errlen, "%s holds no usable private key",
			 key_path);
		goto fail;
	}
	if (!key_matches(&c->chain[0], c->key)) {
		snprintf(err, errlen, "%s is not the key of %s", key_path,
			 cert_path);
		goto fail;
	}
	gnutls_free(cert.data);
	gnutls_free(key.data);
	return c;
fail:
	gnutls_free(cert.data);
	gnutls_free(key.data);
	creds_free(c);
	return NULL;
}

static void file_id_of(const char *path, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (stat(path, &st) == -1)
		return;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

void tls_refresh(struct tls *t, bool force)
{
	struct file_id cert_id, key_id;
	struct creds *fresh;
	char err[512];

	pthread_mutex_lock(&t->lock);
	if (!force && now_seconds() == t->checked)
		goto out;
	t->checked = now_seconds();
	file_id_of(t->cert_path, &cert_id);
	file_id_of(t->key_path, &key_id);
	if (!force && same_file(&cert_id, &t->cert_id) &&
	    same_file(&key_id, &t->key_id))
		goto out;

	/* A renewal writes two files; until both are consistent the load
	 * fails, the old set stays, and the next look tries again. */
	fresh = creds_load(t->cert_path, t->key_path, err, sizeof(err));
	if (!fresh) {
		log_warn("certificate reload failed, keeping the old one "
			 "reason=\"%s\"",
			 err);
		goto out;
	}
	fresh->older = t->current;
	t->current = fresh;
	t->cert_id = cert_id;
	t->key_id = key_id;
	log_info("certificate loaded cert=%s", t->cert_path);
out:
	pthread_mutex_unlock(&t->lock);
}

static int on_retrieve(gnutls_session_t session,
		       const gnutls_datum_t *req_ca_rdn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_len,
		       gnutls_pcert_st **pcert, unsigned int *pcert_length,
		       gnutls_privkey_t *pkey)
{
	struct tls *t = open_tls;

	(void)session;
	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_len;
	if (!t)
		return -1;
	tls_refresh(t, false);

	pthread_mutex_lock(&t->lock);
	*pcert = t->current->chain;
	*pcert_length = t->current->chain_len;
	*pkey = t->current->key;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void *tls_cert_callback(void)
{
	return (void *)on_retrieve;
}

struct tls *tls_open(const char *cert_path, const char *key_path,
		     const char *minimum, char *err, size_t errlen)
{
	struct tls *t;
	struct creds *c = creds_load(cert_path, key_path, err, errlen);

	if (!c)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->cert_path = xstrdup(cert_path);
	t->key_path = xstrdup(key_path);
	t->priorities = minimum && !strcmp(minimum, "tls1.3")
				? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
				: "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
	pthread_mutex_init(&t->lock, NULL);
	t->current = c;
	file_id_of(cert_path, &t->cert_id);
	file_id_of(key_path, &t->key_id);
	t->checked = now_seconds();
	open_tls = t;
	return t;
}

const char *tls_priorities(const struct tls *t)
{
	return t->priorities;
}

void tls_close(struct tls *t)
{
	if (!t)
		return;
	if (open_tls == t)
		open_tls = NULL;
	creds_free(t->current);
	pthread_mutex_destroy(&t->lock);
	free(t->cert_path);
	free(t->key_path);
	free(t);
}
