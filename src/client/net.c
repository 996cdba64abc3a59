/* Sockets and TLS: non-blocking connect, handshake, read and write. Every
 * function runs with the client's lock held. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"

int64_t mc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mc_set_error(midge_client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
    va_end(ap);
}

/* The first queued OpenSSL error in words, or `fallback`. */
static const char *ssl_reason(char *buf, size_t cap, const char *fallback)
{
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(buf, cap, "%s", fallback);
        return buf;
    }
    ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

void mc_tls_free(midge_client_t *c)
{
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    c->ssl_ctx = NULL;
}

midge_err_t mc_tls_setup(midge_client_t *c, const midge_tls_t *t)
{
    char why[256];
    mc_tls_free(c);
    if (!t)
        return MIDGE_OK;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        mc_set_error(c, "TLS: %s", ssl_reason(why, sizeof(why), "cannot create context"));
        return MIDGE_ERR_TLS;
    }
    int min = TLS1_2_VERSION, max = 0;
    if (t->tls_version) {
        if (!strcmp(t->tls_version, "tlsv1.3"))
            min = max = TLS1_3_VERSION;
        else if (!strcmp(t->tls_version, "tlsv1.2"))
            min = max = TLS1_2_VERSION;
        else if (!strcmp(t->tls_version, "tlsv1.1"))
            min = max = TLS1_1_VERSION;
        else {
            mc_set_error(c, "TLS: unknown TLS version \"%s\"", t->tls_version);
            SSL_CTX_free(ctx);
            return MIDGE_ERR_INVAL;
        }
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (t->cafile || t->capath) {
        if (SSL_CTX_load_verify_locations(ctx, t->cafile, t->capath) != 1) {
            mc_set_error(c, "TLS: cannot load CA %s \"%s\": %s", t->cafile ? "file" : "path",
                         t->cafile ? t->cafile : t->capath,
                         ssl_reason(why, sizeof(why), "unknown error"));
            SSL_CTX_free(ctx);
            return MIDGE_ERR_TLS;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        mc_set_error(c, "TLS: cannot load the system trust store");
        SSL_CTX_free(ctx);
        return MIDGE_ERR_TLS;
    }
    if (t->ciphers && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) {
        mc_set_error(c, "TLS: no usable cipher in \"%s\"", t->ciphers);
        SSL_CTX_free(ctx);
        return MIDGE_ERR_TLS;
    }
    if ((t->certfile != NULL) != (t->keyfile != NULL)) {
        mc_set_error(c, "TLS: a client certificate needs both a certificate and a key file");
        SSL_CTX_free(ctx);
        return MIDGE_ERR_INVAL;
    }
    if (t->certfile) {
        if (SSL_CTX_use_certificate_chain_file(ctx, t->certfile) != 1) {
            mc_set_error(c, "TLS: cannot load certificate \"%s\": %s", t->certfile,
                         ssl_reason(why, sizeof(why), "unknown error"));
            SSL_CTX_free(ctx);
            return MIDGE_ERR_TLS;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, t->keyfile, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            mc_set_error(c, "TLS: cannot load key \"%s\": %s", t->keyfile,
                         ssl_reason(why, sizeof(why), "unknown error"));
            SSL_CTX_free(ctx);
            return MIDGE_ERR_TLS;
        }
    }
    if (t->alpn) {
        size_t n = strlen(t->alpn);
        uint8_t wire[256];
        if (n == 0 || n > 255) {
            mc_set_error(c, "TLS: ALPN protocol name must be 1-255 bytes");
            SSL_CTX_free(ctx);
            return MIDGE_ERR_INVAL;
        }
        wire[0] = (uint8_t)n;
        memcpy(wire + 1, t->alpn, n);
        if (SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)n + 1) != 0) {
            mc_set_error(c, "TLS: cannot set ALPN");
            SSL_CTX_free(ctx);
            return MIDGE_ERR_TLS;
        }
    }
    c->ssl_ctx = ctx;
    c->tls_insecure = t->insecure;
    return MIDGE_OK;
}

void mc_net_close(midge_client_t *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->sock >= 0) {
        close(c->sock);
        c->sock = -1;
    }
}

static const char *addr_text(const struct addrinfo *ai, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ai->ai_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)ai->ai_addr;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
        port = ntohs(s->sin_port);
        snprintf(buf, cap, "%s:%d", host, port);
    } else {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
        port = ntohs(s->sin6_port);
        snprintf(buf, cap, "[%s]:%d", host, port);
    }
    return buf;
}

midge_err_t mc_net_start(midge_client_t *c)
{
    char where[80];
    while (c->addr_next) {
        struct addrinfo *ai = c->addr_next;
        c->addr_next = ai->ai_next;
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            mc_set_error(c, "socket: %s", strerror(errno));
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            c->sock = fd;
            c->state = MC_TCP;
            return MIDGE_OK;
        }
        mc_set_error(c, "connect to %s: %s", addr_text(ai, where, sizeof(where)), strerror(errno));
        close(fd);
    }
    return MIDGE_ERR_CONNECT;
}

