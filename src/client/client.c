/* The client: settings, session state, packet handling and the loop. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

#define LOCK(c)   pthread_mutex_lock(&(c)->lock)
#define UNLOCK(c) pthread_mutex_unlock(&(c)->lock)

#define MAX_PACKET_LIMIT (MQTT_VARINT_MAX + 5u)

/* Reads per step before yielding, so one busy connection cannot starve
 * the caller's loop; a step that stops early asks to be called again. */
#define READS_PER_STEP 256

static void drop_connection(midge_client_t *c, midge_err_t err, const char *detail);

/* ---- small helpers ---- */

static char *str_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static bool id_used(const uint8_t *set, uint16_t id)
{
    return (set[id >> 3] >> (id & 7)) & 1;
}

static void id_mark(uint8_t *set, uint16_t id, bool on)
{
    if (on)
        set[id >> 3] |= (uint8_t)(1u << (id & 7));
    else
        set[id >> 3] &= (uint8_t) ~(1u << (id & 7));
}

static uint16_t id_alloc(midge_client_t *c)
{
    for (unsigned i = 0; i < 65535; i++) {
        c->next_id = (uint16_t)(c->next_id % 65535 + 1);
        if (!id_used(c->ids_used, c->next_id)) {
            id_mark(c->ids_used, c->next_id, true);
            return c->next_id;
        }
    }
    return 0;
}

static void logf_(midge_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(midge_client_t *c, const char *fmt, ...)
{
    if (!c->cb.on_log)
        return;
    char line[512];
    int n = snprintf(line, sizeof(line), "Client %s ",
                     c->client_id && c->client_id[0] ? c->client_id : "(null)");
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    c->cb.on_log(c, c->ud, line);
}

static void wake(midge_client_t *c)
{
    uint64_t one = 1;
    if (c->wake_fd >= 0 && write(c->wake_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero, the loop will wake */
    }
}

static size_t out_pending(const midge_client_t *c)
{
    return c->out_len - c->out_off;
}

/* Makes room for n more bytes at the end of the output buffer. */
static uint8_t *out_reserve(midge_client_t *c, size_t n)
{
    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + n > c->out_cap) {
        if (c->out_off) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + n > c->out_cap) {
            size_t ncap = c->out_cap ? c->out_cap : 4096;
            while (ncap < c->out_len + n)
                ncap *= 2;
            uint8_t *nb = realloc(c->out, ncap);
            if (!nb)
                return NULL;
            c->out = nb;
            c->out_cap = ncap;
        }
    }
    return c->out + c->out_len;
}

static midge_err_t out_append(midge_client_t *c, const uint8_t *data, size_t len)
{
    uint8_t *p = out_reserve(c, len);
    if (!p)
        return MIDGE_ERR_NOMEM;
    memcpy(p, data, len);
    c->out_len += len;
    c->last_out = mc_now_ms();
    return MIDGE_OK;
}

/* Encodes pkt into a new heap buffer. */
static midge_err_t encode_alloc(midge_client_t *c, const mqtt_packet_t *pkt, uint8_t **buf,
                                size_t *len)
{
    size_t n = mqtt_encoded_size(pkt, (mqtt_version_t)c->version);
    if (!n)
        return MIDGE_ERR_INVAL;
    uint8_t *b = malloc(n);
    if (!b)
        return MIDGE_ERR_NOMEM;
    size_t w = 0;
    if (mqtt_encode(pkt, (mqtt_version_t)c->version, b, n, &w) != MQTT_OK) {
        free(b);
        return MIDGE_ERR_INVAL;
    }
    *buf = b;
    *len = w;
    return MIDGE_OK;
}

/* Encodes pkt straight into the output buffer. */
static midge_err_t send_packet(midge_client_t *c, const mqtt_packet_t *pkt)
{
    size_t n = mqtt_encoded_size(pkt, (mqtt_version_t)c->version);
    if (!n)
        return MIDGE_ERR_INVAL;
    uint8_t *p = out_reserve(c, n);
    if (!p)
        return MIDGE_ERR_NOMEM;
    size_t w = 0;
    if (mqtt_encode(pkt, (mqtt_version_t)c->version, p, n, &w) != MQTT_OK)
        return MIDGE_ERR_INVAL;
    c->out_len += w;
    c->last_out = mc_now_ms();
    return MIDGE_OK;
}

static midge_err_t send_ack(midge_client_t *c, uint8_t type, uint16_t id, uint8_t reason)
{
    mqtt_packet_t pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.type = type;
    pkt.u.ack.packet_id = id;
    pkt.u.ack.reason = c->version == 5 ? reason : 0;
    return send_packet(c, &pkt);
}

/* Writes as much of the output buffer as the socket takes. A failure is
 * recorded and handled at the next safe point (midge_step), because this
 * may run inside a callback in the middle of packet handling. */
static void flush(midge_client_t *c)
{
    if (c->sock < 0 || c->pending_err != MIDGE_OK ||
        (c->state != MC_CONNACK && c->state != MC_CONNECTED && c->state != MC_CLOSING))
        return;
    while (out_pending(c)) {
        midge_err_t err = MIDGE_OK;
        long n = mc_net_write(c, c->out + c->out_off, out_pending(c), &err);
        if (n < 0) {
            c->pending_err = err;
            snprintf(c->pending_detail, sizeof(c->pending_detail), "%s", c->last_error);
            return;
        }
        if (n == 0)
            return;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
}

/* ---- life cycle and settings ---- */

midge_client_t *midge_client_new(const char *client_id, void *userdata)
{
    midge_client_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&c->lock, &a);
    pthread_mutexattr_destroy(&a);
    c->ud = userdata;
    c->client_id = str_dup(client_id ? client_id : "");
    c->version = 4;
    c->clean = true;
    c->keepalive = 60;
    c->max_packet_in = MAX_PACKET_LIMIT;
    c->reconnect = true;
    c->rc_min_ms = 1000;
    c->rc_max_ms = 30000;
    c->q_max_msgs = 1000;
    c->q_max_bytes = 256u * 1024 * 1024;
    c->max_inflight = 20;
    c->resubscribe = true;
    c->connect_timeout_s = 30;
    c->sock = -1;
    c->state = MC_IDLE;
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!c->client_id || c->wake_fd < 0) {
        if (c->wake_fd >= 0)
            close(c->wake_fd);
        free(c->client_id);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    return c;
}

static void free_req(mc_req_t *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->filters[i]);
    free(r->filters);
    free(r->options);
    free(r->pkt);
    free(r);
}

static void free_aliases(midge_client_t *c)
{
    if (c->aliases) {
        for (unsigned i = 0; i <= c->alias_max; i++)
            free(c->aliases[i]);
        free(c->aliases);
        c->aliases = NULL;
    }
}

