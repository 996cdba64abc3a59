/*
 * libmidge against a hostile server: an in-process listener answers each
 * connection with a valid or mutated CONNACK followed by mutated server
 * packets, then closes. The client must end every connection on its own
 * (error or EOF) without crashing or reading out of bounds (run under
 * ASan in build-asan). Deterministic: a fixed seed and count.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "midge/client.h"
#include "test.h"

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Valid packets a server may send (3.1.1 and 5.0 forms). */
static const struct {
    const char *bytes;
    size_t len;
} seeds[] = {
#define S(x)                                                                                       \
    {                                                                                              \
        x, sizeof(x) - 1                                                                           \
    }
    S("\x20\x02\x00\x00"),
    S("\x20\x03\x00\x00\x00"),
    S("\x20\x0d\x01\x00\x0a\x21\x00\x05\x22\x00\x03\x24\x01\x25\x00"),
    S("\x30\x07\x00\x03"
      "a/b"
      "hi"),
    S("\x32\x09\x00\x03"
      "a/b"
      "\x00\x01"
      "hi"),
    S("\x34\x09\x00\x03"
      "a/b"
      "\x00\x02"
      "hi"),
    S("\x30\x0e\x00\x03"
      "a/b"
      "\x06\x23\x00\x01\x01\x01\x00"
      "hi"),
    S("\x30\x12\x00\x00\x0c\x23\x00\x01\x26\x00\x01k\x00\x01v\x03\x00\x00hi"),
    S("\x40\x02\x00\x01"),
    S("\x50\x02\x00\x02"),
    S("\x62\x02\x00\x02"),
    S("\x70\x02\x00\x02"),
    S("\x90\x03\x00\x01\x01"),
    S("\x90\x04\x00\x01\x00\x01"),
    S("\xb0\x02\x00\x03"),
    S("\xd0\x00"),
    S("\xe0\x00"),
    S("\xe0\x0b\x8b\x09\x1f\x00\x06reason"),
#undef S
};
#define NSEEDS (sizeof(seeds) / sizeof(seeds[0]))

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
    int n = 1 + (int)(rnd() % 4);
    for (int i = 0; i < n && len; i++) {
        switch (rnd() % 6) {
        case 0: /* flip a bit */
            buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1: /* random byte */
            buf[rnd() % len] = (uint8_t)rnd();
            break;
        case 2: /* truncate */
            len = rnd() % len;
            break;
        case 3: /* insert a byte */
            if (len < cap) {
                size_t at = rnd() % (len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)rnd();
                len++;
            }
            break;
        case 4: /* extreme length byte */
            if (len > 1)
                buf[1] = (uint8_t)(0x7f + (rnd() % 0x81));
            break;
        default: /* nothing */
            break;
        }
    }
    return len;
}

static int connects, messages, disconnects;
static volatile uint8_t sink_byte;

static void on_connect(midge_client_t *c, void *ud, uint8_t code, bool sp,
                       const midge_props_t *props)
{
    connects++;
    /* Walk what was received, as a user would. */
    midge_prop_t p;
    for (size_t i = 0; midge_props_get(props, i, &p); i++)
        (void)midge_prop_name(p.id);
    midge_publish(c, NULL, "from/callback", "x", 1, 2, false, NULL);
}

static void on_message(midge_client_t *c, void *ud, const midge_message_t *m)
{
    messages++;
    uint8_t sum = 0;
    for (size_t i = 0; i < m->payload_len; i++)
        sum ^= ((const uint8_t *)m->payload)[i];
    for (size_t i = 0; i < m->topic_len; i++)
        sum ^= (uint8_t)m->topic[i];
    midge_prop_t p;
    for (size_t i = 0; midge_props_get(m->props, i, &p); i++)
        for (size_t k = 0; k < p.len; k++)
            sum ^= (uint8_t)p.data[k];
    sink_byte = sum;
}

static void on_disconnect(midge_client_t *c, void *ud, midge_err_t err, const char *detail,
                          bool reconnecting)
{
    disconnects++;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8) ||
        getsockname(fd, (struct sockaddr *)&a, &l))
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

TEST(hostile_server_never_crashes_the_client)
{
    int port = 0, lfd = listen_any(&port);
    CHECK(lfd >= 0);
    midge_callbacks_t cb = {
        .on_connect = on_connect, .on_message = on_message, .on_disconnect = on_disconnect};
    for (int iter = 0; iter < 1000; iter++) {
        midge_client_t *c = midge_client_new("hostile", NULL);
        CHECK(c);
        midge_set_callbacks(c, &cb);
        int version = 3 + (int)(rnd() % 3);
        midge_set_version(c, version);
        midge_set_reconnect(c, false, 0, 0);
        midge_set_max_packet_size(c, 4096);
        if (version == 5) {
            midge_props_t *p = midge_props_new();
            midge_props_add_int(p, MIDGE_PROP_TOPIC_ALIAS_MAXIMUM, 2);
            midge_set_connect_props(c, p);
            midge_props_free(p);
        }
        midge_subscribe(c, NULL, "a/#", 2, NULL);
        midge_publish(c, NULL, "q/1", "one", 3, 1, false, NULL);
        midge_publish(c, NULL, "q/2", "two", 3, 2, false, NULL);
        CHECK_EQ_INT(midge_connect(c, "127.0.0.1", port), MIDGE_OK);
        int sfd = accept(lfd, NULL, NULL);
        CHECK(sfd >= 0);

        uint8_t out[8192];
        size_t n = 0;
        /* Mostly a valid CONNACK first, so later packets are reached. */
        size_t first = rnd() % 4 ? (version == 5 ? 1 + rnd() % 2 : 0) : rnd() % NSEEDS;
        memcpy(out, seeds[first].bytes, seeds[first].len);
        n = seeds[first].len;
        if (rnd() % 8 == 0)
            n = mutate(out, n, sizeof(out));
        int count = 1 + (int)(rnd() % 8);
        for (int k = 0; k < count; k++) {
            uint8_t pkt[256];
            size_t s = rnd() % NSEEDS, len = seeds[s].len;
            memcpy(pkt, seeds[s].bytes, len);
            if (rnd() % 2)
                len = mutate(pkt, len, sizeof(pkt));
            if (n + len <= sizeof(out)) {
                memcpy(out + n, pkt, len);
                n += len;
            }
        }
        if (write(sfd, out, n) < 0) {
            /* the client may already have closed */
        }
        shutdown(sfd, SHUT_WR);

        /* Run the client until it gives the connection up (bounded). */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        midge_err_t e = MIDGE_OK;
        for (;;) {
            e = midge_loop(c, 20);
            char sink[4096];
            while (recv(sfd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
            }
            if (e == MIDGE_ERR_NO_CONN)
                break;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (t1.tv_sec - t0.tv_sec > 5)
                break;
        }
        close(sfd);
        CHECK_EQ_INT(e, MIDGE_ERR_NO_CONN);
        midge_client_destroy(c);
    }
    close(lfd);
    CHECK(disconnects >= 1000);
    printf("connects %d, messages %d\n", connects, messages);
}

int main(void)
{
    RUN(hostile_server_never_crashes_the_client);
    return TEST_REPORT();
}
