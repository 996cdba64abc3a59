/* MQTT v5 properties: the table of identifiers (type and the packets each
 * may appear in), decoding with every per-property rule, sizing, encoding
 * and iteration. */
#include "internal.h"

enum {
    PT_NONE = 0,
    PT_BYTE,
    PT_U16,
    PT_U32,
    PT_VARINT,
    PT_STR,
    PT_BIN,
    PT_PAIR,
};

#define CTX(c) (1u << MQTT_PROPS_##c)
#define CTX_ALL                                                                                    \
    (CTX(CONNECT) | CTX(WILL) | CTX(CONNACK) | CTX(PUBLISH) | CTX(PUBACK) | CTX(SUBSCRIBE) |       \
     CTX(SUBACK) | CTX(UNSUBSCRIBE) | CTX(UNSUBACK) | CTX(DISCONNECT) | CTX(AUTH))

#define PROP_ID_MAX 0x2A

typedef struct {
    uint8_t type;
    uint16_t contexts;
} prop_info_t;

/* MQTT 5.0 section 2.2.2.2, table 2-4. */
static const prop_info_t prop_info[PROP_ID_MAX + 1] = {
    [0x01] = {PT_BYTE, CTX(PUBLISH) | CTX(WILL)},
    [0x02] = {PT_U32, CTX(PUBLISH) | CTX(WILL)},
    [0x03] = {PT_STR, CTX(PUBLISH) | CTX(WILL)},
    [0x08] = {PT_STR, CTX(PUBLISH) | CTX(WILL)},
    [0x09] = {PT_BIN, CTX(PUBLISH) | CTX(WILL)},
    [0x0B] = {PT_VARINT, CTX(PUBLISH) | CTX(SUBSCRIBE)},
    [0x11] = {PT_U32, CTX(CONNECT) | CTX(CONNACK) | CTX(DISCONNECT)},
    [0x12] = {PT_STR, CTX(CONNACK)},
    [0x13] = {PT_U16, CTX(CONNACK)},
    [0x15] = {PT_STR, CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH)},
    [0x16] = {PT_BIN, CTX(CONNECT) | CTX(CONNACK) | CTX(AUTH)},
    [0x17] = {PT_BYTE, CTX(CONNECT)},
    [0x18] = {PT_U32, CTX(WILL)},
    [0x19] = {PT_BYTE, CTX(CONNECT)},
    [0x1A] = {PT_STR, CTX(CONNACK)},
    [0x1C] = {PT_STR, CTX(CONNACK) | CTX(DISCONNECT)},
    [0x1F] = {PT_STR, CTX(CONNACK) | CTX(PUBACK) | CTX(SUBACK) | CTX(UNSUBACK) | CTX(DISCONNECT) |
                          CTX(AUTH)},
    [0x21] = {PT_U16, CTX(CONNECT) | CTX(CONNACK)},
    [0x22] = {PT_U16, CTX(CONNECT) | CTX(CONNACK)},
    [0x23] = {PT_U16, CTX(PUBLISH)},
    [0x24] = {PT_BYTE, CTX(CONNACK)},
    [0x25] = {PT_BYTE, CTX(CONNACK)},
    [0x26] = {PT_PAIR, CTX_ALL},
    [0x27] = {PT_U32, CTX(CONNECT) | CTX(CONNACK)},
    [0x28] = {PT_BYTE, CTX(CONNACK)},
    [0x29] = {PT_BYTE, CTX(CONNACK)},
    [0x2A] = {PT_BYTE, CTX(CONNACK)},
};

bool mqtt_prop_allowed(uint8_t id, mqtt_props_context_t ctx)
{
    if (id > PROP_ID_MAX || (unsigned)ctx > MQTT_PROPS_AUTH)
        return false;
    return (prop_info[id].contexts >> ctx) & 1u;
}

