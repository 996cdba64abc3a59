/*
 * Scenario driver for libmidge against a real broker (or a fake one):
 *
 *   midge_client_check SCENARIO PORT [key=value ...]
 *
 * keys: host, v (3/4/5), cafile, capath, alpn, cert, key, insecure=1, tlsver, user, pass,
 * topic (a prefix unique to the test), maxpkt (incoming limit), ka (keep
 * alive seconds), n (message count), size (payload bytes), qos, rxmax (MQTT 5
 * Receive Maximum announced by "recv"). Exits 0 and prints "OK" when the
 * scenario holds; otherwise prints "FAIL: why" and exits 1. Every wait is
 * bounded. Driven by tests/integration/test_client_*.py.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "midge/client.h"

static const char *opt_host = "127.0.0.1";
static int opt_port;
static int opt_version = 4;
static const char *opt_capath, *opt_alpn;
static const char *opt_cafile, *opt_cert, *opt_key, *opt_tlsver, *opt_user, *opt_pass;
static int opt_insecure;
static const char *opt_topic = "midge-check";
static unsigned opt_maxpkt, opt_keepalive;
static int opt_n = 1, opt_size = 3, opt_qos, opt_rxmax;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        printf("FAIL: ");                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
        return 1;                                                                                  \
    } while (0)

#define MAX_MSGS 2048

/* What one client observed; guarded by lock. */
typedef struct {
    pthread_mutex_t lock;
    int connects;
    int refused_code;
    bool session_present;
    int disconnects;
    midge_err_t last_err;
    char detail[256];
    int nmsg;
    int count; /* every message, also past MAX_MSGS */
    struct {
        char topic[128];
        unsigned char *payload;
        size_t len;
        int qos;
        bool retain;
        midge_props_t *props;
    } msgs[MAX_MSGS];
    int published;
    int subacks;
    uint8_t granted[8];
    int pings;
    bool no_store;
    midge_props_t *connack_props;
} obs_t;

static void obs_init(obs_t *o)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->lock, NULL);
    o->refused_code = -1;
}

static void obs_free(obs_t *o)
{
    for (int i = 0; i < o->nmsg; i++) {
        free(o->msgs[i].payload);
        midge_props_free(o->msgs[i].props);
    }
    midge_props_free(o->connack_props);
    pthread_mutex_destroy(&o->lock);
}

static void cb_connect(midge_client_t *c, void *ud, uint8_t code, bool sp, const midge_props_t *p)
{
    obs_t *o = ud;
    pthread_mutex_lock(&o->lock);
    if (code == 0) {
        o->connects++;
        o->session_present = sp;
        midge_props_free(o->connack_props);
        o->connack_props = midge_props_copy(p);
    } else {
        o->refused_code = code;
    }
    pthread_mutex_unlock(&o->lock);
}

static void cb_disconnect(midge_client_t *c, void *ud, midge_err_t err, const char *detail,
                          bool reconnecting)
{
    obs_t *o = ud;
    pthread_mutex_lock(&o->lock);
    o->disconnects++;
    o->last_err = err;
    snprintf(o->detail, sizeof(o->detail), "%s", detail);
    pthread_mutex_unlock(&o->lock);
}

static void cb_message(midge_client_t *c, void *ud, const midge_message_t *m)
{
    obs_t *o = ud;
    if (getenv("MIDGE_CHECK_DEBUG"))
        fprintf(stderr, "message %s q%d '%.*s'\n", m->topic, m->qos, (int)m->payload_len,
                (const char *)m->payload);
    pthread_mutex_lock(&o->lock);
    o->count++;
    if (!o->no_store && o->nmsg < MAX_MSGS) {
        int i = o->nmsg++;
        snprintf(o->msgs[i].topic, sizeof(o->msgs[i].topic), "%s", m->topic);
        o->msgs[i].payload = malloc(m->payload_len + 1);
        if (m->payload_len)
            memcpy(o->msgs[i].payload, m->payload, m->payload_len);
        o->msgs[i].len = m->payload_len;
        o->msgs[i].qos = m->qos;
        o->msgs[i].retain = m->retain;
        o->msgs[i].props = midge_props_count(m->props) ? midge_props_copy(m->props) : NULL;
    }
    pthread_mutex_unlock(&o->lock);
}

static void cb_publish(midge_client_t *c, void *ud, int mid, uint8_t reason, const midge_props_t *p)
{
    obs_t *o = ud;
    pthread_mutex_lock(&o->lock);
    o->published++;
    pthread_mutex_unlock(&o->lock);
}

static void cb_subscribe(midge_client_t *c, void *ud, int mid, size_t n, const uint8_t *g,
                         const midge_props_t *p)
{
    obs_t *o = ud;
    pthread_mutex_lock(&o->lock);
    if (o->subacks < 8 && n)
        o->granted[o->subacks] = g[0];
    o->subacks++;
    pthread_mutex_unlock(&o->lock);
}

