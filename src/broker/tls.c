#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdatomic.h>
#include <string.h>

#include "log.h"
#include "net_internal.h"

struct tls_ctx {
    atomic_int refs;
    SSL_CTX *ssl;
};

/* Bytes gathered from the output queue per SSL_write: one full record. */
#define TLS_STAGE 16384u

static void log_ssl_errors(mlog_level_t level, const char *what)
{
    unsigned long e;
    char buf[256];
    bool any = false;
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
        mlog(level, "%s: %s", what, buf);
        any = true;
    }
    if (!any)
        mlog(level, "%s.", what);
}

/*
 * OpenSSL 3 skips names it does not know as long as one suite remains, so
 * a typo would silently drop a suite the operator meant to allow. Every
 * name must be a TLS 1.3 suite the context now offers.
 */
static int set_tls13_suites(SSL_CTX *ctx, const char *list)
{
    if (SSL_CTX_set_ciphersuites(ctx, list) != 1) {
        log_ssl_errors(MLOG_ERROR, "Error: invalid ciphers_tls1.3");
        return -1;
    }
    STACK_OF(SSL_CIPHER) *have = SSL_CTX_get_ciphers(ctx);
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ":");
        bool found = false;
        for (int i = 0; have && i < sk_SSL_CIPHER_num(have) && !found; i++) {
            const SSL_CIPHER *c = sk_SSL_CIPHER_value(have, i);
            const char *name = SSL_CIPHER_get_name(c);
            found = strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0 && strlen(name) == n &&
                    strncmp(name, p, n) == 0;
        }
        if (!found && n > 0) {
            mlog(MLOG_ERROR, "Error: invalid ciphers_tls1.3: unknown TLS 1.3 cipher suite '%.*s'.",
                 (int)n, p);
            return -1;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return 0;
}

/* DH parameters for the DHE suites of TLS 1.2 (TLS 1.3 negotiates its
 * own groups). OpenSSL checks their strength against the security level
 * when they are set, so weak parameters are refused here, at start. */
static int load_dhparams(SSL_CTX *ctx, const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) {
        mlog(MLOG_ERROR, "Error: cannot open dhparamfile %s.", path);
        ERR_clear_error();
        return -1;
    }
    EVP_PKEY *params = PEM_read_bio_Parameters(bio, NULL);
    BIO_free(bio);
    if (!params || !(EVP_PKEY_is_a(params, "DH") || EVP_PKEY_is_a(params, "DHX"))) {
        mlog(MLOG_ERROR, "Error: dhparamfile %s holds no PEM DH parameters.", path);
        EVP_PKEY_free(params);
        ERR_clear_error();
        return -1;
    }
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, params) != 1) {
        mlog(MLOG_ERROR, "Error: the DH parameters of dhparamfile %s cannot be used.", path);
        log_ssl_errors(MLOG_ERROR, "Error");
        EVP_PKEY_free(params);
        return -1;
    }
    return 0;
}