/* Byte properties that are booleans on the wire: only 0 and 1 are values. */
static bool is_byte_boolean(uint8_t id)
{
    return id == MQTT_PROP_PAYLOAD_FORMAT_INDICATOR ||
           id == MQTT_PROP_REQUEST_PROBLEM_INFORMATION ||
           id == MQTT_PROP_REQUEST_RESPONSE_INFORMATION || id == MQTT_PROP_MAXIMUM_QOS ||
           id == MQTT_PROP_RETAIN_AVAILABLE || id == MQTT_PROP_WILDCARD_SUB_AVAILABLE ||
           id == MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE || id == MQTT_PROP_SHARED_SUB_AVAILABLE;
}

/* Value rules of numeric properties; topic alias 0 has its own error. */
static mqtt_err_t check_number(uint8_t id, uint32_t v)
{
    if (is_byte_boolean(id))
        return v <= 1 ? MQTT_OK : MQTT_ERR_PROP_VALUE;
    switch (id) {
    case MQTT_PROP_RECEIVE_MAXIMUM:
    case MQTT_PROP_MAXIMUM_PACKET_SIZE:
        return v != 0 ? MQTT_OK : MQTT_ERR_PROP_VALUE;
    case MQTT_PROP_SUBSCRIPTION_IDENTIFIER:
        return v != 0 && v <= MQTT_VARINT_MAX ? MQTT_OK : MQTT_ERR_PROP_VALUE;
    case MQTT_PROP_TOPIC_ALIAS:
        return v != 0 ? MQTT_OK : MQTT_ERR_TOPIC_ALIAS_ZERO;
    default:
        return MQTT_OK;
    }
}

static mqtt_bytes_t *string_field(mqtt_props_t *p, uint8_t id)
{
    switch (id) {
    case MQTT_PROP_CONTENT_TYPE:
        return &p->content_type;
    case MQTT_PROP_RESPONSE_TOPIC:
        return &p->response_topic;
    case MQTT_PROP_CORRELATION_DATA:
        return &p->correlation_data;
    case MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER:
        return &p->assigned_client_identifier;
    case MQTT_PROP_AUTHENTICATION_METHOD:
        return &p->authentication_method;
    case MQTT_PROP_AUTHENTICATION_DATA:
        return &p->authentication_data;
    case MQTT_PROP_RESPONSE_INFORMATION:
        return &p->response_information;
    case MQTT_PROP_SERVER_REFERENCE:
        return &p->server_reference;
    case MQTT_PROP_REASON_STRING:
        return &p->reason_string;
    default:
        return NULL;
    }
}

static const mqtt_bytes_t *string_field_c(const mqtt_props_t *p, uint8_t id)
{
    return string_field((mqtt_props_t *)p, id);
}

static void store_number(mqtt_props_t *p, uint8_t id, uint32_t v)
{
    switch (id) {
    case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
        p->payload_format_indicator = (uint8_t)v;
        break;
    case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL:
        p->message_expiry_interval = v;
        break;
    case MQTT_PROP_SESSION_EXPIRY_INTERVAL:
        p->session_expiry_interval = v;
        break;
    case MQTT_PROP_SERVER_KEEP_ALIVE:
        p->server_keep_alive = (uint16_t)v;
        break;
    case MQTT_PROP_REQUEST_PROBLEM_INFORMATION:
        p->request_problem_information = (uint8_t)v;
        break;
    case MQTT_PROP_WILL_DELAY_INTERVAL:
        p->will_delay_interval = v;
        break;
    case MQTT_PROP_REQUEST_RESPONSE_INFORMATION:
        p->request_response_information = (uint8_t)v;
        break;
    case MQTT_PROP_RECEIVE_MAXIMUM:
        p->receive_maximum = (uint16_t)v;
        break;
    case MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
        p->topic_alias_maximum = (uint16_t)v;
        break;
    case MQTT_PROP_TOPIC_ALIAS:
        p->topic_alias = (uint16_t)v;
        break;
    case MQTT_PROP_MAXIMUM_QOS:
        p->maximum_qos = (uint8_t)v;
        break;
    case MQTT_PROP_RETAIN_AVAILABLE:
        p->retain_available = (uint8_t)v;
        break;
    case MQTT_PROP_MAXIMUM_PACKET_SIZE:
        p->maximum_packet_size = v;
        break;
    case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
        p->wildcard_sub_available = (uint8_t)v;
        break;
    case MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE:
        p->subscription_id_available = (uint8_t)v;
        break;
    case MQTT_PROP_SHARED_SUB_AVAILABLE:
        p->shared_sub_available = (uint8_t)v;
        break;
    default:
        break;
    }
}

