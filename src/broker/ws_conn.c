#include "ws_conn.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net_internal.h"
#include "ws.h"

typedef struct {
    bool open;          /* handshake done: output is framed */
    bool raw;           /* the layer's own write: no framing */
    bool close_sent;    /* a close frame is queued */
    bool reply_pending; /* ... in answer to the peer's */
    char *req;          /* the upgrade request so far (WS_MAX_REQUEST bytes) */
    size_t req_len;
    ws_decoder_t dec;
    ws_feed_fn feed;
    conn_t *conn;
} ws_state_t;

int ws_conn_start(conn_t *c)
{
    ws_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->conn = c;
    c->ws = s;
    return 0;
}

static void write_raw(conn_t *c, const void *data, size_t len)
{
    ws_state_t *s = c->ws;
    s->raw = true;
    conn_write(c, data, len);
    s->raw = false;
}

static void send_close(conn_t *c, uint16_t status)
{
    ws_state_t *s = c->ws;
    uint8_t f[4];
    write_raw(c, f, ws_close_frame(f, status));
    s->close_sent = true;
}

static bool on_data(void *ctx, const uint8_t *data, size_t len)
{
    ws_state_t *s = ctx;
    s->feed(s->conn, data, len);
    return !conn_is_closing(s->conn);
}

static bool on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len)
{
    ws_state_t *s = ctx;
    conn_t *c = s->conn;
    if (opcode == WS_OP_PING) {
        uint8_t f[2 + 125];
        size_t h = ws_frame_header(f, WS_OP_PONG, len);
        memcpy(f + h, payload, len);
        write_raw(c, f, h + len);
        return !conn_is_closing(c);
    }
    if (opcode != WS_OP_CLOSE)
        return true; /* an unsolicited pong */
    /* Echo the status, as the peer expects; a close without one gets an
     * empty close back. */
    uint8_t f[4];
    f[0] = 0x80 | WS_OP_CLOSE;
    f[1] = len >= 2 ? 2 : 0;
    if (len >= 2)
        memcpy(f + 2, payload, 2);
    write_raw(c, f, len >= 2 ? 4 : 2);
    s->close_sent = true;
    s->reply_pending = true;
    conn_close(c, CONN_CLOSE_PEER);
    return false;
}

static void refuse(conn_t *c, int status)
{
    char buf[256];
    mlog(MLOG_NOTICE, "Client %s:%u: bad WebSocket upgrade request (HTTP %d), disconnecting.",
         c->peer_host, c->peer_port, status);
    write_raw(c, buf, ws_error_response(status, buf, sizeof buf));
    conn_close(c, CONN_CLOSE_PROTOCOL);
}

static bool has_blank_line(const char *p, size_t from, size_t to)
{
    for (size_t i = from; i + 3 < to; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return true;
    return false;
}

/* Collects the upgrade request; returns how many of the len bytes it
 * took, or len + 1 when the connection is refused. */
static size_t handshake(conn_t *c, ws_state_t *s, const uint8_t *buf, size_t len)
{
    if (!s->req) {
        s->req = malloc(WS_MAX_REQUEST);
        if (!s->req) {
            conn_close(c, CONN_CLOSE_NOMEM);
            return len + 1;
        }
    }
    size_t old = s->req_len;
    size_t take = WS_MAX_REQUEST - old < len ? WS_MAX_REQUEST - old : len;
    memcpy(s->req + old, buf, take);
    s->req_len += take;
    /* Parse only when the request may be complete (or must be refused):
     * a client trickling bytes costs a scan of the new ones only. */
    bool prefix_ok = memcmp(s->req, "GET ", s->req_len < 4 ? s->req_len : 4) == 0;
    if (prefix_ok && s->req_len < WS_MAX_REQUEST &&
        !has_blank_line(s->req, old > 3 ? old - 3 : 0, s->req_len))
        return take;
    ws_request_t req;
    int rc = ws_parse_request(s->req, s->req_len, &req);
    if (rc == 0)
        return take;
    if (rc < 0) {
        refuse(c, -rc);
        return len + 1;
    }
    char resp[256];
    write_raw(c, resp, ws_response(&req, resp, sizeof resp));
    s->open = true;
    free(s->req);
    s->req = NULL;
    ws_decoder_init(&s->dec, c->max_packet_size);
    return (size_t)rc - old;
}

void ws_conn_input(conn_t *c, uint8_t *buf, size_t len, ws_feed_fn feed)
{
    ws_state_t *s = c->ws;
    s->feed = feed;
    if (!s->open) {
        size_t used = handshake(c, s, buf, len);
        if (used > len || !s->open)
            return;
        buf += used;
        len -= used;
    }
    if (!len || conn_is_closing(c))
        return;
    /* The protocol layer raises max_packet_size once CONNECT is accepted;
     * a frame may not claim more than one packet's worth. */
    s->dec.max_frame = c->max_packet_size;
    ws_handler_t h = {.on_data = on_data, .on_control = on_control, .ctx = s};
    int status = ws_decode(&s->dec, buf, len, &h);
    if (status) {
        mlog(MLOG_NOTICE, "Client %s:%u: WebSocket %s, disconnecting.", c->peer_host, c->peer_port,
             status == WS_CLOSE_TOO_BIG       ? "frame too large"
             : status == WS_CLOSE_UNSUPPORTED ? "text frame"
                                              : "protocol error");
        if (!conn_is_closing(c))
            send_close(c, (uint16_t)status);
        conn_close(c, CONN_CLOSE_PROTOCOL);
    }
}

size_t ws_conn_frame_header(const conn_t *c, size_t len, uint8_t out[10])
{
    const ws_state_t *s = c->ws;
    if (!s || !s->open || s->raw)
        return 0;
    return ws_frame_header(out, WS_OP_BINARY, len);
}

bool ws_conn_reply_pending(const conn_t *c)
{
    const ws_state_t *s = c->ws;
    return s && s->reply_pending;
}

void ws_conn_end(conn_t *c, bool usable)
{
    ws_state_t *s = c->ws;
    if (!s)
        return;
    if (usable && s->open && !s->close_sent) {
        uint16_t status = c->close_reason == CONN_CLOSE_PROTOCOL   ? WS_CLOSE_PROTOCOL
                          : c->close_reason == CONN_CLOSE_SHUTDOWN ? WS_CLOSE_GOING_AWAY
                                                                   : WS_CLOSE_NORMAL;
        send_close(c, status);
    }
    free(s->req);
    free(s);
    c->ws = NULL;
}
