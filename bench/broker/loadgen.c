/*
 * loadgen: drives an MQTT broker with P publishers and S subscribers over
 * loopback and reports throughput and latency, so midge and Mosquitto can be
 * measured by the same client in the same run (bench/broker/compare.sh).
 *
 * Every subscriber subscribes to "bench/#", so each message is delivered S
 * times. Publishers are flow-controlled by a window: a publisher may be at
 * most W messages ahead of the slowest delivery of its own messages. Without
 * it a QoS 0 benchmark measures how much the broker buffers, not how fast it
 * routes.
 *
 * One thread, one epoll set, all sockets non-blocking. Output is one line of
 * key=value pairs.
 */
#include "mqtt/mqtt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *host;
    const char *port;
    int publishers;
    int subscribers;
    long messages; /* per publisher */
    int qos;
    size_t payload_size;
    long window;
    int version;
    double timeout_s;
} options_t;

typedef struct {
    uint8_t *data;
    size_t len, cap, off;
} buf_t;

typedef struct {
    int fd;
    int index;
    bool is_pub;
    bool connected;
    bool subscribed;
    uint16_t next_id;
    buf_t in, out;
    long sent;
} conn_t;

#define LATENCY_SAMPLES 200000

static struct {
    options_t opt;
    conn_t *conns;
    int nconns;
    int epfd;
    long *delivered_per_pub; /* [pub * subscribers + sub]: deliveries of pub's messages */
    long delivered;
    long expected;
    double *lat_us;
    long nlat;
    long lat_stride;
    long lat_seen;
    int ready_subs;
    int ready_pubs;
} lg;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void buf_reserve(buf_t *b, size_t extra)
{
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->len + extra <= b->cap) {
        return;
    }
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra <= b->cap) {
            return;
        }
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    b->data = realloc(b->data, cap);
    if (!b->data) {
        die("realloc");
    }
    b->cap = cap;
}

static void queue_packet(conn_t *c, const mqtt_packet_t *p)
{
    size_t need = mqtt_encoded_size(p, (mqtt_version_t)lg.opt.version);
    if (need == 0) {
        fprintf(stderr, "loadgen: cannot encode packet type %u\n", p->type);
        exit(2);
    }
    buf_reserve(&c->out, need);
    size_t written = 0;
    mqtt_err_t err = mqtt_encode(p, (mqtt_version_t)lg.opt.version, c->out.data + c->out.len,
                                 c->out.cap - c->out.len, &written);
    if (err != MQTT_OK) {
        fprintf(stderr, "loadgen: encode: %s\n", mqtt_err_str(err));
        exit(2);
    }
    c->out.len += written;
}