static uint32_t load_number(const mqtt_props_t *p, uint8_t id)
{
    switch (id) {
    case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
        return p->payload_format_indicator;
    case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL:
        return p->message_expiry_interval;
    case MQTT_PROP_SESSION_EXPIRY_INTERVAL:
        return p->session_expiry_interval;
    case MQTT_PROP_SERVER_KEEP_ALIVE:
        return p->server_keep_alive;
    case MQTT_PROP_REQUEST_PROBLEM_INFORMATION:
        return p->request_problem_information;
    case MQTT_PROP_WILL_DELAY_INTERVAL:
        return p->will_delay_interval;
    case MQTT_PROP_REQUEST_RESPONSE_INFORMATION:
        return p->request_response_information;
    case MQTT_PROP_RECEIVE_MAXIMUM:
        return p->receive_maximum;
    case MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
        return p->topic_alias_maximum;
    case MQTT_PROP_TOPIC_ALIAS:
        return p->topic_alias;
    case MQTT_PROP_MAXIMUM_QOS:
        return p->maximum_qos;
    case MQTT_PROP_RETAIN_AVAILABLE:
        return p->retain_available;
    case MQTT_PROP_MAXIMUM_PACKET_SIZE:
        return p->maximum_packet_size;
    case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
        return p->wildcard_sub_available;
    case MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE:
        return p->subscription_id_available;
    case MQTT_PROP_SHARED_SUB_AVAILABLE:
        return p->shared_sub_available;
    default:
        return 0;
    }
}

/* Reads one property's value by its type; no rule beyond the type. */
static mqtt_err_t read_value(mqtt_reader_t *r, uint8_t type, mqtt_prop_t *out)
{
    mqtt_err_t err = MQTT_OK;
    switch (type) {
    case PT_BYTE: {
        uint8_t v = 0;
        err = mqtt__read_u8(r, &v);
        out->value = v;
        break;
    }
    case PT_U16: {
        uint16_t v = 0;
        err = mqtt__read_u16(r, &v);
        out->value = v;
        break;
    }
    case PT_U32:
        err = mqtt__read_u32(r, &out->value);
        break;
    case PT_VARINT:
        err = mqtt__read_varint(r, &out->value);
        break;
    case PT_STR:
        err = mqtt__read_string(r, &out->str);
        break;
    case PT_BIN:
        err = mqtt__read_binary(r, &out->str);
        break;
    case PT_PAIR:
        err = mqtt__read_string(r, &out->str);
        if (err == MQTT_OK)
            err = mqtt__read_string(r, &out->str2);
        break;
    default:
        err = MQTT_ERR_PROP_UNKNOWN;
        break;
    }
    return err;
}

