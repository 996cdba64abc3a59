/*
 * Bridges to remote brokers (see bridge.h for the design).
 *
 * One thread per bridge runs libmidge in "the caller's loop" mode: it
 * polls the client's socket and an eventfd that bridge_deliver writes
 * when the outgoing queue goes from empty to non-empty, hands queued
 * messages to libmidge, and steps the client. Reconnection is ours, not
 * libmidge's, so that each attempt can go to the next address and wait
 * restart_timeout as Mosquitto does.
 */
#include "broker/bridge.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/log.h"
#include "broker/proto.h"
#include "midge/client.h"

/* A message waiting for the bridge thread. */
typedef struct fwd {
    struct fwd *next;
    msg_t *m;
    uint8_t qos;
    bool retain;
} fwd_t;

typedef struct bridge {
    broker_t *b;
    const config_bridge_t *cfg;
    midge_client_t *mc;
    session_t *s; /* the pseudo-session: local subscriptions and No Local */
    pthread_t thread;
    bool thread_started;
    int evfd;
    atomic_bool stop;
    atomic_bool connected;

    pthread_mutex_t lock; /* the queue */
    fwd_t *head, *tail;
    size_t count, max;

    /* Bridge thread only. */
    size_t addr;         /* index of the address tried last */
    bool active;         /* connecting or connected: libmidge is busy */
    int64_t next_try_ms; /* when idle: the next attempt */
    uint32_t delay_s;    /* the last backoff delay */
    unsigned rand_state;
    bool given_up; /* start_type once: no more attempts */
    /* round_robin false: while on a secondary address, a TCP probe of the
     * primary every PRIMARY_PROBE_MS; when it answers, the bridge moves. */
    int probe_fd;
    int64_t probe_at; /* the next probe, or the current one's deadline */
    bool to_primary;  /* the next attempt goes to addresses[0] at once */
} bridge_t;

#define PRIMARY_PROBE_MS 5000

static bridge_t *bridges;
static size_t bridge_count;

static int64_t now_ms(void)
{
    return msg_now_ms();
}

/* ---- local side ---- */

static void publish_local(bridge_t *br, const char *topic, const void *payload, size_t len,
                          uint8_t qos, bool retain, const mqtt_props_t *props)
{
    msg_init_t in = {
        .topic = {(const uint8_t *)topic, strlen(topic)},
        .payload = {(const uint8_t *)payload, len},
        .qos = qos,
        .retain = retain,
        .props = props,
        .origin = {(const uint8_t *)br->s->client_id, br->s->id_len},
        .now_ms = msg_now_ms(),
    };
    msg_t *m = msg_new(&in);
    if (!m) {
        mlog(MLOG_WARNING, "Bridge %s: out of memory for a message on %s.", br->cfg->name, topic);
        return;
    }
    /* The pseudo-session publishes, so its No Local subscriptions keep the
     * message from going back to the remote it came from. */
    deliver_publish(br->b, m, br->s);
    msg_unref(m);
}

static void notify(bridge_t *br, bool up)
{
    if (!br->cfg->notifications)
        return;
    const char *v = up ? "1" : "0";
    publish_local(br, br->cfg->notification_topic, v, 1, 1, true, NULL);
    if (!br->cfg->notifications_local_only && midge_is_connected(br->mc))
        midge_publish(br->mc, NULL, br->cfg->notification_topic, v, 1, 1, true, NULL);
}

/* ---- outgoing queue ---- */

bool bridge_deliver(void *sink, msg_t *m, uint8_t qos, bool retain)
{
    bridge_t *br = sink;
    /* QoS 0 is not kept for an offline bridge, as for any offline client. */
    if (atomic_load_explicit(&br->stop, memory_order_relaxed) ||
        (qos == 0 && !atomic_load_explicit(&br->connected, memory_order_relaxed)))
        return false;
    fwd_t *f = malloc(sizeof(*f));
    if (!f)
        goto dropped;
    f->next = NULL;
    f->m = msg_ref(m);
    f->qos = qos;
    f->retain = retain;
    pthread_mutex_lock(&br->lock);
    if (br->count >= br->max) {
        pthread_mutex_unlock(&br->lock);
        msg_unref(f->m);
        free(f);
        goto dropped;
    }
    bool was_empty = br->head == NULL;
    if (br->tail)
        br->tail->next = f;
    else
        br->head = f;
    br->tail = f;
    br->count++;
    pthread_mutex_unlock(&br->lock);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t r = write(br->evfd, &one, sizeof(one));
        (void)r;
    }
    return true;
