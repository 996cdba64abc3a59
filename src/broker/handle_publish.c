/*
 * PUBLISH from a client: topic aliases, QoS and retain rules, exactly-once
 * state for QoS 2, then one message routed to every subscriber and the
 * acknowledgement (v5: 0x10 when nobody matched, as Mosquitto answers).
 */
#include <stdlib.h>
#include <string.h>

#include "broker/log.h"
#include "broker/memuse.h"
#include "broker/mount.h"
#include "broker/proto.h"
#include "broker/security_hooks.h"

static void send_ack(client_t *c, uint8_t type, uint16_t id, uint8_t reason)
{
    uint8_t d[5] = {(uint8_t)(type << 4 | (type == MQTT_PUBREL ? 2 : 0)), 2, (uint8_t)(id >> 8),
                    (uint8_t)id, reason};
    size_t n = 4;
    if (c->version == MQTT_V5 && reason != 0) {
        d[1] = 3;
        n = 5;
    }
    atomic_fetch_add_explicit(&c->b->stats.msgs_sent, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->b->stats.bytes_sent, n, memory_order_relaxed);
    conn_write(c->conn, d, n);
}

void proto_send_ack(client_t *c, uint8_t type, uint16_t id, uint8_t reason)
{
    if (c->conn)
        send_ack(c, type, id, reason);
}

/* Resolves the topic alias of a v5 PUBLISH. False after failing the
 * connection. */
static bool resolve_alias(client_t *c, mqtt_publish_t *p)
{
    uint16_t a = p->props.topic_alias;
    if (a == 0) {
        proto_fail(c, MQTT_RC_MALFORMED_PACKET, "topic alias 0");
        return false;
    }
    if (a > c->b->max_topic_alias || !c->alias_in) {
        proto_fail(c, MQTT_RC_TOPIC_ALIAS_INVALID, "topic alias out of range");
        return false;
    }
    alias_t *slot = &c->alias_in[a];
    if (p->topic.len) {
        if (slot->len != p->topic.len || memcmp(slot->topic, p->topic.data, p->topic.len)) {
            char *t = malloc(p->topic.len);
            if (!t) {
                proto_fail(c, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
                return false;
            }
            memcpy(t, p->topic.data, p->topic.len);
            free(slot->topic);
            slot->topic = t;
            slot->len = (uint16_t)p->topic.len;
        }
        return true;
    }
    if (!slot->topic) {
        proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "unknown topic alias");
        return false;
    }
    p->topic = (mqtt_bytes_t){(const uint8_t *)slot->topic, slot->len};
    return true;
}

static void publish_routed(client_t *c, mqtt_publish_t *p);

void handle_publish(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body)
{
    broker_t *b = c->b;
    /* memory_limit: Mosquitto cannot allocate the packet of a PUBLISH that
     * does not fit and disconnects its client whatever the QoS, without an
     * answer; we do the same before anything is copied (a v5 client is
     * told why: DISCONNECT 0x97). The message needs about the packet plus
     * its header; anything smaller still fits. */
    if (memuse_would_exceed(sizeof(msg_t) + fh->remaining)) {
        mlog(MLOG_NOTICE, "Client %s disconnected due to out of memory.",
             c->session ? c->session->client_id : "<unknown>");
        atomic_fetch_add_explicit(&b->stats.msgs_dropped, 1, memory_order_relaxed);
        proto_disconnect(c, MQTT_RC_QUOTA_EXCEEDED);
        return;
    }
    mqtt_packet_t pkt;
    mqtt_err_t err = mqtt_decode_body(fh, body, c->version, &pkt);
    if (err != MQTT_OK) {
        proto_fail_decode(c, err, fh->type);
        return;
    }
    mqtt_publish_t *p = &pkt.u.publish;
    if (p->qos > c->max_qos) {
        /* Mosquitto: v5 DISCONNECT 0x9B, older clients closed. */
        proto_fail(c, MQTT_RC_QOS_NOT_SUPPORTED, "QoS over the listener's max_qos");
        return;
    }
    if (p->retain && !b->retain_available) {
        proto_fail(c, MQTT_RC_RETAIN_NOT_SUPPORTED, "retain not available");
        return;
    }
    if (p->props.sub_id_count) {
        proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "subscription identifier in PUBLISH");
        return;
    }
    if (c->version == MQTT_V5 && MQTT_PROP_HAS(&p->props, MQTT_PROP_TOPIC_ALIAS)) {
        if (!resolve_alias(c, p))
            return;
    } else if (p->topic.len == 0) {
        proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "empty topic");
        return;
    }
    /* Under a mount point every check below sees the full topic, as in
     * Mosquitto (the ACL included); an alias stands for the client's own
     * topic. */
    char mount_small[256];
    char *mounted = NULL;
    if (c->mount_point) {
        size_t n = mount_size(c->mount_len, p->topic);
        if (n == 0) {
            proto_fail(c, MQTT_RC_TOPIC_NAME_INVALID, "topic too long under the mount point");
            return;
        }
        mounted = n <= sizeof(mount_small) ? mount_small : malloc(n);
        if (!mounted) {
            proto_fail(c, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
            return;
        }
        p->topic.len = mount_topic(c->mount_point, c->mount_len, p->topic, mounted);
        p->topic.data = (const uint8_t *)mounted;
    }
    publish_routed(c, p);
    if (mounted && mounted != mount_small)
        free(mounted);
}