tls_ctx_t *tls_ctx_new(const tls_settings_t *s)
{
    if (!s->certfile || !s->keyfile) {
        mlog(MLOG_ERROR, "Error: a TLS listener needs both certfile and keyfile.");
        return NULL;
    }
    tls_ctx_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    atomic_init(&t->refs, 1);
    t->ssl = SSL_CTX_new(TLS_server_method());
    if (!t->ssl)
        goto fail;
    SSL_CTX_set_min_proto_version(t->ssl, s->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
    /* Renegotiation would let a read wait on a write and the reverse at
     * any time; MQTT has no use for it. Partial and moving writes let the
     * output queue retry from a fresh gather of the same bytes. */
    SSL_CTX_set_options(t->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                    SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    if (s->ciphers && SSL_CTX_set_cipher_list(t->ssl, s->ciphers) != 1) {
        log_ssl_errors(MLOG_ERROR, "Error: invalid ciphers");
        goto fail;
    }
    if (s->ciphers_tls13 && set_tls13_suites(t->ssl, s->ciphers_tls13) != 0)
        goto fail;
    if (s->dhparamfile && load_dhparams(t->ssl, s->dhparamfile) != 0)
        goto fail;
    if (SSL_CTX_use_certificate_chain_file(t->ssl, s->certfile) != 1) {
        mlog(MLOG_ERROR, "Error: cannot load certificate file %s.", s->certfile);
        log_ssl_errors(MLOG_ERROR, "Error");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ssl, s->keyfile, SSL_FILETYPE_PEM) != 1) {
        mlog(MLOG_ERROR, "Error: cannot load key file %s.", s->keyfile);
        log_ssl_errors(MLOG_ERROR, "Error");
        goto fail;
    }
    if (SSL_CTX_check_private_key(t->ssl) != 1) {
        mlog(MLOG_ERROR, "Error: key file %s does not match certificate %s.", s->keyfile,
             s->certfile);
        goto fail;
    }
    if ((s->cafile || s->capath) &&
        SSL_CTX_load_verify_locations(t->ssl, s->cafile, s->capath) != 1) {
        mlog(MLOG_ERROR, "Error: cannot load CA certificates from %s.",
             s->cafile ? s->cafile : s->capath);
        log_ssl_errors(MLOG_ERROR, "Error");
        goto fail;
    }
    if (s->crlfile) {
        X509_STORE *store = SSL_CTX_get_cert_store(t->ssl);
        if (X509_STORE_load_file(store, s->crlfile) != 1) {
            mlog(MLOG_ERROR, "Error: cannot load CRL file %s.", s->crlfile);
            goto fail;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    if (s->require_certificate)
        SSL_CTX_set_verify(t->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else
        SSL_CTX_set_verify(t->ssl, SSL_VERIFY_NONE, NULL);
    return t;
fail:
    ERR_clear_error();
    tls_ctx_free(t);
    return NULL;
}

tls_ctx_t *tls_ctx_ref(tls_ctx_t *ctx)
{
    if (ctx)
        atomic_fetch_add(&ctx->refs, 1);
    return ctx;
}

void tls_ctx_free(tls_ctx_t *ctx)
{
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

bool conn_is_tls(const conn_t *c)
{
    return c->tls != NULL;
}

int tls_conn_start(conn_t *c, const tls_ctx_t *ctx)
{
    SSL *ssl = SSL_new(ctx->ssl);
    if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
        SSL_free(ssl);
        return -1;
    }
    SSL_set_accept_state(ssl);
    c->tls = ssl;
    return 0;
}

/* Maps an OpenSSL failure to errno for the callers in conn.c, noting
 * which direction the library waits for. */
static ssize_t ssl_fail(conn_t *c, int ret, bool reading)
{
    int e = SSL_get_error(c->tls, ret);
    switch (e) {
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_WANT_READ:
        if (!reading)
            c->flags |= CONN_F_TLS_WANT_READ;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            c->flags |= CONN_F_TLS_WANT_WRITE;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_SYSCALL:
        /* The socket failed (errno says how) or hit EOF (errno 0). */
        ERR_clear_error();
        if (errno == 0)
            return 0;
        if (errno == EAGAIN)
            errno = ECONNRESET;
        return -1;
    default:
        if (mlog_enabled(MLOG_NOTICE)) {
            char what[96];
            snprintf(what, sizeof what, "Client %s:%u: TLS error", c->peer_host, c->peer_port);
            log_ssl_errors(MLOG_NOTICE, what);
        }
        ERR_clear_error();
        errno = ECONNRESET;
        return -1;
    }
}

ssize_t tls_conn_read(conn_t *c, void *buf, size_t cap)
{
    if (cap > INT32_MAX)
        cap = INT32_MAX;
    c->flags &= ~CONN_F_TLS_WANT_WRITE;
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(c->tls, buf, (int)cap);
    if (r > 0)
        return r;
    return ssl_fail(c, r, true);
}

bool tls_conn_pending(const conn_t *c)
{
    return SSL_pending(c->tls) > 0;
}

bool tls_conn_write_out(conn_t *c, uint8_t *stage)
{
    c->flags &= ~CONN_F_TLS_WANT_READ;
    for (int round = 0; round < 64 && c->out_head; round++) {
        /* A retry after WANT_WRITE must offer at least the bytes offered
         * before; the front of the queue has not moved, so gathering the
         * same length again gives the same bytes. */
        size_t n = c->tls_retry_len ? c->tls_retry_len : conn_out_gather(c, stage, TLS_STAGE);
        if (c->tls_retry_len)
            conn_out_gather(c, stage, n);
        ERR_clear_error();
        errno = 0;
        int w = SSL_write(c->tls, stage, (int)n);
        if (w > 0) {
            c->tls_retry_len = 0;
            conn_out_consume(c, (size_t)w);
            continue;
        }
        c->tls_retry_len = n;
        ssize_t r = ssl_fail(c, w, false);
        return r < 0 && errno == EAGAIN;
    }
    return true;
}

void tls_conn_end(conn_t *c, bool usable)
{
    if (!c->tls)
        return;
    /* close_notify, best effort and nonblocking: the peer learns the close
     * was deliberate. */
    if (usable && SSL_is_init_finished(c->tls))
        SSL_shutdown(c->tls);
    ERR_clear_error();
    SSL_free(c->tls);
    c->tls = NULL;
}

int conn_tls_peer_name(const conn_t *c, bool full_subject, char *buf, size_t len)
{
    if (!c->tls || len == 0)
        return -1;
    X509 *cert = SSL_get1_peer_certificate(c->tls);
    if (!cert)
        return -1;
    int rc = -1;
    if (SSL_get_verify_result(c->tls) != X509_V_OK)
        goto out;
    X509_NAME *name = X509_get_subject_name(cert);
    if (!full_subject) {
        int n = X509_NAME_get_text_by_NID(name, NID_commonName, buf, (int)len);
        rc = n > 0 && (size_t)n < len ? 0 : -1;
        goto out;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        goto out;
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0 && (size_t)n < len) {
        memcpy(buf, data, (size_t)n);
        buf[n] = '\0';
        rc = 0;
    }
    BIO_free(bio);
out:
    X509_free(cert);
    return rc;
}