dropped:
    atomic_fetch_add_explicit(&br->b->stats.msgs_dropped, 1, memory_order_relaxed);
    return false;
}

static void fwd_free(fwd_t *f)
{
    msg_unref(f->m);
    free(f);
}

/* An upper bound of the PUBLISH packet for bridge_max_packet_size. */
static size_t packet_size(size_t topic_len, size_t payload_len, int qos, int version)
{
    size_t rem = 2 + topic_len + (qos ? 2 : 0) + payload_len + (version == 5 ? 1 : 0);
    size_t vb = rem < 128 ? 1 : rem < 16384 ? 2 : rem < 2097152 ? 3 : 4;
    return 1 + vb + rem;
}

static bool add_str(midge_props_t *p, int id, mqtt_bytes_t v)
{
    char *s = strndup((const char *)v.data, v.len);
    bool ok = s && midge_props_add_string(p, id, s) == MIDGE_OK;
    free(s);
    return ok;
}

/* The message's MQTT 5 properties for the remote (user properties,
 * content type, response topic, correlation data, payload format and the
 * remaining expiry), as Mosquitto forwards them. NULL: none (or out of
 * memory: the message still goes, without them). */
static midge_props_t *props_out(const msg_t *m)
{
    mqtt_props_t mp;
    msg_props(m, msg_now_ms(), &mp);
    if (!mp.present && !mp.user_count)
        return NULL;
    midge_props_t *p = midge_props_new();
    if (!p)
        return NULL;
    bool ok = true;
    if (MQTT_PROP_HAS(&mp, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR))
        ok = ok && midge_props_add_int(p, MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR,
                                       mp.payload_format_indicator) == MIDGE_OK;
    if (MQTT_PROP_HAS(&mp, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL))
        ok = ok && midge_props_add_int(p, MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL,
                                       mp.message_expiry_interval) == MIDGE_OK;
    if (MQTT_PROP_HAS(&mp, MQTT_PROP_CONTENT_TYPE))
        ok = ok && add_str(p, MIDGE_PROP_CONTENT_TYPE, mp.content_type);
    if (MQTT_PROP_HAS(&mp, MQTT_PROP_RESPONSE_TOPIC))
        ok = ok && add_str(p, MIDGE_PROP_RESPONSE_TOPIC, mp.response_topic);
    if (MQTT_PROP_HAS(&mp, MQTT_PROP_CORRELATION_DATA))
        ok = ok && midge_props_add_binary(p, MIDGE_PROP_CORRELATION_DATA, mp.correlation_data.data,
                                          mp.correlation_data.len) == MIDGE_OK;
    if (mp.user_count > 0) {
        mqtt_reader_t it;
        mqtt_prop_t prop;
        mqtt_props_iter_init(&it, &mp);
        while (ok && mqtt_props_next(&it, &prop)) {
            if (prop.id != MQTT_PROP_USER_PROPERTY)
                continue;
            char *k = strndup((const char *)prop.str.data, prop.str.len);
            char *v = strndup((const char *)prop.str2.data, prop.str2.len);
            ok = k && v && midge_props_add_user(p, k, v) == MIDGE_OK;
            free(k);
            free(v);
        }
    }
    if (!ok) {
        midge_props_free(p);
        return NULL;
    }
    return p;
}

/* One message to the remote: false when libmidge's queue is full (keep it
 * and try again later); true when sent, queued or dropped for good. */
static bool forward(bridge_t *br, const fwd_t *f)
{
    const msg_t *m = f->m;
    int line_qos = 0;
    char *topic = config_bridge_map(br->cfg, true, m->topic, m->topic_len, &line_qos);
    if (!topic)
        return true;
    bool retain = br->cfg->outgoing_retain && f->retain;
    size_t tlen = strlen(topic);
    midge_err_t e = MIDGE_OK;
    if (br->cfg->max_packet_size &&
        packet_size(tlen, m->payload_len, f->qos, br->cfg->protocol_version) >
            br->cfg->max_packet_size) {
        e = MIDGE_ERR_PACKET_TOO_LARGE;
    } else {
        midge_props_t *props = br->cfg->protocol_version == 5 ? props_out(m) : NULL;
        e = midge_publish(br->mc, NULL, topic, m->payload, m->payload_len, f->qos, retain, props);
        midge_props_free(props);
    }
    if (e != MIDGE_OK && e != MIDGE_ERR_QUEUE_FULL) {
        mlog(MLOG_DEBUG, "Bridge %s: not forwarding %s: %s.", br->cfg->name, topic,
             midge_strerror(e));
        atomic_fetch_add_explicit(&br->b->stats.msgs_dropped, 1, memory_order_relaxed);
    }
    free(topic);
    return e != MIDGE_ERR_QUEUE_FULL;
}