mqtt_err_t mqtt__props_decode(mqtt_reader_t *r, mqtt_props_context_t ctx, mqtt_props_t *p)
{
    uint32_t len;
    mqtt_err_t err = mqtt__read_varint(r, &len);
    if (err != MQTT_OK)
        return err;
    if (mqtt__left(r) < len)
        return MQTT_ERR_TRUNCATED;
    mqtt_reader_t b = {r->pos, r->pos + len};
    p->raw.data = r->pos;
    p->raw.len = len;
    r->pos += len;

    while (b.pos < b.end) {
        uint8_t id = *b.pos++;
        /* Identifiers are variable byte integers, but every defined one
         * fits in one byte: a longer one is unknown. */
        if (id > PROP_ID_MAX || prop_info[id].type == PT_NONE)
            return MQTT_ERR_PROP_UNKNOWN;
        if (!((prop_info[id].contexts >> ctx) & 1u))
            return MQTT_ERR_PROP_NOT_ALLOWED;
        bool repeatable = id == MQTT_PROP_USER_PROPERTY ||
                          (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER && ctx == MQTT_PROPS_PUBLISH);
        if (MQTT_PROP_HAS(p, id) && !repeatable)
            return MQTT_ERR_PROP_DUPLICATE;
        MQTT_PROP_SET(p, id);

        mqtt_prop_t v;
        err = read_value(&b, prop_info[id].type, &v);
        if (err != MQTT_OK)
            return err;
        switch (prop_info[id].type) {
        case PT_STR:
        case PT_BIN:
            /* A Response Topic is a topic name: non-empty, no wildcards
             * (its UTF-8 was checked by read_value). */
            if (id == MQTT_PROP_RESPONSE_TOPIC &&
                (v.str.len == 0 || memchr(v.str.data, '+', v.str.len) ||
                 memchr(v.str.data, '#', v.str.len)))
                return MQTT_ERR_PROP_VALUE;
            *string_field(p, id) = v.str;
            break;
        case PT_PAIR:
            p->user_count++;
            break;
        default:
            err = check_number(id, v.value);
            if (err != MQTT_OK)
                return err;
            if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER)
                p->sub_id_count++;
            else
                store_number(p, id, v.value);
            break;
        }
    }
    if (MQTT_PROP_HAS(p, MQTT_PROP_AUTHENTICATION_DATA) &&
        !MQTT_PROP_HAS(p, MQTT_PROP_AUTHENTICATION_METHOD))
        return MQTT_ERR_AUTH_METHOD;
    return MQTT_OK;
}

mqtt_err_t mqtt_props_decode(mqtt_reader_t *r, mqtt_props_context_t ctx, mqtt_props_t *out)
{
    memset(out, 0, sizeof(*out));
    return mqtt__props_decode(r, ctx, out);
}

void mqtt_props_iter_init(mqtt_reader_t *it, const mqtt_props_t *props)
{
    it->pos = props->raw.data;
    it->end = props->raw.data ? props->raw.data + props->raw.len : NULL;
}

bool mqtt_props_next(mqtt_reader_t *it, mqtt_prop_t *out)
{
    if (!it->pos || it->pos >= it->end)
        return false;
    uint8_t id = *it->pos;
    if (id > PROP_ID_MAX || prop_info[id].type == PT_NONE)
        return false;
    mqtt_reader_t r = {it->pos + 1, it->end};
    memset(out, 0, sizeof *out);
    out->id = id;
    if (read_value(&r, prop_info[id].type, out) != MQTT_OK)
        return false;
    it->pos = r.pos;
    return true;
}

/* ---- Encoding ---- */

/* Index of the lowest set bit; bits != 0. In 32-bit halves, so a
 * Cortex-M needs no libgcc helper for it. */
