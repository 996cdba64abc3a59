/*
 * The seam between the network layer (threads, loop, sockets: conn.c,
 * worker.c, server.c) and the protocol layer (sessions and packet
 * handlers). The protocol layer fills a broker_proto_t and hands it to
 * server_create(); the network layer calls it. Every callback runs on the
 * worker thread that owns the connection, never concurrently for one
 * connection, and never from inside another callback of the same
 * connection except where stated.
 */
#ifndef MIDGE_BROKER_PROTO_OPS_H
#define MIDGE_BROKER_PROTO_OPS_H

#include "mqtt/mqtt.h"

typedef struct conn conn_t;
typedef struct worker worker_t;

/* Why a connection ended; passed to on_close. */
typedef enum {
    CONN_CLOSE_PEER = 0,     /* the peer closed the socket (EOF) */
    CONN_CLOSE_IO_ERROR,     /* read or write failed (reset, timeout, ...) */
    CONN_CLOSE_PROTOCOL,     /* framing error: bad length, packet too large */
    CONN_CLOSE_OUTPUT_LIMIT, /* queued output exceeded conn->out_limit */
    CONN_CLOSE_BY_PROTO,     /* the protocol layer called conn_close() */
    CONN_CLOSE_SHUTDOWN,     /* the broker is stopping */
    CONN_CLOSE_NOMEM,        /* an allocation for this connection failed */
} conn_close_reason_t;

typedef struct broker_proto {
    void *ctx; /* passed back to every callback */

    /* A connection was accepted. Set conn->proto, conn->max_packet_size,
     * conn->out_limit, start a CONNECT deadline timer... Return 0 to keep
     * it, -1 to refuse it (it is closed without on_close). May be NULL. */
    int (*on_accept)(void *ctx, conn_t *conn);

    /* One whole packet: fh->type/flags/remaining, and the fh->remaining
     * body bytes after the fixed header. `body` points into the input
     * buffer and is valid only during the call: copy what must outlive it.
     * The total size (fh->header_len + fh->remaining) was already checked
     * against conn->max_packet_size. Not called again for this connection
     * once conn_close() was called. */
    void (*on_packet)(void *ctx, conn_t *conn, const mqtt_fixed_header_t *fh, const uint8_t *body,
                      size_t len);

    /* Framing failed: MQTT_ERR_VARINT (malformed remaining length) or
     * MQTT_ERR_PACKET_TOO_LARGE (over conn->max_packet_size; detected from
     * the fixed header, before the body is buffered). The connection is
     * closed with CONN_CLOSE_PROTOCOL right after this returns; bytes
     * written here (a v5 DISCONNECT with mqtt_err_reason(err)) are
     * flushed first, best effort. May be NULL. */
    void (*on_protocol_error)(void *ctx, conn_t *conn, mqtt_err_t err);

    /* Called at the loop's flush point, before the connection's output is
     * written, for every connection that was written to or asked for it
     * with conn_want_flush(), and again when a full socket drains. Turn
     * queued session deliveries into bytes here; stop at a budget (e.g.
     * conn_out_bytes() over a soft limit) and call conn_want_flush() if
     * more remain. May be NULL. */
    void (*on_flush)(void *ctx, conn_t *conn);

    /* The connection is going away: called once per accepted connection
     * (unless on_accept refused it), at the loop's safe point. No
     * on_packet or on_flush follows. If the socket is still usable
     * (reasons PROTOCOL, BY_PROTO, SHUTDOWN, NOMEM) conn_write works here
     * for a last packet, e.g. a v5 DISCONNECT 0x8B at SHUTDOWN; what is
     * queued then gets one nonblocking write before the socket is closed.
     * Release conn->proto here. */
    void (*on_close)(void *ctx, conn_t *conn, conn_close_reason_t reason);

    /* Per-worker hooks, on the worker's thread. on_worker_tick runs once
     * per loop iteration after packets, inbox and timers were handled and
     * before the flush point: the place to send one batched wake-up per
     * other worker. on_worker_stop runs after every connection of the
     * worker was closed. All may be NULL. */
    void (*on_worker_start)(void *ctx, worker_t *w);
    void (*on_worker_tick)(void *ctx, worker_t *w);
    void (*on_worker_stop)(void *ctx, worker_t *w);

    /* SIGHUP was received; runs on the thread in server_run(), not on a
     * worker. May be NULL. */
    void (*on_reload)(void *ctx);
} broker_proto_t;

const char *conn_close_reason_str(conn_close_reason_t reason);

#endif
