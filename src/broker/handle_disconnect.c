/*
 * DISCONNECT: a normal end drops the will; v5 reason 0x04 keeps it. A v5
 * client may change its Session Expiry Interval here, except from 0 to
 * non-zero, which is a protocol error.
 */
#include "broker/log.h"
#include "broker/proto.h"
#include "broker/store.h"

void handle_disconnect(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body)
{
    mqtt_packet_t pkt;
    mqtt_err_t err = mqtt_decode_body(fh, body, c->version, &pkt);
    if (err != MQTT_OK) {
        proto_fail_decode(c, err, fh->type);
        return;
    }
    const mqtt_disconnect_t *d = &pkt.u.disconnect;
    if (c->version == MQTT_V5 && MQTT_PROP_HAS(&d->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL)) {
        if (c->session_expiry == 0 && d->props.session_expiry_interval != 0) {
            proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "session expiry set at DISCONNECT");
            return;
        }
        session_t *s = c->session;
        pthread_mutex_lock(&s->lock);
        if (s->conn == c) {
            s->expiry_interval = d->props.session_expiry_interval;
            if (session_store(s))
                store_session_save(session_store(s), s);
        }
        pthread_mutex_unlock(&s->lock);
    }
    c->graceful = !(c->version == MQTT_V5 && d->reason == MQTT_RC_DISCONNECT_WITH_WILL);
    mlog_conn(MLOG_NOTICE, "Client %s disconnected.", c->session->client_id);
    conn_close(c->conn, CONN_CLOSE_BY_PROTO);
}
