/* The codec's error table and the names of packet types and reason codes:
 * everything a log line or a DISCONNECT needs to describe a failure. */
#include "mqtt/mqtt.h"

static const char *const err_strings[MQTT_ERR_COUNT] = {
#define MQTT_ERR_STR(name, rc, desc) desc,
    MQTT_ERR_LIST(MQTT_ERR_STR)
#undef MQTT_ERR_STR
};

static const uint8_t err_reasons[MQTT_ERR_COUNT] = {
#define MQTT_ERR_RC(name, rc, desc) rc,
    MQTT_ERR_LIST(MQTT_ERR_RC)
#undef MQTT_ERR_RC
};

const char *mqtt_err_str(mqtt_err_t err)
{
    if ((unsigned)err >= MQTT_ERR_COUNT)
        return "unknown error";
    return err_strings[err];
}

uint8_t mqtt_err_reason(mqtt_err_t err)
{
    if ((unsigned)err >= MQTT_ERR_COUNT)
        return MQTT_RC_UNSPECIFIED_ERROR;
    return err_reasons[err];
}

const char *mqtt_packet_type_str(unsigned type)
{
    static const char *const names[16] = {
        "UNKNOWN", "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
        "PUBREL",  "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
        "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
    };
    if (type >= 16)
        return "UNKNOWN";
    return names[type];
}
