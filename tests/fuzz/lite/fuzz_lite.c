/*
 * Arbitrary broker bytes into midge-lite: the input is the whole stream
 * the broker sends (CONNACK first, in the seeds), delivered in chunks whose
 * size comes from the first byte. The client connects, subscribes,
 * publishes at every QoS and polls until the stream ends. Buffers are
 * exact-size heap blocks so ASan sees any byte past them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lite/midge_lite.h"

typedef struct {
    const uint8_t *data;
    size_t len, pos, chunk;
    uint32_t now;
} stream_t;

static int s_send(void *io, const uint8_t *b, size_t n, uint32_t t)
{
    (void)io;
    (void)b;
    (void)t;
    return (int)n;
}

static int s_recv(void *io, uint8_t *b, size_t cap, uint32_t t)
{
    stream_t *s = io;
    size_t n = s->len - s->pos;
    if (n == 0)
        return -1;
    if (n > cap)
        n = cap;
    if (n > s->chunk)
        n = s->chunk;
    /* an empty read now and then: the client's timeout paths */
    if (s->data[s->pos] == 0xEE && s->chunk > 3) {
        s->pos++;
        s->now += t;
        return 0;
    }
    memcpy(b, s->data + s->pos, n);
    s->pos += n;
    s->now += 1;
    return (int)n;
}

static uint32_t s_clock(void *io)
{
    return ((stream_t *)io)->now;
}

/* Touches every delivered byte, so ASan checks the views. */
static volatile uint8_t sink;

static void on_msg(void *u, const char *t, size_t tl, const uint8_t *m, size_t ml)
{
    size_t i;
    (void)u;
    for (i = 0; i < tl; i++)
        sink ^= (uint8_t)t[i];
    for (i = 0; i < ml; i++)
        sink ^= m[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stream_t s = {0};
    midge_lite_transport_t tr = {NULL, NULL, s_send, s_recv, NULL, &s};
    midge_lite_config_t cfg = {0};
    midge_lite_t c;
    uint8_t *tx, *rx;
    int i;
    if (size < 1)
        return 0;
    s.chunk = (size_t)(data[0] & 15) + 1;
    s.data = data + 1;
    s.len = size - 1;
    tx = malloc(64);
    rx = malloc(96);
    cfg.transport = &tr;
    cfg.clock = s_clock;
    cfg.tx_buf = tx;
    cfg.rx_buf = rx;
    cfg.tx_cap = 64;
    cfg.rx_cap = 96;
    cfg.client_id = "fz";
    cfg.keepalive = 1;
    cfg.timeout_ms = 50;
    midge_lite_init(&c, &cfg);
    midge_lite_set_callback(&c, on_msg, NULL);
    if (midge_lite_connect(&c, data[0] >> 7) >= 0) {
        midge_lite_subscribe(&c, "a/#", 2);
        midge_lite_publish(&c, "a/b", (const uint8_t *)"x", 1, 0, 1);
        midge_lite_publish(&c, "a/b", (const uint8_t *)"y", 1, 0, 2);
        for (i = 0; i < 64 && midge_lite_is_connected(&c); i++) {
            if (i & 1)
                midge_lite_check_msg(&c);
            else
                midge_lite_wait_msg(&c);
        }
    }
    free(tx);
    free(rx);
    return 0;
}