void midge_client_destroy(midge_client_t *c)
{
    if (!c)
        return;
    midge_loop_stop(c);
    LOCK(c);
    if (c->state == MC_CLOSING) {
        int64_t end = mc_now_ms() + 1000;
        while (out_pending(c) && c->pending_err == MIDGE_OK && mc_now_ms() < end) {
            struct pollfd p = {.fd = c->sock, .events = POLLOUT};
            poll(&p, 1, 50);
            flush(c);
        }
    }
    mc_net_close(c);
    UNLOCK(c);
    if (c->addrs)
        freeaddrinfo(c->addrs);
    for (mc_msg_t *m = c->msgs, *n; m; m = n) {
        n = m->next;
        free(m->pkt);
        free(m);
    }
    for (mc_req_t *r = c->reqs, *n; r; r = n) {
        n = r->next;
        free_req(r);
    }
    for (mc_sub_t *s = c->subs, *n; s; s = n) {
        n = s->next;
        free(s->filter);
        midge_props_free(s->props);
        free(s);
    }
    free_aliases(c);
    mc_tls_free(c);
    mc_props_clear(&c->rx_props);
    free(c->rx_props.items);
    free(c->client_id);
    free(c->username);
    free(c->password);
    free(c->will_topic);
    free(c->will_payload);
    midge_props_free(c->will_props);
    midge_props_free(c->connect_props);
    free(c->host);
    free(c->in);
    free(c->out);
    free(c->topic_buf);
    close(c->wake_fd);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void midge_set_callbacks(midge_client_t *c, const midge_callbacks_t *cbs)
{
    LOCK(c);
    if (cbs)
        c->cb = *cbs;
    else
        memset(&c->cb, 0, sizeof(c->cb));
    UNLOCK(c);
}

void midge_client_id(midge_client_t *c, char *buf, size_t cap)
{
    if (!cap)
        return;
    LOCK(c);
    snprintf(buf, cap, "%s", c->client_id);
    UNLOCK(c);
}

void midge_last_error(midge_client_t *c, char *buf, size_t cap)
{
    if (!cap)
        return;
    LOCK(c);
    snprintf(buf, cap, "%s", c->last_error);
    UNLOCK(c);
}

midge_err_t midge_set_version(midge_client_t *c, int version)
{
    if (version != 3 && version != 4 && version != 5)
        return MIDGE_ERR_INVAL;
    LOCK(c);
    c->version = version;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_bridge(midge_client_t *c, bool bridge)
{
    LOCK(c);
    c->bridge = bridge;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_clean(midge_client_t *c, bool clean)
{
    LOCK(c);
    c->clean = clean;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_keepalive(midge_client_t *c, unsigned seconds)
{
    if (seconds > 65535)
        return MIDGE_ERR_INVAL;
    LOCK(c);
    c->keepalive = seconds;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_credentials(midge_client_t *c, const char *username, const void *password,
                                  size_t password_len)
{
    if ((!password && password_len) || password_len > 65535 ||
        (username && (strlen(username) > 65535 ||
                      !mqtt_utf8_valid((const uint8_t *)username, strlen(username)))))
        return MIDGE_ERR_INVAL;
    char *u = NULL;
    uint8_t *p = NULL;
    if (username && !(u = str_dup(username)))
        return MIDGE_ERR_NOMEM;
    if (password && !(p = malloc(password_len ? password_len : 1))) {
        free(u);
        return MIDGE_ERR_NOMEM;
    }
    if (password_len)
        memcpy(p, password, password_len);
    LOCK(c);
    free(c->username);
    free(c->password);
    c->username = u;
    c->password = p;
    c->password_len = password_len;
    c->has_password = password != NULL;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_will(midge_client_t *c, const char *topic, const void *payload, size_t len,
                           int qos, bool retain, const midge_props_t *props)
{
    char *t = NULL;
    uint8_t *p = NULL;
    midge_props_t *pr = NULL;
    if (topic) {
        mqtt_bytes_t tb = {(const uint8_t *)topic, strlen(topic)};
        if (qos < 0 || qos > 2 || (!payload && len) || len > 65535 || !mqtt_topic_name_valid(tb))
            return MIDGE_ERR_INVAL;
        if (props) {
            mqtt_props_t mp;
            mqtt_user_prop_t *u;
            uint32_t *s;
            midge_err_t e = mc_props_to_mqtt(props, MQTT_PROPS_WILL, &mp, &u, &s);
            free(u);
            free(s);
            if (e != MIDGE_OK)
                return e;
            if (!(pr = midge_props_copy(props)))
                return MIDGE_ERR_NOMEM;
        }
        t = str_dup(topic);
        p = malloc(len ? len : 1);
        if (!t || !p) {
            free(t);
            free(p);
            midge_props_free(pr);
            return MIDGE_ERR_NOMEM;
        }
        if (len)
            memcpy(p, payload, len);
    }
    LOCK(c);
    free(c->will_topic);
    free(c->will_payload);
    midge_props_free(c->will_props);
    c->will_topic = t;
    c->will_payload = p;
    c->will_len = len;
    c->will_qos = qos;
    c->will_retain = retain;
    c->will_props = pr;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_connect_props(midge_client_t *c, const midge_props_t *props)
{
    midge_props_t *pr = NULL;
    midge_prop_t mps;
    if (props) {
        mqtt_props_t mp;
        mqtt_user_prop_t *u;
        uint32_t *s;
        midge_err_t e = mc_props_to_mqtt(props, MQTT_PROPS_CONNECT, &mp, &u, &s);
        free(u);
        free(s);
        if (e != MIDGE_OK)
            return e;
        if (!(pr = midge_props_copy(props)))
            return MIDGE_ERR_NOMEM;
    }
    LOCK(c);
    midge_props_free(c->connect_props);
    c->connect_props = pr;
    if (midge_props_find(pr, MIDGE_PROP_MAXIMUM_PACKET_SIZE, &mps))
        c->max_packet_in = mps.num < MAX_PACKET_LIMIT ? mps.num : MAX_PACKET_LIMIT;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_max_packet_size(midge_client_t *c, uint32_t bytes)
{
    if (bytes < 2)
        return MIDGE_ERR_INVAL;
    LOCK(c);
    c->max_packet_in = bytes < MAX_PACKET_LIMIT ? bytes : MAX_PACKET_LIMIT;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_reconnect(midge_client_t *c, bool enabled, unsigned min_delay_ms,
                                unsigned max_delay_ms)
{
    if (enabled && (min_delay_ms == 0 || max_delay_ms < min_delay_ms))
        return MIDGE_ERR_INVAL;
    LOCK(c);
    c->reconnect = enabled;
    if (enabled) {
        c->rc_min_ms = min_delay_ms;
        c->rc_max_ms = max_delay_ms;
        c->rc_delay_ms = 0;
    }
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_queue_limits(midge_client_t *c, size_t max_messages, size_t max_bytes)
{
    if (max_messages < 1 || max_messages > 65535 || max_bytes < 1)
        return MIDGE_ERR_INVAL;
    LOCK(c);
    c->q_max_msgs = max_messages;
    c->q_max_bytes = max_bytes;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_max_inflight(midge_client_t *c, unsigned count)
{
    if (count < 1 || count > 65535)
        return MIDGE_ERR_INVAL;
    LOCK(c);
    c->max_inflight = count;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_resubscribe(midge_client_t *c, bool enabled)
{
    LOCK(c);
    c->resubscribe = enabled;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_connect_timeout(midge_client_t *c, unsigned seconds)
{
    if (seconds < 1)
        return MIDGE_ERR_INVAL;
    LOCK(c);
    c->connect_timeout_s = seconds;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_set_tls(midge_client_t *c, const midge_tls_t *tls)
{
    LOCK(c);
    midge_err_t e = mc_tls_setup(c, tls);
    UNLOCK(c);
    return e;
}

bool midge_is_connected(midge_client_t *c)
{
    LOCK(c);
    bool r = c->state == MC_CONNECTED;
    UNLOCK(c);
    return r;
}

size_t midge_queued_count(midge_client_t *c)
{
    LOCK(c);
    size_t n = c->msg_count;
    UNLOCK(c);
    return n;
}

/* ---- connecting ---- */

static midge_err_t resolve(midge_client_t *c)
{
    if (c->addrs)
        freeaddrinfo(c->addrs);
    c->addrs = c->addr_next = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int r = getaddrinfo(c->host, port, &hints, &c->addrs);
    if (r != 0) {
        c->addrs = NULL;
        mc_set_error(c, "cannot resolve \"%s\": %s", c->host, gai_strerror(r));
        return MIDGE_ERR_DNS;
    }
    c->addr_next = c->addrs;
    return MIDGE_OK;
}

/* Resolves and starts a TCP connect; on failure the state is unchanged. */
static midge_err_t attempt(midge_client_t *c)
{
    midge_err_t e = resolve(c);
    if (e != MIDGE_OK)
        return e;
    e = mc_net_start(c);
    if (e != MIDGE_OK)
        return e;
    c->deadline = mc_now_ms() + (int64_t)c->connect_timeout_s * 1000;
    c->in_len = 0;
    c->out_off = c->out_len = 0;
    c->pending_err = MIDGE_OK;
    c->ping_sent = 0;
    return MIDGE_OK;
}

static void schedule_retry(midge_client_t *c)
{
    if (!c->rc_delay_ms)
        c->rc_delay_ms = c->rc_min_ms;
    c->retry_at = mc_now_ms() + c->rc_delay_ms;
    c->rc_delay_ms = c->rc_delay_ms >= c->rc_max_ms / 2 ? c->rc_max_ms : c->rc_delay_ms * 2;
    c->state = MC_WAIT_RETRY;
}

static midge_err_t send_connect(midge_client_t *c)
{
    if (!c->client_id[0] && c->version != 5) {
        char id[32];
        snprintf(id, sizeof(id), "midge-%d-%08x", (int)getpid() % 10000000,
                 (unsigned)((uint64_t)mc_now_ms() * 2654435761u) ^ (unsigned)(uintptr_t)c);
        char *n = str_dup(id);
        if (!n)
            return MIDGE_ERR_NOMEM;
        free(c->client_id);
        c->client_id = n;
    }
    mqtt_packet_t pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.type = MQTT_CONNECT;
    mqtt_connect_t *k = &pkt.u.connect;
    k->version = (mqtt_version_t)c->version;
    k->protocol_name = c->version == 3 ? (mqtt_bytes_t){(const uint8_t *)"MQIsdp", 6}
                                       : (mqtt_bytes_t){(const uint8_t *)"MQTT", 4};
    k->clean_start = c->clean;
    k->bridge = c->bridge && c->version != 5;
    k->keep_alive = (uint16_t)c->keepalive;
    k->client_id = (mqtt_bytes_t){(const uint8_t *)c->client_id, strlen(c->client_id)};
    mqtt_user_prop_t *wu = NULL, *cu = NULL;
    uint32_t *ws = NULL, *cs = NULL;
    midge_err_t e = MIDGE_OK;
    if (c->will_topic) {
        k->will_flag = true;
        k->will_qos = (uint8_t)c->will_qos;
        k->will_retain = c->will_retain;
        k->will_topic = (mqtt_bytes_t){(const uint8_t *)c->will_topic, strlen(c->will_topic)};
        k->will_payload = (mqtt_bytes_t){c->will_payload, c->will_len};
        if (c->version == 5)
            e = mc_props_to_mqtt(c->will_props, MQTT_PROPS_WILL, &k->will_props, &wu, &ws);
    }
    if (c->username) {
        k->username_flag = true;
        k->username = (mqtt_bytes_t){(const uint8_t *)c->username, strlen(c->username)};
    }
    if (c->has_password) {
        k->password_flag = true;
        k->password = (mqtt_bytes_t){c->password, c->password_len};
    }
    if (e == MIDGE_OK && c->version == 5) {
        e = mc_props_to_mqtt(c->connect_props, MQTT_PROPS_CONNECT, &k->props, &cu, &cs);
        if (e == MIDGE_OK && c->max_packet_in < MAX_PACKET_LIMIT &&
            !MQTT_PROP_HAS(&k->props, MQTT_PROP_MAXIMUM_PACKET_SIZE)) {
            k->props.maximum_packet_size = c->max_packet_in;
            MQTT_PROP_SET(&k->props, MQTT_PROP_MAXIMUM_PACKET_SIZE);
        }
    }
    if (e == MIDGE_OK)
        e = send_packet(c, &pkt);
    free(wu);
    free(ws);
    free(cu);
    free(cs);
    if (e == MIDGE_OK) {
        logf_(c, "sending CONNECT");
        /* The topic alias maximum we announce decides the table size. */
        free_aliases(c);
        c->rx_max = c->version == 5 && MQTT_PROP_HAS(&k->props, MQTT_PROP_RECEIVE_MAXIMUM)
                        ? k->props.receive_maximum
                        : 0;
        c->alias_max = c->version == 5 && MQTT_PROP_HAS(&k->props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM)
                           ? k->props.topic_alias_maximum
                           : 0;
        if (c->alias_max && !(c->aliases = calloc((size_t)c->alias_max + 1, sizeof(char *)))) {
            c->alias_max = 0;
            return MIDGE_ERR_NOMEM;
        }
    }
    return e;
}

midge_err_t midge_connect(midge_client_t *c, const char *host, int port)
{
    if (!host || !*host || port <= 0 || port > 65535)
        return MIDGE_ERR_INVAL;
    LOCK(c);
    if (c->state != MC_IDLE && c->state != MC_WAIT_RETRY) {
        UNLOCK(c);
        return MIDGE_ERR_BUSY;
    }
    char *h = str_dup(host);
    if (!h) {
        UNLOCK(c);
        return MIDGE_ERR_NOMEM;
    }
    free(c->host);
    c->host = h;
    c->port = port;
    c->last_error[0] = '\0';
    c->rc_delay_ms = 0;
    midge_err_t e = attempt(c);
    if (e == MIDGE_OK) {
        c->want_connected = true;
        c->end_err = MIDGE_OK;
        wake(c);
    } else {
        c->state = MC_IDLE;
    }
    UNLOCK(c);
    return e;
}

/* ---- outgoing messages ---- */

static unsigned window(const midge_client_t *c)
{
    unsigned w = c->max_inflight;
    if (c->srv_receive_max && c->srv_receive_max < w)
        w = c->srv_receive_max;
    return w;
}

static void msg_remove(midge_client_t *c, mc_msg_t *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        c->msgs = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        c->msgs_tail = m->prev;
    if (c->q_first == m)
        c->q_first = m->next;
    if (m->state != MC_QUEUED)
        c->inflight--;
    c->msg_count--;
    c->msg_bytes -= m->len;
    id_mark(c->ids_used, m->mid, false);
    free(m->pkt);
    free(m);
}

static void log_publish(midge_client_t *c, const char *dir, const mqtt_publish_t *p)
{
    if (!c->cb.on_log)
        return;
    logf_(c, "%s PUBLISH (d%d, q%d, r%d, m%d, '%.*s', ... (%zu bytes))", dir, p->dup, p->qos,
          p->retain, p->packet_id, (int)(p->topic.len > 200 ? 200 : p->topic.len),
          (const char *)p->topic.data, p->payload.len);
}

static void pump_walk(midge_client_t *c);

/* Moves queued messages to the connection, in order, while the window has
 * room. Only when connected. */
static void pump(midge_client_t *c)
{
    /* A callback below may publish: the outer walk picks the new message
     * up at the tail, a nested walk would pull entries from under it. */
    if (c->state != MC_CONNECTED || c->pumping)
        return;
    c->pumping = true;
    pump_walk(c);
    c->pumping = false;
}

static void pump_walk(midge_client_t *c)
{
    mc_msg_t *m;
    while ((m = c->q_first) != NULL) {
        if (m->qos > 0 && c->inflight >= window(c))
            break;
        if (c->srv_max_packet && m->len > c->srv_max_packet) {
            int mid = m->mid;
            msg_remove(c, m);
            if (c->cb.on_publish)
                c->cb.on_publish(c, c->ud, mid, MQTT_RC_PACKET_TOO_LARGE, NULL);
            continue;
        }
        if (out_append(c, m->pkt, m->len) != MIDGE_OK)
            break;
        if (c->cb.on_log) {
            mqtt_packet_t dec;
            if (mqtt_decode(m->pkt, m->len, (mqtt_version_t)c->version, &dec) == MQTT_OK)
                log_publish(c, "sending", &dec.u.publish);
        }
        if (m->qos == 0) {
            int mid = m->mid;
            msg_remove(c, m);
            if (c->cb.on_publish)
                c->cb.on_publish(c, c->ud, mid, 0, NULL);
            if (c->state != MC_CONNECTED)
                return; /* the callback disconnected */
            continue;
        }
        m->state = m->qos == 1 ? MC_WAIT_PUBACK : MC_WAIT_PUBREC;
        c->inflight++;
        c->q_first = m->next;
    }
}

midge_err_t midge_publish(midge_client_t *c, int *mid, const char *topic, const void *payload,
                          size_t len, int qos, bool retain, const midge_props_t *props)
{
    if (!c || !topic || qos < 0 || qos > 2 || (!payload && len))
        return MIDGE_ERR_INVAL;
    mqtt_bytes_t tb = {(const uint8_t *)topic, strlen(topic)};
    if (!mqtt_topic_name_valid(tb))
        return MIDGE_ERR_INVAL;
    LOCK(c);
    midge_err_t e = MIDGE_OK;
    mqtt_user_prop_t *u = NULL;
    uint32_t *s = NULL;
    mc_msg_t *m = NULL;
    uint16_t id = 0;
    if (c->state == MC_CONNECTED && ((qos > c->srv_max_qos) || (retain && !c->srv_retain))) {
        e = MIDGE_ERR_NOT_SUPPORTED;
        goto out;
    }
    if (c->msg_count + 1 > c->q_max_msgs ||
        c->msg_bytes + out_pending(c) + len + tb.len > c->q_max_bytes) {
        e = MIDGE_ERR_QUEUE_FULL;
        goto out;
    }
    mqtt_packet_t pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.type = MQTT_PUBLISH;
    pkt.u.publish.qos = (uint8_t)qos;
    pkt.u.publish.retain = retain;
    pkt.u.publish.topic = tb;
    pkt.u.publish.payload = (mqtt_bytes_t){payload, len};
    if (c->version == 5 &&
        (e = mc_props_to_mqtt(props, MQTT_PROPS_PUBLISH, &pkt.u.publish.props, &u, &s)) != MIDGE_OK)
        goto out;
    if (!(id = id_alloc(c))) {
        e = MIDGE_ERR_QUEUE_FULL;
        goto out;
    }
    pkt.u.publish.packet_id = qos ? id : 0;
    if (!(m = calloc(1, sizeof(*m)))) {
        e = MIDGE_ERR_NOMEM;
        goto out;
    }
    if ((e = encode_alloc(c, &pkt, &m->pkt, &m->len)) != MIDGE_OK)
        goto out;
    if (c->state == MC_CONNECTED && c->srv_max_packet && m->len > c->srv_max_packet) {
        mc_set_error(c, "PUBLISH of %zu bytes exceeds the server's maximum packet size of %u",
                     m->len, (unsigned)c->srv_max_packet);
        e = MIDGE_ERR_PACKET_TOO_LARGE;
        goto out;
    }
    m->mid = id;
    m->qos = (uint8_t)qos;
    m->state = MC_QUEUED;
    m->prev = c->msgs_tail;
    if (c->msgs_tail)
        c->msgs_tail->next = m;
    else
        c->msgs = m;
    c->msgs_tail = m;
    if (!c->q_first)
        c->q_first = m;
    c->msg_count++;
    c->msg_bytes += m->len;
    if (mid)
        *mid = id;
    m = NULL;
    id = 0;
    pump(c);
    flush(c);
    if (out_pending(c) || c->pending_err)
        wake(c);
out:
    if (id)
        id_mark(c->ids_used, id, false);
    if (m) {
        free(m->pkt);
        free(m);
    }
    free(u);
    free(s);
    UNLOCK(c);
    return e;
}

/* ---- subscriptions ---- */

static mc_sub_t *sub_find(midge_client_t *c, const char *filter, mc_sub_t **prev)
{
    mc_sub_t *p = NULL;
    for (mc_sub_t *s = c->subs; s; p = s, s = s->next) {
        if (!strcmp(s->filter, filter)) {
            if (prev)
                *prev = p;
            return s;
        }
    }
    return NULL;
}

static void sub_forget(midge_client_t *c, const char *filter)
{
    mc_sub_t *prev = NULL, *s = sub_find(c, filter, &prev);
    if (!s)
        return;
    if (prev)
        prev->next = s->next;
    else
        c->subs = s->next;
    free(s->filter);
    midge_props_free(s->props);
    free(s);
}

static midge_err_t sub_remember(midge_client_t *c, const char *filter, int options,
                                const midge_props_t *props)
{
    midge_props_t *pc = NULL;
    if (props && !(pc = midge_props_copy(props)))
        return MIDGE_ERR_NOMEM;
    mc_sub_t *s = sub_find(c, filter, NULL);
    if (s) {
        midge_props_free(s->props);
        s->props = pc;
        s->options = options;
        return MIDGE_OK;
    }
    s = calloc(1, sizeof(*s));
    if (!s || !(s->filter = str_dup(filter))) {
        free(s);
        midge_props_free(pc);
        return MIDGE_ERR_NOMEM;
    }
    s->options = options;
    s->props = pc;
    s->next = c->subs;
    c->subs = s;
    return MIDGE_OK;
}

static void send_req(midge_client_t *c, mc_req_t *r)
{
    if (out_append(c, r->pkt, r->len) == MIDGE_OK) {
        r->sent = true;
        for (size_t i = 0; i < r->count; i++) {
            if (r->type == MQTT_SUBSCRIBE)
                logf_(c, "sending SUBSCRIBE (Mid: %d, Topic: %s, QoS: %d, Options: 0x%02x)", r->mid,
                      r->filters[i], r->options[i] & 3, r->options[i] & 0xFC);
            else
                logf_(c, "sending UNSUBSCRIBE (Mid: %d, Topic: %s)", r->mid, r->filters[i]);
        }
    }
}

/* Builds, queues and (when connected) sends a SUBSCRIBE or UNSUBSCRIBE. */
static midge_err_t make_req(midge_client_t *c, uint8_t type, bool internal, int *mid, size_t count,
                            const char *const *filters, const int *options,
                            const midge_props_t *props)
{
    mqtt_subscription_t *ents = calloc(count, sizeof(*ents));
    mc_req_t *r = calloc(1, sizeof(*r));
    mqtt_user_prop_t *u = NULL;
    uint32_t *s = NULL;
    midge_err_t e = MIDGE_ERR_NOMEM;
    uint16_t id = 0;
    if (!ents || !r || !(r->filters = calloc(count, sizeof(char *))) ||
        !(r->options = calloc(count, 1)))
        goto fail;
    for (size_t i = 0; i < count; i++) {
        ents[i].filter = (mqtt_bytes_t){(const uint8_t *)filters[i], strlen(filters[i])};
        ents[i].options =
            (uint8_t)(options ? (c->version == 5 ? options[i] & 0x3F : options[i] & 0x03) : 0);
        r->options[i] = ents[i].options;
        if (!(r->filters[i] = str_dup(filters[i])))
            goto fail;
        r->count++;
    }
    mqtt_packet_t pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.type = type;
    pkt.u.subscribe.entries = ents;
    pkt.u.subscribe.count = count;
    if (c->version == 5 &&
        (e = mc_props_to_mqtt(
             props, type == MQTT_SUBSCRIBE ? MQTT_PROPS_SUBSCRIBE : MQTT_PROPS_UNSUBSCRIBE,
             &pkt.u.subscribe.props, &u, &s)) != MIDGE_OK)
        goto fail;
    e = MIDGE_ERR_QUEUE_FULL;
    if (!(id = id_alloc(c)))
        goto fail;
    pkt.u.subscribe.packet_id = id;
    if ((e = encode_alloc(c, &pkt, &r->pkt, &r->len)) != MIDGE_OK)
        goto fail;
    r->mid = id;
    r->type = type;
    r->internal = internal;
    if (c->reqs_tail)
        c->reqs_tail->next = r;
    else
        c->reqs = r;
    c->reqs_tail = r;
    if (mid)
        *mid = id;
    if (c->state == MC_CONNECTED)
        send_req(c, r);
    free(ents);
    free(u);
    free(s);
    return MIDGE_OK;
fail:
    if (id)
        id_mark(c->ids_used, id, false);
    if (r)
        free_req(r);
    free(ents);
    free(u);
    free(s);
    return e;
}

static bool filters_ok(size_t count, const char *const *filters, const int *options)
{
    if (!count || !filters)
        return false;
    for (size_t i = 0; i < count; i++) {
        if (!filters[i])
            return false;
        mqtt_bytes_t f = {(const uint8_t *)filters[i], strlen(filters[i])};
        if (!mqtt_topic_filter_valid(f))
            return false;
        if (options &&
            ((options[i] & 3) == 3 || (options[i] & ~0x3F) || ((options[i] >> 4) & 3) == 3))
            return false;
    }
    return true;
}

midge_err_t midge_subscribe_many(midge_client_t *c, int *mid, size_t count,
                                 const char *const *filters, const int *options,
                                 const midge_props_t *props)
{
    if (!c || !filters_ok(count, filters, options))
        return MIDGE_ERR_INVAL;
    LOCK(c);
    midge_err_t e = make_req(c, MQTT_SUBSCRIBE, false, mid, count, filters, options, props);
    for (size_t i = 0; e == MIDGE_OK && i < count; i++)
        e = sub_remember(c, filters[i], options ? options[i] : 0, props);
    flush(c);
    if (out_pending(c))
        wake(c);
    UNLOCK(c);
    return e;
}

midge_err_t midge_subscribe(midge_client_t *c, int *mid, const char *filter, int options,
                            const midge_props_t *props)
{
    const char *f[1] = {filter};
    int o[1] = {options};
    return midge_subscribe_many(c, mid, 1, f, o, props);
}

midge_err_t midge_unsubscribe_many(midge_client_t *c, int *mid, size_t count,
                                   const char *const *filters, const midge_props_t *props)
{
    if (!c || !filters_ok(count, filters, NULL))
        return MIDGE_ERR_INVAL;
    LOCK(c);
    midge_err_t e = make_req(c, MQTT_UNSUBSCRIBE, false, mid, count, filters, NULL, props);
    if (e == MIDGE_OK)
        for (size_t i = 0; i < count; i++)
            sub_forget(c, filters[i]);
    flush(c);
    if (out_pending(c))
        wake(c);
    UNLOCK(c);
    return e;
}

midge_err_t midge_unsubscribe(midge_client_t *c, int *mid, const char *filter,
                              const midge_props_t *props)
{
    const char *f[1] = {filter};
    return midge_unsubscribe_many(c, mid, 1, f, props);
}

/* ---- disconnecting ---- */

midge_err_t midge_disconnect_v5(midge_client_t *c, uint8_t reason, const midge_props_t *props)
{
    LOCK(c);
    if (c->state == MC_IDLE) {
        UNLOCK(c);
        return MIDGE_ERR_NO_CONN;
    }
    c->want_connected = false;
    if (c->pending_err != MIDGE_OK) {
        /* The connection is failing already; the next step ends it and,
         * with want_connected cleared, does not retry. */
    } else if (c->state == MC_CONNECTED) {
        mqtt_packet_t pkt;
        memset(&pkt, 0, sizeof(pkt));
        pkt.type = MQTT_DISCONNECT;
        mqtt_user_prop_t *u = NULL;
        uint32_t *s = NULL;
        midge_err_t e = MIDGE_OK;
        if (c->version == 5) {
            pkt.u.disconnect.reason = reason;
            e = mc_props_to_mqtt(props, MQTT_PROPS_DISCONNECT, &pkt.u.disconnect.props, &u, &s);
        }
        if (e == MIDGE_OK)
            e = send_packet(c, &pkt);
        free(u);
        free(s);
        if (e != MIDGE_OK) {
            c->want_connected = true;
            UNLOCK(c);
            return e;
        }
        logf_(c, "sending DISCONNECT");
        c->state = MC_CLOSING;
        flush(c);
        wake(c);
    } else if (c->state != MC_CLOSING) {
        drop_connection(c, MIDGE_OK, "");
    }
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_disconnect(midge_client_t *c)
{
    return midge_disconnect_v5(c, 0, NULL);
}

/*
 * Ends the current connection or attempt. Session state is kept: in-flight
 * messages are resent after the next CONNACK. Calls on_disconnect and
 * schedules the next attempt, or goes idle.
 */
static void drop_connection(midge_client_t *c, midge_err_t err, const char *detail)
{
    bool was_connected = c->sock >= 0;
    mc_net_close(c);
    c->in_len = 0;
    c->out_off = c->out_len = 0;
    c->pending_err = MIDGE_OK;
    c->ping_sent = 0;
    free_aliases(c);
    c->alias_max = 0;
    for (mc_req_t *r = c->reqs; r; r = r->next)
        r->sent = false;
    bool retry = err != MIDGE_OK && c->want_connected && c->reconnect;
    if (retry) {
        schedule_retry(c);
    } else {
        c->state = MC_IDLE;
        c->want_connected = false;
        c->end_err = err;
    }
    if (err != MIDGE_OK && detail != c->last_error)
        mc_set_error(c, "%s", detail);
    (void)was_connected;
    if (c->cb.on_disconnect)
        c->cb.on_disconnect(c, c->ud, err, detail, retry);
}

/* A protocol violation by the server: tell it why (MQTT 5), then drop. */
static midge_err_t fail_protocol(midge_client_t *c, midge_err_t err, uint8_t reason,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static midge_err_t fail_protocol(midge_client_t *c, midge_err_t err, uint8_t reason,
                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->pending_detail, sizeof(c->pending_detail), fmt, ap);
    va_end(ap);
    if (c->version == 5 && c->state == MC_CONNECTED) {
        mqtt_packet_t pkt;
        memset(&pkt, 0, sizeof(pkt));
        pkt.type = MQTT_DISCONNECT;
        pkt.u.disconnect.reason = reason;
        if (send_packet(c, &pkt) == MIDGE_OK)
            flush(c);
    }
    c->pending_err = err;
    return err;
}

/* ---- incoming packets ---- */

static midge_err_t deliver_props(midge_client_t *c, const mqtt_props_t *p)
{
    if (c->version != 5) {
        mc_props_clear(&c->rx_props);
        return MIDGE_OK;
    }
    return mc_props_from_mqtt(&c->rx_props, p);
}

static midge_err_t on_connack(midge_client_t *c, const mqtt_connack_t *k)
{
    if (c->state != MC_CONNACK)
        return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_PROTOCOL_ERROR,
                             "CONNACK from the server on an open connection");
    logf_(c, "received CONNACK (%d)", k->reason);
    if (deliver_props(c, &k->props) != MIDGE_OK)
        return fail_protocol(c, MIDGE_ERR_NOMEM, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
    if (k->reason != 0) {
        /* Set before the callback: a midge_disconnect there then only
         * stops the retries of this already failed connection. */
        snprintf(c->pending_detail, sizeof(c->pending_detail), "%s",
                 midge_connack_string(c->version, k->reason));
        c->pending_err = MIDGE_ERR_CONN_REFUSED;
        if (c->cb.on_connect)
            c->cb.on_connect(c, c->ud, k->reason, false, &c->rx_props);
        return MIDGE_ERR_CONN_REFUSED;
    }
    c->state = MC_CONNECTED;
    c->rc_delay_ms = 0;
    c->ka_eff = c->keepalive;
    c->srv_receive_max = 0;
    c->srv_max_packet = 0;
    c->srv_max_qos = 2;
    c->srv_retain = true;
    if (c->version == 5) {
        const mqtt_props_t *p = &k->props;
        if (MQTT_PROP_HAS(p, MQTT_PROP_SERVER_KEEP_ALIVE))
            c->ka_eff = p->server_keep_alive;
        if (MQTT_PROP_HAS(p, MQTT_PROP_RECEIVE_MAXIMUM))
            c->srv_receive_max = p->receive_maximum;
        if (MQTT_PROP_HAS(p, MQTT_PROP_MAXIMUM_PACKET_SIZE))
            c->srv_max_packet = p->maximum_packet_size;
        if (MQTT_PROP_HAS(p, MQTT_PROP_MAXIMUM_QOS))
            c->srv_max_qos = p->maximum_qos;
        if (MQTT_PROP_HAS(p, MQTT_PROP_RETAIN_AVAILABLE))
            c->srv_retain = p->retain_available;
        if (MQTT_PROP_HAS(p, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER)) {
            char *n = malloc(p->assigned_client_identifier.len + 1);
            if (n) {
                memcpy(n, p->assigned_client_identifier.data, p->assigned_client_identifier.len);
                n[p->assigned_client_identifier.len] = '\0';
                free(c->client_id);
                c->client_id = n;
            }
        }
    }
    /* MQTT 3.1 has no session present flag: assume the session survived
     * when asked to; resending with DUP is harmless if it did not. */
    bool session = c->version == 3 ? !c->clean : k->session_present;
    if (!session) {
        memset(c->rx_qos2, 0, sizeof(c->rx_qos2));
        c->rx_pending = 0;
    }
    c->pumping = true;
    for (mc_msg_t *m = c->msgs, *next; m && m != c->q_first; m = next) {
        next = m->next;
        if (!session) {
            if (m->state == MC_WAIT_PUBCOMP) {
                /* The server had the message (PUBREC) and lost the session:
                 * it was delivered; nothing is left to complete. */
                int mid = m->mid;
                msg_remove(c, m);
                if (c->cb.on_publish)
                    c->cb.on_publish(c, c->ud, mid, 0, NULL);
                continue;
            }
            m->pkt[0] &= (uint8_t)~0x08;
        } else if (m->state == MC_WAIT_PUBCOMP) {
            send_ack(c, MQTT_PUBREL, m->mid, 0);
        } else {
            m->pkt[0] |= 0x08; /* DUP */
            out_append(c, m->pkt, m->len);
        }
    }
    if (!session) {
        /* Everything goes again as new messages, in the original order. */
        for (mc_msg_t *m = c->msgs; m && m != c->q_first; m = m->next)
            m->state = MC_QUEUED;
        c->q_first = c->msgs;
        c->inflight = 0;
    }
    c->pumping = false;
    for (mc_req_t *r = c->reqs; r; r = r->next)
        send_req(c, r);
    if (!session && c->resubscribe) {
        for (mc_sub_t *s = c->subs; s; s = s->next) {
            bool pending = false;
            for (mc_req_t *r = c->reqs; r && !pending; r = r->next)
                for (size_t i = 0; r->type == MQTT_SUBSCRIBE && i < r->count; i++)
                    if (!strcmp(r->filters[i], s->filter))
                        pending = true;
            if (pending)
                continue;
            const char *f[1] = {s->filter};
            int o[1] = {s->options};
            make_req(c, MQTT_SUBSCRIBE, true, NULL, 1, f, o, s->props);
        }
    }
    if (c->cb.on_connect)
        c->cb.on_connect(c, c->ud, 0, session, &c->rx_props);
    pump(c);
    return MIDGE_OK;
}

static midge_err_t on_publish_in(midge_client_t *c, mqtt_publish_t *p)
{
    log_publish(c, "received", p);
    const uint8_t *topic = p->topic.data;
    size_t tlen = p->topic.len;
    if (c->version == 5 && MQTT_PROP_HAS(&p->props, MQTT_PROP_TOPIC_ALIAS)) {
        uint16_t a = p->props.topic_alias;
        if (a == 0 || a > c->alias_max)
            return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_TOPIC_ALIAS_INVALID,
                                 "the server used topic alias %u (maximum %u)", a, c->alias_max);
        if (tlen) {
            char *t = malloc(tlen + 1);
            if (!t)
                return fail_protocol(c, MIDGE_ERR_NOMEM, MQTT_RC_UNSPECIFIED_ERROR,
                                     "out of memory");
            memcpy(t, topic, tlen);
            t[tlen] = '\0';
            free(c->aliases[a]);
            c->aliases[a] = t;
        } else if (!c->aliases[a]) {
            return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_PROTOCOL_ERROR,
                                 "the server used unknown topic alias %u", a);
        } else {
            topic = (const uint8_t *)c->aliases[a];
            tlen = strlen(c->aliases[a]);
        }
    } else if (!tlen) {
        return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_PROTOCOL_ERROR,
                             "PUBLISH without a topic");
    }
    bool deliver = true;
    if (p->qos == 2) {
        if (id_used(c->rx_qos2, p->packet_id)) {
            deliver = false; /* a resend of one we already delivered */
        } else {
            if (c->rx_max && c->rx_pending >= c->rx_max)
                return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED,
                                     "the server sent more than %u unacknowledged QoS 2 "
                                     "messages (our Receive Maximum)",
                                     c->rx_max);
            id_mark(c->rx_qos2, p->packet_id, true);
            c->rx_pending++;
        }
    }
    /* Acknowledge first, as Mosquitto's library does: a callback that
     * disconnects must not leave its DISCONNECT ahead of this answer. */
    if (p->qos == 1) {
        logf_(c, "sending PUBACK (m%d, rc0)", p->packet_id);
        send_ack(c, MQTT_PUBACK, p->packet_id, 0);
    } else if (p->qos == 2) {
        logf_(c, "sending PUBREC (m%d, rc0)", p->packet_id);
        send_ack(c, MQTT_PUBREC, p->packet_id, 0);
    }
    if (deliver && c->cb.on_message) {
        if (tlen + 1 > c->topic_cap) {
            char *n = realloc(c->topic_buf, tlen + 1);
            if (!n)
                return fail_protocol(c, MIDGE_ERR_NOMEM, MQTT_RC_UNSPECIFIED_ERROR,
                                     "out of memory");
            c->topic_buf = n;
            c->topic_cap = tlen + 1;
        }
        memcpy(c->topic_buf, topic, tlen);
        c->topic_buf[tlen] = '\0';
        if (deliver_props(c, &p->props) != MIDGE_OK)
            return fail_protocol(c, MIDGE_ERR_NOMEM, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
        midge_message_t msg = {
            .mid = p->packet_id,
            .topic = c->topic_buf,
            .topic_len = tlen,
            .payload = p->payload.len ? p->payload.data : NULL,
            .payload_len = p->payload.len,
            .qos = p->qos,
            .retain = p->retain,
            .dup = p->dup,
            .props = &c->rx_props,
        };
        c->cb.on_message(c, c->ud, &msg);
    }
    return MIDGE_OK;
}

/* An in-flight message by packet id; the walk stops at the queued part,
 * so it costs at most the in-flight window. */
static mc_msg_t *msg_find(midge_client_t *c, uint16_t id)
{
    for (mc_msg_t *m = c->msgs; m && m != c->q_first; m = m->next)
        if (m->mid == id)
            return m;
    return NULL;
}

static midge_err_t on_ack(midge_client_t *c, uint8_t type, const mqtt_ack_t *a)
{
    /* Worded as Mosquitto's -d output: PUBREC and PUBREL without the code. */
    if (type == MQTT_PUBREC || type == MQTT_PUBREL)
        logf_(c, "received %s (Mid: %d)", mqtt_packet_type_str(type), a->packet_id);
    else
        logf_(c, "received %s (Mid: %d, RC:%d)", mqtt_packet_type_str(type), a->packet_id,
              a->reason);
    if (type == MQTT_PUBREL) {
        bool known = id_used(c->rx_qos2, a->packet_id);
        if (known) {
            id_mark(c->rx_qos2, a->packet_id, false);
            c->rx_pending--;
        }
        logf_(c, "sending PUBCOMP (m%d)", a->packet_id);
        send_ack(c, MQTT_PUBCOMP, a->packet_id, known ? 0 : MQTT_RC_PACKET_ID_NOT_FOUND);
        return MIDGE_OK;
    }
    mc_msg_t *m = msg_find(c, a->packet_id);
    if (!m)
        return MIDGE_OK; /* late or duplicate acknowledgement: harmless */
    int mid = m->mid;
    bool done = false;
    if (type == MQTT_PUBACK && m->state == MC_WAIT_PUBACK) {
        done = true;
    } else if (type == MQTT_PUBREC && (m->state == MC_WAIT_PUBREC || m->state == MC_WAIT_PUBCOMP)) {
        if (a->reason >= 0x80) {
            done = true;
        } else {
            m->state = MC_WAIT_PUBCOMP;
            logf_(c, "sending PUBREL (m%d)", mid);
            send_ack(c, MQTT_PUBREL, a->packet_id, 0);
        }
    } else if (type == MQTT_PUBCOMP && m->state == MC_WAIT_PUBCOMP) {
        done = true;
    } else {
        return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_PROTOCOL_ERROR,
                             "%s for message %d in the wrong state", mqtt_packet_type_str(type),
                             mid);
    }
    if (done) {
        msg_remove(c, m);
        if (deliver_props(c, &a->props) != MIDGE_OK)
            return fail_protocol(c, MIDGE_ERR_NOMEM, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
        if (c->cb.on_publish)
            c->cb.on_publish(c, c->ud, mid, a->reason, &c->rx_props);
        pump(c);
    }
    return MIDGE_OK;
}

static midge_err_t on_suback(midge_client_t *c, uint8_t type, const mqtt_suback_t *s)
{
    logf_(c, "received %s", mqtt_packet_type_str(type));
    mc_req_t *prev = NULL, *r = c->reqs;
    while (r && !(r->mid == s->packet_id && r->sent))
        prev = r, r = r->next;
    if (!r)
        return MIDGE_OK;
    if ((type == MQTT_SUBACK) != (r->type == MQTT_SUBSCRIBE))
        return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_PROTOCOL_ERROR,
                             "%s answers a request of another kind", mqtt_packet_type_str(type));
    if (prev)
        prev->next = r->next;
    else
        c->reqs = r->next;
    if (c->reqs_tail == r)
        c->reqs_tail = prev;
    id_mark(c->ids_used, r->mid, false);
    bool internal = r->internal;
    int mid = r->mid;
    free_req(r);
    if (internal)
        return MIDGE_OK;
    if (deliver_props(c, &s->props) != MIDGE_OK)
        return fail_protocol(c, MIDGE_ERR_NOMEM, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
    if (type == MQTT_SUBACK && c->cb.on_subscribe)
        c->cb.on_subscribe(c, c->ud, mid, s->count, s->reasons, &c->rx_props);
    if (type == MQTT_UNSUBACK && c->cb.on_unsubscribe)
        c->cb.on_unsubscribe(c, c->ud, mid, s->count, s->reasons, &c->rx_props);
    return MIDGE_OK;
}

static midge_err_t on_server_disconnect(midge_client_t *c, const mqtt_disconnect_t *d)
{
    if (c->version == 5 && MQTT_PROP_HAS(&d->props, MQTT_PROP_REASON_STRING))
        snprintf(c->pending_detail, sizeof(c->pending_detail),
                 "the server sent DISCONNECT: %s (%.*s)", midge_reason_string(d->reason),
                 (int)(d->props.reason_string.len > 150 ? 150 : d->props.reason_string.len),
                 (const char *)d->props.reason_string.data);
    else
        snprintf(c->pending_detail, sizeof(c->pending_detail), "the server sent DISCONNECT: %s",
                 midge_reason_string(d->reason));
    c->pending_err = MIDGE_ERR_SERVER_DISCONNECT;
    return MIDGE_ERR_SERVER_DISCONNECT;
}

static midge_err_t handle_packet(midge_client_t *c, const uint8_t *buf, size_t len)
{
    mqtt_packet_t pkt;
    mqtt_err_t de = mqtt_decode(buf, len, (mqtt_version_t)c->version, &pkt);
    if (de != MQTT_OK) {
        unsigned type = buf[0] >> 4;
        return fail_protocol(c, MIDGE_ERR_MALFORMED, mqtt_err_reason(de),
                             "malformed %s from the server: %s", mqtt_packet_type_str(type),
                             mqtt_err_str(de));
    }
    if (c->state == MC_CONNACK && pkt.type != MQTT_CONNACK)
        return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_PROTOCOL_ERROR,
                             "%s from the server before CONNACK", mqtt_packet_type_str(pkt.type));
    switch (pkt.type) {
    case MQTT_CONNACK:
        return on_connack(c, &pkt.u.connack);
    case MQTT_PUBLISH:
        return on_publish_in(c, &pkt.u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        return on_ack(c, pkt.type, &pkt.u.ack);
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        return on_suback(c, pkt.type, &pkt.u.suback);
    case MQTT_PINGRESP:
        logf_(c, "received PINGRESP");
        c->ping_sent = 0;
        return MIDGE_OK;
    case MQTT_DISCONNECT:
        return on_server_disconnect(c, &pkt.u.disconnect);
    default:
        return fail_protocol(c, MIDGE_ERR_PROTOCOL, MQTT_RC_PROTOCOL_ERROR,
                             "%s is not a packet a server sends", mqtt_packet_type_str(pkt.type));
    }
}

/* Handles every whole packet in the input buffer; keeps the rest. On a
 * failure pending_err is set. Returns the bytes the next packet needs in
 * total (to size the buffer), or 0 if unknown. */
static size_t handle_input(midge_client_t *c)
{
    size_t off = 0, need = 0;
    /* After our DISCONNECT nothing more is handled (no message after the
     * callback that asked to stop). */
    while (c->in_len > off && c->pending_err == MIDGE_OK && c->sock >= 0 &&
           c->state != MC_CLOSING) {
        mqtt_fixed_header_t fh;
        mqtt_err_t e = mqtt_fixed_header_decode(c->in + off, c->in_len - off, &fh);
        if (e == MQTT_ERR_NEED_MORE)
            break;
        if (e != MQTT_OK) {
            fail_protocol(c, MIDGE_ERR_MALFORMED, MQTT_RC_MALFORMED_PACKET,
                          "malformed packet from the server: %s", mqtt_err_str(e));
            break;
        }
        size_t total = (size_t)fh.header_len + fh.remaining;
        if (total > c->max_packet_in) {
            fail_protocol(c, MIDGE_ERR_PACKET_TOO_LARGE, MQTT_RC_PACKET_TOO_LARGE,
                          "%s of %zu bytes from the server exceeds the maximum packet size %u",
                          mqtt_packet_type_str(fh.type), total, (unsigned)c->max_packet_in);
            break;
        }
        if (c->in_len - off < total) {
            need = total;
            break;
        }
        handle_packet(c, c->in + off, total);
        off += total;
    }
    if (c->sock < 0 || c->pending_err != MIDGE_OK)
        return 0;
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return need;
}

/* Reads what the socket has and handles it. */
static void read_input(midge_client_t *c)
{
    for (int i = 0; i < READS_PER_STEP && c->pending_err == MIDGE_OK && c->sock >= 0; i++) {
        size_t need = handle_input(c);
        if (c->pending_err != MIDGE_OK || c->sock < 0)
            return;
        /* Grow towards the announced size only as bytes arrive, so a false
         * length costs the peer as much as it costs us. */
        size_t want = c->in_len + 16384;
        if (need > want)
            want = need - c->in_len > (1u << 20) ? c->in_len + (1u << 20) : need;
        if (want > c->in_cap) {
            uint8_t *n = realloc(c->in, want);
            if (!n) {
                c->pending_err = MIDGE_ERR_NOMEM;
                snprintf(c->pending_detail, sizeof(c->pending_detail), "out of memory");
                return;
            }
            c->in = n;
            c->in_cap = want;
        }
        midge_err_t err = MIDGE_OK;
        long n = mc_net_read(c, c->in + c->in_len, c->in_cap - c->in_len, &err);
        if (n < 0) {
            c->pending_err = err;
            snprintf(c->pending_detail, sizeof(c->pending_detail), "%s", c->last_error);
            return;
        }
        if (n == 0)
            return;
        c->in_len += (size_t)n;
    }
    c->read_again = true;
}

/* ---- the step ---- */

static void run_timers(midge_client_t *c, int64_t now)
{
    if (c->state == MC_TCP || c->state == MC_TLS || c->state == MC_CONNACK) {
        if (now >= c->deadline && c->pending_err == MIDGE_OK) {
            c->pending_err = MIDGE_ERR_TIMEOUT;
            snprintf(c->pending_detail, sizeof(c->pending_detail),
                     "no connection to %s:%d within %u s", c->host, c->port, c->connect_timeout_s);
        }
        return;
    }
    if (c->state != MC_CONNECTED || !c->ka_eff)
        return;
    int64_t ka = (int64_t)c->ka_eff * 1000;
    if (c->ping_sent && now - c->ping_sent >= ka) {
        c->pending_err = MIDGE_ERR_KEEPALIVE;
        snprintf(c->pending_detail, sizeof(c->pending_detail),
                 "no PINGRESP from the server within %u s", c->ka_eff);
        return;
    }
    if (!c->ping_sent && now - c->last_out >= ka) {
        mqtt_packet_t pkt;
        memset(&pkt, 0, sizeof(pkt));
        pkt.type = MQTT_PINGREQ;
        if (send_packet(c, &pkt) == MIDGE_OK) {
            logf_(c, "sending PINGREQ");
            c->ping_sent = now;
        }
    }
}

static void step_locked(midge_client_t *c)
{
    c->read_again = false;
    if (c->state == MC_WAIT_RETRY && mc_now_ms() >= c->retry_at) {
        midge_err_t e = attempt(c);
        if (e != MIDGE_OK) {
            drop_connection(c, e, c->last_error);
            return;
        }
    }
    if (c->state == MC_TCP || c->state == MC_TLS) {
        midge_err_t e = mc_net_progress(c);
        while (e == MIDGE_ERR_CONNECT && c->addr_next) {
            mc_net_close(c);
            e = mc_net_start(c);
            if (e == MIDGE_OK)
                e = mc_net_progress(c);
        }
        if (e != MIDGE_OK) {
            drop_connection(c, e, c->last_error);
            return;
        }
        if (c->state == MC_CONNACK) {
            e = send_connect(c);
            if (e != MIDGE_OK) {
                mc_set_error(c, "cannot encode CONNECT: %s", midge_strerror(e));
                drop_connection(c, e, c->last_error);
                return;
            }
        }
    }
    if (c->state == MC_CONNACK || c->state == MC_CONNECTED || c->state == MC_CLOSING) {
        read_input(c);
        if (c->sock < 0)
            return; /* a callback ended the connection */
        run_timers(c, mc_now_ms());
        pump(c);
        flush(c);
        if (c->pending_err != MIDGE_OK) {
            char detail[sizeof(c->pending_detail)];
            memcpy(detail, c->pending_detail, sizeof(detail));
            midge_err_t e = c->pending_err;
            if (e == MIDGE_ERR_CONN_LOST && c->state == MC_CLOSING) {
                e = MIDGE_OK; /* the server closed first after our DISCONNECT */
                detail[0] = '\0';
            }
            drop_connection(c, e, detail);
            return;
        }
        if (c->state == MC_CLOSING && !out_pending(c))
            drop_connection(c, MIDGE_OK, "");
    }
}

midge_err_t midge_step(midge_client_t *c)
{
    LOCK(c);
    step_locked(c);
    midge_err_t r = c->state == MC_IDLE ? MIDGE_ERR_NO_CONN : MIDGE_OK;
    UNLOCK(c);
    return r;
}

int midge_socket(midge_client_t *c)
{
    LOCK(c);
    int fd = c->sock;
    UNLOCK(c);
    return fd;
}

static bool want_write_locked(midge_client_t *c)
{
    if (c->sock < 0)
        return false;
    if (c->state == MC_TCP || c->state == MC_TLS)
        return mc_net_wants_write(c);
    return out_pending(c) > 0;
}

bool midge_want_write(midge_client_t *c)
{
    LOCK(c);
    bool r = want_write_locked(c);
    UNLOCK(c);
    return r;
}

static int timeout_locked(midge_client_t *c)
{
    int64_t now = mc_now_ms(), due = -1;
    if (c->read_again || c->pending_err != MIDGE_OK)
        return 0;
    switch (c->state) {
    case MC_IDLE:
        return -1;
    case MC_WAIT_RETRY:
        due = c->retry_at;
        break;
    case MC_TCP:
    case MC_TLS:
    case MC_CONNACK:
        due = c->deadline;
        break;
    case MC_CONNECTED:
    case MC_CLOSING:
        if (!c->ka_eff)
            return -1;
        due = c->ping_sent ? c->ping_sent + (int64_t)c->ka_eff * 1000
                           : c->last_out + (int64_t)c->ka_eff * 1000;
        break;
    }
    if (due <= now)
        return 0;
    return due - now > 3600000 ? 3600000 : (int)(due - now);
}

int midge_timeout_ms(midge_client_t *c)
{
    LOCK(c);
    int t = timeout_locked(c);
    UNLOCK(c);
    return t;
}

/* Waits for the socket or the wake-up, at most timeout_ms (-1 forever). */
static void wait_events(midge_client_t *c, int timeout_ms)
{
    LOCK(c);
    int fd = c->sock;
    short ev = POLLIN | (want_write_locked(c) ? POLLOUT : 0);
    int t = timeout_locked(c);
    UNLOCK(c);
    if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
        t = timeout_ms;
    struct pollfd p[2] = {{.fd = c->wake_fd, .events = POLLIN}, {.fd = fd, .events = ev}};
    int r = poll(p, fd >= 0 ? 2 : 1, t);
    if (r > 0 && (p[0].revents & POLLIN)) {
        uint64_t v;
        if (read(c->wake_fd, &v, sizeof(v)) < 0) {
            /* EAGAIN: another waiter took it */
        }
    }
}

midge_err_t midge_loop(midge_client_t *c, int timeout_ms)
{
    LOCK(c);
    bool idle = c->state == MC_IDLE;
    UNLOCK(c);
    if (idle)
        return MIDGE_ERR_NO_CONN;
    wait_events(c, timeout_ms);
    return midge_step(c);
}

midge_err_t midge_loop_forever(midge_client_t *c)
{
    while (midge_loop(c, -1) == MIDGE_OK) {
    }
    LOCK(c);
    midge_err_t e = c->end_err;
    UNLOCK(c);
    return e;
}

static void *loop_thread(void *arg)
{
    midge_client_t *c = arg;
    for (;;) {
        LOCK(c);
        bool stop = c->thread_stop;
        UNLOCK(c);
        if (stop)
            break;
        wait_events(c, -1);
        LOCK(c);
        if (!c->thread_stop && c->state != MC_IDLE)
            step_locked(c);
        UNLOCK(c);
    }
    /* Write what is queued (a DISCONNECT above all) before returning. */
    int64_t end = mc_now_ms() + 1000;
    LOCK(c);
    while (c->sock >= 0 && (c->state == MC_CONNECTED || c->state == MC_CLOSING) && out_pending(c) &&
           c->pending_err == MIDGE_OK && mc_now_ms() < end) {
        int fd = c->sock;
        UNLOCK(c);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, 50);
        LOCK(c);
        flush(c);
    }
    if (c->state == MC_CLOSING && !out_pending(c))
        drop_connection(c, MIDGE_OK, "");
    UNLOCK(c);
    return NULL;
}

midge_err_t midge_loop_start(midge_client_t *c)
{
    LOCK(c);
    if (c->thread_running) {
        UNLOCK(c);
        return MIDGE_ERR_BUSY;
    }
    c->thread_stop = false;
    if (pthread_create(&c->thread, NULL, loop_thread, c) != 0) {
        UNLOCK(c);
        return MIDGE_ERR_SYSTEM;
    }
    c->thread_running = true;
    UNLOCK(c);
    return MIDGE_OK;
}

midge_err_t midge_loop_stop(midge_client_t *c)
{
    LOCK(c);
    if (!c->thread_running || pthread_equal(pthread_self(), c->thread)) {
        UNLOCK(c);
        return c->thread_running ? MIDGE_ERR_BUSY : MIDGE_ERR_NO_CONN;
    }
    c->thread_stop = true;
    wake(c);
    pthread_t t = c->thread;
    UNLOCK(c);
    pthread_join(t, NULL);
    LOCK(c);
    c->thread_running = false;
    UNLOCK(c);
    return MIDGE_OK;
}
