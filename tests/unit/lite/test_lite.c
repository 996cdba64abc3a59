/*
 * midge-lite against a fake transport: scripted broker bytes (delivered in
 * chunks of any size), a fake clock that advances when the client waits,
 * and an automatic fake broker that answers like a real one.
 */
#include <stdlib.h>
#include <string.h>

#include "lite/midge_lite.h"
#include "mqtt/mqtt.h"
#include "test.h"

#define V5 MIDGE_LITE_V5

typedef struct {
    uint8_t in[4096]; /* broker -> client */
    size_t in_len, in_pos;
    size_t chunk;      /* max bytes per recv (partial reads) */
    uint8_t out[8192]; /* client -> broker, last packets */
    size_t out_len;
    uint32_t now;
    int opens, closes, fail_send;
    int auto_broker; /* answer CONNECT, SUBSCRIBE, PUBLISH, PUBREL, PINGREQ */
    int no_pingresp;
    long last_pub_id, ids_zero, pings;
    uint16_t prev_id;
    long wraps;
} fake_t;

static void push(fake_t *f, const void *b, size_t n)
{
    if (f->in_pos == f->in_len)
        f->in_pos = f->in_len = 0;
    memcpy(f->in + f->in_len, b, n);
    f->in_len += n;
}

static void broker_answer(fake_t *f, const uint8_t *p, size_t n)
{
    unsigned type = p[0] >> 4;
    size_t h = 2;
    while (p[h - 1] & 0x80)
        h++;
    if (type == 1) {
        static const uint8_t ack3[] = {0x20, 2, 0, 0}, ack5[] = {0x20, 3, 0, 0, 0};
        push(f, V5 ? ack5 : ack3, V5 ? sizeof(ack5) : sizeof(ack3));
    } else if (type == 8) {
        uint8_t a[6] = {0x90, (uint8_t)(V5 ? 4 : 3), p[h], p[h + 1], 0, 0};
        a[V5 ? 5 : 4] = p[n - 1] & 3;
        push(f, a, V5 ? 6 : 5);
    } else if (type == 3) {
        unsigned qos = (p[0] >> 1) & 3;
        size_t tl = (size_t)(p[h] << 8 | p[h + 1]);
        if (qos) {
            uint16_t id = (uint16_t)(p[h + 2 + tl] << 8 | p[h + 3 + tl]);
            uint8_t a[4] = {(uint8_t)(qos == 1 ? 0x40 : 0x50), 2, (uint8_t)(id >> 8), (uint8_t)id};
            if (id == 0)
                f->ids_zero++;
            if (id < f->prev_id)
                f->wraps++;
            f->prev_id = id;
            f->last_pub_id = id;
            push(f, a, 4);
        }
    } else if (type == 6) {
        uint8_t a[4] = {0x70, 2, p[2], p[3]};
        push(f, a, 4);
    } else if (type == 12) {
        static const uint8_t r[] = {0xD0, 0};
        f->pings++;
        if (!f->no_pingresp)
            push(f, r, 2);
    }
}

static int f_open(void *io)
{
    fake_t *f = io;
    f->opens++;
    return 0;
}

static void f_close(void *io)
{
    ((fake_t *)io)->closes++;
}

static int f_send(void *io, const uint8_t *b, size_t n, uint32_t t)
{
    fake_t *f = io;
    (void)t;
    if (f->fail_send)
        return -1;
    if (f->out_len + n > sizeof(f->out))
        f->out_len = 0;
    memcpy(f->out + f->out_len, b, n);
    f->out_len += n;
    if (f->auto_broker)
        broker_answer(f, b, n);
    return (int)n;
}

static int f_recv(void *io, uint8_t *b, size_t cap, uint32_t t)
{
    fake_t *f = io;
    size_t n = f->in_len - f->in_pos;
    if (n == 0) {
        f->now += t ? t : 1;
        return 0;
    }
    if (n > cap)
        n = cap;
    if (f->chunk && n > f->chunk)
        n = f->chunk;
    memcpy(b, f->in + f->in_pos, n);
    f->in_pos += n;
    return (int)n;
}

static uint32_t f_clock(void *io)
{
    return ((fake_t *)io)->now;
}