/* Moves queued messages into libmidge; true if some had to stay. */
static bool drain(bridge_t *br)
{
    for (;;) {
        pthread_mutex_lock(&br->lock);
        fwd_t *f = br->head;
        if (f) {
            br->head = f->next;
            if (!br->head)
                br->tail = NULL;
            br->count--;
        }
        pthread_mutex_unlock(&br->lock);
        if (!f)
            return false;
        if (f->qos == 0 && !midge_is_connected(br->mc)) {
            fwd_free(f);
            continue;
        }
        if (!forward(br, f)) {
            pthread_mutex_lock(&br->lock);
            f->next = br->head;
            br->head = f;
            if (!br->tail)
                br->tail = f;
            br->count++;
            pthread_mutex_unlock(&br->lock);
            return true;
        }
        fwd_free(f);
    }
}

static void queue_clear(bridge_t *br)
{
    pthread_mutex_lock(&br->lock);
    fwd_t *f = br->head;
    br->head = br->tail = NULL;
    br->count = 0;
    pthread_mutex_unlock(&br->lock);
    while (f) {
        fwd_t *next = f->next;
        fwd_free(f);
        f = next;
    }
}

/* ---- libmidge callbacks (bridge thread, client lock held) ---- */

/* Local retained messages under the outgoing topics go to the remote on
 * every connection, as Mosquitto's bridge sends them. */
static void send_retained(bridge_t *br)
{
    msg_vec_t v;
    memset(&v, 0, sizeof(v));
    for (size_t i = 0; i < br->cfg->topic_count; i++) {
        const config_bridge_topic_t *t = &br->cfg->topics[i];
        if (!(t->direction & CONFIG_BRIDGE_OUT))
            continue;
        mqtt_bytes_t filter = {(const uint8_t *)t->local_topic, strlen(t->local_topic)};
        if (retain_match(br->b->retain, filter, msg_now_ms(), &v) > 0) {
            for (size_t k = 0; k < v.n; k++) {
                fwd_t f = {.m = v.v[k], .qos = (uint8_t)t->qos, .retain = true};
                if (f.m->qos < f.qos)
                    f.qos = f.m->qos;
                forward(br, &f);
            }
        }
        msg_vec_clear(&v);
    }
    msg_vec_free(&v);
}

/* A remote filter only `out` lines name: a persistent session on the
 * remote may still hold a subscription from when it was `in`, and would
 * keep sending what nothing here takes (Mosquitto's
 * bridge_attempt_unsubscribe). */
static void unsubscribe_out_only(bridge_t *br)
{
    const config_bridge_t *cfg = br->cfg;
    for (size_t i = 0; i < cfg->topic_count; i++) {
        const config_bridge_topic_t *t = &cfg->topics[i];
        if (t->direction != CONFIG_BRIDGE_OUT)
            continue;
        bool also_in = false;
        for (size_t k = 0; k < cfg->topic_count && !also_in; k++)
            also_in = (cfg->topics[k].direction & CONFIG_BRIDGE_IN) &&
                      strcmp(cfg->topics[k].remote_topic, t->remote_topic) == 0;
        if (!also_in)
            midge_unsubscribe(br->mc, NULL, t->remote_topic, NULL);
    }
}

