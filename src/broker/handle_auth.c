/*
 * AUTH: enhanced authentication. No authentication method is configured,
 * so any AUTH is answered with DISCONNECT 0x8C (Bad authentication
 * method); a CONNECT carrying a method was already refused with CONNACK
 * 0x8C.
 */
#include "broker/proto.h"

void handle_auth(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body)
{
    mqtt_packet_t pkt;
    mqtt_err_t err = mqtt_decode_body(fh, body, c->version, &pkt);
    if (err != MQTT_OK && err != MQTT_ERR_AUTH_METHOD) {
        proto_fail_decode(c, err, fh->type);
        return;
    }
    proto_fail(c, MQTT_RC_BAD_AUTHENTICATION_METHOD, "AUTH without an authentication method");
}