static fake_t fk;
static midge_lite_transport_t tr = {f_open, f_close, f_send, f_recv, NULL, &fk};
static uint8_t txmem[256 + 16], rxmem[256 + 16];
static midge_lite_t cl;
static char got_topic[300], got_msg[300];
static int got_count;

static void on_msg(void *u, const char *t, size_t tl, const uint8_t *m, size_t ml)
{
    (void)u;
    memcpy(got_topic, t, tl);
    got_topic[tl] = 0;
    memcpy(got_msg, m, ml);
    got_msg[ml] = 0;
    got_count++;
}

/* A client with 256-byte buffers followed by canaries. */
static void setup(int auto_broker, uint16_t keepalive)
{
    midge_lite_config_t cfg = {0};
    memset(&fk, 0, sizeof(fk));
    fk.auto_broker = auto_broker;
    fk.now = 1000;
    memset(txmem, 0xA5, sizeof(txmem));
    memset(rxmem, 0xA5, sizeof(rxmem));
    cfg.transport = &tr;
    cfg.clock = f_clock;
    cfg.tx_buf = txmem;
    cfg.rx_buf = rxmem;
    cfg.tx_cap = 256;
    cfg.rx_cap = 256;
    cfg.client_id = "dev1";
    cfg.keepalive = keepalive;
    cfg.timeout_ms = 3000;
    midge_lite_init(&cl, &cfg);
    midge_lite_set_callback(&cl, on_msg, NULL);
    got_count = 0;
}

static int canaries_ok(void)
{
    size_t i;
    for (i = 256; i < sizeof(txmem); i++)
        if (txmem[i] != 0xA5 || rxmem[i] != 0xA5)
            return 0;
    return 1;
}

static void connect_ok(void)
{
    int auto_b = fk.auto_broker;
    fk.auto_broker = 1;
    midge_lite_connect(&cl, 1);
    fk.auto_broker = auto_b;
    fk.out_len = 0;
}

TEST(init_refuses_bad_config)
{
    midge_lite_config_t cfg = {0};
    CHECK_EQ_INT(midge_lite_init(&cl, &cfg), MIDGE_LITE_ERR_ARG);
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", NULL, 0, 0, 0), MIDGE_LITE_ERR_NOT_CONNECTED);
}

TEST(connect_bytes_and_connack)
{
    static const uint8_t w[] = {'b', 'y', 'e'};
    setup(1, 60);
    CHECK_EQ_INT(midge_lite_set_last_will(&cl, "st/x", w, 3, 1, 1), 0);
    CHECK_EQ_INT(midge_lite_connect(&cl, 1), 0);
    CHECK(midge_lite_is_connected(&cl));
    CHECK_EQ_INT(fk.opens, 1);
    CHECK_EQ_INT(fk.out[0], 0x10);
    CHECK_MEM(fk.out + 2, "\0\4MQTT", 6);
    CHECK_EQ_INT(fk.out[8], V5 ? 5 : 4);
    /* clean 0x02 | will 0x04 | will QoS 1 0x08 | will retain 0x20 */
    CHECK_EQ_INT(fk.out[9], 0x2E);
    CHECK_EQ_INT(fk.out[10], 0);
    CHECK_EQ_INT(fk.out[11], 60);
#if !V5
    CHECK_MEM(fk.out + 12, "\0\4dev1\0\4st/x\0\3bye", 17);
    CHECK_EQ_INT(fk.out[1], 10 + 6 + 6 + 5);
#endif
}

TEST(connect_refused_and_session_present)
{
    static const uint8_t refused3[] = {0x20, 2, 0, 5}, refused5[] = {0x20, 3, 0, 0x87, 0};
    static const uint8_t sp3[] = {0x20, 2, 1, 0}, sp5[] = {0x20, 3, 1, 0, 0};
    setup(0, 0);
    push(&fk, V5 ? refused5 : refused3, V5 ? 5 : 4);
    CHECK_EQ_INT(midge_lite_connect(&cl, 1), MIDGE_LITE_ERR_REFUSED);
    CHECK_EQ_INT(cl.connack_code, V5 ? 0x87 : 5);
    CHECK(!midge_lite_is_connected(&cl));
    push(&fk, V5 ? sp5 : sp3, V5 ? 5 : 4);
    CHECK_EQ_INT(midge_lite_connect(&cl, 0), 1);
}

