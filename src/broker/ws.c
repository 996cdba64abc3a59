#include "ws.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

/* ---- upgrade request ---- */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

bool ws_http_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Whether a comma-separated header value lists `token`. */
static bool has_token(const char *v, size_t len, const char *token, bool icase)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (is_ows(v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && is_ows(v[end - 1]))
            end--;
        size_t n = end - start;
        if (icase ? ws_http_ieq(v + start, n, token)
                  : (n == strlen(token) && memcmp(v + start, token, n) == 0))
            return true;
    }
    return false;
}

static bool is_b64(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/';
}

/* A header field name is an RFC 7230 token. */
bool ws_http_tchar(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

const char *ws_http_find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

int ws_parse_request(const char *buf, size_t len, ws_request_t *req)
{
    return ws_parse_request_max(buf, len, WS_MAX_REQUEST, req);
}

size_t ws_http_head_len(const char *buf, size_t len, size_t max)
{
    size_t scan = len < max ? len : max;
    for (size_t i = 0; i + 3 < scan; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return i + 4;
    }
    return 0;
}

int ws_parse_request_max(const char *buf, size_t len, size_t max, ws_request_t *req)
{
    static const char get[] = "GET ";
    size_t pre = len < 4 ? len : 4;
    if (memcmp(buf, get, pre) != 0)
        return -400;
    size_t total = ws_http_head_len(buf, len, max);
    if (!total)
        return len >= max ? -431 : 0;

    memset(req, 0, sizeof *req);
    const char *end = buf + total - 2; /* the final empty line's CRLF */
    const char *line_end = ws_http_find_crlf(buf, end + 2);
    /* Request line: GET SP request-target SP HTTP/1.x, x >= 1. */
    const char *target = buf + 4;
    const char *sp = memchr(target, ' ', (size_t)(line_end - target));
    if (!sp || sp == target || target[0] != '/')
        return -400;
    for (const char *p = target; p < sp; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -400;
    const char *ver = sp + 1;
    if (line_end - ver != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || ver[7] < '1' || ver[7] > '9')
        return -400;

    bool host = false, upgrade = false, connection = false, version = false, key = false;
    bool offered_protocol = false;
    int version_value = -1;
    const char *p = line_end + 2;
    while (p < end) {
        const char *e = ws_http_find_crlf(p, end + 2);
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (!colon || colon == p)
            return -400; /* also rejects obsolete line folding */
        for (const char *q = p; q < colon; q++)
            if (!ws_http_tchar(*q))
                return -400;
        size_t nlen = (size_t)(colon - p);
        const char *v = colon + 1;
        const char *ve = e;
        while (v < ve && is_ows(*v))
            v++;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        for (const char *q = v; q < ve; q++)
            if (*q == '\0' || *q == '\r' || *q == '\n')
                return -400;
        size_t vlen = (size_t)(ve - v);
        if (ws_http_ieq(p, nlen, "Host")) {
            if (host || vlen == 0)
                return -400;
            host = true;
        } else if (ws_http_ieq(p, nlen, "Upgrade")) {
            upgrade = upgrade || has_token(v, vlen, "websocket", true);
        } else if (ws_http_ieq(p, nlen, "Connection")) {
            connection = connection || has_token(v, vlen, "upgrade", true);
        } else if (ws_http_ieq(p, nlen, "Sec-WebSocket-Key")) {
            if (key || vlen != 24 || v[22] != '=' || v[23] != '=')
                return -400;
            for (size_t i = 0; i < 22; i++)
                if (!is_b64(v[i]))
                    return -400;
            memcpy(req->key, v, 24);
            req->key[24] = '\0';
            key = true;
        } else if (ws_http_ieq(p, nlen, "Sec-WebSocket-Version")) {
            if (version)
                return -400;
            version = true;
            version_value = vlen == 2 && v[0] == '1' && v[1] == '3' ? 13 : 0;
        } else if (ws_http_ieq(p, nlen, "Sec-WebSocket-Protocol")) {
            offered_protocol = true;
            if (has_token(v, vlen, "mqtt", false))
                req->subprotocol = "mqtt";
            else if (!req->subprotocol && has_token(v, vlen, "mqttv3.1", false))
                req->subprotocol = "mqttv3.1";
        }
        p = e + 2;
    }
    if (!host || !upgrade || !connection || !key || !version)
        return -400;
    if (version_value != 13)
        return -426;
    /* A client that names subprotocols but not MQTT speaks something else;
     * one that names none is taken to mean MQTT, as Mosquitto does. */
    if (offered_protocol && !req->subprotocol)
        return -400;
    return (int)total;
}

void ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char in[24 + sizeof guid];
    size_t klen = strnlen(key, 24);
    memcpy(in, key, klen);
    memcpy(in + klen, guid, sizeof guid - 1);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(in, klen + sizeof guid - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
    out[WS_ACCEPT_LEN] = '\0';
}

size_t ws_response(const ws_request_t *req, char *buf, size_t cap)
{
    char accept[WS_ACCEPT_LEN + 1];
    ws_accept_key(req->key, accept);
    int n = snprintf(buf, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "%s%s%s"
                     "\r\n",
                     accept, req->subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     req->subprotocol ? req->subprotocol : "", req->subprotocol ? "\r\n" : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t ws_error_response(int status, char *buf, size_t cap)
{
    const char *reason = status == 426   ? "Upgrade Required"
                         : status == 431 ? "Request Header Fields Too Large"
                                         : "Bad Request";
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "%s"
                     "Connection: close\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n",
                     status, reason, status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- frames ---- */

void ws_decoder_init(ws_decoder_t *d, uint64_t max_frame)
{
    memset(d, 0, sizeof *d);
    d->max_frame = max_frame;
    d->in_header = true;
}

static bool is_control(uint8_t op)
{
    return op >= 0x8;
}

/* Checks the first two header bytes; returns 0 or a close status. */
static int check_start(const ws_decoder_t *d, uint8_t b0, uint8_t b1)
{
    uint8_t op = b0 & 0x0f;
    bool fin = (b0 & 0x80) != 0;
    if (b0 & 0x70)
        return WS_CLOSE_PROTOCOL; /* no extension was negotiated */
    if (!(b1 & 0x80))
        return WS_CLOSE_PROTOCOL; /* client frames must be masked */
    switch (op) {
    case WS_OP_CONT:
        return d->in_message ? 0 : WS_CLOSE_PROTOCOL;
    case WS_OP_BINARY:
        return d->in_message ? WS_CLOSE_PROTOCOL : 0;
    case WS_OP_TEXT:
        return WS_CLOSE_UNSUPPORTED;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        return fin && (b1 & 0x7f) <= 125 ? 0 : WS_CLOSE_PROTOCOL;
    default:
        return WS_CLOSE_PROTOCOL;
    }
}

static size_t header_size(uint8_t b1)
{
    uint8_t l7 = b1 & 0x7f;
    return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + 4;
}

/* Interprets a complete header; returns 0 or a close status. */
static int start_frame(ws_decoder_t *d)
{
    const uint8_t *h = d->hdr;
    uint8_t op = h[0] & 0x0f;
    uint8_t l7 = h[1] & 0x7f;
    uint64_t len = l7;
    size_t off = 2;
    if (l7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        off = 4;
    } else if (l7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        if (len >> 63)
            return WS_CLOSE_PROTOCOL;
        off = 10;
    }
    if (!is_control(op) && len > d->max_frame)
        return WS_CLOSE_TOO_BIG;
    memcpy(d->mask, h + off, 4);
    d->mask_pos = 0;
    d->opcode = op;
    d->remaining = len;
    d->ctl_len = 0;
    if (!is_control(op))
        d->in_message = !(h[0] & 0x80);
    d->in_header = false;
    return 0;
}

/* A complete control frame; returns 0, a close status, or -1 to stop. */
static int end_control(ws_decoder_t *d, const ws_handler_t *h)
{
    if (d->opcode == WS_OP_CLOSE && d->ctl_len >= 2) {
        unsigned code = (unsigned)d->ctl[0] << 8 | d->ctl[1];
        bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                     (code >= 3000 && code <= 4999);
        if (!valid)
            return WS_CLOSE_PROTOCOL;
    } else if (d->opcode == WS_OP_CLOSE && d->ctl_len == 1) {
        return WS_CLOSE_PROTOCOL;
    }
    return h->on_control(h->ctx, d->opcode, d->ctl, d->ctl_len) ? 0 : -1;
}

static void unmask(ws_decoder_t *d, uint8_t *p, size_t n)
{
    unsigned pos = d->mask_pos;
    for (size_t i = 0; i < n; i++)
        p[i] ^= d->mask[(pos + i) & 3];
    d->mask_pos = (uint8_t)((pos + n) & 3);
}

int ws_decode(ws_decoder_t *d, uint8_t *buf, size_t len, const ws_handler_t *h)
{
    size_t i = 0;
    while (i < len) {
        if (d->in_header) {
            size_t need = d->hdr_len < 2 ? 2 : header_size(d->hdr[1]);
            size_t take = need - d->hdr_len < len - i ? need - d->hdr_len : len - i;
            memcpy(d->hdr + d->hdr_len, buf + i, take);
            d->hdr_len = (uint8_t)(d->hdr_len + take);
            i += take;
            if (d->hdr_len == 2) {
                int rc = check_start(d, d->hdr[0], d->hdr[1]);
                if (rc)
                    return rc;
            }
            if (d->hdr_len < 2 || d->hdr_len < header_size(d->hdr[1]))
                continue;
            int rc = start_frame(d);
            if (rc)
                return rc;
            d->hdr_len = 0;
        } else {
            size_t take = d->remaining < len - i ? (size_t)d->remaining : len - i;
            unmask(d, buf + i, take);
            if (is_control(d->opcode)) {
                memcpy(d->ctl + d->ctl_len, buf + i, take);
                d->ctl_len = (uint8_t)(d->ctl_len + take);
            }
            d->remaining -= take;
            i += take;
            if (!is_control(d->opcode) && take && !h->on_data(h->ctx, buf + i - take, take)) {
                if (d->remaining == 0)
                    d->in_header = true;
                return 0;
            }
        }
        if (!d->in_header && d->remaining == 0) {
            d->in_header = true;
            if (is_control(d->opcode)) {
                int rc = end_control(d, h);
                if (rc > 0)
                    return rc;
                if (rc < 0)
                    return 0;
            }
        }
    }
    return 0;
}

size_t ws_frame_header(uint8_t out[10], uint8_t opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | opcode);
    if (len <= 125) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_close_frame(uint8_t out[4], uint16_t status)
{
    out[0] = 0x80 | WS_OP_CLOSE;
    out[1] = 2;
    out[2] = (uint8_t)(status >> 8);
    out[3] = (uint8_t)status;
    return 4;
}