/* The rest of a PUBLISH, its topic final. */
static void publish_routed(client_t *c, mqtt_publish_t *p)
{
    broker_t *b = c->b;
    session_t *s = c->session;
    atomic_fetch_add_explicit(&b->stats.pub_msgs_received, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->stats.pub_bytes_received, p->payload.len, memory_order_relaxed);

    if (b->message_size_limit && p->payload.len > b->message_size_limit) {
        /* Dropped but acknowledged, so the client does not resend it. */
        if (p->qos == 1)
            send_ack(c, MQTT_PUBACK, p->packet_id, MQTT_RC_PACKET_TOO_LARGE);
        else if (p->qos == 2)
            send_ack(c, MQTT_PUBREC, p->packet_id, MQTT_RC_PACKET_TOO_LARGE);
        return;
    }
    if (!sechook_can_publish(c, (const char *)p->topic.data, p->topic.len)) {
        /* Dropped; acknowledged so the client does not resend (v5: 0x87). */
        mlog(MLOG_DEBUG, "Denied PUBLISH from %s to %.*s.", s->client_id, (int)p->topic.len,
             (const char *)p->topic.data);
        if (p->qos == 1)
            send_ack(c, MQTT_PUBACK, p->packet_id, MQTT_RC_NOT_AUTHORIZED);
        else if (p->qos == 2)
            send_ack(c, MQTT_PUBREC, p->packet_id, MQTT_RC_NOT_AUTHORIZED);
        return;
    }

    /* "$share/..." names a subscription, never a topic: Mosquitto refuses a
     * PUBLISH to it as not authorized (v5 0x87) and routes it nowhere. */
    bool share_topic = p->topic.len >= 7 && memcmp(p->topic.data, "$share/", 7) == 0;
    if (share_topic && c->version == MQTT_V5 && p->qos > 0) {
        send_ack(c, p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, p->packet_id, MQTT_RC_NOT_AUTHORIZED);
        return;
    }

    if (p->qos == 2) {
        pthread_mutex_lock(&s->lock);
        /* Receive Maximum exists only in v5. A 3.1/3.1.1 client is bounded
         * by its 65,535 packet ids, as in Mosquitto, never disconnected. */
        size_t max = c->version == MQTT_V5 ? b->max_inflight : 0;
        int r = session_in_qos2_add(s, p->packet_id, max);
        pthread_mutex_unlock(&s->lock);
        if (r == -1) {
            proto_fail(c, MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED, "receive maximum exceeded");
            return;
        }
        if (r == 0) { /* a resend of a message already delivered */
            send_ack(c, MQTT_PUBREC, p->packet_id, 0);
            return;
        }
        if (r < 0) {
            proto_fail(c, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
            return;
        }
    }

    msg_init_t in = {
        .topic = p->topic,
        .payload = p->payload,
        .qos = p->qos,
        .retain = p->retain,
        .props = c->version == MQTT_V5 ? &p->props : NULL,
        .origin = {(const uint8_t *)s->client_id, s->id_len},
        .from_client = true,
        .source_user = {(const uint8_t *)c->username, c->username ? strlen(c->username) : 0},
        .now_ms = msg_now_ms(),
    };
    if (p->retain) {
        /* Only a retained message is ever checked against its source. */
        const config_listener_t *l = sechook_listener(c);
        in.source_port = l != NULL ? l->port : 0;
    }
    msg_t *m = msg_new(&in);
    if (!m) {
        proto_fail(c, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
        return;
    }
    int n = 0;
    if (share_topic || (m->topic_len >= 4 && memcmp(m->topic, "$SYS", 4) == 0)) {
        /* Only the broker writes $SYS, and $share/ is no topic: accepted
         * and dropped, as Mosquitto does. */
        mlog(MLOG_DEBUG, "Dropped PUBLISH from %s to %s.", s->client_id, m->topic);
    } else {
        if (m->retain && retain_set(b->retain, m) != 0)
            mlog(MLOG_WARNING, "Out of memory storing a retained message on %s.", m->topic);
        else if (m->retain)
            persist_retained(b, m);
        n = deliver_route(b, m, s);
    }
    msg_unref(m);

    uint8_t reason = (n == 0 && c->version == MQTT_V5) ? MQTT_RC_NO_MATCHING_SUBSCRIBERS : 0;
    if (p->qos == 1)
        send_ack(c, MQTT_PUBACK, p->packet_id, reason);
    else if (p->qos == 2)
        send_ack(c, MQTT_PUBREC, p->packet_id, reason);
}
