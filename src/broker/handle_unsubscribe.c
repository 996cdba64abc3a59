/*
 * UNSUBSCRIBE: each filter out of the topic tree; UNSUBACK with a reason
 * per filter in v5 (0x11 when there was no such subscription).
 */
#include <stdlib.h>
#include <string.h>

#include "broker/log.h"
#include "broker/proto.h"
#include "broker/store.h"

void handle_unsubscribe(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body)
{
    broker_t *b = c->b;
    session_t *s = c->session;
    mqtt_packet_t pkt;
    mqtt_err_t err = mqtt_decode_body(fh, body, c->version, &pkt);
    if (err != MQTT_OK) {
        proto_fail_decode(c, err, fh->type);
        return;
    }
    mqtt_unsubscribe_t *un = &pkt.u.unsubscribe;
    uint8_t *reasons = malloc(un->count ? un->count : 1);
    if (!reasons) {
        proto_fail(c, MQTT_RC_UNSPECIFIED_ERROR, "out of memory");
        return;
    }
    mqtt_reader_t it;
    mqtt_subscription_t e;
    size_t i = 0;
    mqtt_subscribe_iter_init(&it, un);
    while (i < un->count && mqtt_subscribe_next(&it, MQTT_UNSUBSCRIBE, &e)) {
        char small[256];
        char *heap;
        int rc = TT_ERR_FILTER;
        if (proto_mount_filter(c, e.filter, small, sizeof(small), &heap, &e.filter))
            rc = tt_unsubscribe(b->tree, s, e.filter);
        mlog(MLOG_UNSUBSCRIBE, "%s %.*s", s->client_id, (int)e.filter.len,
             (const char *)e.filter.data);
        if (rc == TT_OK) {
            reasons[i] = MQTT_RC_SUCCESS;
            if (session_store(s))
                session_store(s)->ops->sub_delete(
                    session_store(s), (mqtt_bytes_t){(const uint8_t *)s->client_id, s->id_len},
                    e.filter);
        } else if (rc == TT_ERR_NOT_FOUND) {
            reasons[i] = MQTT_RC_NO_SUBSCRIPTION_EXISTED;
        } else {
            reasons[i] = MQTT_RC_TOPIC_FILTER_INVALID;
        }
        free(heap);
        i++;
    }
    mqtt_packet_t ack;
    memset(&ack, 0, sizeof(ack));
    ack.type = MQTT_UNSUBACK;
    ack.u.suback.packet_id = un->packet_id;
    ack.u.suback.reasons = reasons;
    ack.u.suback.count = c->version == MQTT_V5 ? i : 0;
    proto_send(c, &ack);
    free(reasons);
}