TEST(connack_timeout_and_garbage)
{
    static const uint8_t bad[] = {0x20, 2, 0x02, 0};
    setup(0, 0);
    CHECK_EQ_INT(midge_lite_connect(&cl, 1), MIDGE_LITE_ERR_TIMEOUT);
    CHECK(fk.now >= 1000 + 3000);
    push(&fk, bad, sizeof(bad));
    CHECK_EQ_INT(midge_lite_connect(&cl, 1), MIDGE_LITE_ERR_PROTOCOL);
    push(&fk, "\xD0\0", 2);
    CHECK_EQ_INT(midge_lite_connect(&cl, 1), MIDGE_LITE_ERR_PROTOCOL);
}

/* A QoS 1 PUBLISH "t/é" (UTF-8, 4 bytes) with payload "hi", id 9. */
static size_t publish_frame(uint8_t *b, unsigned qos, uint16_t id)
{
    size_t n = 0;
    b[n++] = (uint8_t)(0x30 | (qos << 1));
    b[n++] = 0;
    b[n++] = 0;
    b[n++] = 4;
    memcpy(b + n, "t/\xC3\xA9", 4);
    n += 4;
    if (qos) {
        b[n++] = (uint8_t)(id >> 8);
        b[n++] = (uint8_t)id;
    }
    if (V5)
        b[n++] = 0;
    b[n++] = 'h';
    b[n++] = 'i';
    b[1] = (uint8_t)(n - 2);
    return n;
}

TEST(partial_reads_deliver_and_ack)
{
    uint8_t b[32];
    size_t n = publish_frame(b, 1, 9);
    int i;
    setup(0, 0);
    connect_ok();
    fk.chunk = 1;
    push(&fk, b, n);
    /* check_msg never blocks: a byte at a time, the packet completes over
     * several calls. */
    for (i = 0; i < 40 && got_count == 0; i++)
        CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
    CHECK_EQ_INT(got_count, 1);
    CHECK(strcmp(got_topic, "t/\xC3\xA9") == 0);
    CHECK(strcmp(got_msg, "hi") == 0);
    CHECK_MEM(fk.out, "\x40\x02\x00\x09", 4);
}

TEST(wait_msg_blocks_until_message)
{
    uint8_t b[32];
    size_t n = publish_frame(b, 0, 0);
    setup(0, 0);
    connect_ok();
    fk.chunk = 3;
    push(&fk, b, n);
    CHECK_EQ_INT(midge_lite_wait_msg(&cl), 0);
    CHECK_EQ_INT(got_count, 1);
}

TEST(qos2_inbound_exactly_once)
{
    uint8_t b[32];
    size_t n = publish_frame(b, 2, 7);
    setup(0, 0);
    connect_ok();
    push(&fk, b, n);
    b[0] |= 0x08; /* DUP redelivery before PUBREL */
    push(&fk, b, n);
    CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
    CHECK_EQ_INT(got_count, 1);
    CHECK_MEM(fk.out, "\x50\x02\x00\x07\x50\x02\x00\x07", 8);
    fk.out_len = 0;
    push(&fk, "\x62\x02\x00\x07", 4);
    CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
    CHECK_MEM(fk.out, "\x70\x02\x00\x07", 4);
    /* After the release the same id is a new message. */
    push(&fk, b, n);
    CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
    CHECK_EQ_INT(got_count, 2);
}

TEST(publish_all_qos_handshakes)
{
    setup(1, 0);
    connect_ok();
    CHECK_EQ_INT(midge_lite_publish(&cl, "a/b", (const uint8_t *)"x", 1, 0, 0), 0);
    CHECK_EQ_INT(fk.out[0], 0x30);
    CHECK_EQ_INT(midge_lite_publish(&cl, "a/b", (const uint8_t *)"x", 1, 1, 1), 0);
    CHECK_EQ_INT(midge_lite_publish(&cl, "a/b", (const uint8_t *)"x", 1, 0, 2), 0);
    /* the last packet sent is the PUBREL for the QoS 2 message */
    CHECK_MEM(fk.out + fk.out_len - 4, "\x62\x02\x00\x02", 4);
    CHECK_EQ_INT(midge_lite_subscribe(&cl, "a/+", 2), 2);
    CHECK_EQ_INT(midge_lite_subscribe(&cl, "a/#", 1), 1);
}

