/*
 * Delivery: from one message to bytes on every subscriber's socket.
 *
 * deliver_route() runs on the publisher's worker: it matches the topic,
 * queues a delivery (message reference + granted QoS + subscription ids)
 * on each subscriber's session and asks the subscriber's worker to flush
 * it: directly when that is this worker, otherwise with one post, skipped
 * while an earlier one for the same client is still pending.
 *
 * deliver_flush() runs on the subscriber's worker at its flush point: it
 * takes deliveries off the session in order, builds a small PUBLISH head
 * per delivery and queues head + shared payload without copying the
 * payload.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/bridge.h"
#include "broker/log.h"
#include "broker/mount.h"
#include "broker/proto.h"
#include "broker/security_hooks.h"

/* Stop turning deliveries into bytes past this much pending output; the
 * network layer calls on_flush again when the socket drains. */
#define FLUSH_SOFT_LIMIT (1u << 20)

static void wake_job(worker_t *w, void *arg)
{
    client_t *c = arg;
    atomic_store_explicit(&c->wake_pending, false, memory_order_relaxed);
    if (c->conn && c->connected && !conn_is_closing(c->conn))
        conn_want_flush(c->conn);
    client_release(c);
}

/* s->lock held; client is s->conn. */
static void wake_locked(client_t *client)
{
    if (client->worker == worker_current()) {
        if (client->conn)
            conn_want_flush(client->conn);
        return;
    }
    if (atomic_exchange_explicit(&client->wake_pending, true, memory_order_relaxed))
        return;
    client_ref(client);
    if (worker_post(client->worker, wake_job, client) != 0) {
        atomic_store_explicit(&client->wake_pending, false, memory_order_relaxed);
        client_release(client);
    }
}

bool deliver_to_session(broker_t *b, session_t *s, msg_t *m, uint8_t qos, bool retain,
                        const uint32_t *sub_ids, size_t sub_id_count)
{
    if (s->sink)
        return bridge_deliver(s->sink, m, qos, retain);
    session_out_t *e = session_out_new(msg_ref(m), qos, retain, m->payload_len,
                                       msg_has_expiry(m) ? (uint64_t)m->expiry_at : 0);
    if (!e) {
        msg_unref(m);
        atomic_fetch_add_explicit(&b->stats.msgs_dropped, 1, memory_order_relaxed);
        return false;
    }
    if (sub_id_count > MIDGE_MAX_SUB_IDS)
        sub_id_count = MIDGE_MAX_SUB_IDS;
    for (size_t i = 0; i < sub_id_count; i++)
        e->sub_ids[i] = sub_ids[i];
    e->sub_id_count = (uint8_t)sub_id_count;
    pthread_mutex_lock(&s->lock);
    /* A session resumed through a listener with a lower max_qos gets its
     * older subscriptions' deliveries at that QoS, as Mosquitto caps them. */
    if (e->qos > s->max_qos)
        e->qos = s->max_qos;
    bool ok = session_out_push(s, e);
    if (ok && s->conn)
        wake_locked(s->conn);
    bool first_drop = !ok && s->dropped == 1;
    pthread_mutex_unlock(&s->lock);
    if (!ok)
        atomic_fetch_add_explicit(&b->stats.msgs_dropped, 1, memory_order_relaxed);
    if (first_drop)
        mlog(MLOG_NOTICE, "Outgoing messages are being dropped for client %s.", s->client_id);
    return ok;
}

uint8_t deliver_qos(const broker_t *b, uint8_t msg_qos, uint8_t sub_qos)
{
    if (b->upgrade_outgoing_qos)
        return sub_qos;
    return msg_qos < sub_qos ? msg_qos : sub_qos;
}

static void ref_visit(void *arg, const tt_match_t *match)
{
    session_ref(match->session);
}

int deliver_route(broker_t *b, msg_t *m, session_t *publisher)
{
    worker_t *w = worker_current();
    wctx_t *wc = w ? worker_proto(w) : NULL;
    tt_matches_t local;
    tt_matches_t *out = wc ? &wc->matches : &local;
    if (!wc)
        tt_matches_init(&local);
    mqtt_bytes_t topic = {(const uint8_t *)m->topic, m->topic_len};
    int n = tt_match(b->tree, topic, publisher, out, ref_visit, NULL);
    int queued = 0;
    for (int i = 0; i < n; i++) {
        const tt_match_t *r = &out->v[i];
        session_t *s = r->session;
        uint8_t qos = deliver_qos(b, m->qos, r->qos);
        bool retain = r->retain_as_published ? m->retain : false;
        if (deliver_to_session(b, s, m, qos, retain, r->sub_ids, r->sub_id_count))
            queued++;
        session_release(s);
    }
    if (!wc)
        tt_matches_free(&local);
    return n < 0 ? 0 : n;
}

void deliver_publish(broker_t *b, msg_t *m, session_t *publisher)
{
    if (m->retain && retain_set(b->retain, m) == 0)
        persist_retained(b, m);
    deliver_route(b, m, publisher);
}

static void release_msg(void *ref)
{
    msg_unref(ref);
}

/* The alias to send for topic towards c: *alias set (0: none); returns
 * true if the topic may be left out (the client knows the alias). */
