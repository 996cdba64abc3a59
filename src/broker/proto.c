/*
 * The network layer's callbacks and the packet dispatcher: every packet
 * goes through proto_on_packet, which enforces the connection's state
 * (CONNECT first and only once) and hands the body to its handler.
 */
#include "broker/proto.h"

#include <stdlib.h>
#include <string.h>

#include "broker/log.h"
#include "broker/mount.h"
#include "broker/security_hooks.h"

/* A PUBLISH head is at most fixed header + topic + id + properties; this
 * covers all but pathological property sets, which get a bigger buffer. */
#define PROTO_BUF_INITIAL 4096

static void msg_release_hook(void *m)
{
    msg_unref(m);
}

static bool prefer_online(void *session)
{
    return atomic_load_explicit(&((session_t *)session)->online, memory_order_relaxed);
}

int broker_init(broker_t *b, const config_t *cfg)
{
    memset(b, 0, sizeof(*b));
    b->max_inflight = cfg->max_inflight_messages == 0 || cfg->max_inflight_messages > 65535
                          ? 65535
                          : (uint16_t)cfg->max_inflight_messages;
    b->max_topic_alias = cfg->max_topic_alias;
    b->max_keepalive = cfg->max_keepalive;
    b->max_packet_size = cfg->max_packet_size;
    b->message_size_limit = cfg->message_size_limit;
    b->upgrade_outgoing_qos = cfg->upgrade_outgoing_qos;
    b->retain_available = cfg->retain_available;
    b->allow_zero_length_clientid = cfg->security.allow_zero_length_clientid;
    b->auto_id_prefix =
        cfg->security.auto_id_prefix ? cfg->security.auto_id_prefix : MIDGE_AUTO_ID_PREFIX;
    b->sys_interval = cfg->sys_interval;
    b->persistent_client_expiration = cfg->persistent_client_expiration;
    b->connect_timeout_ms = MIDGE_CONNECT_TIMEOUT_S * 1000u;
    session_limits_t lim = {
        .max_inflight = b->max_inflight,
        .max_queued_messages = cfg->max_queued_messages,
        .max_queued_bytes = cfg->max_queued_bytes,
        .max_online_queued = MIDGE_MAX_ONLINE_QUEUED,
        .max_inflight_bytes = cfg->max_inflight_bytes,
        .queue_qos0 = cfg->queue_qos0_messages,
    };
    if (session_table_init(&b->sessions, &lim, msg_release_hook, NULL) != 0)
        return -1;
    b->tree = tt_new();
    b->retain = retain_new();
    if (!b->tree || !b->retain) {
        broker_destroy(b);
        return -1;
    }
    tt_set_share_preference(b->tree, prefer_online);
    b->start_ms = msg_now_ms();
    return 0;
}

void broker_destroy(broker_t *b)
{
    /* Subscriptions name sessions: the tree goes first. */
    if (b->tree)
        tt_free(b->tree);
    b->tree = NULL;
    if (b->sessions.buckets)
        session_table_destroy(&b->sessions);
    if (b->retain)
        retain_free(b->retain);
    b->retain = NULL;
    sechook_destroy(b);
}

/* ---- clients ---- */

