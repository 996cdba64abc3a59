/* Decoding of every packet type. Each decoder reads through one bounded
 * reader over the packet body and must consume it exactly. */
#include "internal.h"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        mqtt_err_t try_err_ = (expr);                                                              \
        if (try_err_ != MQTT_OK)                                                                   \
            return try_err_;                                                                       \
    } while (0)

static mqtt_err_t expect_end(const mqtt_reader_t *r)
{
    return r->pos == r->end ? MQTT_OK : MQTT_ERR_TRAILING;
}

static mqtt_err_t read_packet_id(mqtt_reader_t *r, uint16_t *id)
{
    TRY(mqtt__read_u16(r, id));
    return *id ? MQTT_OK : MQTT_ERR_PACKET_ID_ZERO;
}

static bool bytes_eq(mqtt_bytes_t b, const char *s, size_t n)
{
    return b.len == n && memcmp(b.data, s, n) == 0;
}

/* Protocol name and level first, so a server can answer a client of an
 * unsupported version in that client's own terms. */
static mqtt_err_t decode_connect(mqtt_reader_t *r, uint8_t fixed_flags, mqtt_connect_t *c)
{
    uint8_t level, flags;
    TRY(mqtt__read_binary(r, &c->protocol_name));
    TRY(mqtt__read_u8(r, &level));
    /* Mosquitto bridges set the top bit of the level; Mosquitto accepts
     * that, and so do we. */
    c->bridge = (level & 0x80u) != 0;
    level &= 0x7Fu;
    c->version = (mqtt_version_t)level;
    if (bytes_eq(c->protocol_name, "MQTT", 4)) {
        if (level != MQTT_V311 && level != MQTT_V5)
            return MQTT_ERR_PROTOCOL_VERSION;
    } else if (bytes_eq(c->protocol_name, "MQIsdp", 6)) {
        if (level != MQTT_V31)
            return MQTT_ERR_PROTOCOL_VERSION;
    } else {
        return MQTT_ERR_PROTOCOL_NAME;
    }
    const bool v5 = level == MQTT_V5;
    /* 3.1 reserved neither the fixed-header flags nor bit 0 of the connect
     * flags as must-be-zero; like Mosquitto, check them from 3.1.1 on. */
    if (fixed_flags != 0 && level != MQTT_V31)
        return MQTT_ERR_RESERVED_FLAGS;

    TRY(mqtt__read_u8(r, &flags));
    if ((flags & 0x01u) && level != MQTT_V31)
        return MQTT_ERR_CONNECT_FLAGS;
    c->clean_start = (flags & 0x02u) != 0;
    c->will_flag = (flags & 0x04u) != 0;
    c->will_qos = (uint8_t)((flags >> 3) & 0x03u);
    c->will_retain = (flags & 0x20u) != 0;
    c->password_flag = (flags & 0x40u) != 0;
    c->username_flag = (flags & 0x80u) != 0;
    if (c->will_qos == 3)
        return MQTT_ERR_QOS;
    if (!c->will_flag && (c->will_qos != 0 || c->will_retain))
        return MQTT_ERR_CONNECT_FLAGS;
    /* 3.1 and 3.1.1 forbid a password without a user name; 5.0 allows it. */
    if (!v5 && c->password_flag && !c->username_flag)
        return MQTT_ERR_CONNECT_FLAGS;

    TRY(mqtt__read_u16(r, &c->keep_alive));
    if (v5)
        TRY(mqtt__props_decode(r, MQTT_PROPS_CONNECT, &c->props));
    TRY(mqtt__read_string(r, &c->client_id));
    if (c->will_flag) {
        if (v5)
            TRY(mqtt__props_decode(r, MQTT_PROPS_WILL, &c->will_props));
        TRY(mqtt__read_string(r, &c->will_topic));
        if (!mqtt_topic_name_valid(c->will_topic))
            return MQTT_ERR_TOPIC_INVALID;
        TRY(mqtt__read_binary(r, &c->will_payload));
    }
    /* MQTT 3.1 clients exist that set the user name or password flag and
     * send no field; Mosquitto tolerates that for 3.1 only, and so do we. */
    if (c->username_flag) {
        if (level == MQTT_V31 && r->pos == r->end)
            c->username_flag = false;
        else
            TRY(mqtt__read_string(r, &c->username));
    }
    if (c->password_flag) {
        if (level == MQTT_V31 && r->pos == r->end)
            c->password_flag = false;
        else
            TRY(mqtt__read_binary(r, &c->password));
    }
    return expect_end(r);
}