static bool alias_for(client_t *c, mqtt_bytes_t topic, uint16_t *alias)
{
    *alias = 0;
    if (!c->client_alias_max || !c->alias_out)
        return false;
    for (uint16_t i = 1; i <= c->alias_out_used; i++) {
        alias_t *a = &c->alias_out[i];
        if (a->len == topic.len && memcmp(a->topic, topic.data, topic.len) == 0) {
            *alias = i;
            return true;
        }
    }
    if (c->alias_out_used < c->client_alias_max) {
        char *copy = malloc(topic.len ? topic.len : 1);
        if (!copy)
            return false;
        memcpy(copy, topic.data, topic.len);
        uint16_t i = ++c->alias_out_used;
        c->alias_out[i].topic = copy;
        c->alias_out[i].len = (uint16_t)topic.len;
        *alias = i;
    }
    return false;
}

/*
 * Queues one PUBLISH for e. Returns false if the message cannot be sent
 * to this client (larger than its Maximum Packet Size, or outside its
 * mount point): the caller drops it as if it had been delivered, as the
 * specification says.
 */
static bool send_publish(client_t *c, const session_out_t *e, int64_t now)
{
    const msg_t *m = e->msg;
    /* The ACL sees the full topic, as Mosquitto checks it. */
    if (!sechook_can_receive(c, m->topic, m->topic_len))
        return false; /* ACL read denied: dropped as if delivered */
    mqtt_bytes_t topic = {(const uint8_t *)m->topic, m->topic_len};
    /* Under a mount point the client sees the rest of the topic. A topic
     * outside it (a resumed session's older subscriptions, or the mount
     * point itself matched by "prefix/#") is never shown to the client. */
    if (c->mount_point &&
        !mount_strip(c->mount_point, c->mount_len, m->topic, m->topic_len, &topic))
        return false;
    mqtt_publish_t p;
    memset(&p, 0, sizeof(p));
    p.dup = e->dup;
    p.qos = e->qos;
    p.retain = e->retain;
    p.topic = topic;
    p.packet_id = e->packet_id;
    p.payload = (mqtt_bytes_t){m->payload, m->payload_len};
    if (c->version == MQTT_V5) {
        msg_props(m, now, &p.props);
        if (e->sub_id_count) {
            p.props.sub_ids = e->sub_ids;
            p.props.sub_id_count = e->sub_id_count;
            MQTT_PROP_SET(&p.props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER);
        }
    }
    size_t head = mqtt_publish_head_size(&p, c->version);
    if (head == 0 || (c->client_max_packet && head + m->payload_len > c->client_max_packet))
        return false;
    if (c->version == MQTT_V5) {
        uint16_t alias;
        bool known = alias_for(c, topic, &alias);
        if (alias) {
            p.props.topic_alias = alias;
            MQTT_PROP_SET(&p.props, MQTT_PROP_TOPIC_ALIAS);
            if (known)
                p.topic = (mqtt_bytes_t){NULL, 0};
            head = mqtt_publish_head_size(&p, c->version);
        }
    }
    uint8_t *buf = proto_buf(c, head);
    size_t written = 0;
    if (!buf || mqtt_encode_publish_head(&p, c->version, buf, head, &written, NULL) != MQTT_OK)
        return false;
    broker_t *b = c->b;
    atomic_fetch_add_explicit(&b->stats.msgs_sent, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->stats.pub_msgs_sent, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->stats.bytes_sent, written + m->payload_len, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->stats.pub_bytes_sent, m->payload_len, memory_order_relaxed);
    conn_write_ref(c->conn, buf, written, m->payload, m->payload_len, release_msg,
                   msg_ref((msg_t *)m));
    return true;
}

static void send_pubrel(client_t *c, uint16_t id)
{
    proto_send_ack(c, MQTT_PUBREL, id, 0);
}

void deliver_flush(client_t *c)
{
    session_t *s = c->session;
    int64_t now = msg_now_ms();
    session_out_t *drop = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->conn != c) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    while (conn_out_bytes(c->conn) < FLUSH_SOFT_LIMIT && !conn_is_closing(c->conn)) {
        session_out_t *e = session_out_next(s, (uint64_t)now);
        if (!e)
            break;
        bool sent = send_publish(c, e, now);
        if (e->qos == 0) {
            e->next = drop;
            drop = e;
        } else if (!sent) {
            session_out_t *x = e->qos == 1 ? session_out_puback(s, e->packet_id)
                                           : session_out_pubrec(s, e->packet_id, 0x80);
            if (x) {
                x->next = drop;
                drop = x;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    /* Releasing messages outside the lock keeps the critical section short. */
    while (drop) {
        session_out_t *next = drop->next;
        drop->next = NULL;
        session_out_free(&c->b->sessions, drop);
        drop = next;
    }
}

void deliver_resend_inflight(client_t *c)
{
    session_t *s = c->session;
    int64_t now = msg_now_ms();
    session_out_t *drop = NULL;
    pthread_mutex_lock(&s->lock);
    session_out_t *next;
    for (session_out_t *e = s->inflight.head; e; e = next) {
        next = e->next;
        if (e->state == OUT_WAIT_PUBCOMP) {
            send_pubrel(c, e->packet_id);
        } else if (e->msg && !send_publish(c, e, now)) {
            /* This connection may not get it (another mount point, the
             * ACL, its maximum packet size): done as if acknowledged, or
             * it would hold a place in the window for ever. */
            session_out_t *x = e->qos == 1 ? session_out_puback(s, e->packet_id)
                                           : session_out_pubrec(s, e->packet_id, 0x80);
            if (x) {
                x->next = drop;
                drop = x;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    while (drop) {
        session_out_t *n = drop->next;
        drop->next = NULL;
        session_out_free(&c->b->sessions, drop);
        drop = n;
    }
}
