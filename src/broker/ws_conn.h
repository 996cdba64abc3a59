/*
 * WebSockets on a connection: the glue between conn.c and the pure codec in
 * ws.c. Private to the network layer. The layer sits above the transport
 * (so WebSockets over TLS is TLS below, WebSockets above) and below MQTT
 * framing: incoming frames are unmasked in the read buffer and their
 * payload fed to the MQTT framer as a byte stream; each conn_write or
 * conn_write_ref becomes one binary frame, the shared payload of a
 * conn_write_ref still written straight from the message (zero-copy).
 */
#ifndef MIDGE_BROKER_WS_CONN_H
#define MIDGE_BROKER_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct conn conn_t;

typedef void (*ws_feed_fn)(conn_t *c, const uint8_t *data, size_t len);

/* Attaches WebSocket state to a new connection; 0, or -1 out of memory. */
int ws_conn_start(conn_t *c);

/* Bytes read from the transport: the upgrade request, then frames whose
 * payload goes to feed. buf is modified (unmasked in place). */
void ws_conn_input(conn_t *c, uint8_t *buf, size_t len, ws_feed_fn feed);

/* The frame header to put before len bytes of MQTT output; 0 (no header)
 * before the handshake completes and for the layer's own writes. */
size_t ws_conn_frame_header(const conn_t *c, size_t len, uint8_t out[10]);

/* Called by conn_flush before it writes: a plain HTTP response (http_dir)
 * streams its file into the output queue here, a bounded window at a
 * time, and closes the connection once everything was written. */
void ws_conn_flush(conn_t *c);

/* Whether the peer sent a close frame whose reply is queued: the socket
 * can still carry it although the peer ended the session. */
bool ws_conn_reply_pending(const conn_t *c);

/* The end of the connection: queues a close frame if the socket is usable
 * and none was exchanged yet, then frees the state. Called while the
 * connection may still write (CONN_F_FINAL). */
void ws_conn_end(conn_t *c, bool usable);

#endif
