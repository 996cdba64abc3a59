#include "ws_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_static.h"
#include "listener.h"
#include "log.h"
#include "net_internal.h"
#include "ws.h"

/* A file response is read into the output queue while less than this is
 * queued: each flush adds at most this much, so one download neither
 * holds a file in memory nor keeps the worker from the others. */
#define HTTP_WINDOW (64u * 1024u)
#define HTTP_CHUNK  (16u * 1024u)

typedef struct {
    bool open;          /* handshake done: output is framed */
    bool raw;           /* the layer's own write: no framing */
    bool close_sent;    /* a close frame is queued */
    bool reply_pending; /* ... in answer to the peer's */
    bool http;          /* a plain HTTP request was answered: no WebSocket */
    bool http_dir;      /* the listener serves files: other requests may come */
    char *req;          /* the upgrade request so far (req_max bytes) */
    size_t req_len, req_max;
    int file_fd;        /* the file being sent, or -1 */
    uint64_t file_left; /* its bytes still to queue */
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
    s->file_fd = -1;
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

static void serve_http(conn_t *c, ws_state_t *s, const http_request_t *hr)
{
    s->http = true;
    char rel[HTTP_PATH_MAX];
    int status = hr->method == HTTP_OTHER
                     ? 405
                     : http_path_sanitize(hr->target, hr->target_len, rel, sizeof rel);
    /* The directory as configured now: a reload may have changed it since
     * the connection was accepted. */
    const listener_spec_t *spec = worker_listener_settings(c->worker, c->listener);
    if (!status && !(spec && spec->http_dir))
        status = 404;
    uint64_t size = 0;
    const char *type = NULL;
    int fd = -1;
    if (!status) {
        fd = http_open(spec->http_dir, rel, http_target_has_slash(hr->target, hr->target_len),
                       &size, &type);
        if (fd < 0)
            status = -fd;
    }
    if (mlog_enabled(MLOG_WEBSOCKETS)) {
        int tl = hr->target_len > 200 ? 200 : (int)hr->target_len;
        mlog(MLOG_WEBSOCKETS, "Client %s:%u: HTTP %s %.*s: %d.", c->peer_host, c->peer_port,
             hr->method == HTTP_GET    ? "GET"
             : hr->method == HTTP_HEAD ? "HEAD"
                                       : "request",
             tl, hr->target, status ? status : 200);
    }
    char head[512];
    if (status == 302) {
        size_t cap = hr->target_len + 256;
        char *r = malloc(cap);
        if (!r) {
            conn_close(c, CONN_CLOSE_NOMEM);
            return;
        }
        write_raw(c, r, http_redirect_response(hr->target, hr->target_len, r, cap));
        free(r);
    } else if (status) {
        write_raw(c, head, http_error_response(status, head, sizeof head));
    } else {
        write_raw(c, head, http_ok_head(type, size, head, sizeof head));
        if (hr->method == HTTP_GET && size > 0) {
            s->file_fd = fd;
            s->file_left = size;
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    /* ws_conn_flush sends the file and closes once all is written. */
    conn_want_flush(c);
}

/* Collects the upgrade request (or, with http_dir, any request); returns
 * how many of the len bytes it took, or len + 1 when the request was
 * refused or answered over plain HTTP. */
static size_t handshake(conn_t *c, ws_state_t *s, const uint8_t *buf, size_t len)
{
    if (!s->req) {
        const listener_spec_t *spec = worker_listener_settings(c->worker, c->listener);
        s->req_max = spec && spec->ws_headers_max ? spec->ws_headers_max : WS_MAX_REQUEST;
        s->http_dir = spec && spec->http_dir;
        s->req = malloc(s->req_max);
        if (!s->req) {
            conn_close(c, CONN_CLOSE_NOMEM);
            return len + 1;
        }
    }
    size_t old = s->req_len;
    size_t take = s->req_max - old < len ? s->req_max - old : len;
    memcpy(s->req + old, buf, take);
    s->req_len += take;
    /* Parse only when the request may be complete (or must be refused):
     * a client trickling bytes costs a scan of the new ones only. */
    bool prefix_ok = s->http_dir ? http_plausible_start(s->req, s->req_len)
                                 : memcmp(s->req, "GET ", s->req_len < 4 ? s->req_len : 4) == 0;
    if (prefix_ok && s->req_len < s->req_max &&
        !has_blank_line(s->req, old > 3 ? old - 3 : 0, s->req_len))
        return take;
    if (s->http_dir) {
        http_request_t hr;
        int hrc = http_parse_request(s->req, s->req_len, s->req_max, &hr);
        if (hrc < 0) {
            refuse(c, -hrc);
            return len + 1;
        }
        if (hrc == 0)
            return take;
        if (!hr.upgrade) {
            serve_http(c, s, &hr);
            free(s->req);
            s->req = NULL;
            return len + 1;
        }
    }
    ws_request_t req;
    int rc = ws_parse_request_max(s->req, s->req_len, s->req_max, &req);
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
    if (s->http)
        return; /* after an HTTP response nothing more is read: it closes */
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

void ws_conn_flush(conn_t *c)
{
    ws_state_t *s = c->ws;
    if (!s || !s->http || conn_is_closing(c))
        return;
    uint8_t chunk[HTTP_CHUNK];
    while (s->file_left && conn_out_bytes(c) < HTTP_WINDOW) {
        size_t want = s->file_left < sizeof chunk ? (size_t)s->file_left : sizeof chunk;
        ssize_t r = read(s->file_fd, chunk, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            /* The file shrank or failed under us: the promised length
             * cannot be sent, and closing early tells the client so. */
            mlog(MLOG_NOTICE, "Client %s:%u: HTTP file read failed, disconnecting.", c->peer_host,
                 c->peer_port);
            conn_close(c, CONN_CLOSE_IO_ERROR);
            return;
        }
        write_raw(c, chunk, (size_t)r);
        s->file_left -= (uint64_t)r;
        if (conn_is_closing(c))
            return;
    }
    if (!s->file_left && s->file_fd >= 0) {
        close(s->file_fd);
        s->file_fd = -1;
    }
    /* Connection: close, but only once every byte has left the queue. */
    if (!s->file_left && conn_out_bytes(c) == 0)
        conn_close(c, CONN_CLOSE_BY_PROTO);
    else
        conn_want_flush(c);
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
    if (s->file_fd >= 0)
        close(s->file_fd);
    free(s->req);
    free(s);
    c->ws = NULL;
}
