/*
 * Connections driven on the test's own thread: a worker created alone,
 * socketpairs adopted as connections, and a protocol double that records
 * what the network layer hands it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/net_internal.h"
#include "broker/worker.h"
#include "test.h"

#define MAX_PKTS 512

typedef struct {
    int accepts, packets, closes, proto_errors, flushes;
    conn_close_reason_t reason;
    mqtt_err_t err;
    uint8_t type[MAX_PKTS];
    uint32_t len[MAX_PKTS];
    uint32_t sum[MAX_PKTS];
    uint8_t first[MAX_PKTS];
    /* behaviour */
    int refuse;
    uint32_t max_packet;
    size_t out_limit;
    const char *reply;       /* written on every packet */
    int close_after_reply;   /* conn_close(BY_PROTO) after the reply */
    const char *error_reply; /* written in on_protocol_error */
    size_t in_cap_at_error;
    int flush_items, flush_per_call; /* on_flush writes this many, in batches */
    const char *close_reply;         /* written in on_close */
    int pause_at;                    /* conn_pause_read after this many packets */
    int close_write_rc;
    conn_t *conn;
} dbl_t;

static dbl_t D;

static uint32_t checksum(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int d_accept(void *ctx, conn_t *c)
{
    dbl_t *d = ctx;
    d->accepts++;
    d->conn = c;
    if (d->max_packet)
        c->max_packet_size = d->max_packet;
    if (d->out_limit)
        c->out_limit = d->out_limit;
    return d->refuse ? -1 : 0;
}

static void d_packet(void *ctx, conn_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body,
                     size_t len)
{
    dbl_t *d = ctx;
    if (d->packets < MAX_PKTS) {
        d->type[d->packets] = fh->type;
        d->len[d->packets] = (uint32_t)len;
        d->sum[d->packets] = checksum(body, len);
        d->first[d->packets] = len ? body[0] : 0;
    }
    d->packets++;
    if (d->pause_at && d->packets == d->pause_at)
        conn_pause_read(c);
    if (d->reply)
        conn_write(c, d->reply, strlen(d->reply));
    if (d->close_after_reply)
        conn_close(c, CONN_CLOSE_BY_PROTO);
}

static void d_error(void *ctx, conn_t *c, mqtt_err_t err)
{
    dbl_t *d = ctx;
    d->proto_errors++;
    d->err = err;
    d->in_cap_at_error = c->in_cap;
    if (d->error_reply)
        conn_write(c, d->error_reply, strlen(d->error_reply));
}

static void d_flush(void *ctx, conn_t *c)
{
    dbl_t *d = ctx;
    d->flushes++;
    for (int i = 0; i < d->flush_per_call && d->flush_items > 0; i++, d->flush_items--)
        conn_write(c, "item", 4);
    if (d->flush_items > 0)
        conn_want_flush(c);
}

static void d_close(void *ctx, conn_t *c, conn_close_reason_t reason)
{
    dbl_t *d = ctx;
    d->closes++;
    d->reason = reason;
    if (d->close_reply)
        d->close_write_rc = conn_write(c, d->close_reply, strlen(d->close_reply));
    if (d->conn == c)
        d->conn = NULL;
}

static const broker_proto_t OPS = {
    .ctx = &D,
    .on_accept = d_accept,
    .on_packet = d_packet,
    .on_protocol_error = d_error,
    .on_flush = d_flush,
    .on_close = d_close,
};

static worker_t *W;
static int peer = -1;

/* A worker and one adopted connection; the test talks through `peer`. */
static bool setup(void)
{
    memset(&D, 0, sizeof D);
    W = worker_create(0, &OPS, NULL);
    int sv[2];
    if (!W || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return false;
    peer = sv[1];
    struct timeval tv = {.tv_sec = 2};
    setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return worker_adopt(W, sv[0], NULL) != NULL || D.refuse;
}

static void teardown(void)
{
    worker_shutdown(W);
    worker_destroy(W);
    W = NULL;
    if (peer >= 0)
        close(peer);
    peer = -1;
}

/* Runs iterations until *flag reaches want, at most ~2 s. */
static bool run_until(const int *flag, int want)
{
    uint64_t end = mono_ms() + 2000;
    while (*flag < want && mono_ms() < end)
        worker_run_once(W, 10);
    return *flag >= want;
}

static void send_all(const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(peer, b, n);
        if (w <= 0)
            return;
        b += w;
        n -= (size_t)w;
    }
}

/* Reads exactly n bytes (bounded by SO_RCVTIMEO), running the worker
 * between reads so it can keep writing. */
static bool read_exact(uint8_t *out, size_t n)
{
    size_t got = 0;
    uint64_t end = mono_ms() + 3000;
    while (got < n && mono_ms() < end) {
        worker_run_once(W, 0);
        struct pollfd p = {.fd = peer, .events = POLLIN};
        if (poll(&p, 1, 5) <= 0)
            continue;
        ssize_t r = read(peer, out + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return got == n;
}

static bool peer_sees_eof(void)
{
    uint8_t b[256];
    for (int i = 0; i < 100; i++) {
        ssize_t r = read(peer, b, sizeof b);
        if (r == 0)
            return true;
        if (r < 0)
            return false;
    }
    return false;
}

/* A PUBLISH with a body of n bytes whose byte i is (seed + i). */
static size_t make_packet(uint8_t *out, uint8_t type, uint32_t n, uint8_t seed)
{
    out[0] = (uint8_t)(type << 4);
    size_t h = 1 + mqtt_varint_encode(n, out + 1);
    for (uint32_t i = 0; i < n; i++)
        out[h + i] = (uint8_t)(seed + i);
    return h + n;
}

TEST(framing_one_byte_at_a_time)
{
    CHECK(setup());
    uint8_t pkt[300];
    size_t n = make_packet(pkt, MQTT_PUBLISH, 200, 9); /* two-byte length */
    for (size_t i = 0; i < n; i++) {
        send_all(pkt + i, 1);
        worker_run_once(W, 0);
        CHECK_EQ_INT(D.packets, i + 1 == n ? 1 : 0);
    }
    CHECK_EQ_INT(D.type[0], MQTT_PUBLISH);
    CHECK_EQ_INT(D.len[0], 200);
    CHECK_EQ_INT(D.sum[0], checksum(pkt + 3, 200));
    teardown();
}

TEST(two_packets_in_one_read)
{
    CHECK(setup());
    uint8_t buf[64];
    size_t n = make_packet(buf, MQTT_PINGREQ, 0, 0);
    n += make_packet(buf + n, MQTT_PUBLISH, 10, 1);
    send_all(buf, n);
    CHECK(run_until(&D.packets, 2));
    CHECK_EQ_INT(D.packets, 2);
    CHECK_EQ_INT(D.type[0], MQTT_PINGREQ);
    CHECK_EQ_INT(D.len[0], 0);
    CHECK_EQ_INT(D.type[1], MQTT_PUBLISH);
    CHECK_EQ_INT(D.len[1], 10);
    CHECK_EQ_INT(D.first[1], 1);
    teardown();
}

TEST(stream_split_at_random_points)
{
    CHECK(setup());
    D.conn->max_packet_size = 1u << 20;
    /* 120 packets from 0 bytes to 300 KB, sent in random slices: every
     * packet must arrive whole, in order, with its bytes intact. */
    enum { COUNT = 120 };
    size_t cap = 8u << 20;
    uint8_t *stream = malloc(cap);
    uint32_t sizes[COUNT];
    size_t n = 0;
    srand(3);
    for (int i = 0; i < COUNT; i++) {
        uint32_t sz =
            i % 10 == 9 ? 100000u + (uint32_t)(rand() % 200000) : (uint32_t)(rand() % 600);
        sizes[i] = sz;
        n += make_packet(stream + n, MQTT_PUBLISH, sz, (uint8_t)i);
    }
    size_t off = 0;
    uint64_t end = mono_ms() + 10000;
    while (off < n && mono_ms() < end) {
        size_t slice = 1 + (size_t)(rand() % (rand() % 3 ? 700 : 90000));
        if (slice > n - off)
            slice = n - off;
        struct pollfd p = {.fd = peer, .events = POLLOUT};
        if (poll(&p, 1, 0) > 0) {
            ssize_t w = write(peer, stream + off, slice);
            if (w > 0)
                off += (size_t)w;
        }
        worker_run_once(W, 0);
    }
    CHECK(run_until(&D.packets, COUNT));
    CHECK_EQ_INT(D.packets, COUNT);
    size_t pos = 0;
    for (int i = 0; i < COUNT; i++) {
        size_t h = 1 + mqtt_varint_size(sizes[i]);
        CHECK_EQ_INT(D.len[i], sizes[i]);
        CHECK_EQ_INT(D.sum[i], checksum(stream + pos + h, sizes[i]));
        pos += h + sizes[i];
    }
    /* The buffer was returned once the big packets were done. */
    CHECK(D.conn->in_cap <= 4096);
    free(stream);
    teardown();
}

TEST(oversize_rejected_before_the_body_is_buffered)
{
    CHECK(setup());
    D.conn->max_packet_size = 1024;
    D.error_reply = "\xe0\x01\x95";
    uint8_t hdr[5] = {0x30};
    size_t h = 1 + mqtt_varint_encode(1000000, hdr + 1);
    send_all(hdr, h);
    uint8_t junk[4096] = {0};
    send_all(junk, sizeof junk);
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.proto_errors, 1);
    CHECK_EQ_INT(D.err, MQTT_ERR_PACKET_TOO_LARGE);
    CHECK_EQ_INT(D.reason, CONN_CLOSE_PROTOCOL);
    CHECK_EQ_INT(D.packets, 0);
    CHECK(D.in_cap_at_error <= 1024);
    uint8_t got[3];
    CHECK(read_exact(got, 3));
    CHECK_MEM(got, "\xe0\x01\x95", 3);
    CHECK(peer_sees_eof());
    CHECK_EQ_INT(worker_conn_count(W), 0);
    teardown();
}

TEST(oversize_counts_the_fixed_header)
{
    CHECK(setup());
    D.conn->max_packet_size = 100;
    uint8_t pkt[128];
    size_t ok = make_packet(pkt, MQTT_PUBLISH, 98, 0); /* 2 + 98 = 100 */
    send_all(pkt, ok);
    CHECK(run_until(&D.packets, 1));
    size_t big = make_packet(pkt, MQTT_PUBLISH, 99, 0);
    send_all(pkt, big);
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.packets, 1);
    CHECK_EQ_INT(D.err, MQTT_ERR_PACKET_TOO_LARGE);
    teardown();
}

TEST(preauth_limit_is_the_default)
{
    CHECK(setup());
    CHECK_EQ_INT(D.conn->max_packet_size, CONN_PREAUTH_MAX_PACKET);
    uint8_t hdr[5] = {0x10};
    size_t h = 1 + mqtt_varint_encode(CONN_PREAUTH_MAX_PACKET, hdr + 1);
    send_all(hdr, h);
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.err, MQTT_ERR_PACKET_TOO_LARGE);
    teardown();
}

