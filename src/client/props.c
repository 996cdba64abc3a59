/* The MQTT 5 property list of the public API, and its conversion to and
 * from the codec's mqtt_props_t. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef enum { K_NONE, K_BYTE, K_U16, K_U32, K_VARINT, K_STR, K_BIN, K_PAIR } kind_t;

static kind_t prop_kind(int id)
{
    switch (id) {
    case MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR:
    case MIDGE_PROP_REQUEST_PROBLEM_INFORMATION:
    case MIDGE_PROP_REQUEST_RESPONSE_INFORMATION:
    case MIDGE_PROP_MAXIMUM_QOS:
    case MIDGE_PROP_RETAIN_AVAILABLE:
    case MIDGE_PROP_WILDCARD_SUB_AVAILABLE:
    case MIDGE_PROP_SUBSCRIPTION_ID_AVAILABLE:
    case MIDGE_PROP_SHARED_SUB_AVAILABLE:
        return K_BYTE;
    case MIDGE_PROP_SERVER_KEEP_ALIVE:
    case MIDGE_PROP_RECEIVE_MAXIMUM:
    case MIDGE_PROP_TOPIC_ALIAS_MAXIMUM:
    case MIDGE_PROP_TOPIC_ALIAS:
        return K_U16;
    case MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL:
    case MIDGE_PROP_SESSION_EXPIRY_INTERVAL:
    case MIDGE_PROP_WILL_DELAY_INTERVAL:
    case MIDGE_PROP_MAXIMUM_PACKET_SIZE:
        return K_U32;
    case MIDGE_PROP_SUBSCRIPTION_IDENTIFIER:
        return K_VARINT;
    case MIDGE_PROP_CONTENT_TYPE:
    case MIDGE_PROP_RESPONSE_TOPIC:
    case MIDGE_PROP_ASSIGNED_CLIENT_IDENTIFIER:
    case MIDGE_PROP_AUTHENTICATION_METHOD:
    case MIDGE_PROP_RESPONSE_INFORMATION:
    case MIDGE_PROP_SERVER_REFERENCE:
    case MIDGE_PROP_REASON_STRING:
        return K_STR;
    case MIDGE_PROP_CORRELATION_DATA:
    case MIDGE_PROP_AUTHENTICATION_DATA:
        return K_BIN;
    case MIDGE_PROP_USER_PROPERTY:
        return K_PAIR;
    default:
        return K_NONE;
    }
}

const char *midge_prop_name(int id)
{
    switch (id) {
    case MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR:
        return "payload-format-indicator";
    case MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL:
        return "message-expiry-interval";
    case MIDGE_PROP_CONTENT_TYPE:
        return "content-type";
    case MIDGE_PROP_RESPONSE_TOPIC:
        return "response-topic";
    case MIDGE_PROP_CORRELATION_DATA:
        return "correlation-data";
    case MIDGE_PROP_SUBSCRIPTION_IDENTIFIER:
        return "subscription-identifier";
    case MIDGE_PROP_SESSION_EXPIRY_INTERVAL:
        return "session-expiry-interval";
    case MIDGE_PROP_ASSIGNED_CLIENT_IDENTIFIER:
        return "assigned-client-identifier";
    case MIDGE_PROP_SERVER_KEEP_ALIVE:
        return "server-keep-alive";
    case MIDGE_PROP_AUTHENTICATION_METHOD:
        return "authentication-method";
    case MIDGE_PROP_AUTHENTICATION_DATA:
        return "authentication-data";
    case MIDGE_PROP_REQUEST_PROBLEM_INFORMATION:
        return "request-problem-information";
    case MIDGE_PROP_WILL_DELAY_INTERVAL:
        return "will-delay-interval";
    case MIDGE_PROP_REQUEST_RESPONSE_INFORMATION:
        return "request-response-information";
    case MIDGE_PROP_RESPONSE_INFORMATION:
        return "response-information";
    case MIDGE_PROP_SERVER_REFERENCE:
        return "server-reference";
    case MIDGE_PROP_REASON_STRING:
        return "reason-string";
    case MIDGE_PROP_RECEIVE_MAXIMUM:
        return "receive-maximum";
    case MIDGE_PROP_TOPIC_ALIAS_MAXIMUM:
        return "topic-alias-maximum";
    case MIDGE_PROP_TOPIC_ALIAS:
        return "topic-alias";
    case MIDGE_PROP_MAXIMUM_QOS:
        return "maximum-qos";
    case MIDGE_PROP_RETAIN_AVAILABLE:
        return "retain-available";
    case MIDGE_PROP_USER_PROPERTY:
        return "user-property";
    case MIDGE_PROP_MAXIMUM_PACKET_SIZE:
        return "maximum-packet-size";
    case MIDGE_PROP_WILDCARD_SUB_AVAILABLE:
        return "wildcard-subscription-available";
    case MIDGE_PROP_SUBSCRIPTION_ID_AVAILABLE:
        return "subscription-identifier-available";
    case MIDGE_PROP_SHARED_SUB_AVAILABLE:
        return "shared-subscription-available";
    default:
        return NULL;
    }
}

midge_props_t *midge_props_new(void)
{
    return calloc(1, sizeof(midge_props_t));
}

static void item_free(mc_prop_t *it)
{
    free(it->data);
    free(it->value);
}

void mc_props_clear(midge_props_t *p)
{
    for (size_t i = 0; i < p->count; i++)
        item_free(&p->items[i]);
    p->count = 0;
}

void midge_props_free(midge_props_t *p)
{
    if (!p)
        return;
    mc_props_clear(p);
    free(p->items);
    free(p);
}

static char *dup_bytes(const void *data, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    if (len)
        memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

/* Appends an item (taking ownership of its strings), or replaces the
 * earlier one of a single-valued id. */