TEST(non_ascii_topic_length_in_bytes)
{
    setup(1, 0);
    connect_ok();
    /* "température" is 11 characters and 12 bytes */
    CHECK_EQ_INT(midge_lite_publish(&cl, "temp\xC3\xA9rature", (const uint8_t *)"1", 1, 0, 0), 0);
    CHECK_EQ_INT(fk.out[2], 0);
    CHECK_EQ_INT(fk.out[3], 12);
    CHECK_MEM(fk.out + 4, "temp\xC3\xA9rature", 12);
    CHECK_EQ_INT(fk.out[1], 2 + 12 + 1 + (V5 ? 1 : 0));
    CHECK_EQ_INT(midge_lite_publish(&cl, "bad\xC3", (const uint8_t *)"1", 1, 0, 0),
                 MIDGE_LITE_ERR_TOPIC);
    CHECK_EQ_INT(midge_lite_publish(&cl, "a/+", (const uint8_t *)"1", 1, 0, 0),
                 MIDGE_LITE_ERR_TOPIC);
    CHECK_EQ_INT(midge_lite_subscribe(&cl, "a/#/b", 0), MIDGE_LITE_ERR_TOPIC);
}

TEST(too_large_for_buffers_is_an_error)
{
    static uint8_t big[300];
    char topic[300];
    setup(1, 0);
    connect_ok();
    memset(big, 'p', sizeof(big));
    memset(topic, 't', sizeof(topic));
    topic[299] = 0;
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", big, 251 - (V5 ? 1 : 0), 0, 0),
                 MIDGE_LITE_ERR_TOO_LARGE);
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", big, 300, 0, 1), MIDGE_LITE_ERR_TOO_LARGE);
    CHECK_EQ_INT(midge_lite_publish(&cl, topic, big, 1, 0, 0), MIDGE_LITE_ERR_TOO_LARGE);
    CHECK_EQ_INT(midge_lite_subscribe(&cl, topic, 0), MIDGE_LITE_ERR_TOO_LARGE);
    CHECK(midge_lite_is_connected(&cl));
    /* exactly full */
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", big, 256 - 3 - 3 - (V5 ? 1 : 0), 0, 0), 0);
    CHECK_EQ_INT(fk.out_len, 256);
    CHECK(canaries_ok());
    midge_lite_disconnect(&cl);
    CHECK_EQ_INT(midge_lite_set_last_will(&cl, "w", big, 260, 0, 0), 0);
    CHECK_EQ_INT(midge_lite_connect(&cl, 1), MIDGE_LITE_ERR_TOO_LARGE);
    CHECK(canaries_ok());
}

TEST(oversized_broker_packet_drops)
{
    static const uint8_t hdr[] = {0x30, 0x80, 0x02}; /* 256 bytes of body */
    setup(0, 0);
    connect_ok();
    push(&fk, hdr, sizeof(hdr));
    CHECK_EQ_INT(midge_lite_check_msg(&cl), MIDGE_LITE_ERR_RX_TOO_LARGE);
    CHECK(!midge_lite_is_connected(&cl));
    CHECK_EQ_INT(fk.closes, 1);
    CHECK(canaries_ok());
}

static int malformed(const void *bytes, size_t n)
{
    setup(0, 0);
    connect_ok();
    push(&fk, bytes, n);
    return midge_lite_check_msg(&cl);
}

TEST(malformed_broker_packets_drop)
{
    CHECK_EQ_INT(malformed("\x30\xFF\xFF\xFF\xFF\x01", 6), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x30\x03\x00\x09\x61", 5), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x36\x05\x00\x01\x61\x00\x01", 7), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x32\x05\x00\x01\x61\x00\x00", 7), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x30\x02\x00\x00", 4), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x30\x04\x00\x02\xC3\x28", 6), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x40\x02\x00\x00", 4), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x40\x01\x00", 3), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x60\x02\x00\x01", 4), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x20\x02\x00\x00", 4), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x10\x00", 2), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\xD0\x01\x00", 3), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x00\x00", 2), MIDGE_LITE_ERR_PROTOCOL);