TEST(malformed_remaining_length)
{
    CHECK(setup());
    send_all("\x30\xff\xff\xff\xff\x01", 6);
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.proto_errors, 1);
    CHECK_EQ_INT(D.err, MQTT_ERR_VARINT);
    CHECK_EQ_INT(D.reason, CONN_CLOSE_PROTOCOL);
    teardown();
}

TEST(malformed_length_split_across_reads)
{
    CHECK(setup());
    send_all("\x30\xff\xff", 3);
    worker_run_once(W, 0);
    CHECK_EQ_INT(D.closes, 0);
    send_all("\xff\xff\x01", 3);
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.err, MQTT_ERR_VARINT);
    teardown();
}

TEST(replies_are_batched_and_ordered)
{
    CHECK(setup());
    D.reply = "0123456789";
    uint8_t buf[2 * 100];
    for (int i = 0; i < 100; i++)
        make_packet(buf + 2 * i, MQTT_PINGREQ, 0, 0);
    send_all(buf, sizeof buf);
    CHECK(run_until(&D.packets, 100));
    uint8_t got[1000];
    CHECK(read_exact(got, sizeof got));
    for (int i = 0; i < 100; i++)
        CHECK_MEM(got + 10 * i, "0123456789", 10);
    CHECK_EQ_INT(conn_out_bytes(D.conn), 0);
    teardown();
}

