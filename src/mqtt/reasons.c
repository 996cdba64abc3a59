/* MQTT v5 reason codes: their names, and which packet may carry which
 * (MQTT 5.0 section 2.4, table 2-6, and each packet's reason code list). */
#include "internal.h"

const char *mqtt_reason_str(uint8_t reason)
{
    switch (reason) {
    case 0x00:
        return "Success";
    case 0x01:
        return "Granted QoS 1";
    case 0x02:
        return "Granted QoS 2";
    case 0x04:
        return "Disconnect with Will Message";
    case 0x10:
        return "No matching subscribers";
    case 0x11:
        return "No subscription existed";
    case 0x18:
        return "Continue authentication";
    case 0x19:
        return "Re-authenticate";
    case 0x80:
        return "Unspecified error";
    case 0x81:
        return "Malformed Packet";
    case 0x82:
        return "Protocol Error";
    case 0x83:
        return "Implementation specific error";
    case 0x84:
        return "Unsupported Protocol Version";
    case 0x85:
        return "Client Identifier not valid";
    case 0x86:
        return "Bad User Name or Password";
    case 0x87:
        return "Not authorized";
    case 0x88:
        return "Server unavailable";
    case 0x89:
        return "Server busy";
    case 0x8A:
        return "Banned";
    case 0x8B:
        return "Server shutting down";
    case 0x8C:
        return "Bad authentication method";
    case 0x8D:
        return "Keep Alive timeout";
    case 0x8E:
        return "Session taken over";
    case 0x8F:
        return "Topic Filter invalid";
    case 0x90:
        return "Topic Name invalid";
    case 0x91:
        return "Packet Identifier in use";
    case 0x92:
        return "Packet Identifier not found";
    case 0x93:
        return "Receive Maximum exceeded";
    case 0x94:
        return "Topic Alias invalid";
    case 0x95:
        return "Packet too large";
    case 0x96:
        return "Message rate too high";
    case 0x97:
        return "Quota exceeded";
    case 0x98:
        return "Administrative action";
    case 0x99:
        return "Payload format invalid";
    case 0x9A:
        return "Retain not supported";
    case 0x9B:
        return "QoS not supported";
    case 0x9C:
        return "Use another server";
    case 0x9D:
        return "Server moved";
    case 0x9E:
        return "Shared Subscriptions not supported";
    case 0x9F:
        return "Connection rate exceeded";
    case 0xA0:
        return "Maximum connect time";
    case 0xA1:
        return "Subscription Identifiers not supported";
    case 0xA2:
        return "Wildcard Subscriptions not supported";
    default:
        return "Unknown";
    }
}

/* One 256-bit set per packet type, as four 64-bit words. */
typedef struct {
    uint64_t w[4];
} reason_set_t;

#define RS_BIT(rc) ((uint64_t)1 << ((rc)&63))

static bool in_set(const reason_set_t *s, uint8_t rc)
{
    return (s->w[rc >> 6] >> (rc & 63)) & 1u;
}

/* Words 0 (0x00-0x3F) and 2 (0x80-0xBF) hold every defined code. */
static const reason_set_t connack_set = {{
    RS_BIT(0x00),
    0,
    RS_BIT(0x80) | RS_BIT(0x81) | RS_BIT(0x82) | RS_BIT(0x83) | RS_BIT(0x84) | RS_BIT(0x85) |
        RS_BIT(0x86) | RS_BIT(0x87) | RS_BIT(0x88) | RS_BIT(0x89) | RS_BIT(0x8A) | RS_BIT(0x8C) |
        RS_BIT(0x90) | RS_BIT(0x95) | RS_BIT(0x97) | RS_BIT(0x99) | RS_BIT(0x9A) | RS_BIT(0x9B) |
        RS_BIT(0x9C) | RS_BIT(0x9D) | RS_BIT(0x9F),
    0,
}};

