/*
 * Listening sockets. Each listener has one socket per worker, all bound to
 * the same address with SO_REUSEPORT, so the kernel spreads new
 * connections over the workers and no thread hands sockets to another.
 */
#ifndef MIDGE_BROKER_LISTENER_H
#define MIDGE_BROKER_LISTENER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tls.h"

typedef struct {
    /* Numeric address or host name ("127.0.0.1", "::1", "localhost");
     * NULL binds every address of both families (Mosquitto's "listener
     * 1883" with no address). */
    const char *host;
    uint16_t port;       /* 0 picks a free port (tests); see listener_t.port */
    int family;          /* AF_INET or AF_INET6 to restrict; 0: any */
    int max_connections; /* < 0: unlimited */
    bool tcp_nodelay;    /* Mosquitto's set_tcp_nodelay */
    /* A bind failure is logged and the listener skipped instead of being
     * fatal: used for the default ::1 listener on hosts without IPv6. */
    bool optional;
    void *user;      /* the protocol layer's per-listener settings */
    tls_ctx_t *tls;  /* TLS context, or NULL for plain TCP; owned by the
                      * server from server_create() (freed with it) */
    bool websockets; /* MQTT over WebSockets (RFC 6455), above TLS if any */
    /* websockets: the directory plain HTTP GETs are served from (NULL:
     * none; it lives as long as `user`), and the largest upgrade request
     * in bytes (0: WS_MAX_REQUEST). */
    const char *http_dir;
    uint32_t ws_headers_max;
} listener_spec_t;

typedef struct listener {
    /* The spec it was opened with. Only the identity fields (host, port,
     * family, websockets) stay meaningful: a reload may give the listener
     * new settings, which each worker holds (worker_listener_settings);
     * tls, user and http_dir are cleared here so nothing uses stale ones. */
    listener_spec_t spec;
    char *host;      /* owned copy of spec.host (spec.host points here) */
    atomic_int refs; /* listener_new: 1; each connection and generation */
    uint16_t port;   /* the bound port (differs from spec.port when 0) */
    int family;      /* AF_INET or AF_INET6 */
    char addr[64];   /* bound address for logs: "127.0.0.1:1883" */
    int *fds;        /* one listening socket per worker; -1 once closed */
    unsigned nfds;
    atomic_int conn_count; /* open connections, for max_connections */
} listener_t;

/* Binds spec on `nworkers` sockets. Returns 0; -1 with an error logged
 * (nothing left open). */
int listener_open(listener_t *l, const listener_spec_t *spec, unsigned nworkers);
void listener_close(listener_t *l);

/* listener_open on the heap, reference counted (one reference returned).
 * The last listener_unref closes the sockets still open and frees it. */
listener_t *listener_new(const listener_spec_t *spec, unsigned nworkers);
listener_t *listener_ref(listener_t *l);
void listener_unref(listener_t *l);
/* The identity a reload matches listeners by: bind address (textually),
 * port, address family restriction and protocol. TLS and limits are
 * settings of the listener, not its identity. */
bool listener_same(const listener_t *l, const listener_spec_t *spec);

/* Socket options applied to accepted sockets. */
int set_tcp_nodelay(int fd, bool on);

#endif