static int releases;
static void release_one(void *ref)
{
    (void)ref;
    releases++;
}

TEST(partial_writes_wait_for_writability)
{
    CHECK(setup());
    releases = 0;
    int small = 4096;
    setsockopt(D.conn->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    /* 40 x (head + 50 KB shared payload) interleaved with copied writes. */
    enum { N = 40, P = 50000 };
    static uint8_t payload[P];
    for (int i = 0; i < P; i++)
        payload[i] = (uint8_t)(i * 7);
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        uint8_t head[4] = {'H', (uint8_t)i, 'H', 'H'};
        CHECK_EQ_INT(conn_write_ref(D.conn, head, 4, payload, P, release_one, NULL), 0);
        CHECK_EQ_INT(conn_write(D.conn, "tail", 4), 0);
        total += 4 + P + 4;
    }
    CHECK_EQ_INT(conn_out_bytes(D.conn), total);
    CHECK_EQ_INT(releases, 0);
    worker_run_once(W, 0);
    /* The peer reads nothing yet: bytes remain, writability is awaited. */
    CHECK(conn_out_bytes(D.conn) > 0);
    CHECK(D.conn->flags & CONN_F_WANT_OUT);
    uint8_t *got = malloc(total);
    CHECK(read_exact(got, total));
    size_t pos = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(got[pos + 1], i);
        CHECK_MEM(got + pos + 4, payload, P);
        CHECK_MEM(got + pos + 4 + P, "tail", 4);
        pos += 4 + P + 4;
    }
    free(got);
    worker_run_once(W, 0);
    CHECK_EQ_INT(conn_out_bytes(D.conn), 0);
    CHECK_EQ_INT(releases, N);
    CHECK(!(D.conn->flags & CONN_F_WANT_OUT));
    teardown();
}

