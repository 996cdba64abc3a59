/*
 * SUBSCRIBE: each filter into the topic tree, SUBACK with the granted QoS
 * (or a failure code) per filter, then the matching retained messages by
 * Retain Handling. The retained messages are queued on the session, so
 * they reach the socket at this iteration's flush point, after the SUBACK
 * written here.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/log.h"
#include "broker/proto.h"
#include "broker/security_hooks.h"
#include "broker/store.h"

static void send_retained(client_t *c, mqtt_bytes_t filter, uint8_t granted, uint32_t sub_id)
{
    wctx_t *wc = worker_proto(c->worker);
    msg_vec_clear(&wc->retained);
    if (retain_match(c->b->retain, filter, msg_now_ms(), &wc->retained) <= 0)
        return;
    for (size_t i = 0; i < wc->retained.n; i++) {
        msg_t *m = wc->retained.v[i];
        if (!sechook_retain_source_allowed(c, m))
            continue;
        uint8_t qos = deliver_qos(c->b, m->qos, granted);
        deliver_to_session(c->b, c->session, m, qos, true, sub_id ? &sub_id : NULL, sub_id ? 1 : 0);
    }
    msg_vec_clear(&wc->retained);
}

void handle_subscribe(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body)
{
    broker_t *b = c->b;
    session_t *s = c->session;
    mqtt_packet_t pkt;
    mqtt_err_t err = mqtt_decode_body(fh, body, c->version, &pkt);
    if (err != MQTT_OK) {
        proto_fail_decode(c, err, fh->type);
        return;
    }
    mqtt_subscribe_t *sub = &pkt.u.subscribe;
    bool v5 = c->version == MQTT_V5;
    uint32_t sub_id = 0;
    if (v5 && sub->props.sub_id_count) {
        mqtt_reader_t pit;
        mqtt_prop_t prop;
        mqtt_props_iter_init(&pit, &sub->props);
        while (mqtt_props_next(&pit, &prop)) {
            if (prop.id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER)
                sub_id = prop.value;
        }
    }
    /* reasons[i], then existed[i] = the subscription was already there. */
    size_t cnt = sub->count ? sub->count : 1;
    uint8_t *reasons = malloc(cnt * 2);
    uint8_t *existed = reasons + cnt;
    if (!reasons) {
        proto_fail(c, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
        return;
    }

    /* First pass: subscribe. Retained messages wait for the SUBACK. */
    mqtt_reader_t it;
    mqtt_subscription_t e;
    size_t i = 0;
    mqtt_subscribe_iter_init(&it, sub);
    while (i < sub->count && mqtt_subscribe_next(&it, MQTT_SUBSCRIBE, &e)) {
        mqtt_bytes_t group, inner;
        bool shared = tt_filter_is_shared(e.filter, &group, &inner);
        if (v5 && shared && (e.options & MQTT_SUBOPT_NO_LOCAL)) {
            free(reasons);
            proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "No Local on a shared subscription");
            return;
        }
        uint8_t qos = MQTT_SUBOPT_QOS(e.options);
        if (qos > c->max_qos)
            qos = c->max_qos;
        uint8_t options = (uint8_t)((e.options & ~0x03u) | qos);
        /* A Mosquitto bridge (try_private) gets its own messages never
         * echoed and retain flags as published, as Mosquitto treats it:
         * that is what stops a message looping between two brokers. */
        if (!v5)
            options =
                (uint8_t)(qos | (c->bridge ? MQTT_SUBOPT_NO_LOCAL | MQTT_SUBOPT_RETAIN_AS_PUB : 0));
        bool replaced = false;
        /* From here the filter is the mounted one, ACL check included. */
        char small[256];
        char *heap;
        if (!proto_mount_filter(c, e.filter, small, sizeof(small), &heap, &e.filter)) {
            existed[i] = false;
            reasons[i] = v5 ? MQTT_RC_TOPIC_FILTER_INVALID : 0x80;
            i++;
            continue;
        }
        if (mqtt_topic_filter_valid(e.filter) && !sechook_can_subscribe(c, e.filter)) {
            /* No topic under the filter is readable: refused in the SUBACK. */
            mlog(MLOG_DEBUG, "Denied SUBSCRIBE from %s to %.*s.", s->client_id, (int)e.filter.len,
                 (const char *)e.filter.data);
            existed[i] = false;
            reasons[i] = v5 ? MQTT_RC_NOT_AUTHORIZED : 0x80;
            i++;
            free(heap);
            continue;
        }
        int rc = TT_ERR_NOMEM;
        pthread_mutex_lock(&s->lock);
        if (!s->ended && s->conn == c)
            rc = tt_subscribe(b->tree, s, e.filter, options, sub_id, &replaced);
        pthread_mutex_unlock(&s->lock);
        existed[i] = replaced;
        if (rc == TT_OK) {
            reasons[i] = qos;
            if (session_store(s))
                session_store(s)->ops->sub_put(
                    session_store(s), (mqtt_bytes_t){(const uint8_t *)s->client_id, s->id_len},
                    e.filter, options, sub_id);
            mlog(MLOG_SUBSCRIBE, "%s %u %.*s", s->client_id, qos, (int)e.filter.len,
                 (const char *)e.filter.data);
        } else if (rc == TT_ERR_FILTER) {
            reasons[i] = v5 ? MQTT_RC_TOPIC_FILTER_INVALID : 0x80;
        } else {
            reasons[i] = v5 ? MQTT_RC_UNSPECIFIED_ERROR : 0x80;
        }
        free(heap);
        i++;
    }

    mqtt_packet_t ack;
    memset(&ack, 0, sizeof(ack));
    ack.type = MQTT_SUBACK;
    ack.u.suback.packet_id = sub->packet_id;
    ack.u.suback.reasons = reasons;
    ack.u.suback.count = i;
    proto_send(c, &ack);

    /* Second pass: retained messages, by Retain Handling. */
    size_t j = 0;
    mqtt_subscribe_iter_init(&it, sub);
    while (j < i && mqtt_subscribe_next(&it, MQTT_SUBSCRIBE, &e)) {
        uint8_t granted = reasons[j];
        bool was_there = existed[j++];
        if (granted >= 0x80)
            continue;
        mqtt_bytes_t group, inner;
        if (tt_filter_is_shared(e.filter, &group, &inner))
            continue;
        unsigned rh = v5 ? MQTT_SUBOPT_RETAIN_HANDLING(e.options) : 0;
        if (rh == 2 || (rh == 1 && was_there))
            continue;
        char small[256];
        char *heap;
        if (proto_mount_filter(c, e.filter, small, sizeof(small), &heap, &e.filter))
            send_retained(c, e.filter, granted, sub_id);
        free(heap);
    }
    free(reasons);
    conn_want_flush(c->conn);
}