void client_ref(client_t *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void alias_free(alias_t *a, size_t n)
{
    if (!a)
        return;
    for (size_t i = 0; i <= n; i++)
        free(a[i].topic);
    free(a);
}

void client_release(client_t *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    msg_unref(c->will);
    session_release(c->session);
    alias_free(c->alias_in, c->b->max_topic_alias);
    alias_free(c->alias_out, c->client_alias_max);
    sechook_client_free(c);
    free(c->mount_point);
    free(c);
}

uint8_t *proto_buf(client_t *c, size_t n)
{
    wctx_t *wc = worker_proto(c->worker);
    if (n > wc->buf_cap) {
        size_t cap = wc->buf_cap ? wc->buf_cap : PROTO_BUF_INITIAL;
        while (cap < n)
            cap *= 2;
        uint8_t *nb = realloc(wc->buf, cap);
        if (!nb)
            return NULL;
        wc->buf = nb;
        wc->buf_cap = cap;
    }
    return wc->buf;
}

static void count_sent(broker_t *b, size_t bytes)
{
    atomic_fetch_add_explicit(&b->stats.msgs_sent, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->stats.bytes_sent, bytes, memory_order_relaxed);
}

int proto_send(client_t *c, const mqtt_packet_t *pkt)
{
    if (!c->conn)
        return -1;
    mqtt_version_t v = c->version ? c->version : MQTT_V311;
    size_t n = mqtt_encoded_size(pkt, v);
    uint8_t *buf = n ? proto_buf(c, n) : NULL;
    size_t written = 0;
    if (!buf || mqtt_encode(pkt, v, buf, n, &written) != MQTT_OK) {
        mlog(MLOG_ERROR, "Cannot encode %s for client %s.", mqtt_packet_type_str(pkt->type),
             c->session ? c->session->client_id : "(new)");
        return -1;
    }
    count_sent(c->b, written);
    return conn_write(c->conn, buf, written);
}

void proto_disconnect(client_t *c, uint8_t reason)
{
    if (!c->conn || conn_is_closing(c->conn))
        return;
    if (c->version == MQTT_V5) {
        uint8_t d[3] = {0xE0, 0x01, reason};
        if (conn_write(c->conn, d, sizeof(d)) == 0)
            count_sent(c->b, sizeof(d));
    }
    conn_close(c->conn, CONN_CLOSE_BY_PROTO);
}

uint8_t proto_decode_reason(mqtt_err_t err, uint8_t type)
{
    switch (err) {
    case MQTT_ERR_TOPIC_INVALID:
    case MQTT_ERR_TOPIC_EMPTY:
    case MQTT_ERR_PROP_DUPLICATE:
        return MQTT_RC_PROTOCOL_ERROR;
    case MQTT_ERR_PACKET_ID_ZERO:
        return type == MQTT_PUBLISH ? MQTT_RC_PROTOCOL_ERROR : MQTT_RC_MALFORMED_PACKET;
    case MQTT_ERR_NO_FILTERS:
    case MQTT_ERR_TOPIC_ALIAS_ZERO:
    case MQTT_ERR_RETAIN_HANDLING:
    case MQTT_ERR_PROP_NOT_ALLOWED:
    case MQTT_ERR_PROP_VALUE:
        return MQTT_RC_MALFORMED_PACKET;
    default:
        return mqtt_err_reason(err);
    }
}

void proto_fail_decode(client_t *c, mqtt_err_t err, uint8_t type)
{
    proto_fail(c, proto_decode_reason(err, type), mqtt_err_str(err));
}

void proto_fail(client_t *c, uint8_t reason, const char *why)
{
    if (!c->conn || conn_is_closing(c->conn))
        return;
    mlog_conn(MLOG_NOTICE, "Client %s disconnected: %s.",
              c->session ? c->session->client_id : "<unknown>", why);
    proto_disconnect(c, reason);
}

bool proto_mount_filter(client_t *c, mqtt_bytes_t filter, char *small, size_t cap, char **heap,
                        mqtt_bytes_t *out)
{
    *heap = NULL;
    if (!c->mount_point) {
        *out = filter;
        return true;
    }
    size_t n = mount_size(c->mount_len, filter);
    if (n == 0)
        return false;
    char *buf = small;
    if (n > cap) {
        buf = *heap = malloc(n);
        if (!buf)
            return false;
    }
    out->len = mount_filter(c->mount_point, c->mount_len, filter, buf);
    out->data = (const uint8_t *)buf;
    return true;
}

/* ---- keep-alive and the CONNECT deadline ---- */

static void connect_deadline(worker_t *w, wtimer_t *t, void *arg)
{
    client_t *c = arg;
    if (c->conn && !c->connected) {
        mlog(MLOG_NOTICE, "Client on %s closed: no CONNECT within %u s.", c->conn->peer_host,
             c->b->connect_timeout_ms / 1000u);
        conn_close(c->conn, CONN_CLOSE_BY_PROTO);
    }
}

static void keepalive_check(worker_t *w, wtimer_t *t, void *arg)
{
    client_t *c = arg;
    if (!c->conn || c->keepalive == 0)
        return;
    /* MQTT: one and a half times the keep-alive without a packet. */
    uint64_t limit = (uint64_t)c->keepalive * 1500u;
    uint64_t now = worker_now_ms(w);
    uint64_t idle = now > c->conn->last_rx_ms ? now - c->conn->last_rx_ms : 0;
    if (idle >= limit) {
        mlog_conn(MLOG_NOTICE, "Client %s has exceeded timeout, disconnecting.",
                  c->session ? c->session->client_id : "<unknown>");
        conn_close(c->conn, CONN_CLOSE_BY_PROTO);
        return;
    }
    wtimer_start(w, t, limit - idle, keepalive_check, c);
}

void proto_start_keepalive(client_t *c)
{
    wtimer_stop(c->worker, &c->timer);
    if (c->keepalive)
        wtimer_start(c->worker, &c->timer, (uint64_t)c->keepalive * 1500u, keepalive_check, c);
}

/* ---- callbacks ---- */

static int on_accept(void *ctx, conn_t *conn)
{
    broker_t *b = ctx;
    client_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    atomic_init(&c->refs, 1);
    c->b = b;
    c->conn = conn;
    c->worker = conn->worker;
    c->request_problem_info = true;
    c->max_qos = 2;
    wtimer_init(&c->timer);
    conn->proto = c;
    conn->max_packet_size = CONN_PREAUTH_MAX_PACKET;
    if (b->connect_timeout_ms)
        wtimer_start(c->worker, &c->timer, b->connect_timeout_ms, connect_deadline, c);
    return 0;
}

static void on_packet(void *ctx, conn_t *conn, const mqtt_fixed_header_t *fh, const uint8_t *body,
                      size_t len)
{
    broker_t *b = ctx;
    client_t *c = conn->proto;
    atomic_fetch_add_explicit(&b->stats.msgs_received, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->stats.bytes_received, fh->header_len + len, memory_order_relaxed);
    if (!c->connected) {
        if (c->login_refused)
            return; /* its answer is already decided and on its way */
        if (fh->type == MQTT_CONNECT && !c->session)
            handle_connect(c, fh, body);
        else
            conn_close(conn, CONN_CLOSE_BY_PROTO); /* nothing before CONNECT */
        return;
    }
    switch (fh->type) {
    case MQTT_CONNECT:
        /* Closed without DISCONNECT, as Mosquitto does. */
        mlog(MLOG_NOTICE, "Client %s sent a second CONNECT.", c->session->client_id);
        conn_close(conn, CONN_CLOSE_BY_PROTO);
        break;
    case MQTT_PUBLISH:
        handle_publish(c, fh, body);
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        handle_ack(c, fh, body);
        break;
    case MQTT_SUBSCRIBE:
        handle_subscribe(c, fh, body);
        break;
    case MQTT_UNSUBSCRIBE:
        handle_unsubscribe(c, fh, body);
        break;
    case MQTT_PINGREQ:
        handle_pingreq(c, fh, body);
        break;
    case MQTT_DISCONNECT:
        handle_disconnect(c, fh, body);
        break;
    case MQTT_AUTH:
        handle_auth(c, fh, body);
        break;
    default:
        /* CONNACK, SUBACK, ... only travel towards clients. */
        proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "packet type not sent by clients");
        break;
    }
}