#if !V5
    CHECK_EQ_INT(malformed("\x40\x03\x00\x01\x00", 5), MIDGE_LITE_ERR_PROTOCOL);
#endif
    CHECK(!midge_lite_is_connected(&cl));
    CHECK(canaries_ok());
}

TEST(ack_timeout_and_send_failure)
{
    setup(0, 0);
    connect_ok();
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", (const uint8_t *)"x", 1, 0, 1),
                 MIDGE_LITE_ERR_TIMEOUT);
    CHECK_EQ_INT(midge_lite_subscribe(&cl, "a", 1), MIDGE_LITE_ERR_TIMEOUT);
    fk.fail_send = 1;
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", (const uint8_t *)"x", 1, 0, 0), MIDGE_LITE_ERR_IO);
    CHECK(!midge_lite_is_connected(&cl));
    CHECK_EQ_INT(midge_lite_check_msg(&cl), MIDGE_LITE_ERR_NOT_CONNECTED);
}

TEST(suback_failure)
{
    static const uint8_t f3[] = {0x90, 3, 0, 1, 0x80}, f5[] = {0x90, 4, 0, 1, 0, 0x87};
    setup(0, 0);
    connect_ok();
    push(&fk, V5 ? f5 : f3, V5 ? 6 : 5);
    CHECK_EQ_INT(midge_lite_subscribe(&cl, "a", 1), MIDGE_LITE_ERR_SUBSCRIBE);
    CHECK(midge_lite_is_connected(&cl));
}

TEST(keepalive_pings_without_user_calls)
{
    int i;
    setup(1, 2);
    connect_ok();
    /* 20 s of check_msg every 100 ms: pings go out, connection stays. */
    for (i = 0; i < 200; i++) {
        CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
        fk.now += 100;
    }
    CHECK(fk.pings >= 10);
    CHECK(midge_lite_is_connected(&cl));
    /* wait_msg also pings while it blocks: 5 keep-alive periods */
    fk.pings = 0;
    fk.no_pingresp = 0;
    {
        uint8_t b[32];
        size_t n = publish_frame(b, 0, 0);
        uint32_t start = fk.now;
        /* the message arrives only after the fake clock passed 10 s */
        while (fk.now - start < 10000) {
            CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
            fk.now += 500;
        }
        push(&fk, b, n);
        CHECK_EQ_INT(midge_lite_wait_msg(&cl), 0);
    }
    CHECK(fk.pings >= 5);
}

TEST(keepalive_from_wait_msg_and_publish)
{
    setup(1, 1);
    connect_ok();
    fk.now += 600;
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", (const uint8_t *)"x", 1, 0, 0), 0);
    fk.now += 600;
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", (const uint8_t *)"x", 1, 0, 0), 0);
    /* publish counts as traffic: no ping needed yet */
    CHECK_EQ_INT(fk.pings, 0);
    fk.now += 800;
    CHECK_EQ_INT(midge_lite_wait_msg(&cl), 0); /* the PINGRESP */
    CHECK_EQ_INT(fk.pings, 1);
}

TEST(missing_pingresp_times_out)
{
    int i, rc = 0;
    setup(1, 1);
    connect_ok();
    fk.no_pingresp = 1;
    for (i = 0; i < 100 && rc == 0; i++) {
        rc = midge_lite_check_msg(&cl);
        fk.now += 100;
    }
    CHECK_EQ_INT(rc, MIDGE_LITE_ERR_TIMEOUT);
    CHECK(!midge_lite_is_connected(&cl));
    CHECK(i < 30);
}

TEST(packet_ids_wrap_past_65535)
{
    long i;
    setup(1, 0);
    connect_ok();
    for (i = 0; i < 70000; i++) {
        int rc = midge_lite_publish(&cl, "w", (const uint8_t *)"x", 1, 0, (int)(1 + (i & 1)));
        if (rc != 0) {
            CHECK_EQ_INT(rc, 0);
        }
    }
    CHECK_EQ_INT(fk.ids_zero, 0);
    CHECK_EQ_INT(fk.wraps, 1);
    CHECK_EQ_INT(fk.last_pub_id, 70000 - 65535);
    cl.next_id = 65535;
    CHECK_EQ_INT(midge_lite_subscribe(&cl, "w", 0), 0);
    CHECK_EQ_INT(cl.next_id, 1);
}

