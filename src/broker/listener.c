#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define LISTEN_BACKLOG 1024

int set_tcp_nodelay(int fd, bool on)
{
    int v = on ? 1 : 0;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

static void format_addr(char *out, size_t cap, const struct sockaddr *sa, uint16_t port)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, port);
    } else {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, port);
    }
}

static void set_port(struct sockaddr *sa, uint16_t port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/* One listening socket on sa. SO_REUSEPORT lets every worker bind its own;
 * SO_REUSEADDR lets a restarted broker bind while old connections sit in
 * TIME_WAIT. An IPv6 wildcard also takes IPv4 (dual stack) unless v6only. */
static int open_socket(const struct sockaddr *sa, socklen_t len, bool v6only)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    int v6 = v6only ? 1 : 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) != 0) ||
        bind(fd, sa, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void listener_close(listener_t *l)
{
    if (!l->fds)
        return;
    for (unsigned i = 0; i < l->nfds; i++)
        if (l->fds[i] >= 0)
            close(l->fds[i]);
    free(l->fds);
    l->fds = NULL;
    l->nfds = 0;
}

int listener_open(listener_t *l, const listener_spec_t *spec, unsigned nworkers)
{
    memset(l, 0, sizeof *l);
    l->spec = *spec;
    l->spec.tls = NULL;
    l->spec.user = NULL;
    l->spec.http_dir = NULL;
    atomic_init(&l->conn_count, 0);
    atomic_init(&l->refs, 1);
    const char *shown = spec->host ? spec->host : "*";

    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = spec->family ? spec->family : spec->host ? AF_UNSPEC : AF_INET6;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", spec->port);
    int gai = getaddrinfo(spec->host, port, &hints, &res);
    if (gai != 0 && !spec->host && !spec->family) {
        /* No IPv6 on this host: the wildcard falls back to IPv4. */
        hints.ai_family = AF_INET;
        gai = getaddrinfo(NULL, port, &hints, &res);
    }
    if (gai != 0) {
        mlog(spec->optional ? MLOG_WARNING : MLOG_ERROR, "%s: cannot resolve listener %s: %s.",
             spec->optional ? "Warning" : "Error", shown, gai_strerror(gai));
        return -1;
    }

    struct sockaddr_storage ss;
    socklen_t slen = (socklen_t)res->ai_addrlen;
    memcpy(&ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    struct sockaddr *sa = (struct sockaddr *)&ss;
    l->family = sa->sa_family;
    /* Only the unrestricted wildcard takes both families on one socket. */
    bool v6only = spec->host != NULL || spec->family == AF_INET6;

    /* SO_REUSEPORT would let us share a port with another broker of the
     * same user, silently splitting its clients with it. A first bind
     * without it fails if anyone listens there, as Mosquitto's would. */
    int probe = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, v6 = v6only ? 1 : 0;
    if (probe < 0 || setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) != 0) ||
        bind(probe, sa, slen) != 0) {
        int e = errno;
        if (probe >= 0)
            close(probe);
        char where[80];
        format_addr(where, sizeof where, sa, spec->port);
        mlog(spec->optional ? MLOG_WARNING : MLOG_ERROR, "%s: cannot listen on %s: %s.",
             spec->optional ? "Warning" : "Error", where, strerror(e));
        return -1;
    }
    close(probe);

    l->fds = malloc(nworkers * sizeof *l->fds);
    if (!l->fds)
        return -1;
    l->nfds = nworkers;
    for (unsigned i = 0; i < nworkers; i++)
        l->fds[i] = -1;
    for (unsigned i = 0; i < nworkers; i++) {
        l->fds[i] = open_socket(sa, slen, v6only);
        if (l->fds[i] < 0) {
            int e = errno;
            char where[80];
            format_addr(where, sizeof where, sa, spec->port);
            mlog(spec->optional ? MLOG_WARNING : MLOG_ERROR, "%s: cannot listen on %s: %s.",
                 spec->optional ? "Warning" : "Error", where, strerror(e));
            listener_close(l);
            return -1;
        }
        if (i == 0) {
            /* Port 0: the other workers' sockets must share the port the
             * kernel picked for the first. */
            struct sockaddr_storage bound;
            socklen_t blen = sizeof bound;
            if (getsockname(l->fds[0], (struct sockaddr *)&bound, &blen) == 0)
                l->port =
                    ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                     : ((struct sockaddr_in6 *)&bound)->sin6_port);
            else
                l->port = spec->port;
            set_port(sa, l->port);
        }
    }
    format_addr(l->addr, sizeof l->addr, sa, l->port);
    return 0;
}

listener_t *listener_new(const listener_spec_t *spec, unsigned nworkers)
{
    listener_t *l = malloc(sizeof *l);
    char *host = spec->host ? strdup(spec->host) : NULL;
    if (!l || (spec->host && !host)) {
        mlog(MLOG_ERROR, "Error: out of memory opening a listener.");
        free(l);
        free(host);
        return NULL;
    }
    if (listener_open(l, spec, nworkers) != 0) {
        free(l);
        free(host);
        return NULL;
    }
    l->host = host;
    l->spec.host = host;
    return l;
}

listener_t *listener_ref(listener_t *l)
{
    if (l)
        atomic_fetch_add(&l->refs, 1);
    return l;
}

void listener_unref(listener_t *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    listener_close(l);
    free(l->host);
    free(l);
}

bool listener_same(const listener_t *l, const listener_spec_t *spec)
{
    bool same_host = (l->spec.host == NULL) == (spec->host == NULL) &&
                     (spec->host == NULL || strcmp(l->spec.host, spec->host) == 0);
    return same_host && l->spec.port == spec->port && l->spec.family == spec->family &&
           l->spec.websockets == spec->websockets;
}