static mqtt_err_t decode_connack(mqtt_reader_t *r, mqtt_version_t v, mqtt_connack_t *c)
{
    uint8_t flags;
    TRY(mqtt__read_u8(r, &flags));
    TRY(mqtt__read_u8(r, &c->reason));
    /* In 3.1 this byte was reserved and unused; later versions define
     * bit 0 as Session Present and reserve the rest. */
    if (v != MQTT_V31) {
        if (flags & 0xFEu)
            return MQTT_ERR_RESERVED_FLAGS;
        c->session_present = (flags & 0x01u) != 0;
    }
    if (v == MQTT_V5) {
        if (!mqtt_reason_valid(MQTT_CONNACK, c->reason))
            return MQTT_ERR_REASON_CODE;
        TRY(mqtt__props_decode(r, MQTT_PROPS_CONNACK, &c->props));
    } else if (c->reason > MQTT_CONNACK_REFUSED_NOT_AUTHORIZED) {
        return MQTT_ERR_REASON_CODE;
    }
    return expect_end(r);
}

static mqtt_err_t decode_publish(mqtt_reader_t *r, uint8_t flags, mqtt_version_t v,
                                 mqtt_publish_t *p)
{
    p->dup = (flags & 0x08u) != 0;
    p->qos = (uint8_t)((flags >> 1) & 0x03u);
    p->retain = (flags & 0x01u) != 0;
    if (p->qos == 3)
        return MQTT_ERR_QOS;
    if (p->dup && p->qos == 0)
        return MQTT_ERR_RESERVED_FLAGS;
    TRY(mqtt__read_string(r, &p->topic));
    if (p->topic.len > 0 && (memchr(p->topic.data, '+', p->topic.len) != NULL ||
                             memchr(p->topic.data, '#', p->topic.len) != NULL))
        return MQTT_ERR_TOPIC_INVALID;
    if (p->qos > 0)
        TRY(read_packet_id(r, &p->packet_id));
    if (v == MQTT_V5)
        TRY(mqtt__props_decode(r, MQTT_PROPS_PUBLISH, &p->props));
    if (p->topic.len == 0 && !MQTT_PROP_HAS(&p->props, MQTT_PROP_TOPIC_ALIAS))
        return MQTT_ERR_TOPIC_EMPTY;
    p->payload.data = r->pos;
    p->payload.len = mqtt__left(r);
    r->pos = r->end;
    return MQTT_OK;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
static mqtt_err_t decode_ack(mqtt_reader_t *r, uint8_t type, mqtt_version_t v, mqtt_ack_t *a)
{
    TRY(read_packet_id(r, &a->packet_id));
    if (v == MQTT_V5 && r->pos < r->end) {
        TRY(mqtt__read_u8(r, &a->reason));
        if (!mqtt_reason_valid(type, a->reason))
            return MQTT_ERR_REASON_CODE;
        if (r->pos < r->end)
            TRY(mqtt__props_decode(r, MQTT_PROPS_PUBACK, &a->props));
    }
    return expect_end(r);
}

static mqtt_err_t check_sub_options(uint8_t o, mqtt_version_t v, mqtt_bytes_t filter)
{
    if (v != MQTT_V5) {
        if (o & 0xFCu)
            return MQTT_ERR_SUB_OPTIONS;
        return o == 3 ? MQTT_ERR_QOS : MQTT_OK;
    }
    if (o & 0xC0u)
        return MQTT_ERR_SUB_OPTIONS;
    if (MQTT_SUBOPT_QOS(o) == 3)
        return MQTT_ERR_QOS;
    if (MQTT_SUBOPT_RETAIN_HANDLING(o) == 3)
        return MQTT_ERR_RETAIN_HANDLING;
    if ((o & MQTT_SUBOPT_NO_LOCAL) && filter.len >= 7 && memcmp(filter.data, "$share/", 7) == 0)
        return MQTT_ERR_SHARED_NO_LOCAL;
    return MQTT_OK;
}

/* SUBSCRIBE and UNSUBSCRIBE: validates the whole list once, so the
 * iterator can walk it without checks. */
static mqtt_err_t decode_subscribe(mqtt_reader_t *r, uint8_t type, mqtt_version_t v,
                                   mqtt_subscribe_t *s)
{
    TRY(read_packet_id(r, &s->packet_id));
    if (v == MQTT_V5)
        TRY(mqtt__props_decode(
            r, type == MQTT_SUBSCRIBE ? MQTT_PROPS_SUBSCRIBE : MQTT_PROPS_UNSUBSCRIBE, &s->props));
    s->raw.data = r->pos;
    s->raw.len = mqtt__left(r);
    while (r->pos < r->end) {
        mqtt_bytes_t filter;
        TRY(mqtt__read_string(r, &filter));
        if (!mqtt_topic_filter_valid(filter))
            return MQTT_ERR_FILTER_INVALID;
        if (type == MQTT_SUBSCRIBE) {
            uint8_t o;
            TRY(mqtt__read_u8(r, &o));
            TRY(check_sub_options(o, v, filter));
        }
        s->count++;
    }
    return s->count ? MQTT_OK : MQTT_ERR_NO_FILTERS;
}

static bool suback_v3_code(uint8_t rc)
{
    return rc <= 2 || rc == 0x80;
}

/* SUBACK and UNSUBACK. */
static mqtt_err_t decode_suback(mqtt_reader_t *r, uint8_t type, mqtt_version_t v, mqtt_suback_t *s)
{
    TRY(read_packet_id(r, &s->packet_id));
    if (v == MQTT_V5)
        TRY(mqtt__props_decode(r, type == MQTT_SUBACK ? MQTT_PROPS_SUBACK : MQTT_PROPS_UNSUBACK,
                               &s->props));
    if (type == MQTT_UNSUBACK && v != MQTT_V5)
        return expect_end(r);
    s->reasons = r->pos;
    s->count = mqtt__left(r);
    for (size_t i = 0; i < s->count; i++) {
        uint8_t rc = s->reasons[i];
        if (v == MQTT_V5 ? !mqtt_reason_valid(type, rc) : !suback_v3_code(rc))
            return MQTT_ERR_REASON_CODE;
    }
    r->pos = r->end;
    return MQTT_OK;
}

/* DISCONNECT and AUTH of v5: both may omit everything when the reason is
 * 0x00; DISCONNECT may also omit just the properties. */
static mqtt_err_t decode_disconnect(mqtt_reader_t *r, uint8_t type, mqtt_disconnect_t *d)
{
    if (r->pos < r->end) {
        TRY(mqtt__read_u8(r, &d->reason));
        if (!mqtt_reason_valid(type, d->reason))
            return MQTT_ERR_REASON_CODE;
        /* Mosquitto requires AUTH's property length once a reason code is
         * there; the spec only allows omitting both. */
        if (type == MQTT_AUTH || r->pos < r->end)
            TRY(mqtt__props_decode(r, type == MQTT_AUTH ? MQTT_PROPS_AUTH : MQTT_PROPS_DISCONNECT,
                                   &d->props));
    }
    /* AUTH exists only to carry an authentication method's exchange. */
    if (type == MQTT_AUTH && !MQTT_PROP_HAS(&d->props, MQTT_PROP_AUTHENTICATION_METHOD))
        return MQTT_ERR_AUTH_METHOD;
    return expect_end(r);
}

static mqtt_err_t check_fixed_flags(uint8_t type, uint8_t flags, mqtt_version_t v)
{
    if (type == MQTT_PUBLISH)
        return MQTT_OK;
    /* 3.1 sent QoS and DUP bits on more packets; like Mosquitto, only
     * check the reserved flags from 3.1.1 on. CONNECT's depend on its own
     * protocol level, which decode_connect knows. */
    if (v == MQTT_V31 || type == MQTT_CONNECT)
        return MQTT_OK;
    uint8_t want =
        (type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE) ? 0x02u : 0x00u;
    return flags == want ? MQTT_OK : MQTT_ERR_RESERVED_FLAGS;
}

mqtt_err_t mqtt_decode_body(const mqtt_fixed_header_t *fh, const uint8_t *body,
                            mqtt_version_t version, mqtt_packet_t *out)
{
    uint8_t type = fh->type;
    out->type = type;
    if (type == 0 || type > MQTT_AUTH)
        return MQTT_ERR_PACKET_TYPE;
    if (type != MQTT_CONNECT && version != MQTT_V31 && version != MQTT_V311 && version != MQTT_V5)
        return MQTT_ERR_INVALID_ARG;
    if (type == MQTT_AUTH && version != MQTT_V5)
        return MQTT_ERR_PACKET_TYPE;
    TRY(check_fixed_flags(type, fh->flags, version));

    mqtt_reader_t r = {body, body + fh->remaining};
    switch (type) {
    case MQTT_CONNECT:
        memset(&out->u.connect, 0, sizeof out->u.connect);
        return decode_connect(&r, fh->flags, &out->u.connect);
    case MQTT_CONNACK:
        memset(&out->u.connack, 0, sizeof out->u.connack);
        return decode_connack(&r, version, &out->u.connack);
    case MQTT_PUBLISH:
        memset(&out->u.publish, 0, sizeof out->u.publish);
        return decode_publish(&r, fh->flags, version, &out->u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        memset(&out->u.ack, 0, sizeof out->u.ack);
        return decode_ack(&r, type, version, &out->u.ack);
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        memset(&out->u.subscribe, 0, sizeof out->u.subscribe);
        return decode_subscribe(&r, type, version, &out->u.subscribe);
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        memset(&out->u.suback, 0, sizeof out->u.suback);
        return decode_suback(&r, type, version, &out->u.suback);
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
        return expect_end(&r);
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
        memset(&out->u.disconnect, 0, sizeof out->u.disconnect);
        if (version != MQTT_V5)
            return expect_end(&r);
        return decode_disconnect(&r, type, &out->u.disconnect);
    default:
        return MQTT_ERR_PACKET_TYPE;
    }
}

mqtt_err_t mqtt_decode(const uint8_t *buf, size_t len, mqtt_version_t version, mqtt_packet_t *out)
{
    mqtt_fixed_header_t fh;
    mqtt_err_t err = mqtt_fixed_header_decode(buf, len, &fh);
    if (err == MQTT_ERR_NEED_MORE)
        return MQTT_ERR_TRUNCATED;
    if (err != MQTT_OK)
        return err;
    size_t total = (size_t)fh.header_len + fh.remaining;
    if (total > len)
        return MQTT_ERR_TRUNCATED;
    if (total < len)
        return MQTT_ERR_TRAILING;
    return mqtt_decode_body(&fh, buf + fh.header_len, version, out);
}

void mqtt_subscribe_iter_init(mqtt_reader_t *it, const mqtt_subscribe_t *sub)
{
    it->pos = sub->raw.data;
    it->end = sub->raw.data ? sub->raw.data + sub->raw.len : NULL;
}

bool mqtt_subscribe_next(mqtt_reader_t *it, uint8_t type, mqtt_subscription_t *out)
{
    if (!it->pos || it->pos >= it->end)
        return false;
    mqtt_reader_t r = *it;
    out->options = 0;
    if (mqtt__read_binary(&r, &out->filter) != MQTT_OK)
        return false;
    if (type == MQTT_SUBSCRIBE && mqtt__read_u8(&r, &out->options) != MQTT_OK)
        return false;
    *it = r;
    return true;
}