static void flush(conn_t *c)
{
    while (c->out.off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            die("send");
        }
        c->out.off += (size_t)n;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (c->out.off < c->out.len) {
        ev.events |= EPOLLOUT;
    }
    epoll_ctl(lg.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static int connect_to_broker(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(lg.opt.host, lg.opt.port, &hints, &res) != 0) {
        fprintf(stderr, "loadgen: cannot resolve %s\n", lg.opt.host);
        exit(2);
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        die("connect");
    }
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void send_connect(conn_t *c)
{
    char id[32];
    snprintf(id, sizeof id, "lg-%s-%d", c->is_pub ? "pub" : "sub", c->index);
    mqtt_packet_t p = {.type = MQTT_CONNECT};
    p.u.connect.version = (mqtt_version_t)lg.opt.version;
    p.u.connect.clean_start = true;
    p.u.connect.keep_alive = 60;
    p.u.connect.client_id = (mqtt_bytes_t){(const uint8_t *)id, strlen(id)};
    queue_packet(c, &p);
    flush(c);
}

static void send_ack(conn_t *c, uint8_t type, uint16_t id)
{
    mqtt_packet_t p = {.type = type};
    p.u.ack.packet_id = id;
    queue_packet(c, &p);
}

static uint16_t next_id(conn_t *c)
{
    if (++c->next_id == 0) {
        c->next_id = 1;
    }
    return c->next_id;
}

/* Publishes as many messages as the window allows. */
static void pump_publisher(conn_t *c)
{
    static uint8_t payload[1 << 20];
    char topic[32];
    int tlen = snprintf(topic, sizeof topic, "bench/%d", c->index);
    /* The window is against the slowest subscriber, so no subscriber is
     * ever more than W of this publisher's messages behind: a broker's
     * per-client queue limit is never what ends the run. */
    long slowest = lg.delivered_per_pub[(size_t)c->index * lg.opt.subscribers];
    for (int s = 1; s < lg.opt.subscribers; s++) {
        long d = lg.delivered_per_pub[(size_t)c->index * lg.opt.subscribers + s];
        slowest = d < slowest ? d : slowest;
    }
    while (c->sent < lg.opt.messages && c->sent - slowest < lg.opt.window) {
        uint64_t t = now_ns();
        uint32_t idx = (uint32_t)c->index;
        memcpy(payload, &idx, 4);
        memcpy(payload + 4, &t, 8);
        mqtt_packet_t p = {.type = MQTT_PUBLISH};
        p.u.publish.qos = (uint8_t)lg.opt.qos;
        p.u.publish.topic = (mqtt_bytes_t){(const uint8_t *)topic, (size_t)tlen};
        p.u.publish.payload = (mqtt_bytes_t){payload, lg.opt.payload_size};
        if (lg.opt.qos > 0) {
            p.u.publish.packet_id = next_id(c);
        }
        queue_packet(c, &p);
        c->sent++;
    }
    flush(c);
}

static void record_delivery(const conn_t *sub, const mqtt_publish_t *pub)
{
    if (pub->payload.len < 12) {
        return;
    }
    uint32_t idx;
    uint64_t t;
    memcpy(&idx, pub->payload.data, 4);
    memcpy(&t, pub->payload.data + 4, 8);
    if (idx >= (uint32_t)lg.opt.publishers) {
        return;
    }
    lg.delivered_per_pub[(size_t)idx * lg.opt.subscribers + sub->index]++;
    lg.delivered++;
    if (lg.lat_seen++ % lg.lat_stride == 0 && lg.nlat < LATENCY_SAMPLES) {
        lg.lat_us[lg.nlat++] = (double)(now_ns() - t) / 1000.0;
    }
}

static void handle_packet(conn_t *c, const mqtt_packet_t *p)
{
    switch (p->type) {
    case MQTT_CONNACK:
        if (p->u.connack.reason != 0) {
            fprintf(stderr, "loadgen: connection refused (%u)\n", p->u.connack.reason);
            exit(2);
        }
        c->connected = true;
        if (c->is_pub) {
            lg.ready_pubs++;
        } else {
            mqtt_subscription_t s = {
                .filter = {(const uint8_t *)"bench/#", 7},
                .options = (uint8_t)lg.opt.qos,
            };
            mqtt_packet_t sub = {.type = MQTT_SUBSCRIBE};
            sub.u.subscribe.packet_id = next_id(c);
            sub.u.subscribe.entries = &s;
            sub.u.subscribe.count = 1;
            queue_packet(c, &sub);
        }
        break;
    case MQTT_SUBACK:
        c->subscribed = true;
        lg.ready_subs++;
        break;
    case MQTT_PUBLISH:
        record_delivery(c, &p->u.publish);
        if (p->u.publish.qos == 1) {
            send_ack(c, MQTT_PUBACK, p->u.publish.packet_id);
        } else if (p->u.publish.qos == 2) {
            send_ack(c, MQTT_PUBREC, p->u.publish.packet_id);
        }
        break;
    case MQTT_PUBREC:
        send_ack(c, MQTT_PUBREL, p->u.ack.packet_id);
        break;
    case MQTT_PUBREL:
        send_ack(c, MQTT_PUBCOMP, p->u.ack.packet_id);
        break;
    default: /* PUBACK, PUBCOMP, PINGRESP: nothing to do */
        break;
    }
}

static void on_readable(conn_t *c)
{
    for (;;) {
        buf_reserve(&c->in, 65536);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n == 0) {
            fprintf(stderr, "loadgen: broker closed the connection\n");
            exit(2);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            die("recv");
        }
        c->in.len += (size_t)n;
    }
    for (;;) {
        mqtt_fixed_header_t fh;
        const uint8_t *start = c->in.data + c->in.off;
        size_t avail = c->in.len - c->in.off;
        mqtt_err_t err = mqtt_fixed_header_decode(start, avail, &fh);
        if (err == MQTT_ERR_NEED_MORE) {
            break;
        }
        if (err != MQTT_OK) {
            fprintf(stderr, "loadgen: bad packet from broker: %s\n", mqtt_err_str(err));
            exit(2);
        }
        size_t total = (size_t)fh.header_len + fh.remaining;
        if (avail < total) {
            buf_reserve(&c->in, total);
            break;
        }
        mqtt_packet_t p;
        err = mqtt_decode(start, total, (mqtt_version_t)lg.opt.version, &p);
        if (err != MQTT_OK) {
            fprintf(stderr, "loadgen: bad packet from broker: %s\n", mqtt_err_str(err));
            exit(2);
        }
        handle_packet(c, &p);
        c->in.off += total;
    }
    flush(c);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double p)
{
    if (lg.nlat == 0) {
        return 0;
    }
    long i = (long)(p * (double)(lg.nlat - 1));
    return lg.lat_us[i];
}

/* Runs the event loop until `done` says so or the deadline passes. */
static bool run_until(bool (*done)(void), double deadline)
{
    struct epoll_event evs[256];
    while (!done()) {
        if (now_s() > deadline) {
            return false;
        }
        int n = epoll_wait(lg.epfd, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                on_readable(c);
            }
            if (evs[i].events & EPOLLOUT) {
                flush(c);
            }
        }
        for (int i = 0; i < lg.nconns; i++) {
            if (lg.conns[i].is_pub && lg.conns[i].connected &&
                lg.ready_subs == lg.opt.subscribers) {
                pump_publisher(&lg.conns[i]);
            }
        }
    }
    return true;
}

