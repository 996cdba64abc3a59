/*
 * PUBACK, PUBREC, PUBREL and PUBCOMP: the QoS 1 and 2 exchanges. An ack
 * for an unknown packet id is ignored (PUBACK, PUBCOMP) or answered so the
 * client can finish its own state (PUBREC gets PUBREL 0x92 in v5; PUBREL
 * gets PUBCOMP, as Mosquitto answers).
 */
#include "broker/log.h"
#include "broker/proto.h"

void handle_ack(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body)
{
    session_t *s = c->session;
    mqtt_packet_t pkt;
    mqtt_err_t err = mqtt_decode_body(fh, body, c->version, &pkt);
    if (err != MQTT_OK) {
        proto_fail_decode(c, err, fh->type);
        return;
    }
    const mqtt_ack_t *a = &pkt.u.ack;
    session_out_t *done = NULL;
    bool window_moved = false;
    switch (fh->type) {
    case MQTT_PUBACK:
        pthread_mutex_lock(&s->lock);
        done = session_out_puback(s, a->packet_id);
        s->acked_at = worker_now_ms(c->worker);
        pthread_mutex_unlock(&s->lock);
        window_moved = done != NULL;
        break;
    case MQTT_PUBREC: {
        pthread_mutex_lock(&s->lock);
        session_out_t *e = session_out_pubrec(s, a->packet_id, a->reason);
        s->acked_at = worker_now_ms(c->worker);
        bool finished = e && e->state == OUT_WAIT_PUBREC; /* v5 failure reason */
        if (finished)
            done = e;
        pthread_mutex_unlock(&s->lock);
        if (finished)
            window_moved = true;
        else if (e)
            proto_send_ack(c, MQTT_PUBREL, a->packet_id, 0);
        else
            proto_send_ack(c, MQTT_PUBREL, a->packet_id,
                           c->version == MQTT_V5 ? MQTT_RC_PACKET_ID_NOT_FOUND : 0);
        break;
    }
    case MQTT_PUBREL:
        pthread_mutex_lock(&s->lock);
        session_in_qos2_release(s, a->packet_id);
        pthread_mutex_unlock(&s->lock);
        proto_send_ack(c, MQTT_PUBCOMP, a->packet_id, 0);
        break;
    case MQTT_PUBCOMP:
        pthread_mutex_lock(&s->lock);
        done = session_out_pubcomp(s, a->packet_id);
        s->acked_at = worker_now_ms(c->worker);
        pthread_mutex_unlock(&s->lock);
        window_moved = done != NULL;
        break;
    }
    if (done)
        session_out_free(&c->b->sessions, done);
    if (window_moved)
        conn_want_flush(c->conn);
}
