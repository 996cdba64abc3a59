/*
 * TLS for listeners (Mosquitto's cafile/certfile/keyfile/... options).
 * A listener whose spec carries a tls_ctx_t speaks TLS on every connection;
 * the handshake runs inside the first reads, nonblocking, so a slow or
 * silent TLS client costs a worker nothing more than a plain one (the
 * protocol layer's CONNECT deadline covers it).
 */
#ifndef MIDGE_BROKER_TLS_H
#define MIDGE_BROKER_TLS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct conn conn_t;
typedef struct tls_ctx tls_ctx_t;

typedef struct {
    const char *cafile;        /* CA bundle for client certificates */
    const char *capath;        /* directory of hashed CA certificates */
    const char *certfile;      /* server certificate chain (PEM), required */
    const char *keyfile;       /* its private key (PEM), required */
    const char *crlfile;       /* revocation list checked for client certs */
    const char *ciphers;       /* OpenSSL cipher list for TLS 1.2; NULL: default */
    const char *ciphers_tls13; /* TLS 1.3 cipher suites, colon separated; NULL: default */
    const char *dhparamfile;   /* PEM DH parameters for DHE suites (TLS 1.2); NULL: none */
    bool tls13_only;           /* tls_version tlsv1.3; default allows 1.2 and 1.3 */
    bool require_certificate;
} tls_settings_t;

/* Builds a server context; NULL with the reason logged (unreadable file,
 * key not matching the certificate, ...). */
tls_ctx_t *tls_ctx_new(const tls_settings_t *s);
/* Contexts are reference counted: each listener generation holding one
 * takes a reference, tls_ctx_free drops one. A connection's SSL object
 * holds OpenSSL's own reference on the SSL_CTX, so connections opened
 * with a context keep working after its last tls_ctx_free (SIGHUP). */
tls_ctx_t *tls_ctx_ref(tls_ctx_t *ctx);
void tls_ctx_free(tls_ctx_t *ctx);

/* True if the connection came in on a TLS listener. */
bool conn_is_tls(const conn_t *c);

/*
 * The verified client certificate's name, for use_identity_as_username
 * (full_subject false: the Common Name) and use_subject_as_username
 * (full_subject true: the subject in RFC 2253 form, as Mosquitto gives
 * it). Returns 0 and a NUL-terminated name, -1 if there is no verified
 * certificate or the name does not fit.
 */
int conn_tls_peer_name(const conn_t *c, bool full_subject, char *buf, size_t len);

#endif