static void cb_log(midge_client_t *c, void *ud, const char *line)
{
    obs_t *o = ud;
    if (strstr(line, "received PINGRESP")) {
        pthread_mutex_lock(&o->lock);
        o->pings++;
        pthread_mutex_unlock(&o->lock);
    }
    if (getenv("MIDGE_CHECK_DEBUG"))
        fprintf(stderr, "%s\n", line);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to ms for *field (an int in o) to reach at least want. */
static bool wait_int(obs_t *o, const int *field, int want, int ms)
{
    for (int t = 0; t < ms; t += 5) {
        pthread_mutex_lock(&o->lock);
        int v = *field;
        pthread_mutex_unlock(&o->lock);
        if (v >= want)
            return true;
        sleep_ms(5);
    }
    return false;
}

static midge_client_t *make(const char *id, obs_t *o, int version)
{
    midge_client_t *c = midge_client_new(id, o);
    if (!c)
        return NULL;
    midge_callbacks_t cb = {cb_connect,   cb_disconnect, cb_message, cb_publish,
                            cb_subscribe, NULL,          cb_log};
    midge_set_callbacks(c, &cb);
    midge_set_version(c, version);
    midge_set_reconnect(c, true, 100, 500);
    if (opt_cafile || opt_capath) {
        midge_tls_t t = {.cafile = opt_cafile,
                         .capath = opt_capath,
                         .alpn = opt_alpn,
                         .certfile = opt_cert,
                         .keyfile = opt_key,
                         .tls_version = opt_tlsver,
                         .insecure = opt_insecure != 0};
        if (midge_set_tls(c, &t) != MIDGE_OK) {
            char e[256];
            midge_last_error(c, e, sizeof(e));
            printf("tls setup: %s\n", e);
            midge_client_destroy(c);
            return NULL;
        }
    }
    if (opt_maxpkt)
        midge_set_max_packet_size(c, opt_maxpkt);
    if (opt_keepalive)
        midge_set_keepalive(c, opt_keepalive);
    if (opt_user)
        midge_set_credentials(c, opt_user, opt_pass, opt_pass ? strlen(opt_pass) : 0);
    return c;
}

/* Connects with the loop thread and waits for CONNACK. */
static bool start(midge_client_t *c, obs_t *o)
{
    pthread_mutex_lock(&o->lock);
    int before = o->connects;
    pthread_mutex_unlock(&o->lock);
    if (midge_loop_start(c) != MIDGE_OK)
        return false;
    midge_err_t e = midge_connect(c, opt_host, opt_port);
    if (e != MIDGE_OK) {
        char d[256];
        midge_last_error(c, d, sizeof(d));
        printf("connect: %s: %s\n", midge_strerror(e), d);
        return false;
    }
    if (!wait_int(o, &o->connects, before + 1, 5000)) {
        pthread_mutex_lock(&o->lock);
        printf("no CONNACK: %s\n", o->detail);
        pthread_mutex_unlock(&o->lock);
        return false;
    }
    return true;
}

/* Disconnects cleanly and waits for the end. */
static void stop(midge_client_t *c, obs_t *o)
{
    midge_disconnect(c);
    midge_loop_stop(c);
}

static bool subscribe_wait(midge_client_t *c, obs_t *o, const char *filter, int opts)
{
    pthread_mutex_lock(&o->lock);
    int before = o->subacks;
    pthread_mutex_unlock(&o->lock);
    if (midge_subscribe(c, NULL, filter, opts, NULL) != MIDGE_OK)
        return false;
    return wait_int(o, &o->subacks, before + 1, 5000);
}

/* A topic under the test's prefix; main thread only (static buffers). */
static char *topic(const char *suffix)
{
    static char buf[8][160];
    static int n;
    char *b = buf[n++ % 8];
    snprintf(b, 160, "%s/%s", opt_topic, suffix);
    return b;
}

/* ---- scenarios ---- */

static int sc_pubsub(void)
{
    obs_t so, po;
    obs_init(&so);
    obs_init(&po);
    midge_client_t *s = make("chk-sub", &so, opt_version), *p = make("chk-pub", &po, opt_version);
    if (!s || !p || !start(s, &so) || !start(p, &po))
        FAIL("connect");
    for (int sq = 0; sq <= 2; sq++) {
        char f[64];
        snprintf(f, sizeof(f), "sq%d/#", sq);
        if (!subscribe_wait(s, &so, topic(f), sq))
            FAIL("subscribe qos %d", sq);
        if (so.granted[sq] != sq)
            FAIL("granted %d for %d", so.granted[sq], sq);
    }
    /* Every publish QoS to every subscription QoS, 10 messages each. */
    int n = 0;
    for (int sq = 0; sq <= 2; sq++)
        for (int pq = 0; pq <= 2; pq++)
            for (int i = 0; i < 10; i++) {
                char t[64], pl[64];
                snprintf(t, sizeof(t), "sq%d/pq%d", sq, pq);
                snprintf(pl, sizeof(pl), "m-%d-%d-%d", sq, pq, i);
                if (midge_publish(p, NULL, topic(t), pl, strlen(pl), pq, false, NULL) != MIDGE_OK)
                    FAIL("publish");
                n++;
            }
    if (!wait_int(&so, &so.nmsg, n, 10000))
        FAIL("received %d of %d", so.nmsg, n);
    if (!wait_int(&po, &po.published, n, 5000))
        FAIL("on_publish %d of %d", po.published, n);
    /* Per (sq, pq) the order holds and the QoS is the minimum. */
    int seen[3][3] = {{0}};
    for (int i = 0; i < so.nmsg; i++) {
        int sq, pq, k;
        char pl[64];
        snprintf(pl, sizeof(pl), "%.*s", (int)so.msgs[i].len, (char *)so.msgs[i].payload);
        if (sscanf(pl, "m-%d-%d-%d", &sq, &pq, &k) != 3)
            FAIL("payload %s", pl);
        if (k != seen[sq][pq]++)
            FAIL("order: %s", pl);
        int want = sq < pq ? sq : pq;
        if (so.msgs[i].qos != want)
            FAIL("qos %d for %s", so.msgs[i].qos, pl);
    }
    /* A 1 MB binary payload, byte-exact. */
    size_t big = 1 << 20;
    unsigned char *buf = malloc(big);
    srand(7);
    for (size_t i = 0; i < big; i++)
        buf[i] = (unsigned char)rand();
    int before = so.nmsg;
    if (midge_publish(p, NULL, topic("sq1/big"), buf, big, 1, false, NULL) != MIDGE_OK)
        FAIL("publish big");
    if (!wait_int(&so, &so.nmsg, before + 1, 10000))
        FAIL("big message not received");
    if (so.msgs[before].len != big || memcmp(so.msgs[before].payload, buf, big))
        FAIL("big payload differs");
    free(buf);
    stop(s, &so);
    stop(p, &po);
    midge_client_destroy(s);
    midge_client_destroy(p);
    obs_free(&so);
    obs_free(&po);
    printf("OK %d messages\n", n + 1);
    return 0;
}

static int sc_retained(void)
{
    obs_t po, so;
    obs_init(&po);
    obs_init(&so);
    midge_client_t *p = make("chk-ret-pub", &po, opt_version);
    if (!p || !start(p, &po))
        FAIL("connect");
    midge_publish(p, NULL, topic("ret"), "kept", 4, 1, true, NULL);
    if (!wait_int(&po, &po.published, 1, 5000))
        FAIL("publish");
    midge_client_t *s = make("chk-ret-sub", &so, opt_version);
    if (!s || !start(s, &so) || !subscribe_wait(s, &so, topic("ret"), 1))
        FAIL("subscribe");
    if (!wait_int(&so, &so.nmsg, 1, 5000))
        FAIL("no retained message");
    if (!so.msgs[0].retain || so.msgs[0].len != 4 || memcmp(so.msgs[0].payload, "kept", 4))
        FAIL("retained message wrong");
    /* An empty retained message clears it. */
    midge_publish(p, NULL, topic("ret"), NULL, 0, 1, true, NULL);
    if (!wait_int(&po, &po.published, 2, 5000) || !wait_int(&so, &so.nmsg, 2, 5000))
        FAIL("clear not delivered");
    stop(s, &so);
    midge_client_destroy(s);
    obs_t s2o;
    obs_init(&s2o);
    midge_client_t *s2 = make("chk-ret-sub2", &s2o, opt_version);
    if (!s2 || !start(s2, &s2o) || !subscribe_wait(s2, &s2o, topic("ret"), 1))
        FAIL("subscribe 2");
    sleep_ms(300);
    if (s2o.nmsg != 0)
        FAIL("retained message not cleared");
    stop(s2, &s2o);
    stop(p, &po);
    midge_client_destroy(s2);
    midge_client_destroy(p);
    obs_free(&so);
    obs_free(&s2o);
    obs_free(&po);
    printf("OK\n");
    return 0;
}

static int sc_will(void)
{
    obs_t so, wo, co;
    obs_init(&so);
    obs_init(&wo);
    obs_init(&co);
    midge_client_t *s = make("chk-will-sub", &so, opt_version);
    if (!s || !start(s, &so) || !subscribe_wait(s, &so, topic("will/#"), 1))
        FAIL("subscribe");
    /* A clean DISCONNECT: no will. */
    midge_client_t *clean = make("chk-will-clean", &co, opt_version);
    midge_set_will(clean, topic("will/clean"), "bad", 3, 1, false, NULL);
    if (!clean || !start(clean, &co))
        FAIL("connect clean");
    stop(clean, &co);
    midge_client_destroy(clean);
    if (opt_version == 5) {
        /* DISCONNECT with reason 0x04 asks for the will. */
        obs_t dwo;
        obs_init(&dwo);
        midge_client_t *dw = make("chk-will-dw", &dwo, 5);
        midge_set_will(dw, topic("will/asked"), "asked", 5, 1, false, NULL);
        if (!dw || !start(dw, &dwo))
            FAIL("connect will-asking client");
        midge_disconnect_v5(dw, 0x04, NULL);
        midge_loop_stop(dw);
        midge_client_destroy(dw);
        obs_free(&dwo);
        if (!wait_int(&so, &so.nmsg, 1, 5000) || strcmp(so.msgs[0].topic, topic("will/asked")))
            FAIL("no will after DISCONNECT 0x04");
        pthread_mutex_lock(&so.lock);
        free(so.msgs[0].payload);
        midge_props_free(so.msgs[0].props);
        so.nmsg = 0;
        pthread_mutex_unlock(&so.lock);
    }
    /* Destroyed without DISCONNECT: the will is published. */
    midge_client_t *w = make("chk-will", &wo, opt_version);
    midge_props_t *props = NULL;
    if (opt_version == 5) {
        props = midge_props_new();
        midge_props_add_user(props, "why", "gone");
        midge_props_add_string(props, MIDGE_PROP_CONTENT_TYPE, "text/plain");
    }
    if (midge_set_will(w, topic("will/w"), "gone", 4, 1, false, props) != MIDGE_OK)
        FAIL("set will");
    midge_props_free(props);
    if (!start(w, &wo))
        FAIL("connect will client");
    midge_client_destroy(w);
    if (!wait_int(&so, &so.nmsg, 1, 5000))
        FAIL("no will");
    sleep_ms(200);
    if (so.nmsg != 1 || strcmp(so.msgs[0].topic, topic("will/w")) || so.msgs[0].len != 4)
        FAIL("wrong will: %d messages, first %s", so.nmsg, so.msgs[0].topic);
    if (opt_version == 5) {
        midge_prop_t pr;
        if (!midge_props_find(so.msgs[0].props, MIDGE_PROP_USER_PROPERTY, &pr) ||
            strcmp(pr.data, "why") || strcmp(pr.value, "gone"))
            FAIL("will user property lost");
        if (!midge_props_find(so.msgs[0].props, MIDGE_PROP_CONTENT_TYPE, &pr) ||
            strcmp(pr.data, "text/plain"))
            FAIL("will content type lost");
    }
    stop(s, &so);
    midge_client_destroy(s);
    obs_free(&so);
    obs_free(&wo);
    obs_free(&co);
    printf("OK\n");
    return 0;
}

static midge_client_t *make_persistent(const char *id, obs_t *o)
{
    midge_client_t *c = make(id, o, opt_version);
    midge_set_clean(c, false);
    if (opt_version == 5) {
        midge_props_t *p = midge_props_new();
        midge_props_add_int(p, MIDGE_PROP_SESSION_EXPIRY_INTERVAL, 300);
        midge_set_connect_props(c, p);
        midge_props_free(p);
    }
    return c;
}

static int sc_persistent(void)
{
    obs_t so, po, s2o;
    obs_init(&so);
    obs_init(&po);
    obs_init(&s2o);
    midge_client_t *s = make_persistent("chk-persist", &so);
    if (!s || !start(s, &so))
        FAIL("connect");
    if (!subscribe_wait(s, &so, topic("p/q1"), 1) || !subscribe_wait(s, &so, topic("p/q2"), 2))
        FAIL("subscribe");
    stop(s, &so);
    midge_client_destroy(s);
    midge_client_t *p = make("chk-persist-pub", &po, opt_version);
    if (!p || !start(p, &po))
        FAIL("connect publisher");
    for (int i = 0; i < 5; i++) {
        char pl[16];
        snprintf(pl, sizeof(pl), "q1-%d", i);
        midge_publish(p, NULL, topic("p/q1"), pl, strlen(pl), 1, false, NULL);
        snprintf(pl, sizeof(pl), "q2-%d", i);
        midge_publish(p, NULL, topic("p/q2"), pl, strlen(pl), 2, false, NULL);
    }
    if (!wait_int(&po, &po.published, 10, 5000))
        FAIL("publish");
    /* Reconnect: the session holds the subscriptions and the messages. */
    midge_client_t *s2 = make_persistent("chk-persist", &s2o);
    midge_set_resubscribe(s2, false);
    if (!s2 || !start(s2, &s2o))
        FAIL("reconnect");
    if (!s2o.session_present)
        FAIL("session not present");
    if (!wait_int(&s2o, &s2o.nmsg, 10, 5000))
        FAIL("offline messages: %d of 10", s2o.nmsg);
    int q1 = 0, q2 = 0;
    for (int i = 0; i < s2o.nmsg; i++) {
        char want[16];
        bool is2 = s2o.msgs[i].qos == 2;
        snprintf(want, sizeof(want), "q%d-%d", is2 ? 2 : 1, is2 ? q2++ : q1++);
        if (s2o.msgs[i].len != strlen(want) || memcmp(s2o.msgs[i].payload, want, strlen(want)))
            FAIL("message %d: want %s", i, want);
    }
    /* End the session so a rerun starts clean. */
    midge_disconnect(s2);
    midge_loop_stop(s2);
    midge_client_destroy(s2);
    obs_t eo;
    obs_init(&eo);
    midge_client_t *e = make("chk-persist", &eo, opt_version);
    if (e && start(e, &eo))
        stop(e, &eo);
    midge_client_destroy(e);
    stop(p, &po);
    midge_client_destroy(p);
    obs_free(&so);
    obs_free(&po);
    obs_free(&s2o);
    obs_free(&eo);
    printf("OK\n");
    return 0;
}

static int sc_props(void)
{
    obs_t so, po;
    obs_init(&so);
    obs_init(&po);
    if (opt_version != 5)
        FAIL("props needs v=5");
    midge_client_t *s = make("chk-props-sub", &so, 5), *p = make("chk-props-pub", &po, 5);
    midge_props_t *cp = midge_props_new();
    midge_props_add_int(cp, MIDGE_PROP_RECEIVE_MAXIMUM, 100);
    midge_props_add_int(cp, MIDGE_PROP_TOPIC_ALIAS_MAXIMUM, 10);
    midge_props_add_int(cp, MIDGE_PROP_MAXIMUM_PACKET_SIZE, 1 << 20);
    midge_props_add_int(cp, MIDGE_PROP_REQUEST_PROBLEM_INFORMATION, 1);
    midge_props_add_int(cp, MIDGE_PROP_REQUEST_RESPONSE_INFORMATION, 1);
    midge_props_add_int(cp, MIDGE_PROP_SESSION_EXPIRY_INTERVAL, 0);
    midge_props_add_user(cp, "client", "check");
    if (midge_set_connect_props(s, cp) != MIDGE_OK)
        FAIL("connect props");
    midge_props_free(cp);
    if (!s || !p || !start(s, &so) || !start(p, &po))
        FAIL("connect");
    if (!subscribe_wait(s, &so, topic("props"), 2))
        FAIL("subscribe");
    midge_props_t *pp = midge_props_new();
    midge_props_add_user(pp, "a", "1");
    midge_props_add_user(pp, "a", "2");
    midge_props_add_user(pp, "b", "");
    midge_props_add_string(pp, MIDGE_PROP_RESPONSE_TOPIC, "reply/here");
    midge_props_add_binary(pp, MIDGE_PROP_CORRELATION_DATA, "\x00\x01\xff", 3);
    midge_props_add_string(pp, MIDGE_PROP_CONTENT_TYPE, "application/json");
    midge_props_add_int(pp, MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
    midge_props_add_int(pp, MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL, 120);
    if (midge_publish(p, NULL, topic("props"), "{}", 2, 2, false, pp) != MIDGE_OK)
        FAIL("publish");
    midge_props_free(pp);
    if (!wait_int(&so, &so.nmsg, 1, 5000))
        FAIL("no message");
    const midge_props_t *r = so.msgs[0].props;
    midge_prop_t pr;
    const char *ukeys[3] = {"a", "a", "b"}, *uvals[3] = {"1", "2", ""};
    int u = 0;
    for (size_t i = 0; i < midge_props_count(r); i++) {
        midge_props_get(r, i, &pr);
        if (pr.id != MIDGE_PROP_USER_PROPERTY)
            continue;
        if (u >= 3 || strcmp(pr.data, ukeys[u]) || strcmp(pr.value, uvals[u]))
            FAIL("user property %d", u);
        u++;
    }
    if (u != 3)
        FAIL("%d user properties", u);
    if (!midge_props_find(r, MIDGE_PROP_RESPONSE_TOPIC, &pr) || strcmp(pr.data, "reply/here"))
        FAIL("response topic");
    if (!midge_props_find(r, MIDGE_PROP_CORRELATION_DATA, &pr) || pr.len != 3 ||
        memcmp(pr.data, "\x00\x01\xff", 3))
        FAIL("correlation data");
    if (!midge_props_find(r, MIDGE_PROP_CONTENT_TYPE, &pr) || strcmp(pr.data, "application/json"))
        FAIL("content type");
    if (!midge_props_find(r, MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR, &pr) || pr.num != 1)
        FAIL("payload format");
    if (!midge_props_find(r, MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL, &pr) || pr.num > 120 ||
        pr.num < 100)
        FAIL("message expiry");
    /* Several messages on one topic: a server may use topic aliases. */
    for (int i = 0; i < 5; i++)
        midge_publish(p, NULL, topic("props"), "x", 1, 0, false, NULL);
    if (!wait_int(&so, &so.nmsg, 6, 5000))
        FAIL("alias messages");
    for (int i = 1; i < 6; i++)
        if (strcmp(so.msgs[i].topic, topic("props")))
            FAIL("topic %s", so.msgs[i].topic);
    /* A property the server cannot take in PUBLISH is refused locally. */
    midge_props_t *bad = midge_props_new();
    midge_props_add_int(bad, MIDGE_PROP_SESSION_EXPIRY_INTERVAL, 1);
    if (midge_publish(p, NULL, topic("props"), "x", 1, 0, false, bad) != MIDGE_ERR_INVAL)
        FAIL("bad property accepted");
    midge_props_free(bad);
    stop(s, &so);
    stop(p, &po);
    midge_client_destroy(s);
    midge_client_destroy(p);
    obs_free(&so);
    obs_free(&po);
    printf("OK\n");
    return 0;
}

/* Connected, then waits for the test to restart the broker: prints
 * "READY", expects a disconnect, publishes while offline, and checks that
 * after the automatic reconnect the resubscription delivers them. */
static int sc_reconnect(void)
{
    obs_t o;
    obs_init(&o);
    midge_client_t *c = make("chk-reconnect", &o, opt_version);
    midge_set_queue_limits(c, 5, 1 << 20);
    if (!c || !start(c, &o) || !subscribe_wait(c, &o, topic("rc/#"), 1))
        FAIL("connect");
    printf("READY\n");
    fflush(stdout);
    if (!wait_int(&o, &o.disconnects, 1, 20000))
        FAIL("no disconnect seen");
    printf("OFFLINE %s\n", o.detail);
    fflush(stdout);
    int queued = 0;
    for (int i = 0; i < 8; i++) {
        char pl[16];
        snprintf(pl, sizeof(pl), "off-%d", i);
        midge_err_t e = midge_publish(c, NULL, topic("rc/x"), pl, strlen(pl), 1, false, NULL);
        if (e == MIDGE_OK)
            queued++;
        else if (e != MIDGE_ERR_QUEUE_FULL)
            FAIL("publish offline: %s", midge_strerror(e));
    }
    if (queued != 5)
        FAIL("queued %d with a bound of 5", queued);
    if (!wait_int(&o, &o.connects, 2, 20000))
        FAIL("no reconnect");
    if (!wait_int(&o, &o.nmsg, 5, 10000))
        FAIL("received %d of 5 after reconnect", o.nmsg);
    for (int i = 0; i < 5; i++) {
        char pl[16];
        snprintf(pl, sizeof(pl), "off-%d", i);
        if (o.msgs[i].len != strlen(pl) || memcmp(o.msgs[i].payload, pl, strlen(pl)))
            FAIL("message %d", i);
    }
    stop(c, &o);
    midge_client_destroy(c);
    obs_free(&o);
    printf("OK\n");
    return 0;
}

struct thr {
    midge_client_t *c;
    int id, n, failed;
};

static void *publisher(void *arg)
{
    struct thr *t = arg;
    /* Not topic(): its rotating static buffers are not for threads. */
    char tp[160];
    snprintf(tp, sizeof(tp), "%s/thr", opt_topic);
    for (int i = 0; i < t->n; i++) {
        char pl[32];
        snprintf(pl, sizeof(pl), "%d-%d", t->id, i);
        midge_err_t e;
        int mid = 0; /* one QoS per thread: order holds only within a QoS level */
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* The queue bound pushes back while the broker catches up: retry
         * for up to 20 s (a loaded machine can be slow, not wrong). */
        for (;;) {
            e = midge_publish(t->c, &mid, tp, pl, strlen(pl), 1 + (t->id & 1), false, NULL);
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (e != MIDGE_ERR_QUEUE_FULL || now.tv_sec - t0.tv_sec > 20)
                break;
            sleep_ms(1);
        }
        if (getenv("MIDGE_CHECK_DEBUG"))
            fprintf(stderr, "published %s as m%d\n", pl, mid);
        if (e != MIDGE_OK)
            t->failed++;
    }
    return NULL;
}

static int sc_threads(void)
{
    enum { T = 4, N = 250 };
    obs_t so, po;
    obs_init(&so);
    obs_init(&po);
    midge_client_t *s = make("chk-thr-sub", &so, opt_version),
                   *p = make("chk-thr-pub", &po, opt_version);
    midge_set_queue_limits(p, 100, 1 << 20);
    if (!s || !p || !start(s, &so) || !start(p, &po) || !subscribe_wait(s, &so, topic("thr"), 2))
        FAIL("connect");
    pthread_t th[T];
    struct thr a[T];
    for (int i = 0; i < T; i++) {
        a[i] = (struct thr){p, i, N, 0};
        pthread_create(&th[i], NULL, publisher, &a[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        if (a[i].failed)
            FAIL("thread %d: %d failed publishes", i, a[i].failed);
    }
    if (!wait_int(&so, &so.nmsg, T * N, 20000))
        FAIL("received %d of %d", so.nmsg, T * N);
    /* Each message exactly once. Order is not checked: Mosquitto may send
     * queued QoS 2 messages out of order when its in-flight window frees. */
    static bool seen[T][N];
    for (int i = 0; i < so.nmsg; i++) {
        int t, k;
        char pl[32];
        snprintf(pl, sizeof(pl), "%.*s", (int)so.msgs[i].len, (char *)so.msgs[i].payload);
        if (sscanf(pl, "%d-%d", &t, &k) != 2 || t < 0 || t >= T || k < 0 || k >= N || seen[t][k])
            FAIL("message %s unknown or duplicated", pl);
        seen[t][k] = true;
    }
    stop(s, &so);
    stop(p, &po);
    midge_client_destroy(s);
    midge_client_destroy(p);
    obs_free(&so);
    obs_free(&po);
    printf("OK %d\n", T * N);
    return 0;
}

/* Expects the connection to fail; prints the reason for the test. */
static int sc_expect_fail(void)
{
    obs_t o;
    obs_init(&o);
    midge_client_t *c = make("chk-fail", &o, opt_version);
    if (!c) {
        printf("ERROR setup\n");
        return 0;
    }
    midge_set_reconnect(c, false, 0, 0);
    midge_loop_start(c);
    midge_err_t e = midge_connect(c, opt_host, opt_port);
    if (e != MIDGE_OK) {
        char d[256];
        midge_last_error(c, d, sizeof(d));
        printf("ERROR %s: %s\n", midge_strerror(e), d);
    } else {
        if (!wait_int(&o, &o.disconnects, 1, 10000))
            FAIL("still connected");
        pthread_mutex_lock(&o.lock);
        if (o.refused_code >= 0)
            printf("REFUSED %s\n", midge_connack_string(opt_version, (uint8_t)o.refused_code));
        printf("ERROR %s: %s\n", midge_strerror(o.last_err), o.detail);
        pthread_mutex_unlock(&o.lock);
    }
    midge_loop_stop(c);
    midge_client_destroy(c);
    obs_free(&o);
    return 0;
}

/* Connects, subscribes, publishes one QoS 1 message to itself (over TLS
 * when cafile is given). */
static int sc_selfpub(void)
{
    obs_t o;
    obs_init(&o);
    midge_client_t *c = make("chk-self", &o, opt_version);
    if (!c || !start(c, &o) || !subscribe_wait(c, &o, topic("self"), 1))
        FAIL("connect: %s", o.detail);
    midge_publish(c, NULL, topic("self"), "hello", 5, 1, false, NULL);
    if (!wait_int(&o, &o.nmsg, 1, 5000))
        FAIL("no message");
    stop(c, &o);
    midge_client_destroy(c);
    obs_free(&o);
    printf("OK\n");
    return 0;
}

static int sc_keepalive(void)
{
    obs_t o;
    obs_init(&o);
    midge_client_t *c = make("chk-ka", &o, opt_version);
    midge_set_keepalive(c, 1);
    if (!c || !start(c, &o))
        FAIL("connect");
    if (!wait_int(&o, &o.pings, 2, 5000))
        FAIL("%d PINGRESP in 5 s with keep alive 1", o.pings);
    if (!midge_is_connected(c) || o.disconnects)
        FAIL("dropped");
    stop(c, &o);
    midge_client_destroy(c);
    obs_free(&o);
    printf("OK\n");
    return 0;
}

/* The caller's loop: poll on midge_socket / midge_timeout_ms, midge_step. */
static bool drive(midge_client_t **cs, int n, obs_t *o, const int *field, int want, int ms)
{
    for (int t = 0; t < ms;) {
        pthread_mutex_lock(&o->lock);
        int v = *field;
        pthread_mutex_unlock(&o->lock);
        if (v >= want)
            return true;
        struct pollfd p[4];
        int timeout = 50;
        for (int i = 0; i < n; i++) {
            p[i].fd = midge_socket(cs[i]);
            p[i].events = (short)(POLLIN | (midge_want_write(cs[i]) ? POLLOUT : 0));
            int to = midge_timeout_ms(cs[i]);
            if (to >= 0 && to < timeout)
                timeout = to;
        }
        poll(p, (nfds_t)n, timeout);
        t += timeout ? timeout : 1;
        for (int i = 0; i < n; i++)
            midge_step(cs[i]);
    }
    return false;
}

static int sc_callerloop(void)
{
    obs_t so, po;
    obs_init(&so);
    obs_init(&po);
    midge_client_t *cs[2] = {make("chk-cl-sub", &so, opt_version),
                             make("chk-cl-pub", &po, opt_version)};
    if (!cs[0] || !cs[1] || midge_connect(cs[0], opt_host, opt_port) ||
        midge_connect(cs[1], opt_host, opt_port))
        FAIL("connect");
    if (!drive(cs, 2, &so, &so.connects, 1, 5000) || !drive(cs, 2, &po, &po.connects, 1, 5000))
        FAIL("no CONNACK");
    midge_subscribe(cs[0], NULL, topic("cl"), 2, NULL);
    if (!drive(cs, 2, &so, &so.subacks, 1, 5000))
        FAIL("no SUBACK");
    for (int i = 0; i < 20; i++)
        midge_publish(cs[1], NULL, topic("cl"), "loop", 4, i % 3, false, NULL);
    if (!drive(cs, 2, &so, &so.nmsg, 20, 5000))
        FAIL("received %d of 20", so.nmsg);
    midge_disconnect(cs[0]);
    midge_disconnect(cs[1]);
    for (int i = 0; i < 2; i++) {
        int guard = 0;
        while (midge_step(cs[i]) == MIDGE_OK && guard++ < 200)
            sleep_ms(5);
        if (guard >= 200)
            FAIL("disconnect did not finish");
    }
    midge_client_destroy(cs[0]);
    midge_client_destroy(cs[1]);
    obs_free(&so);
    obs_free(&po);
    printf("OK\n");
    return 0;
}

/* For the fake broker tests: connect (reconnecting quickly), publish one
 * QoS 1 and one QoS 2 message, subscribe, and run until the broker has
 * completed both (or 10 s pass). */
static int sc_fake_session(void)
{
    obs_t o;
    obs_init(&o);
    midge_client_t *c = make("chk-fake", &o, opt_version);
    midge_set_clean(c, false);
    if (!c || midge_loop_start(c) || midge_connect(c, opt_host, opt_port))
        FAIL("connect");
    midge_publish(c, NULL, "fake/q1", "one", 3, 1, false, NULL);
    midge_publish(c, NULL, "fake/q2", "two", 3, 2, false, NULL);
    if (!wait_int(&o, &o.published, 2, 10000))
        FAIL("completed %d of 2 (%s)", o.published, o.detail);
    stop(c, &o);
    midge_client_destroy(c);
    printf("OK connects=%d\n", o.connects);
    obs_free(&o);
    return 0;
}

/* Subscribes to everything (MQTT 5: announcing a topic alias maximum of
 * 5) and prints each message as "MSG topic payload qN" until n arrived or
 * the connection ends ("ERROR ..."). */
static int sc_recv(void)
{
    obs_t o;
    obs_init(&o);
    midge_client_t *c = make("chk-recv", &o, opt_version);
    midge_set_reconnect(c, false, 0, 0);
    if (opt_version == 5) {
        midge_props_t *p = midge_props_new();
        midge_props_add_int(p, MIDGE_PROP_TOPIC_ALIAS_MAXIMUM, 5);
        if (opt_rxmax)
            midge_props_add_int(p, MIDGE_PROP_RECEIVE_MAXIMUM, (uint32_t)opt_rxmax);
        midge_set_connect_props(c, p);
        midge_props_free(p);
    }
    midge_subscribe(c, NULL, "#", 2, NULL);
    if (midge_loop_start(c) || midge_connect(c, opt_host, opt_port))
        FAIL("connect");
    for (int t = 0; t < 10000; t += 5) {
        pthread_mutex_lock(&o.lock);
        bool done = o.nmsg >= opt_n || o.disconnects;
        pthread_mutex_unlock(&o.lock);
        if (done)
            break;
        sleep_ms(5);
    }
    sleep_ms(100); /* let acknowledgements go out, and late duplicates in */
    pthread_mutex_lock(&o.lock);
    for (int i = 0; i < o.nmsg; i++)
        printf("MSG %s %.*s q%d\n", o.msgs[i].topic, (int)o.msgs[i].len, (char *)o.msgs[i].payload,
               o.msgs[i].qos);
    if (o.disconnects)
        printf("ERROR %s: %s\n", midge_strerror(o.last_err), o.detail);
    pthread_mutex_unlock(&o.lock);
    stop(c, &o);
    midge_client_destroy(c);
    obs_free(&o);
    return 0;
}

/* Publishes n QoS 1 messages of `size` bytes and waits for them all to
 * complete; prints "PUBERR why" for a refused publish. */
static int sc_burst(void)
{
    obs_t o;
    obs_init(&o);
    midge_client_t *c = make("chk-burst", &o, opt_version);
    if (!c || !start(c, &o))
        FAIL("connect");
    char *pl = calloc(1, (size_t)opt_size + 1);
    int ok = 0;
    for (int i = 0; i < opt_n; i++) {
        midge_err_t e = midge_publish(c, NULL, "burst", pl, (size_t)opt_size, 1, false, NULL);
        if (e == MIDGE_OK)
            ok++;
        else
            printf("PUBERR %s\n", midge_strerror(e));
    }
    free(pl);
    if (!wait_int(&o, &o.published, ok, 10000))
        FAIL("completed %d of %d (%s)", o.published, ok, o.detail);
    stop(c, &o);
    midge_client_destroy(c);
    obs_free(&o);
    printf("OK %d\n", ok);
    return 0;
}

static void forever_message(midge_client_t *c, void *ud, const midge_message_t *m)
{
    cb_message(c, ud, m);
    midge_disconnect(c);
}

/* midge_loop_forever in the calling thread: returns MIDGE_OK once the
 * message callback disconnects. */
static int sc_forever(void)
{
    obs_t o;
    obs_init(&o);
    midge_client_t *c = make("chk-forever", &o, opt_version);
    midge_callbacks_t cb = {cb_connect,   cb_disconnect, forever_message, cb_publish,
                            cb_subscribe, NULL,          cb_log};
    midge_set_callbacks(c, &cb);
    midge_subscribe(c, NULL, topic("forever"), 1, NULL);
    midge_publish(c, NULL, topic("forever"), "bye", 3, 1, false, NULL);
    if (midge_connect(c, opt_host, opt_port) != MIDGE_OK)
        FAIL("connect");
    midge_err_t e = midge_loop_forever(c);
    if (e != MIDGE_OK || o.nmsg != 1 || midge_step(c) != MIDGE_ERR_NO_CONN)
        FAIL("loop_forever returned %s with %d messages", midge_strerror(e), o.nmsg);
    midge_client_destroy(c);
    obs_free(&o);
    printf("OK\n");
    return 0;
}

static double secs_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Throughput: n messages of `size` bytes at QoS `qos` from one client to
 * another; prints publish calls per second and end-to-end messages per
 * second. */
static int sc_bench(void)
{
    obs_t so, po;
    obs_init(&so);
    obs_init(&po);
    so.no_store = true;
    midge_client_t *s = make("chk-bench-sub", &so, opt_version),
                   *p = make("chk-bench-pub", &po, opt_version);
    midge_set_queue_limits(p, 65535, 1u << 30);
    midge_set_max_inflight(p, 20);
    if (!s || !p || !start(s, &so) || !start(p, &po) ||
        !subscribe_wait(s, &so, topic("bench"), opt_qos))
        FAIL("connect");
    char *pl = calloc(1, (size_t)opt_size + 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < opt_n; i++) {
        midge_err_t e;
        int tries = 0;
        while ((e = midge_publish(p, NULL, topic("bench"), pl, (size_t)opt_size, opt_qos, false,
                                  NULL)) == MIDGE_ERR_QUEUE_FULL &&
               tries++ < 100000)
            sleep_ms(1);
        if (e != MIDGE_OK)
            FAIL("publish: %s", midge_strerror(e));
    }
    double pub_s = secs_since(&t0);
    if (!wait_int(&so, &so.count, opt_n, 120000))
        FAIL("received %d of %d", so.count, opt_n);
    double all_s = secs_since(&t0);
    printf("OK %d x %d B at QoS %d: publish calls %.0f/s, end to end %.0f msg/s\n", opt_n, opt_size,
           opt_qos, opt_n / pub_s, opt_n / all_s);
    free(pl);
    stop(s, &so);
    stop(p, &po);
    midge_client_destroy(s);
    midge_client_destroy(p);
    obs_free(&so);
    obs_free(&po);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SCENARIO PORT [key=value ...]\n", argv[0]);
        return 2;
    }
    opt_port = atoi(argv[2]);
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "host"))
            opt_host = v;
        else if (!strcmp(k, "v"))
            opt_version = atoi(v);
        else if (!strcmp(k, "cafile"))
            opt_cafile = v;
        else if (!strcmp(k, "capath"))
            opt_capath = v;
        else if (!strcmp(k, "alpn"))
            opt_alpn = v;
        else if (!strcmp(k, "cert"))
            opt_cert = v;
        else if (!strcmp(k, "key"))
            opt_key = v;
        else if (!strcmp(k, "insecure"))
            opt_insecure = atoi(v);
        else if (!strcmp(k, "tlsver"))
            opt_tlsver = v;
        else if (!strcmp(k, "user"))
            opt_user = v;
        else if (!strcmp(k, "pass"))
            opt_pass = v;
        else if (!strcmp(k, "topic"))
            opt_topic = v;
        else if (!strcmp(k, "maxpkt"))
            opt_maxpkt = (unsigned)atoi(v);
        else if (!strcmp(k, "ka"))
            opt_keepalive = (unsigned)atoi(v);
        else if (!strcmp(k, "n"))
            opt_n = atoi(v);
        else if (!strcmp(k, "size"))
            opt_size = atoi(v);
        else if (!strcmp(k, "qos"))
            opt_qos = atoi(v);
        else if (!strcmp(k, "rxmax"))
            opt_rxmax = atoi(v);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    static const struct {
        const char *name;
        int (*fn)(void);
    } sc[] = {
        {"pubsub", sc_pubsub},
        {"retained", sc_retained},
        {"will", sc_will},
        {"persistent", sc_persistent},
        {"props", sc_props},
        {"reconnect", sc_reconnect},
        {"threads", sc_threads},
        {"fail", sc_expect_fail},
        {"selfpub", sc_selfpub},
        {"keepalive", sc_keepalive},
        {"callerloop", sc_callerloop},
        {"fake", sc_fake_session},
        {"recv", sc_recv},
        {"burst", sc_burst},
        {"bench", sc_bench},
        {"forever", sc_forever},
    };
    for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
        if (!strcmp(sc[i].name, argv[1]))
            return sc[i].fn();
    fprintf(stderr, "unknown scenario %s\n", argv[1]);
    return 2;
}