TEST(reconnect_helper)
{
    setup(1, 0);
    CHECK_EQ_INT(midge_lite_connect(&cl, 0), 0);
    fk.fail_send = 1;
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", (const uint8_t *)"x", 1, 0, 0), MIDGE_LITE_ERR_IO);
    CHECK_EQ_INT(midge_lite_reconnect(&cl, 3, 10), MIDGE_LITE_ERR_IO);
    CHECK_EQ_INT(fk.opens, 4);
    fk.fail_send = 0;
    fk.out_len = 0;
    CHECK_EQ_INT(midge_lite_reconnect(&cl, 3, 10), 0);
    CHECK(midge_lite_is_connected(&cl));
    /* the clean flag of the first connect (0) is kept */
    CHECK_EQ_INT(fk.out[0], 0x10);
    CHECK_EQ_INT(fk.out[9] & 0x02, 0);
}

TEST(unexpected_acks_are_handled)
{
    setup(0, 0);
    connect_ok();
    /* a PUBREC nobody waits for gets its PUBREL; stray PUBACK ignored */
    push(&fk, "\x50\x02\x00\x05\x40\x02\x00\x06\x70\x02\x00\x07\xD0\x00", 14);
    CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
    CHECK_MEM(fk.out, "\x62\x02\x00\x05", 4);
    CHECK_EQ_INT(fk.out_len, 4);
    CHECK(midge_lite_is_connected(&cl));
}