static bool all_ready(void)
{
    return lg.ready_subs == lg.opt.subscribers && lg.ready_pubs == lg.opt.publishers;
}

static bool all_delivered(void)
{
    return lg.delivered >= lg.expected;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen -p PORT [-h HOST] [-P publishers] [-S subscribers]\n"
                    "               [-n messages per publisher] [-q qos] [-s payload bytes]\n"
                    "               [-w window] [-V 4|5] [-T timeout seconds]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    lg.opt = (options_t){"127.0.0.1", NULL, 4, 4, 20000, 0, 64, 64, 4, 60.0};
    int ch;
    while ((ch = getopt(argc, argv, "h:p:P:S:n:q:s:w:V:T:")) != -1) {
        switch (ch) {
        case 'h':
            lg.opt.host = optarg;
            break;
        case 'p':
            lg.opt.port = optarg;
            break;
        case 'P':
            lg.opt.publishers = atoi(optarg);
            break;
        case 'S':
            lg.opt.subscribers = atoi(optarg);
            break;
        case 'n':
            lg.opt.messages = atol(optarg);
            break;
        case 'q':
            lg.opt.qos = atoi(optarg);
            break;
        case 's':
            lg.opt.payload_size = (size_t)atol(optarg);
            break;
        case 'w':
            lg.opt.window = atol(optarg);
            break;
        case 'V':
            lg.opt.version = atoi(optarg);
            break;
        case 'T':
            lg.opt.timeout_s = atof(optarg);
            break;
        default:
            usage();
        }
    }
    if (!lg.opt.port || lg.opt.publishers < 1 || lg.opt.subscribers < 1 || lg.opt.qos < 0 ||
        lg.opt.qos > 2 || lg.opt.payload_size < 12 || lg.opt.payload_size > (1 << 20) ||
        lg.opt.window < 1 || (lg.opt.version != 4 && lg.opt.version != 5)) {
        usage();
    }

    lg.epfd = epoll_create1(0);
    lg.nconns = lg.opt.publishers + lg.opt.subscribers;
    lg.conns = calloc((size_t)lg.nconns, sizeof(conn_t));
    lg.delivered_per_pub =
        calloc((size_t)lg.opt.publishers * (size_t)lg.opt.subscribers, sizeof(long));
    lg.lat_us = malloc(sizeof(double) * LATENCY_SAMPLES);
    if (lg.epfd < 0 || !lg.conns || !lg.delivered_per_pub || !lg.lat_us) {
        die("setup");
    }
    lg.expected = lg.opt.messages * lg.opt.publishers * lg.opt.subscribers;
    lg.lat_stride = lg.expected / LATENCY_SAMPLES + 1;

    for (int i = 0; i < lg.nconns; i++) {
        conn_t *c = &lg.conns[i];
        c->is_pub = i < lg.opt.publishers;
        c->index = c->is_pub ? i : i - lg.opt.publishers;
        c->fd = connect_to_broker();
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(lg.epfd, EPOLL_CTL_ADD, c->fd, &ev);
        send_connect(c);
    }
    double deadline = now_s() + lg.opt.timeout_s;
    if (!run_until(all_ready, deadline)) {
        fprintf(stderr, "loadgen: timed out connecting\n");
        return 1;
    }
    double t0 = now_s();
    bool ok = run_until(all_delivered, deadline);
    double secs = now_s() - t0;
    qsort(lg.lat_us, (size_t)lg.nlat, sizeof(double), cmp_double);
    printf("publishers=%d subscribers=%d qos=%d payload=%zu sent=%ld delivered=%ld "
           "seconds=%.3f msgs_per_s=%.0f deliveries_per_s=%.0f p50_us=%.0f p99_us=%.0f "
           "complete=%s\n",
           lg.opt.publishers, lg.opt.subscribers, lg.opt.qos, lg.opt.payload_size,
           lg.opt.messages * lg.opt.publishers, lg.delivered, secs,
           (double)lg.delivered / lg.opt.subscribers / secs, (double)lg.delivered / secs,
           percentile(0.50), percentile(0.99), ok ? "yes" : "no");
    for (int i = 0; i < lg.nconns; i++) {
        close(lg.conns[i].fd);
        free(lg.conns[i].in.data);
        free(lg.conns[i].out.data);
    }
    free(lg.conns);
    free(lg.delivered_per_pub);
    free(lg.lat_us);
    close(lg.epfd);
    return ok ? 0 : 1;
}
