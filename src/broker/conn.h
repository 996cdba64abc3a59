/*
 * One client connection: a nonblocking socket, an input buffer that frames
 * MQTT packets, and an output queue flushed with one writev per loop
 * iteration. A connection belongs to the worker that accepted it; only that
 * worker's thread may call these functions or touch its fields.
 *
 * Limits that bound memory per connection:
 *  - input: never more than max_packet_size bytes are buffered, and the
 *    buffer only grows as bytes actually arrive (a 256 MB length prefix
 *    costs nothing until 256 MB are sent);
 *  - output: conn_out_bytes() is what is queued; a write that would pass
 *    out_limit closes the connection (CONN_CLOSE_OUTPUT_LIMIT). The
 *    protocol layer applies its softer policy (drop QoS 0, keep QoS 1/2 in
 *    the session) before that by looking at conn_out_bytes().
 */
#ifndef MIDGE_BROKER_CONN_H
#define MIDGE_BROKER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_ops.h"

typedef struct listener listener_t;
typedef struct out_chunk out_chunk_t;

/* max_packet_size of a connection that has not completed CONNECT: room for
 * the largest CONNECT a real client sends (a 64 KiB will payload plus
 * client id, will topic, credentials and properties), small enough that
 * unauthenticated sockets cannot make the broker buffer much. The protocol
 * layer raises it to the configured maximum once the client is accepted. */
#define CONN_PREAUTH_MAX_PACKET (256u * 1024u)

/* Default out_limit: a subscriber that has not read 64 MiB is not coming
 * back. Shared payloads count their full size for every connection that
 * queues them, so this is a bound on queue length, not only on memory. */
#define CONN_DEFAULT_OUT_LIMIT (64u * 1024u * 1024u)

/* peer_host holds any numeric IPv4 or IPv6 address. */
#define CONN_HOST_MAX 46

struct conn {
    /* ---- read-only outside the network layer ---- */
    int fd;
    worker_t *worker;           /* the owning worker */
    const listener_t *listener; /* the listener it was accepted on */
    uint64_t id;                /* unique in the process, for logs */
    char peer_host[CONN_HOST_MAX];
    uint16_t peer_port;
    uint64_t last_rx_ms; /* worker clock when bytes last arrived (keep-alive) */
    uint64_t rx_bytes, tx_bytes;

    /* ---- owned by the protocol layer ---- */
    void *proto;              /* session state; released in on_close */
    uint32_t max_packet_size; /* whole packet incl. fixed header */
    size_t out_limit;         /* hard cap on queued output bytes */

    /* ---- private to the network layer ---- */
    uint8_t *in;           /* input buffer */
    size_t in_len, in_cap; /* bytes held, bytes allocated */
    out_chunk_t *out_head, *out_tail;
    size_t out_bytes;
    unsigned flags;
    conn_close_reason_t close_reason;
    conn_t *next, *prev;                 /* the worker's list of all its connections */
    conn_t *dirty_next, *dirty_prev;     /* the worker's flush list */
    conn_t *close_next;                  /* the worker's close list */
    conn_t *pending_next, *pending_prev; /* the worker's pending-input list */
    unsigned budget;                     /* packets left in this turn */
    void *tls;                           /* SSL object on TLS listeners, else NULL */
    size_t tls_retry_len;                /* bytes offered to an SSL_write that must be retried */
    void *ws;                            /* WebSocket state (ws_conn.c) on websockets listeners */
};

/* Queues a copy of data. Returns 0, or -1 if the connection is closing or
 * the write would pass out_limit (the connection is then closed). */
int conn_write(conn_t *c, const void *data, size_t len);

typedef void (*conn_release_fn)(void *ref);

/*
 * Queues a copy of head (a PUBLISH head, at most a few hundred bytes)
 * followed by payload, which is NOT copied: it must stay valid and
 * unchanged until release(ref) is called. release(ref) is called exactly
 * once, on this worker's thread: when the payload was written, when the
 * connection is freed, on error, or, for small payloads that are cheaper to
 * copy than to share, before conn_write_ref returns. release may be NULL.
 * Returns 0 or -1 like conn_write.
 */
int conn_write_ref(conn_t *c, const void *head, size_t head_len, const void *payload,
                   size_t payload_len, conn_release_fn release, void *ref);

/* Bytes queued and not yet accepted by the kernel. */
size_t conn_out_bytes(const conn_t *c);

/* Asks for an on_flush call at this iteration's flush point even if
 * nothing was written (e.g. a delivery was queued on the session by
 * another worker). */
void conn_want_flush(conn_t *c);

/*
 * Backpressure: stop reading this connection's socket and handing its
 * packets to on_packet (e.g. a publisher whose messages cannot be queued
 * anywhere right now) until conn_resume_read. Packets already read stay
 * buffered (at most one read's worth) and are handed over after resuming,
 * in order. Both are idempotent; call them on the owning worker (post a
 * job to it from elsewhere).
 */
void conn_pause_read(conn_t *c);
void conn_resume_read(conn_t *c);

/* Closes the connection at the loop's safe point: no more on_packet or
 * on_flush; then on_close(reason) (which may queue a last packet); queued
 * output gets one last nonblocking write; the socket is closed and freed.
 * Safe to call from any callback and more than once (the first reason is
 * kept). */
void conn_close(conn_t *c, conn_close_reason_t reason);
bool conn_is_closing(const conn_t *c);

#endif
