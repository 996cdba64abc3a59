/* Error and reason texts. The CONNACK and reason code wording follows
 * Mosquitto's tools, so that scripts matching their output keep working. */
#include <string.h>

#include "internal.h"

const char *midge_strerror(midge_err_t err)
{
    static const char *const text[] = {
#define MIDGE_ERR_TEXT(name, desc) desc,
        MIDGE_ERR_LIST(MIDGE_ERR_TEXT)
#undef MIDGE_ERR_TEXT
    };
    if ((unsigned)err >= MIDGE_ERR_COUNT)
        return "unknown error";
    return text[err];
}

const char *midge_connack_string(int version, uint8_t code)
{
    if (version == 5)
        return midge_reason_string(code);
    switch (code) {
    case 0:
        return "Connection Accepted.";
    case 1:
        return "Connection Refused: unacceptable protocol version.";
    case 2:
        return "Connection Refused: identifier rejected.";
    case 3:
        return "Connection Refused: broker unavailable.";
    case 4:
        return "Connection Refused: bad user name or password.";
    case 5:
        return "Connection Refused: not authorised.";
    default:
        return "Connection Refused: unknown reason.";
    }
}

const char *midge_reason_string(uint8_t reason)
{
    /* The codec's names, except where Mosquitto's wording differs: the
     * tools print what mosquitto_pub and mosquitto_sub print. */
    if (reason == MQTT_RC_SUBSCRIPTION_IDS_NOT_SUPPORTED)
        return "Subscription identifiers not supported";
    const char *name = mqtt_reason_str(reason);
    return strcmp(name, "Unknown") == 0 ? "Unknown reason" : name;
}