static void on_protocol_error(void *ctx, conn_t *conn, mqtt_err_t err)
{
    client_t *c = conn->proto;
    if (c->connected && c->version == MQTT_V5 && err == MQTT_ERR_PACKET_TOO_LARGE) {
        uint8_t d[3] = {0xE0, 0x01, mqtt_err_reason(err)};
        conn_write(conn, d, sizeof(d));
    }
    mlog_conn(MLOG_NOTICE, "Client %s disconnected: %s.",
              c->session ? c->session->client_id : conn->peer_host, mqtt_err_str(err));
}

static void on_flush(void *ctx, conn_t *conn)
{
    client_t *c = conn->proto;
    if (c->connected && !conn_is_closing(conn))
        deliver_flush(c);
}

static void on_close(void *ctx, conn_t *conn, conn_close_reason_t reason)
{
    client_t *c = conn->proto;
    wtimer_stop(c->worker, &c->timer);
    if (c->session) {
        if (c->connected && mlog_enabled(MLOG_NOTICE) && !c->graceful)
            mlog_conn(MLOG_NOTICE, "Client %s closed its connection (%s).", c->session->client_id,
                      conn_close_reason_str(reason));
        will_on_close(c, reason == CONN_CLOSE_SHUTDOWN);
    }
    c->conn = NULL;
    conn->proto = NULL;
    client_release(c);
}

static void on_worker_start(void *ctx, worker_t *w)
{
    wctx_t *wc = calloc(1, sizeof(*wc));
    if (!wc)
        return;
    wc->b = ctx;
    wc->w = w;
    tt_matches_init(&wc->matches);
    wtimer_init(&wc->sys_timer);
    wtimer_init(&wc->retain_timer);
    worker_set_proto(w, wc);
    if (worker_id(w) == 0) {
        sys_start(wc);
        will_arm_restored(wc);
    }
}

static void on_worker_stop(void *ctx, worker_t *w)
{
    wctx_t *wc = worker_proto(w);
    if (!wc)
        return;
    wtimer_stop(w, &wc->sys_timer);
    wtimer_stop(w, &wc->retain_timer);
    will_worker_stop(wc);
    tt_matches_free(&wc->matches);
    msg_vec_free(&wc->retained);
    free(wc->buf);
    free(wc);
    worker_set_proto(w, NULL);
}

void proto_ops_init(broker_proto_t *ops, broker_t *b)
{
    memset(ops, 0, sizeof(*ops));
    ops->ctx = b;
    ops->on_accept = on_accept;
    ops->on_packet = on_packet;
    ops->on_protocol_error = on_protocol_error;
    ops->on_flush = on_flush;
    ops->on_close = on_close;
    ops->on_worker_start = on_worker_start;
    ops->on_worker_stop = on_worker_stop;
}