static void on_connect(midge_client_t *c, void *ud, uint8_t code, bool session_present,
                       const midge_props_t *props)
{
    bridge_t *br = ud;
    if (code != 0) {
        mlog(MLOG_NOTICE, "Bridge %s: connection refused: %s", br->cfg->name,
             midge_connack_string(br->cfg->protocol_version, code));
        /* Our reconnection, not libmidge's: it goes to the next address. */
        midge_disconnect(c);
        return;
    }
    mlog(MLOG_NOTICE, "Bridge %s connected to %s:%u.", br->cfg->name,
         br->cfg->addresses[br->addr].host, br->cfg->addresses[br->addr].port);
    atomic_store_explicit(&br->connected, true, memory_order_relaxed);
    br->delay_s = 0;
    br->probe_at = now_ms() + PRIMARY_PROBE_MS;
    notify(br, true);
    if (br->cfg->attempt_unsubscribe)
        unsubscribe_out_only(br);
    send_retained(br);
}

static void on_disconnect(midge_client_t *c, void *ud, midge_err_t err, const char *detail,
                          bool reconnecting)
{
    bridge_t *br = ud;
    bool was = atomic_exchange_explicit(&br->connected, false, memory_order_relaxed);
    if (was) {
        mlog(MLOG_NOTICE, "Bridge %s disconnected: %s", br->cfg->name,
             detail && detail[0] ? detail : midge_strerror(err));
        if (!atomic_load_explicit(&br->stop, memory_order_relaxed))
            notify(br, false);
    } else if (err != MIDGE_OK) {
        mlog(MLOG_NOTICE, "Bridge %s: connection failed: %s", br->cfg->name,
             detail && detail[0] ? detail : midge_strerror(err));
    }
}