TEST(small_shared_payloads_are_copied_and_released_at_once)
{
    CHECK(setup());
    releases = 0;
    CHECK_EQ_INT(conn_write_ref(D.conn, "h", 1, "payload", 7, release_one, NULL), 0);
    CHECK_EQ_INT(releases, 1);
    uint8_t got[8];
    CHECK(read_exact(got, 8));
    CHECK_MEM(got, "hpayload", 8);
    teardown();
}

TEST(queued_payloads_are_released_when_the_conn_dies)
{
    CHECK(setup());
    releases = 0;
    int small = 4096;
    setsockopt(D.conn->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    static uint8_t payload[100000];
    for (int i = 0; i < 5; i++)
        conn_write_ref(D.conn, "h", 1, payload, sizeof payload, release_one, NULL);
    worker_run_once(W, 0);
    close(peer);
    peer = -1;
    conn_close(D.conn, CONN_CLOSE_BY_PROTO);
    worker_run_once(W, 0);
    CHECK_EQ_INT(D.closes, 1);
    CHECK_EQ_INT(releases, 5);
    teardown();
}

TEST(output_limit_closes_the_connection)
{
    CHECK(setup());
    releases = 0;
    D.conn->out_limit = 10000;
    int small = 4096;
    setsockopt(D.conn->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    static uint8_t big[6000];
    CHECK_EQ_INT(conn_write(D.conn, big, sizeof big), 0);
    CHECK_EQ_INT(conn_write_ref(D.conn, "h", 1, big, sizeof big, release_one, NULL), -1);
    CHECK_EQ_INT(releases, 1);
    CHECK(conn_is_closing(D.conn));
    CHECK_EQ_INT(conn_write(D.conn, "x", 1), -1);
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.reason, CONN_CLOSE_OUTPUT_LIMIT);
    teardown();
}

TEST(peer_close_is_reported)
{
    CHECK(setup());
    close(peer);
    peer = -1;
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.reason, CONN_CLOSE_PEER);
    CHECK_EQ_INT(worker_conn_count(W), 0);
    teardown();
}

TEST(close_from_handler_flushes_reply_and_stops_reading)
{
    CHECK(setup());
    D.reply = "bye";
    D.close_after_reply = 1;
    uint8_t buf[4];
    make_packet(buf, MQTT_CONNECT, 0, 0);
    make_packet(buf + 2, MQTT_PINGREQ, 0, 0);
    send_all(buf, 4);
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.packets, 1);
    CHECK_EQ_INT(D.reason, CONN_CLOSE_BY_PROTO);
    uint8_t got[3];
    CHECK(read_exact(got, 3));
    CHECK_MEM(got, "bye", 3);
    CHECK(peer_sees_eof());
    teardown();
}

TEST(on_flush_is_called_until_it_has_nothing_left)
{
    CHECK(setup());
    D.flush_items = 1000;
    D.flush_per_call = 64;
    conn_want_flush(D.conn);
    static uint8_t got[4000];
    CHECK(read_exact(got, sizeof got));
    for (int i = 0; i < 1000; i++)
        CHECK_MEM(got + 4 * i, "item", 4);
    CHECK(D.flushes >= 1000 / 64);
    CHECK_EQ_INT(D.flush_items, 0);
    teardown();
}

