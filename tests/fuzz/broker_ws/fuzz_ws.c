/*
 * The WebSocket upgrade parser and frame decoder on hostile bytes, as the
 * connection glue drives them: the request parsed at every prefix length
 * (a trickling client), then what follows it decoded as frames in slices
 * chosen by the input. Checks: a parse result never claims more bytes
 * than given, a frame's payload never exceeds the input nor max_frame,
 * control payloads stay within 125 bytes, and decoding stops for good
 * after an error or a close.
 *
 * Input: [max_frame selector][slicing seed][stream...]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/ws.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

typedef struct {
    size_t data;
    bool closed;
} state_t;

static bool on_data(void *ctx, const uint8_t *d, size_t n)
{
    state_t *s = ctx;
    REQUIRE(!s->closed);
    REQUIRE(n > 0);
    (void)d;
    s->data += n;
    return true;
}

static bool on_control(void *ctx, uint8_t op, const uint8_t *p, size_t n)
{
    state_t *s = ctx;
    REQUIRE(!s->closed);
    REQUIRE(n <= 125);
    REQUIRE(op == WS_OP_PING || op == WS_OP_PONG || op == WS_OP_CLOSE);
    (void)p;
    if (op == WS_OP_CLOSE) {
        s->closed = true;
        return false;
    }
    return true;
}

static void decode(const uint8_t *in, size_t len, uint64_t max_frame, unsigned seed)
{
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return;
    memcpy(buf, in, len);
    ws_decoder_t d;
    ws_decoder_init(&d, max_frame);
    state_t s = {0};
    ws_handler_t h = {.on_data = on_data, .on_control = on_control, .ctx = &s};
    size_t off = 0;
    unsigned x = seed | 1;
    while (off < len && !s.closed) {
        x = x * 1103515245u + 12345u;
        size_t step = 1 + (x >> 16) % 97;
        if (step > len - off)
            step = len - off;
        int rc = ws_decode(&d, buf + off, step, &h);
        off += step;
        if (rc) {
            REQUIRE(rc == WS_CLOSE_PROTOCOL || rc == WS_CLOSE_UNSUPPORTED ||
                    rc == WS_CLOSE_TOO_BIG);
            break;
        }
    }
    REQUIRE(s.data <= len);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const uint64_t limits[] = {0, 1, 125, 126, 65536, 268435455u, UINT64_MAX};
    uint64_t max_frame = limits[data[0] % (sizeof limits / sizeof limits[0])];
    unsigned seed = data[1];
    data += 2;
    size -= 2;

    ws_request_t req;
    int done = 0;
    size_t cap = size < WS_MAX_REQUEST + 16 ? size : WS_MAX_REQUEST + 16;
    for (size_t n = 1; n <= cap; n++) {
        /* Every prefix of short inputs; past that, a sample (each parse
         * scans the whole prefix). */
        bool every = n <= 600;
        if (!every && n != cap && n % 512 != 0)
            continue;
        int rc = ws_parse_request((const char *)data, n, &req);
        if (rc < 0) {
            REQUIRE(rc == -400 || rc == -426 || rc == -431);
            break;
        }
        if (rc > 0) {
            /* Complete at the first byte that ends it. */
            REQUIRE(every ? (size_t)rc == n : (size_t)rc <= n);
            char out[256];
            REQUIRE(ws_response(&req, out, sizeof out) > 0);
            done = rc;
            break;
        }
    }
    decode(data + done, size - (size_t)done, max_frame, seed);
    return 0;
}