static midge_err_t push(midge_props_t *p, mc_prop_t *it, bool repeatable)
{
    if (!repeatable) {
        for (size_t i = 0; i < p->count; i++) {
            if (p->items[i].id == it->id) {
                item_free(&p->items[i]);
                p->items[i] = *it;
                return MIDGE_OK;
            }
        }
    }
    if (p->count == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 4;
        mc_prop_t *n = realloc(p->items, ncap * sizeof(*n));
        if (!n) {
            item_free(it);
            return MIDGE_ERR_NOMEM;
        }
        p->items = n;
        p->cap = ncap;
    }
    p->items[p->count++] = *it;
    return MIDGE_OK;
}

static bool int_in_range(int id, uint32_t v)
{
    switch (prop_kind(id)) {
    case K_BYTE:
        return v <= 1;
    case K_U16:
        if (id == MIDGE_PROP_RECEIVE_MAXIMUM || id == MIDGE_PROP_TOPIC_ALIAS)
            return v >= 1 && v <= 65535;
        return v <= 65535;
    case K_U32:
        if (id == MIDGE_PROP_MAXIMUM_PACKET_SIZE)
            return v >= 1;
        return true;
    case K_VARINT:
        return v >= 1 && v <= MQTT_VARINT_MAX;
    default:
        return false;
    }
}

midge_err_t midge_props_add_int(midge_props_t *p, int id, uint32_t value)
{
    if (!p || !int_in_range(id, value))
        return MIDGE_ERR_INVAL;
    mc_prop_t it = {.id = (uint8_t)id, .num = value};
    return push(p, &it, false);
}

midge_err_t midge_props_add_string(midge_props_t *p, int id, const char *value)
{
    if (!p || !value)
        return MIDGE_ERR_INVAL;
    kind_t k = prop_kind(id);
    size_t len = strlen(value);
    if (k == K_BIN)
        return midge_props_add_binary(p, id, value, len);
    if (k != K_STR || len > 65535 || !mqtt_utf8_valid((const uint8_t *)value, len))
        return MIDGE_ERR_INVAL;
    mc_prop_t it = {.id = (uint8_t)id, .data = dup_bytes(value, len), .len = len};
    if (!it.data)
        return MIDGE_ERR_NOMEM;
    return push(p, &it, false);
}

midge_err_t midge_props_add_binary(midge_props_t *p, int id, const void *data, size_t len)
{
    if (!p || (!data && len) || len > 65535)
        return MIDGE_ERR_INVAL;
    kind_t k = prop_kind(id);
    if (k == K_STR) {
        if (!mqtt_utf8_valid(data, len))
            return MIDGE_ERR_INVAL;
    } else if (k != K_BIN) {
        return MIDGE_ERR_INVAL;
    }
    mc_prop_t it = {.id = (uint8_t)id, .data = dup_bytes(data, len), .len = len};
    if (!it.data)
        return MIDGE_ERR_NOMEM;
    return push(p, &it, false);
}