TEST(refused_connection_gets_no_on_close)
{
    memset(&D, 0, sizeof D);
    W = worker_create(0, &OPS, NULL);
    CHECK(W != NULL);
    D.refuse = 1;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    peer = sv[1];
    struct timeval tv = {.tv_sec = 2};
    setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(worker_adopt(W, sv[0], NULL) == NULL);
    worker_run_once(W, 0);
    CHECK_EQ_INT(D.accepts, 1);
    CHECK_EQ_INT(D.closes, 0);
    CHECK(peer_sees_eof());
    CHECK_EQ_INT(worker_conn_count(W), 0);
    teardown();
}

TEST(shutdown_closes_every_connection)
{
    CHECK(setup());
    int more[2][2];
    for (int i = 0; i < 2; i++) {
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, more[i]) == 0);
        CHECK(worker_adopt(W, more[i][0], NULL) != NULL);
    }
    CHECK_EQ_INT(worker_conn_count(W), 3);
    worker_shutdown(W);
    CHECK_EQ_INT(D.closes, 3);
    CHECK_EQ_INT(D.reason, CONN_CLOSE_SHUTDOWN);
    CHECK_EQ_INT(worker_conn_count(W), 0);
    CHECK(peer_sees_eof());
    for (int i = 0; i < 2; i++)
        close(more[i][1]);
    teardown();
}

TEST(on_close_can_send_a_last_packet_when_the_socket_is_usable)
{
    CHECK(setup());
    D.close_reply = "\xe0\x01\x8b";
    worker_shutdown(W);
    CHECK_EQ_INT(D.closes, 1);
    CHECK_EQ_INT(D.close_write_rc, 0);
    uint8_t got[3];
    CHECK(read(peer, got, 3) == 3);
    CHECK_MEM(got, "\xe0\x01\x8b", 3);
    CHECK(peer_sees_eof());
    teardown();

    CHECK(setup());
    D.close_reply = "x";
    close(peer);
    peer = -1;
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.reason, CONN_CLOSE_PEER);
    CHECK_EQ_INT(D.close_write_rc, -1);
    teardown();
}

/* n PUBLISH packets with 1-byte bodies numbering them from `first`. */
static size_t numbered(uint8_t *out, int first, int n)
{
    for (int i = 0; i < n; i++) {
        out[3 * i] = 0x30;
        out[3 * i + 1] = 1;
        out[3 * i + 2] = (uint8_t)(first + i);
    }
    return 3 * (size_t)n;
}

TEST(packet_budget_per_iteration_keeps_order)
{
    CHECK(setup());
    static uint8_t buf[3 * 1000];
    send_all(buf, numbered(buf, 0, 1000));
    worker_run_once(W, 100);
    CHECK_EQ_INT(D.packets, NET_PACKET_BUDGET);
    CHECK(D.conn->flags & CONN_F_PENDING);
    CHECK(run_until(&D.packets, 1000));
    for (int i = 0; i < MAX_PKTS && i < 1000; i++)
        CHECK_EQ_INT(D.first[i], (uint8_t)i);
    CHECK(!(D.conn->flags & CONN_F_PENDING));
    /* Reading continues normally afterwards. */
    send_all(buf, numbered(buf, 0, 2));
    CHECK(run_until(&D.packets, 1002));
    teardown();
}

TEST(paused_connection_is_not_read_and_resumes_in_order)
{
    CHECK(setup());
    D.pause_at = 3;
    uint8_t buf[3 * 40];
    send_all(buf, numbered(buf, 0, 10));
    CHECK(run_until(&D.packets, 3));
    /* More bytes while paused: the loop must sleep, not spin on them. */
    send_all(buf, numbered(buf, 10, 30));
    uint64_t t0 = mono_ms();
    for (int i = 0; i < 3; i++)
        worker_run_once(W, 30);
    CHECK(mono_ms() - t0 >= 80);
    CHECK_EQ_INT(D.packets, 3);
    CHECK(D.conn->in_len <= NET_READ_CHUNK);
    conn_resume_read(D.conn);
    CHECK(run_until(&D.packets, 40));
    for (int i = 0; i < 40; i++)
        CHECK_EQ_INT(D.first[i], i);
    /* Pause and resume with nothing buffered. */
    conn_pause_read(D.conn);
    conn_pause_read(D.conn);
    conn_resume_read(D.conn);
    send_all(buf, numbered(buf, 40, 1));
    CHECK(run_until(&D.packets, 41));
    teardown();
}