static inline uint8_t lowest_bit(uint64_t bits)
{
    uint32_t lo = (uint32_t)bits, hi = (uint32_t)(bits >> 32);
#if defined(__GNUC__) || defined(__clang__)
    return lo ? (uint8_t)__builtin_ctz(lo) : (uint8_t)(32 + __builtin_ctz(hi));
#else
    uint32_t x = lo ? lo : hi;
    uint8_t n = lo ? 0 : 32;
    while (!(x & 1u)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

#define REPEAT_BITS                                                                                \
    ((1ull << MQTT_PROP_SUBSCRIPTION_IDENTIFIER) | (1ull << MQTT_PROP_USER_PROPERTY))

/* The properties to write, as bits: single-valued ones from `present`,
 * the repeatable ones from their counts (their `present` bits are only
 * informative). */
static uint64_t wire_bits(const mqtt_props_t *p)
{
    uint64_t bits = p->present & ~REPEAT_BITS;
    if (p->sub_id_count)
        bits |= 1ull << MQTT_PROP_SUBSCRIPTION_IDENTIFIER;
    if (p->user_count)
        bits |= 1ull << MQTT_PROP_USER_PROPERTY;
    return bits;
}

static size_t value_size(uint8_t type, uint32_t v, size_t len, size_t len2)
{
    switch (type) {
    case PT_BYTE:
        return 1;
    case PT_U16:
        return 2;
    case PT_U32:
        return 4;
    case PT_VARINT:
        return mqtt_varint_size(v);
    case PT_STR:
    case PT_BIN:
        return 2 + len;
    case PT_PAIR:
        return 4 + len + len2;
    default:
        return 0;
    }
}

/* The repeatable properties a decoded block carries, for forwarding. */
static size_t raw_repeat_size(const mqtt_props_t *p, uint8_t want)
{
    mqtt_reader_t it;
    mqtt_prop_t prop;
    size_t n = 0;
    mqtt_props_iter_init(&it, p);
    while (mqtt_props_next(&it, &prop)) {
        if (prop.id == want)
            n += 1 + value_size(prop_info[want].type, prop.value, prop.str.len, prop.str2.len);
    }
    return n;
}

static bool user_from_raw(const mqtt_props_t *p)
{
    return p->user == NULL && p->user_count > 0 && p->raw.data != NULL;
}

static bool sub_ids_from_raw(const mqtt_props_t *p)
{
    return p->sub_ids == NULL && p->sub_id_count > 0 && p->raw.data != NULL;
}

static size_t repeat_size(const mqtt_props_t *p, uint8_t id)
{
    size_t n = 0;
    if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
        if (sub_ids_from_raw(p))
            return raw_repeat_size(p, id);
        for (size_t i = 0; p->sub_ids && i < p->sub_id_count; i++)
            n += 1 + mqtt_varint_size(p->sub_ids[i]);
    } else {
        if (user_from_raw(p))
            return raw_repeat_size(p, id);
        for (size_t i = 0; p->user && i < p->user_count; i++)
            n += 5 + p->user[i].key.len + p->user[i].value.len;
    }
    return n;
}

static size_t single_size(const mqtt_props_t *p, uint8_t id)
{
    uint8_t type = prop_info[id].type;
    if (type == PT_STR || type == PT_BIN)
        return 3 + string_field_c(p, id)->len;
    if (type == PT_VARINT)
        return 1 + mqtt_varint_size(load_number(p, id));
    return 1 + value_size(type, 0, 0, 0);
}

size_t mqtt_props_size(const mqtt_props_t *props)
{
    size_t n = 0;
    uint64_t bits = wire_bits(props) & ((2ull << PROP_ID_MAX) - 2);
    while (bits) {
        uint8_t id = lowest_bit(bits);
        bits &= bits - 1;
        if (prop_info[id].type == PT_NONE)
            continue;
        n += (REPEAT_BITS >> id) & 1u ? repeat_size(props, id) : single_size(props, id);
    }
    return n;
}

size_t mqtt__props_wire_size(const mqtt_props_t *p)
{
    size_t n = mqtt_props_size(p);
    return mqtt_varint_size((uint32_t)n) + n;
}

bool mqtt__props_check(const mqtt_props_t *p, mqtt_props_context_t ctx, size_t *size)
{
    uint64_t bits = wire_bits(p);
    if (bits & ~((2ull << PROP_ID_MAX) - 2))
        return false;
    size_t n = 0;
    while (bits) {
        uint8_t id = lowest_bit(bits);
        bits &= bits - 1;
        if (prop_info[id].type == PT_NONE || !((prop_info[id].contexts >> ctx) & 1u))
            return false;
        if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
            if (p->sub_id_count > 1 && ctx != MQTT_PROPS_PUBLISH)
                return false;
            if (!p->sub_ids && !p->raw.data)
                return false;
            for (size_t i = 0; p->sub_ids && i < p->sub_id_count; i++) {
                if (p->sub_ids[i] == 0 || p->sub_ids[i] > MQTT_VARINT_MAX)
                    return false;
            }
            n += repeat_size(p, id);
        } else if (id == MQTT_PROP_USER_PROPERTY) {
            if (!p->user && !p->raw.data)
                return false;
            for (size_t i = 0; p->user && i < p->user_count; i++) {
                const mqtt_user_prop_t *u = &p->user[i];
                if (u->key.len > 65535 || u->value.len > 65535 || (u->key.len && !u->key.data) ||
                    (u->value.len && !u->value.data))
                    return false;
            }
            n += repeat_size(p, id);
        } else {
            const mqtt_bytes_t *s = string_field_c(p, id);
            if (s) {
                if (s->len > 65535 || (s->len && !s->data))
                    return false;
            } else if (check_number(id, load_number(p, id)) != MQTT_OK) {
                return false;
            }
            n += single_size(p, id);
        }
    }
    *size = n;
    return n <= MQTT_VARINT_MAX;
}