midge_err_t midge_props_add_user(midge_props_t *p, const char *name, const char *value)
{
    if (!p || !name || !value)
        return MIDGE_ERR_INVAL;
    size_t kl = strlen(name), vl = strlen(value);
    if (kl > 65535 || vl > 65535 || !mqtt_utf8_valid((const uint8_t *)name, kl) ||
        !mqtt_utf8_valid((const uint8_t *)value, vl))
        return MIDGE_ERR_INVAL;
    mc_prop_t it = {.id = MIDGE_PROP_USER_PROPERTY,
                    .data = dup_bytes(name, kl),
                    .len = kl,
                    .value = dup_bytes(value, vl),
                    .value_len = vl};
    if (!it.data || !it.value) {
        item_free(&it);
        return MIDGE_ERR_NOMEM;
    }
    return push(p, &it, true);
}

midge_props_t *midge_props_copy(const midge_props_t *p)
{
    if (!p)
        return NULL;
    midge_props_t *n = midge_props_new();
    if (!n)
        return NULL;
    for (size_t i = 0; i < p->count; i++) {
        const mc_prop_t *s = &p->items[i];
        mc_prop_t it = {.id = s->id, .num = s->num, .len = s->len, .value_len = s->value_len};
        if (s->data && !(it.data = dup_bytes(s->data, s->len)))
            goto fail;
        if (s->value && !(it.value = dup_bytes(s->value, s->value_len))) {
            item_free(&it);
            goto fail;
        }
        if (push(n, &it, true) != MIDGE_OK)
            goto fail;
    }
    return n;
fail:
    midge_props_free(n);
    return NULL;
}

size_t midge_props_count(const midge_props_t *p)
{
    return p ? p->count : 0;
}

bool midge_props_get(const midge_props_t *p, size_t index, midge_prop_t *out)
{
    if (!p || index >= p->count || !out)
        return false;
    const mc_prop_t *it = &p->items[index];
    out->id = it->id;
    out->num = it->num;
    out->data = it->data;
    out->len = it->len;
    out->value = it->value;
    out->value_len = it->value_len;
    return true;
}

bool midge_props_find(const midge_props_t *p, int id, midge_prop_t *out)
{
    for (size_t i = 0; p && i < p->count; i++)
        if (p->items[i].id == id)
            return midge_props_get(p, i, out);
    return false;
}

