#include "broker/proto.h"

void handle_pingreq(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body)
{
    if (fh->flags != 0 || fh->remaining != 0) {
        proto_fail(c, MQTT_RC_MALFORMED_PACKET, "malformed PINGREQ");
        return;
    }
    static const uint8_t pingresp[2] = {0xD0, 0x00};
    atomic_fetch_add_explicit(&c->b->stats.msgs_sent, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->b->stats.bytes_sent, 2, memory_order_relaxed);
    conn_write(c->conn, pingresp, sizeof(pingresp));
}