static bool is_ip_literal(const char *host)
{
    uint8_t buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static midge_err_t tls_begin(midge_client_t *c)
{
    char why[256];
    c->ssl = SSL_new(c->ssl_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->sock) != 1) {
        mc_set_error(c, "TLS: %s", ssl_reason(why, sizeof(why), "cannot create session"));
        return MIDGE_ERR_TLS;
    }
    if (!is_ip_literal(c->host))
        SSL_set_tlsext_host_name(c->ssl, c->host);
    if (!c->tls_insecure) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        int ok = is_ip_literal(c->host) ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->host)
                                        : X509_VERIFY_PARAM_set1_host(vp, c->host, 0);
        if (ok != 1) {
            mc_set_error(c, "TLS: cannot set the host name to verify");
            return MIDGE_ERR_TLS;
        }
    }
    c->state = MC_TLS;
    return MIDGE_OK;
}

/* SSL_write may write() on a socket the peer closed: keep SIGPIPE from
 * killing the process, without touching the process's handler. */
static int ssl_call_nosigpipe(SSL *ssl, int (*fn)(SSL *, const void *, int), const void *buf,
                              int len)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int r = fn(ssl, buf, len);
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&old, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&block, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

static int ssl_connect_fn(SSL *ssl, const void *buf, int len)
{
    (void)buf;
    (void)len;
    return SSL_connect(ssl);
}

static int ssl_write_fn(SSL *ssl, const void *buf, int len)
{
    return SSL_write(ssl, buf, len);
}

static midge_err_t tls_handshake(midge_client_t *c)
{
    char why[256];
    ERR_clear_error();
    int r = ssl_call_nosigpipe(c->ssl, ssl_connect_fn, NULL, 0);
    if (r == 1)
        return MIDGE_OK;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return MIDGE_OK;
    long vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK)
        mc_set_error(c, "TLS handshake: certificate verify failed: %s",
                     X509_verify_cert_error_string(vr));
    else
        mc_set_error(
            c, "TLS handshake: %s",
            ssl_reason(why, sizeof(why), e == SSL_ERROR_SYSCALL ? "connection closed" : "failed"));
    return MIDGE_ERR_TLS;
}

midge_err_t mc_net_progress(midge_client_t *c)
{
    if (c->state == MC_TCP) {
        struct pollfd p = {.fd = c->sock, .events = POLLOUT};
        if (poll(&p, 1, 0) <= 0)
            return MIDGE_OK;
        int err = 0;
        socklen_t l = sizeof(err);
        if (getsockopt(c->sock, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err) {
            mc_set_error(c, "connect to %s:%d: %s", c->host, c->port, strerror(err));
            return MIDGE_ERR_CONNECT;
        }
        if (!c->ssl_ctx) {
            c->state = MC_CONNACK; /* the caller sends CONNECT */
            return MIDGE_OK;
        }
        midge_err_t e = tls_begin(c);
        if (e != MIDGE_OK)
            return e;
    }
    if (c->state == MC_TLS) {
        midge_err_t e = tls_handshake(c);
        if (e != MIDGE_OK)
            return e;
        if (SSL_is_init_finished(c->ssl))
            c->state = MC_CONNACK;
    }
    return MIDGE_OK;
}

bool mc_net_wants_write(midge_client_t *c)
{
    if (c->state == MC_TCP)
        return true;
    if (c->ssl && c->state == MC_TLS)
        return SSL_want_write(c->ssl);
    return false;
}

long mc_net_read(midge_client_t *c, uint8_t *buf, size_t cap, midge_err_t *err)
{
    char why[256];
    if (cap > 0x40000000)
        cap = 0x40000000;
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, (int)cap);
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
            mc_set_error(c, "the server closed the connection");
            *err = MIDGE_ERR_CONN_LOST;
        } else {
            mc_set_error(c, "TLS: %s", ssl_reason(why, sizeof(why), "read failed"));
            *err = MIDGE_ERR_TLS;
        }
        return -1;
    }
    ssize_t n = recv(c->sock, buf, cap, 0);
    if (n > 0)
        return (long)n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n == 0)
        mc_set_error(c, "the server closed the connection");
    else
        mc_set_error(c, "read: %s", strerror(errno));
    *err = MIDGE_ERR_CONN_LOST;
    return -1;
}

long mc_net_write(midge_client_t *c, const uint8_t *buf, size_t len, midge_err_t *err)
{
    char why[256];
    if (len > 0x40000000)
        len = 0x40000000;
    if (c->ssl) {
        ERR_clear_error();
        int r = ssl_call_nosigpipe(c->ssl, ssl_write_fn, buf, (int)len);
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        mc_set_error(c, "TLS: %s", ssl_reason(why, sizeof(why), "write failed"));
        *err = MIDGE_ERR_CONN_LOST;
        return -1;
    }
    ssize_t n = send(c->sock, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return (long)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    mc_set_error(c, "write: %s", strerror(errno));
    *err = MIDGE_ERR_CONN_LOST;
    return -1;
}