static void on_message(midge_client_t *c, void *ud, const midge_message_t *msg)
{
    bridge_t *br = ud;
    if (atomic_load_explicit(&br->stop, memory_order_relaxed))
        return;
    char *topic = config_bridge_map(br->cfg, false, msg->topic, msg->topic_len, NULL);
    if (!topic)
        return; /* not under an incoming topic: Mosquitto drops it too */
    mqtt_props_t mp;
    memset(&mp, 0, sizeof(mp));
    mqtt_user_prop_t *users = NULL;
    size_t n = midge_props_count(msg->props);
    if (n > 0)
        users = calloc(n, sizeof(*users));
    for (size_t i = 0; i < n && users; i++) {
        midge_prop_t pr;
        if (!midge_props_get(msg->props, i, &pr))
            break;
        mqtt_bytes_t v = {(const uint8_t *)pr.data, pr.len};
        switch (pr.id) {
        case MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR:
            MQTT_PROP_SET(&mp, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
            mp.payload_format_indicator = (uint8_t)pr.num;
            break;
        case MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL:
            MQTT_PROP_SET(&mp, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
            mp.message_expiry_interval = pr.num;
            break;
        case MIDGE_PROP_CONTENT_TYPE:
            MQTT_PROP_SET(&mp, MQTT_PROP_CONTENT_TYPE);
            mp.content_type = v;
            break;
        case MIDGE_PROP_RESPONSE_TOPIC:
            MQTT_PROP_SET(&mp, MQTT_PROP_RESPONSE_TOPIC);
            mp.response_topic = v;
            break;
        case MIDGE_PROP_CORRELATION_DATA:
            MQTT_PROP_SET(&mp, MQTT_PROP_CORRELATION_DATA);
            mp.correlation_data = v;
            break;
        case MIDGE_PROP_USER_PROPERTY:
            users[mp.user_count].key = v;
            users[mp.user_count].value = (mqtt_bytes_t){(const uint8_t *)pr.value, pr.value_len};
            mp.user_count++;
            break;
        default: /* topic alias, subscription identifiers: this hop's only */
            break;
        }
    }
    if (mp.user_count)
        MQTT_PROP_SET(&mp, MQTT_PROP_USER_PROPERTY);
    mp.user = users;
    if (mqtt_topic_name_valid((mqtt_bytes_t){(const uint8_t *)topic, strlen(topic)}))
        publish_local(br, topic, msg->payload, msg->payload_len, (uint8_t)msg->qos, msg->retain,
                      &mp);
    free(users);
    free(topic);
}

/* ---- the thread ---- */

/* Mosquitto's backoff: "decorrelated jitter" between base and cap, or a
 * constant delay when no cap is given. */
static uint32_t next_delay(bridge_t *br)
{
    uint32_t base = br->cfg->restart_base, cap = br->cfg->restart_cap;
    if (cap == 0)
        return base;
    uint32_t hi = br->delay_s ? br->delay_s * 3 : base;
    if (hi < base)
        hi = base;
    uint32_t d = base + (uint32_t)(rand_r(&br->rand_state) % (hi - base + 1));
    return d > cap ? cap : d;
}

static void schedule_retry(bridge_t *br)
{
    br->active = false;
    if (br->to_primary) {
        br->next_try_ms = now_ms();
        return;
    }
    if (br->cfg->start_once) {
        if (!br->given_up)
            mlog(MLOG_NOTICE, "Bridge %s: start_type once, not reconnecting.", br->cfg->name);
        br->given_up = true;
        return;
    }
    br->delay_s = next_delay(br);
    br->next_try_ms = now_ms() + (int64_t)br->delay_s * 1000;
}

static void try_connect(bridge_t *br, bool first)
{
    const config_bridge_t *cfg = br->cfg;
    if (br->to_primary)
        br->addr = 0;
    else if (!first)
        br->addr = (br->addr + 1) % cfg->address_count;
    br->to_primary = false;
    const config_bridge_address_t *a = &cfg->addresses[br->addr];
    mlog(MLOG_NOTICE, "Connecting bridge %s (%s:%u)", cfg->name, a->host, a->port);
    midge_err_t e = midge_connect(br->mc, a->host, a->port);
    if (e == MIDGE_OK) {
        br->active = true;
        return;
    }
    char why[256];
    midge_last_error(br->mc, why, sizeof(why));
    mlog(MLOG_NOTICE, "Bridge %s: connection failed: %s", cfg->name,
         why[0] ? why : midge_strerror(e));
    schedule_retry(br);
}

static void probe_close(bridge_t *br)
{
    if (br->probe_fd >= 0)
        close(br->probe_fd);
    br->probe_fd = -1;
    br->probe_at = now_ms() + PRIMARY_PROBE_MS;
}

static bool probe_wanted(const bridge_t *br)
{
    return !br->cfg->round_robin && br->cfg->address_count > 1 && br->addr != 0 &&
           atomic_load_explicit(&br->connected, memory_order_relaxed);
}

/* Starts a non-blocking TCP connect to the primary address. */
static void probe_start(bridge_t *br)
{
    const config_bridge_address_t *a = &br->cfg->addresses[0];
    char port[8];
    snprintf(port, sizeof(port), "%u", a->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    br->probe_at = now_ms() + PRIMARY_PROBE_MS;
    if (getaddrinfo(a->host, port, &hints, &res) != 0 || !res)
        return;
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    br->probe_fd = fd;
}

/* The probe's socket is ready (or its time is up): when the primary
 * accepted, the bridge leaves the secondary for it. */
static void probe_done(bridge_t *br, bool ready)
{
    int err = -1;
    socklen_t len = sizeof(err);
    if (ready && getsockopt(br->probe_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = -1;
    probe_close(br);
    if (err == 0 && probe_wanted(br)) {
        mlog(MLOG_NOTICE, "Bridge %s: the primary address is back, reconnecting to it.",
             br->cfg->name);
        br->to_primary = true;
        midge_disconnect(br->mc);
    }
}

static void *bridge_main(void *arg)
{
    bridge_t *br = arg;
    /* Mosquitto says "not connected" before the first attempt. */
    if (br->cfg->notifications)
        publish_local(br, br->cfg->notification_topic, "0", 1, 1, true, NULL);
    try_connect(br, true);
    bool backlog = false;
    while (!atomic_load_explicit(&br->stop, memory_order_acquire)) {
        if (!br->active && !br->given_up && now_ms() >= br->next_try_ms)
            try_connect(br, false);
        if (probe_wanted(br) && br->probe_fd < 0 && now_ms() >= br->probe_at)
            probe_start(br);
        else if (br->probe_fd >= 0 && (!probe_wanted(br) || now_ms() >= br->probe_at))
            probe_done(br, false);
        struct pollfd p[3] = {{.fd = br->evfd, .events = POLLIN}, {.fd = -1}, {.fd = -1}};
        int sock = midge_socket(br->mc);
        if (sock >= 0) {
            p[1].fd = sock;
            p[1].events = (short)(POLLIN | (midge_want_write(br->mc) ? POLLOUT : 0));
        }
        p[2].fd = br->probe_fd;
        p[2].events = POLLOUT;
        int timeout = br->active ? midge_timeout_ms(br->mc) : -1;
        if (!br->active && !br->given_up) {
            int64_t left = br->next_try_ms - now_ms();
            timeout = left < 0 ? 0 : left > 1000 ? 1000 : (int)left;
        }
        if (backlog && (timeout < 0 || timeout > 50))
            timeout = 50;
        if (timeout < 0 || timeout > 1000)
            timeout = 1000;
        if (poll(p, 3, timeout) < 0 && errno != EINTR)
            break;
        if (br->probe_fd >= 0 && p[2].revents)
            probe_done(br, true);
        if (p[0].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(br->evfd, &v, sizeof(v));
            (void)r;
        }
        backlog = drain(br);
        if (br->active && midge_step(br->mc) == MIDGE_ERR_NO_CONN)
            schedule_retry(br);
    }
    if (br->probe_fd >= 0)
        close(br->probe_fd);
    br->probe_fd = -1;
    /* Going down: the remote hears "0" from us, since a clean DISCONNECT
     * does not publish the will that would say it. */
    if (midge_is_connected(br->mc)) {
        if (br->cfg->notifications && !br->cfg->notifications_local_only)
            midge_publish(br->mc, NULL, br->cfg->notification_topic, "0", 1, 1, true, NULL);
        midge_disconnect(br->mc);
        for (int i = 0; i < 100 && midge_loop(br->mc, 10) == MIDGE_OK; i++) {
        }
    } else if (br->active) {
        midge_disconnect(br->mc);
    }
    return NULL;
}

/* ---- life cycle ---- */

static session_t *pseudo_session(broker_t *b, const config_bridge_t *cfg, bridge_t *br)
{
    session_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->client_id = strdup(cfg->local_clientid);
    if (!s->client_id) {
        free(s);
        return NULL;
    }
    s->id_len = strlen(s->client_id);
    s->table = &b->sessions;
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->lock, NULL);
    s->max_qos = 2;
    s->worker = -1;
    s->sink = br;
    return s;
}

static int setup(bridge_t *br, broker_t *b, const config_t *all, const config_bridge_t *cfg)
{
    br->b = b;
    br->cfg = cfg;
    br->evfd = -1;
    br->probe_fd = -1;
    pthread_mutex_init(&br->lock, NULL);
    br->max = all->max_queued_messages ? all->max_queued_messages : 100000;
    br->rand_state = (unsigned)(uintptr_t)br ^ (unsigned)now_ms();
    br->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    br->s = pseudo_session(b, cfg, br);
    br->mc = midge_client_new(cfg->remote_clientid, br);
    if (br->evfd < 0 || !br->s || !br->mc) {
        mlog(MLOG_ERROR, "Error: bridge %s: out of resources.", cfg->name);
        return -1;
    }
    midge_callbacks_t cbs = {
        .on_connect = on_connect, .on_disconnect = on_disconnect, .on_message = on_message};
    midge_set_callbacks(br->mc, &cbs);
    midge_set_version(br->mc, cfg->protocol_version);
    midge_set_bridge(br->mc, cfg->try_private);
    midge_set_clean(br->mc, cfg->cleansession);
    midge_set_keepalive(br->mc, cfg->keepalive);
    midge_set_reconnect(br->mc, false, 1000, 30000);
    midge_set_connect_timeout(br->mc, cfg->keepalive < 30 ? 30 : cfg->keepalive);
    /* What waits for the remote (sent but unacknowledged, or held while it
     * is down) is bounded like a client's queue, by max_queued_messages
     * and max_queued_bytes; beyond that, messages are dropped. */
    size_t held = all->max_queued_messages && all->max_queued_messages < 65535
                      ? all->max_queued_messages
                      : 65535;
    size_t held_bytes = all->max_queued_bytes && all->max_queued_bytes < ((uint64_t)256 << 20)
                            ? (size_t)all->max_queued_bytes
                            : (size_t)256 << 20;
    midge_set_queue_limits(br->mc, held, held_bytes);
    if (cfg->remote_username)
        midge_set_credentials(br->mc, cfg->remote_username, cfg->remote_password,
                              cfg->remote_password ? strlen(cfg->remote_password) : 0);
    if (cfg->notifications && !cfg->notifications_local_only)
        midge_set_will(br->mc, cfg->notification_topic, "0", 1, 1, true, NULL);
    if (cfg->cafile || cfg->capath) {
        midge_tls_t tls = {
            .cafile = cfg->cafile,
            .capath = cfg->capath,
            .certfile = cfg->certfile,
            .keyfile = cfg->keyfile,
            .tls_version = cfg->tls_version,
            .insecure = cfg->insecure,
            .alpn = cfg->alpn,
        };
        if (midge_set_tls(br->mc, &tls) != MIDGE_OK) {
            char why[256];
            midge_last_error(br->mc, why, sizeof(why));
            mlog(MLOG_ERROR, "Error: bridge %s: TLS: %s", cfg->name, why);
            return -1;
        }
    }
    /* Incoming topics: No Local in MQTT 5 (3.1.x relies on try_private). */
    for (size_t i = 0; i < cfg->topic_count; i++) {
        const config_bridge_topic_t *t = &cfg->topics[i];
        if (!(t->direction & CONFIG_BRIDGE_IN))
            continue;
        int opts = t->qos | MIDGE_SUB_NO_LOCAL | MIDGE_SUB_RETAIN_AS_PUBLISHED;
        if (midge_subscribe(br->mc, NULL, t->remote_topic, opts, NULL) != MIDGE_OK) {
            mlog(MLOG_ERROR, "Error: bridge %s: cannot subscribe to %s.", cfg->name,
                 t->remote_topic);
            return -1;
        }
    }
    return 0;
}

int bridges_create(broker_t *b, const config_t *cfg)
{
    if (cfg->bridge_count == 0)
        return 0;
    bridges = calloc(cfg->bridge_count, sizeof(*bridges));
    if (!bridges) {
        mlog(MLOG_ERROR, "Error: out of memory.");
        return -1;
    }
    bridge_count = cfg->bridge_count;
    for (size_t i = 0; i < cfg->bridge_count; i++) {
        if (setup(&bridges[i], b, cfg, &cfg->bridges[i]) != 0) {
            bridges_free(b);
            return -1;
        }
    }
    return 0;
}

void bridges_start(broker_t *b)
{
    for (size_t i = 0; i < bridge_count; i++) {
        bridge_t *br = &bridges[i];
        const config_bridge_t *cfg = br->cfg;
        for (size_t k = 0; k < cfg->topic_count; k++) {
            const config_bridge_topic_t *t = &cfg->topics[k];
            if (!(t->direction & CONFIG_BRIDGE_OUT))
                continue;
            uint8_t opts = (uint8_t)(t->qos | MQTT_SUBOPT_NO_LOCAL | MQTT_SUBOPT_RETAIN_AS_PUB);
            mqtt_bytes_t f = {(const uint8_t *)t->local_topic, strlen(t->local_topic)};
            if (tt_subscribe(b->tree, br->s, f, opts, 0, NULL) != TT_OK)
                mlog(MLOG_WARNING, "Warning: bridge %s: cannot subscribe locally to %s.", cfg->name,
                     t->local_topic);
        }
        if (pthread_create(&br->thread, NULL, bridge_main, br) == 0)
            br->thread_started = true;
        else
            mlog(MLOG_ERROR, "Error: bridge %s: cannot start its thread.", cfg->name);
    }
}

void bridges_stop(broker_t *b)
{
    for (size_t i = 0; i < bridge_count; i++) {
        bridge_t *br = &bridges[i];
        if (br->s)
            tt_remove_session(b->tree, br->s);
        atomic_store_explicit(&br->stop, true, memory_order_release);
        if (br->evfd >= 0) {
            uint64_t one = 1;
            ssize_t r = write(br->evfd, &one, sizeof(one));
            (void)r;
        }
    }
    for (size_t i = 0; i < bridge_count; i++) {
        bridge_t *br = &bridges[i];
        if (br->thread_started) {
            pthread_join(br->thread, NULL);
            br->thread_started = false;
        }
    }
}

void bridges_free(broker_t *b)
{
    for (size_t i = 0; i < bridge_count; i++) {
        bridge_t *br = &bridges[i];
        if (!br->cfg)
            continue; /* setup never reached it */
        if (br->thread_started)
            bridges_stop(b);
        midge_client_destroy(br->mc);
        queue_clear(br);
        if (br->s) {
            tt_remove_session(b->tree, br->s);
            session_release(br->s);
        }
        if (br->evfd >= 0)
            close(br->evfd);
        pthread_mutex_destroy(&br->lock);
    }
    free(bridges);
    bridges = NULL;
    bridge_count = 0;
}
