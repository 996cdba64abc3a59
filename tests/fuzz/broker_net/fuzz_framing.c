/*
 * Feeds fuzzer bytes to one connection of a worker through a socketpair,
 * in slices chosen by the input, and checks the framing contract: every
 * packet handed over is whole and within max_packet_size, the input buffer
 * never holds more than that, and the connection always ends cleanly.
 *
 * Input: [limit selector][slicing seed][stream...]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/log.h"
#include "broker/net_internal.h"
#include "broker/worker.h"

static conn_t *cur;
static uint32_t limit;
static int closed;

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static int f_accept(void *ctx, conn_t *c)
{
    cur = c;
    c->max_packet_size = limit;
    return 0;
}

static void f_packet(void *ctx, conn_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body,
                     size_t len)
{
    REQUIRE(len == fh->remaining);
    REQUIRE((uint64_t)fh->header_len + len <= c->max_packet_size);
    /* Touch every byte so ASan sees any read past the real data. */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < len; i++)
        sink ^= body[i];
    (void)sink;
    mqtt_packet_t pkt;
    if (mqtt_decode_body(fh, body, MQTT_V5, &pkt) == MQTT_OK && fh->type == MQTT_PINGREQ)
        conn_write(c, "\xd0\x00", 2);
    /* A CONNECT raises the limit, as the protocol layer does. */
    if (fh->type == MQTT_CONNECT)
        c->max_packet_size = 1u << 20;
}

static void f_close(void *ctx, conn_t *c, conn_close_reason_t reason)
{
    closed = 1;
    cur = NULL;
}

static const broker_proto_t OPS = {
    .on_accept = f_accept,
    .on_packet = f_packet,
    .on_close = f_close,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static worker_t *w;
    if (!w) {
        mlog_set_level(MLOG_NONE);
        w = worker_create(0, &OPS, NULL);
        if (!w)
            abort();
    }
    if (size < 2)
        return 0;
    static const uint32_t limits[] = {2, 5, 64, 1000, 4096, 70000};
    limit = limits[data[0] % 6];
    uint32_t seed = data[1];
    data += 2;
    size -= 2;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    closed = 0;
    REQUIRE(worker_adopt(w, sv[0], NULL) != NULL);
    size_t off = 0;
    while (off < size && !closed) {
        seed = seed * 1103515245u + 12345u;
        /* Mostly small slices; sometimes a big one, so that more packets
         * arrive at once than the per-iteration budget hands over. */
        size_t slice = (seed >> 16) % 8 == 0 ? 4096 : 1 + (seed >> 16) % 97;
        if (slice > size - off)
            slice = size - off;
        ssize_t n = write(sv[1], data + off, slice);
        if (n <= 0)
            break;
        off += (size_t)n;
        worker_run_once(w, 0);
        /* At most one packet (or the up-to-5 bytes of a fixed header
         * still being read), plus one read held back by the budget. */
        if (cur)
            REQUIRE(cur->in_len <=
                        (cur->max_packet_size > 5 ? cur->max_packet_size : 5) + NET_READ_CHUNK &&
                    cur->in_len <= cur->in_cap);
        /* Keep replies from filling the socket. */
        uint8_t drain[4096];
        while (recv(sv[1], drain, sizeof drain, MSG_DONTWAIT) > 0)
            continue;
    }
    close(sv[1]);
    for (int i = 0; i < 100 && !closed; i++)
        worker_run_once(w, 10);
    REQUIRE(closed);
    REQUIRE(worker_conn_count(w) == 0);
    return 0;
}