midge_err_t mc_props_to_mqtt(const midge_props_t *p, mqtt_props_context_t ctx, mqtt_props_t *out,
                             mqtt_user_prop_t **user, uint32_t **subids)
{
    memset(out, 0, sizeof(*out));
    *user = NULL;
    *subids = NULL;
    if (!p || !p->count)
        return MIDGE_OK;
    size_t nuser = 0, nsub = 0;
    for (size_t i = 0; i < p->count; i++) {
        if (!mqtt_prop_allowed(p->items[i].id, ctx))
            return MIDGE_ERR_INVAL;
        if (p->items[i].id == MIDGE_PROP_USER_PROPERTY)
            nuser++;
        else if (p->items[i].id == MIDGE_PROP_SUBSCRIPTION_IDENTIFIER)
            nsub++;
    }
    if (nuser && !(*user = calloc(nuser, sizeof(**user))))
        return MIDGE_ERR_NOMEM;
    if (nsub && !(*subids = calloc(nsub, sizeof(**subids)))) {
        free(*user);
        *user = NULL;
        return MIDGE_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->count; i++) {
        const mc_prop_t *it = &p->items[i];
        mqtt_bytes_t b = {(const uint8_t *)it->data, it->len};
        switch (it->id) {
        case MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR:
            out->payload_format_indicator = (uint8_t)it->num;
            break;
        case MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL:
            out->message_expiry_interval = it->num;
            break;
        case MIDGE_PROP_CONTENT_TYPE:
            out->content_type = b;
            break;
        case MIDGE_PROP_RESPONSE_TOPIC:
            out->response_topic = b;
            break;
        case MIDGE_PROP_CORRELATION_DATA:
            out->correlation_data = b;
            break;
        case MIDGE_PROP_SESSION_EXPIRY_INTERVAL:
            out->session_expiry_interval = it->num;
            break;
        case MIDGE_PROP_ASSIGNED_CLIENT_IDENTIFIER:
            out->assigned_client_identifier = b;
            break;
        case MIDGE_PROP_SERVER_KEEP_ALIVE:
            out->server_keep_alive = (uint16_t)it->num;
            break;
        case MIDGE_PROP_AUTHENTICATION_METHOD:
            out->authentication_method = b;
            break;
        case MIDGE_PROP_AUTHENTICATION_DATA:
            out->authentication_data = b;
            break;
        case MIDGE_PROP_REQUEST_PROBLEM_INFORMATION:
            out->request_problem_information = (uint8_t)it->num;
            break;
        case MIDGE_PROP_WILL_DELAY_INTERVAL:
            out->will_delay_interval = it->num;
            break;
        case MIDGE_PROP_REQUEST_RESPONSE_INFORMATION:
            out->request_response_information = (uint8_t)it->num;
            break;
        case MIDGE_PROP_RESPONSE_INFORMATION:
            out->response_information = b;
            break;
        case MIDGE_PROP_SERVER_REFERENCE:
            out->server_reference = b;
            break;
        case MIDGE_PROP_REASON_STRING:
            out->reason_string = b;
            break;
        case MIDGE_PROP_RECEIVE_MAXIMUM:
            out->receive_maximum = (uint16_t)it->num;
            break;
        case MIDGE_PROP_TOPIC_ALIAS_MAXIMUM:
            out->topic_alias_maximum = (uint16_t)it->num;
            break;
        case MIDGE_PROP_TOPIC_ALIAS:
            out->topic_alias = (uint16_t)it->num;
            break;
        case MIDGE_PROP_MAXIMUM_QOS:
            out->maximum_qos = (uint8_t)it->num;
            break;
        case MIDGE_PROP_RETAIN_AVAILABLE:
            out->retain_available = (uint8_t)it->num;
            break;
        case MIDGE_PROP_MAXIMUM_PACKET_SIZE:
            out->maximum_packet_size = it->num;
            break;
        case MIDGE_PROP_WILDCARD_SUB_AVAILABLE:
            out->wildcard_sub_available = (uint8_t)it->num;
            break;
        case MIDGE_PROP_SUBSCRIPTION_ID_AVAILABLE:
            out->subscription_id_available = (uint8_t)it->num;
            break;
        case MIDGE_PROP_SHARED_SUB_AVAILABLE:
            out->shared_sub_available = (uint8_t)it->num;
            break;
        case MIDGE_PROP_USER_PROPERTY: {
            mqtt_user_prop_t *u = &(*user)[out->user_count++];
            u->key = b;
            u->value = (mqtt_bytes_t){(const uint8_t *)it->value, it->value_len};
            continue;
        }
        case MIDGE_PROP_SUBSCRIPTION_IDENTIFIER:
            (*subids)[out->sub_id_count++] = it->num;
            continue;
        default:
            continue;
        }
        MQTT_PROP_SET(out, it->id);
    }
    out->user = *user;
    out->sub_ids = *subids;
    return MIDGE_OK;
}

midge_err_t mc_props_from_mqtt(midge_props_t *p, const mqtt_props_t *in)
{
    mc_props_clear(p);
    if (!in || !in->raw.len)
        return MIDGE_OK;
    mqtt_reader_t it;
    mqtt_prop_t pr;
    mqtt_props_iter_init(&it, in);
    while (mqtt_props_next(&it, &pr)) {
        mc_prop_t item = {.id = pr.id, .num = pr.value};
        kind_t k = prop_kind(pr.id);
        if (k == K_STR || k == K_BIN || k == K_PAIR) {
            item.data = dup_bytes(pr.str.data, pr.str.len);
            item.len = pr.str.len;
            if (!item.data)
                return MIDGE_ERR_NOMEM;
            if (k == K_PAIR) {
                item.value = dup_bytes(pr.str2.data, pr.str2.len);
                item.value_len = pr.str2.len;
                if (!item.value) {
                    item_free(&item);
                    return MIDGE_ERR_NOMEM;
                }
            }
        }
        midge_err_t e = push(p, &item, true);
        if (e != MIDGE_OK)
            return e;
    }
    return MIDGE_OK;
}