#if V5
TEST(v5_properties)
{
    static const uint8_t connack[] = {0x20, 14, 0, 0, 11, 0x13, 0, 7,
                                      0x27, 0,  0, 0, 40, 0x1F, 0, 0};
    /* PUBLISH with user property and subscription id, then topic alias */
    static const uint8_t pub[] = {0x30, 14, 0, 1, 'a', 9, 0x26, 0, 1, 'k', 0, 1, 'v', 0x0B, 5, 'z'};
    static const uint8_t alias[] = {0x30, 7, 0, 1, 'a', 3, 0x23, 0, 1};
    static const uint8_t badprop[] = {0x30, 6, 0, 1, 'a', 2, 0x7F, 0};
    static const uint8_t shortprop[] = {0x30, 7, 0, 1, 'a', 2, 0x26, 0, 9};
    static const uint8_t reject[] = {0x40, 3, 0, 1, 0x87};
    setup(0, 30);
    push(&fk, connack, sizeof(connack));
    CHECK_EQ_INT(midge_lite_connect(&cl, 0), 0);
    CHECK_EQ_INT(cl.keepalive, 7);
    CHECK_EQ_INT(cl.max_packet, 40);
    /* CONNECT carried session expiry, receive maximum, maximum packet size */
    CHECK_EQ_INT(fk.out[12], 13);
    CHECK_EQ_INT(fk.out[13], 0x11);
    /* the broker's maximum packet size binds publish */
    {
        static uint8_t big[64];
        CHECK_EQ_INT(midge_lite_publish(&cl, "a", big, 40, 0, 0), MIDGE_LITE_ERR_TOO_LARGE);
    }
    push(&fk, pub, sizeof(pub));
    CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
    CHECK_EQ_INT(got_count, 1);
    CHECK(strcmp(got_msg, "z") == 0);
    push(&fk, reject, sizeof(reject));
    CHECK_EQ_INT(midge_lite_publish(&cl, "a", (const uint8_t *)"x", 1, 0, 1),
                 MIDGE_LITE_ERR_REJECTED);
    CHECK_EQ_INT(malformed(alias, sizeof(alias)), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed(badprop, sizeof(badprop)), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed(shortprop, sizeof(shortprop)), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\xE0\x01\x8B", 3), MIDGE_LITE_ERR_IO);
    /* the codec's property rules: duplicates, wrong packet, reason codes */
    CHECK_EQ_INT(malformed("\x30\x0A\x00\x01\x61\x06\x01\x01\x01\x01\x01\x01", 12),
                 MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x30\x08\x00\x01\x61\x04\x11\x00\x00\x01", 10),
                 MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x40\x03\x00\x01\x05", 5), MIDGE_LITE_ERR_PROTOCOL);
    CHECK_EQ_INT(malformed("\x40\x04\x00\x01\x00\x05", 6), MIDGE_LITE_ERR_PROTOCOL);
}

TEST(codec_props_decode_entry_point)
{
    static const uint8_t block[] = {8, 0x13, 0, 9, 0x27, 0, 0, 1, 0};
    mqtt_reader_t r = {block, block + sizeof(block)};
    mqtt_props_t p;
    CHECK_EQ_INT(mqtt_props_decode(&r, MQTT_PROPS_CONNACK, &p), MQTT_OK);
    CHECK(r.pos == block + sizeof(block));
    CHECK(MQTT_PROP_HAS(&p, MQTT_PROP_SERVER_KEEP_ALIVE));
    CHECK_EQ_INT(p.server_keep_alive, 9);
    CHECK_EQ_INT(p.maximum_packet_size, 256);
    r.pos = block;
    CHECK_EQ_INT(mqtt_props_decode(&r, MQTT_PROPS_PUBLISH, &p), MQTT_ERR_PROP_NOT_ALLOWED);
    r.pos = block;
    r.end = block + 5;
    CHECK(mqtt_props_decode(&r, MQTT_PROPS_CONNACK, &p) != MQTT_OK);
}
#endif

static void disconnect_cb(void *u, const char *t, size_t tl, const uint8_t *m, size_t ml)
{
    (void)t;
    (void)tl;
    (void)m;
    (void)ml;
    midge_lite_disconnect((midge_lite_t *)u);
}

TEST(callback_may_disconnect)
{
    uint8_t b[32];
    size_t n = publish_frame(b, 1, 4);
    setup(0, 0);
    connect_ok();
    midge_lite_set_callback(&cl, disconnect_cb, &cl);
    push(&fk, b, n);
    CHECK_EQ_INT(midge_lite_check_msg(&cl), 0);
    CHECK(!midge_lite_is_connected(&cl));
    CHECK_MEM(fk.out, "\xE0\x00", 2);
    CHECK_EQ_INT(fk.out_len, 2);
}

TEST(no_globals_two_clients)
{
    /* Two contexts on one fake broker do not disturb each other. */
    midge_lite_t a, b;
    setup(1, 0);
    a = cl;
    b = cl;
    CHECK_EQ_INT(midge_lite_connect(&a, 1), 0);
    CHECK_EQ_INT(midge_lite_connect(&b, 1), 0);
    a.next_id = 100;
    CHECK_EQ_INT(midge_lite_publish(&a, "x", (const uint8_t *)"1", 1, 0, 1), 0);
    CHECK_EQ_INT(a.next_id, 101);
    CHECK_EQ_INT(b.next_id, 1);
}

int main(void)
{
    RUN(init_refuses_bad_config);
    RUN(connect_bytes_and_connack);
    RUN(connect_refused_and_session_present);
    RUN(connack_timeout_and_garbage);
    RUN(partial_reads_deliver_and_ack);
    RUN(wait_msg_blocks_until_message);
    RUN(qos2_inbound_exactly_once);
    RUN(publish_all_qos_handshakes);
    RUN(non_ascii_topic_length_in_bytes);
    RUN(too_large_for_buffers_is_an_error);
    RUN(oversized_broker_packet_drops);
    RUN(malformed_broker_packets_drop);
    RUN(ack_timeout_and_send_failure);
    RUN(suback_failure);
    RUN(keepalive_pings_without_user_calls);
    RUN(keepalive_from_wait_msg_and_publish);
    RUN(missing_pingresp_times_out);
    RUN(packet_ids_wrap_past_65535);
    RUN(reconnect_helper);
    RUN(unexpected_acks_are_handled);
#if V5
    RUN(v5_properties);
    RUN(codec_props_decode_entry_point);
#endif
    RUN(callback_may_disconnect);
    RUN(no_globals_two_clients);
    return TEST_REPORT();
}