static const reason_set_t puback_set = {{
    RS_BIT(0x00) | RS_BIT(0x10),
    0,
    RS_BIT(0x80) | RS_BIT(0x83) | RS_BIT(0x87) | RS_BIT(0x90) | RS_BIT(0x91) | RS_BIT(0x97) |
        RS_BIT(0x99),
    0,
}};

static const reason_set_t pubrel_set = {{RS_BIT(0x00), 0, RS_BIT(0x92), 0}};

static const reason_set_t suback_set = {{
    RS_BIT(0x00) | RS_BIT(0x01) | RS_BIT(0x02),
    0,
    RS_BIT(0x80) | RS_BIT(0x83) | RS_BIT(0x87) | RS_BIT(0x8F) | RS_BIT(0x91) | RS_BIT(0x97) |
        RS_BIT(0x9E) | RS_BIT(0xA1) | RS_BIT(0xA2),
    0,
}};

static const reason_set_t unsuback_set = {{
    RS_BIT(0x00) | RS_BIT(0x11),
    0,
    RS_BIT(0x80) | RS_BIT(0x83) | RS_BIT(0x87) | RS_BIT(0x8F) | RS_BIT(0x91),
    0,
}};

static const reason_set_t disconnect_set = {{
    RS_BIT(0x00) | RS_BIT(0x04),
    0,
    RS_BIT(0x80) | RS_BIT(0x81) | RS_BIT(0x82) | RS_BIT(0x83) | RS_BIT(0x87) | RS_BIT(0x89) |
        RS_BIT(0x8B) | RS_BIT(0x8D) | RS_BIT(0x8E) | RS_BIT(0x8F) | RS_BIT(0x90) | RS_BIT(0x93) |
        RS_BIT(0x94) | RS_BIT(0x95) | RS_BIT(0x96) | RS_BIT(0x97) | RS_BIT(0x98) | RS_BIT(0x99) |
        RS_BIT(0x9A) | RS_BIT(0x9B) | RS_BIT(0x9C) | RS_BIT(0x9D) | RS_BIT(0x9E) | RS_BIT(0x9F) |
        RS_BIT(0xA0) | RS_BIT(0xA1) | RS_BIT(0xA2),
    0,
}};

static const reason_set_t auth_set = {{RS_BIT(0x00) | RS_BIT(0x18) | RS_BIT(0x19), 0, 0, 0}};

bool mqtt_reason_valid(uint8_t type, uint8_t reason)
{
    switch (type) {
    case MQTT_CONNACK:
        return in_set(&connack_set, reason);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
        return in_set(&puback_set, reason);
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        return in_set(&pubrel_set, reason);
    case MQTT_SUBACK:
        return in_set(&suback_set, reason);
    case MQTT_UNSUBACK:
        return in_set(&unsuback_set, reason);
    case MQTT_DISCONNECT:
        return in_set(&disconnect_set, reason);
    case MQTT_AUTH:
        return in_set(&auth_set, reason);
    default:
        return false;
    }
}

uint8_t mqtt_connack_v3_code(uint8_t reason)
{
    switch (reason) {
    case MQTT_RC_SUCCESS:
        return MQTT_CONNACK_ACCEPTED;
    case MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION:
        return MQTT_CONNACK_REFUSED_PROTOCOL_VERSION;
    case MQTT_RC_CLIENT_ID_NOT_VALID:
        return MQTT_CONNACK_REFUSED_IDENTIFIER_REJECTED;
    case MQTT_RC_BAD_USERNAME_OR_PASSWORD:
    case MQTT_RC_BAD_AUTHENTICATION_METHOD:
        return MQTT_CONNACK_REFUSED_BAD_USERNAME_PASSWORD;
    case MQTT_RC_NOT_AUTHORIZED:
    case MQTT_RC_BANNED:
        return MQTT_CONNACK_REFUSED_NOT_AUTHORIZED;
    default:
        return MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE;
    }
}

uint8_t mqtt_suback_v3_code(uint8_t reason)
{
    return reason <= MQTT_RC_GRANTED_QOS2 ? reason : 0x80;
}