TEST(paused_connection_still_sees_a_reset_peer)
{
    CHECK(setup());
    conn_pause_read(D.conn);
    close(peer);
    peer = -1;
    /* A hung-up socket is reported even with reading off; it must end
     * the connection rather than wake the loop forever. */
    CHECK(run_until(&D.closes, 1));
    CHECK_EQ_INT(D.reason, CONN_CLOSE_IO_ERROR);
    teardown();
}

/* ---- inbox and timers ---- */

static int job_next, job_bad;
static void job(worker_t *w, void *arg)
{
    if ((intptr_t)arg != job_next || worker_current() != w)
        job_bad++;
    job_next++;
}

static void *poster(void *arg)
{
    for (intptr_t i = 0; i < 20000; i++)
        while (worker_post(arg, job, (void *)i) != 0)
            ;
    return NULL;
}

TEST(posts_from_another_thread_run_in_order)
{
    CHECK(setup());
    job_next = job_bad = 0;
    pthread_t t;
    pthread_create(&t, NULL, poster, W);
    uint64_t end = mono_ms() + 5000;
    while (job_next < 20000 && mono_ms() < end)
        worker_run_once(W, 50);
    pthread_join(t, NULL);
    CHECK_EQ_INT(job_next, 20000);
    CHECK_EQ_INT(job_bad, 0);
    teardown();
}

static int fired[8], nfired;
static void on_timer(worker_t *w, wtimer_t *t, void *arg)
{
    fired[nfired++ % 8] = (int)(intptr_t)arg;
}

static int spins;
static void respin(worker_t *w, wtimer_t *t, void *arg)
{
    if (++spins < 5)
        wtimer_start(w, t, 0, respin, arg);
}

TEST(timers_fire_in_order_and_stopped_ones_do_not)
{
    CHECK(setup());
    nfired = 0;
    wtimer_t a, b, c, d;
    wtimer_init(&a);
    wtimer_init(&b);
    wtimer_init(&c);
    wtimer_init(&d);
    uint64_t start = mono_ms();
    W->now_ms = start;
    wtimer_start(W, &a, 60, on_timer, (void *)3);
    wtimer_start(W, &b, 20, on_timer, (void *)1);
    wtimer_start(W, &c, 40, on_timer, (void *)2);
    wtimer_start(W, &d, 30, on_timer, (void *)9);
    wtimer_stop(W, &d);
    wtimer_stop(W, &d);
    CHECK(run_until(&nfired, 3));
    CHECK(mono_ms() - start >= 60);
    CHECK_EQ_INT(nfired, 3);
    CHECK_EQ_INT(fired[0], 1);
    CHECK_EQ_INT(fired[1], 2);
    CHECK_EQ_INT(fired[2], 3);
    /* A timer restarting itself with delay 0 fires once per iteration. */
    spins = 0;
    wtimer_start(W, &a, 0, respin, NULL);
    worker_run_once(W, 0);
    CHECK_EQ_INT(spins, 1);
    CHECK(run_until(&spins, 5));
    teardown();
}

int main(void)
{
    RUN(framing_one_byte_at_a_time);
    RUN(two_packets_in_one_read);
    RUN(stream_split_at_random_points);
    RUN(oversize_rejected_before_the_body_is_buffered);
    RUN(oversize_counts_the_fixed_header);
    RUN(preauth_limit_is_the_default);
    RUN(malformed_remaining_length);
    RUN(malformed_length_split_across_reads);
    RUN(replies_are_batched_and_ordered);
    RUN(partial_writes_wait_for_writability);
    RUN(small_shared_payloads_are_copied_and_released_at_once);
    RUN(queued_payloads_are_released_when_the_conn_dies);
    RUN(output_limit_closes_the_connection);
    RUN(peer_close_is_reported);
    RUN(close_from_handler_flushes_reply_and_stops_reading);
    RUN(on_flush_is_called_until_it_has_nothing_left);
    RUN(refused_connection_gets_no_on_close);
    RUN(shutdown_closes_every_connection);
    RUN(on_close_can_send_a_last_packet_when_the_socket_is_usable);
    RUN(packet_budget_per_iteration_keeps_order);
    RUN(paused_connection_is_not_read_and_resumes_in_order);
    RUN(paused_connection_still_sees_a_reset_peer);
    RUN(posts_from_another_thread_run_in_order);
    RUN(timers_fire_in_order_and_stopped_ones_do_not);
    return TEST_REPORT();
}