static void write_raw_repeats(mqtt__writer_t *w, const mqtt_props_t *p, uint8_t want)
{
    mqtt_reader_t it;
    mqtt_prop_t prop;
    mqtt_props_iter_init(&it, p);
    while (mqtt_props_next(&it, &prop)) {
        if (prop.id != want)
            continue;
        mqtt__write_u8(w, want);
        if (want == MQTT_PROP_USER_PROPERTY) {
            mqtt__write_binary(w, prop.str);
            mqtt__write_binary(w, prop.str2);
        } else {
            mqtt__write_varint(w, prop.value);
        }
    }
}

static void write_repeats(mqtt__writer_t *w, const mqtt_props_t *p, uint8_t id)
{
    if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
        if (sub_ids_from_raw(p)) {
            write_raw_repeats(w, p, id);
            return;
        }
        for (size_t i = 0; p->sub_ids && i < p->sub_id_count; i++) {
            mqtt__write_u8(w, id);
            mqtt__write_varint(w, p->sub_ids[i]);
        }
    } else {
        if (user_from_raw(p)) {
            write_raw_repeats(w, p, id);
            return;
        }
        for (size_t i = 0; p->user && i < p->user_count; i++) {
            mqtt__write_u8(w, id);
            mqtt__write_binary(w, p->user[i].key);
            mqtt__write_binary(w, p->user[i].value);
        }
    }
}

/* Ascending identifier order, repeatable properties in their own order. */
void mqtt__props_encode(mqtt__writer_t *w, const mqtt_props_t *p, size_t size)
{
    mqtt__write_varint(w, (uint32_t)size);
    uint64_t bits = wire_bits(p) & ((2ull << PROP_ID_MAX) - 2);
    while (bits) {
        uint8_t id = lowest_bit(bits);
        bits &= bits - 1;
        if ((REPEAT_BITS >> id) & 1u) {
            write_repeats(w, p, id);
            continue;
        }
        mqtt__write_u8(w, id);
        uint32_t v = load_number(p, id);
        switch (prop_info[id].type) {
        case PT_BYTE:
            mqtt__write_u8(w, (uint8_t)v);
            break;
        case PT_U16:
            mqtt__write_u16(w, (uint16_t)v);
            break;
        case PT_U32:
            mqtt__write_u32(w, v);
            break;
        case PT_STR:
        case PT_BIN:
            mqtt__write_binary(w, *string_field_c(p, id));
            break;
        default:
            break;
        }
    }
}
