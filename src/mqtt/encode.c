/* Encoding of every packet type: size first (validating what the caller
 * filled in), then a bounded write of exactly that many bytes. */
#include "internal.h"

/* Sizes computed once by the sizing pass and reused by the writer. */
typedef struct {
    size_t rem;        /* remaining length */
    size_t props;      /* property block, without its length prefix */
    size_t will_props; /* CONNECT will properties, same */
    bool with_props;   /* v5 acks, DISCONNECT, AUTH: write reason + props */
    bool with_reason;
} sizes_t;

static bool str_ok(mqtt_bytes_t b)
{
    return b.len <= 65535 && (b.len == 0 || b.data != NULL);
}

static bool version_ok(mqtt_version_t v)
{
    return v == MQTT_V31 || v == MQTT_V311 || v == MQTT_V5;
}

static bool props_sized(const mqtt_props_t *p, mqtt_props_context_t ctx, size_t *size, size_t *wire)
{
    if (!mqtt__props_check(p, ctx, size))
        return false;
    *wire = mqtt_varint_size((uint32_t)*size) + *size;
    return true;
}

static bool connect_size(const mqtt_connect_t *c, sizes_t *s)
{
    mqtt_version_t v = c->version;
    if (!version_ok(v) || c->will_qos > 2)
        return false;
    if (v != MQTT_V5 && c->password_flag && !c->username_flag)
        return false;
    size_t n = (v == MQTT_V31 ? 2 + 6 : 2 + 4) + 1 + 1 + 2;
    size_t wire;
    if (v == MQTT_V5) {
        if (!props_sized(&c->props, MQTT_PROPS_CONNECT, &s->props, &wire))
            return false;
        n += wire;
    }
    if (!str_ok(c->client_id))
        return false;
    n += 2 + c->client_id.len;
    if (c->will_flag) {
        if (v == MQTT_V5) {
            if (!props_sized(&c->will_props, MQTT_PROPS_WILL, &s->will_props, &wire))
                return false;
            n += wire;
        }
        if (!str_ok(c->will_topic) || !str_ok(c->will_payload))
            return false;
        n += 4 + c->will_topic.len + c->will_payload.len;
    }
    if (c->username_flag) {
        if (!str_ok(c->username))
            return false;
        n += 2 + c->username.len;
    }
    if (c->password_flag) {
        if (!str_ok(c->password))
            return false;
        n += 2 + c->password.len;
    }
    s->rem = n;
    return true;
}

static void connect_write(mqtt__writer_t *w, const mqtt_connect_t *c, const sizes_t *s)
{
    static const uint8_t mqisdp[] = {0, 6, 'M', 'Q', 'I', 's', 'd', 'p'};
    static const uint8_t mqtt[] = {0, 4, 'M', 'Q', 'T', 'T'};
    if (c->version == MQTT_V31)
        mqtt__write_raw(w, mqisdp, sizeof mqisdp);
    else
        mqtt__write_raw(w, mqtt, sizeof mqtt);
    mqtt__write_u8(w, (uint8_t)(c->version | (c->bridge ? 0x80u : 0)));
    uint8_t flags = 0;
    if (c->username_flag)
        flags |= 0x80u;
    if (c->password_flag)
        flags |= 0x40u;
    if (c->will_flag)
        flags |= (uint8_t)(0x04u | (c->will_qos << 3) | (c->will_retain ? 0x20u : 0));
    if (c->clean_start)
        flags |= 0x02u;
    mqtt__write_u8(w, flags);
    mqtt__write_u16(w, c->keep_alive);
    if (c->version == MQTT_V5)
        mqtt__props_encode(w, &c->props, s->props);
    mqtt__write_binary(w, c->client_id);
    if (c->will_flag) {
        if (c->version == MQTT_V5)
            mqtt__props_encode(w, &c->will_props, s->will_props);
        mqtt__write_binary(w, c->will_topic);
        mqtt__write_binary(w, c->will_payload);
    }
    if (c->username_flag)
        mqtt__write_binary(w, c->username);
    if (c->password_flag)
        mqtt__write_binary(w, c->password);
}

static bool publish_size(const mqtt_publish_t *p, mqtt_version_t v, sizes_t *s)
{
    if (p->qos > 2 || (p->qos > 0 && p->packet_id == 0) || (p->dup && p->qos == 0))
        return false;
    if (!str_ok(p->topic) || (p->payload.len && !p->payload.data))
        return false;
    size_t n = 2 + p->topic.len + (p->qos ? 2 : 0);
    if (v == MQTT_V5) {
        size_t wire;
        if (!props_sized(&p->props, MQTT_PROPS_PUBLISH, &s->props, &wire))
            return false;
        n += wire;
    }
    if (p->topic.len == 0 && (v != MQTT_V5 || !MQTT_PROP_HAS(&p->props, MQTT_PROP_TOPIC_ALIAS)))
        return false;
    if (p->payload.len > MQTT_VARINT_MAX)
        return false;
    s->rem = n + p->payload.len;
    return true;
}

static uint8_t publish_first_byte(const mqtt_publish_t *p)
{
    return (uint8_t)((MQTT_PUBLISH << 4) | (p->dup ? 0x08u : 0) | (p->qos << 1) |
                     (p->retain ? 0x01u : 0));
}

/* Everything of a PUBLISH before the payload, after the fixed header. */
static void publish_write_head(mqtt__writer_t *w, const mqtt_publish_t *p, mqtt_version_t v,
                               const sizes_t *s)
{
    mqtt__write_binary(w, p->topic);
    if (p->qos)
        mqtt__write_u16(w, p->packet_id);
    if (v == MQTT_V5)
        mqtt__props_encode(w, &p->props, s->props);
}

/* PUBACK..PUBCOMP (ctx PUBACK), DISCONNECT and AUTH share the v5 shape
 * "fixed part, then reason and properties unless they are defaults". */
static bool reason_props_size(uint8_t type, uint8_t reason, const mqtt_props_t *props,
                              mqtt_props_context_t ctx, sizes_t *s, size_t *n)
{
    if (!mqtt_reason_valid(type, reason))
        return false;
    size_t wire;
    if (!props_sized(props, ctx, &s->props, &wire))
        return false;
    if (s->props > 0 || (type == MQTT_AUTH && reason != 0)) {
        s->with_reason = s->with_props = true;
        *n += 1 + wire;
    } else if (reason != 0) {
        s->with_reason = true;
        *n += 1;
    }
    return true;
}

static bool valid_sub_options(uint8_t o, mqtt_version_t v)
{
    if (v != MQTT_V5)
        return o <= 2;
    return (o & 0xC0u) == 0 && MQTT_SUBOPT_QOS(o) != 3 && MQTT_SUBOPT_RETAIN_HANDLING(o) != 3;
}

static bool subscribe_size(const mqtt_subscribe_t *sub, uint8_t type, mqtt_version_t v, sizes_t *s)
{
    if (sub->packet_id == 0 || sub->count == 0)
        return false;
    size_t n = 2;
    if (v == MQTT_V5) {
        size_t wire;
        if (!props_sized(&sub->props,
                         type == MQTT_SUBSCRIBE ? MQTT_PROPS_SUBSCRIBE : MQTT_PROPS_UNSUBSCRIBE,
                         &s->props, &wire))
            return false;
        n += wire;
    }
    if (sub->entries) {
        for (size_t i = 0; i < sub->count; i++) {
            const mqtt_subscription_t *e = &sub->entries[i];
            if (!str_ok(e->filter) || e->filter.len == 0)
                return false;
            if (type == MQTT_SUBSCRIBE && !valid_sub_options(e->options, v))
                return false;
            n += 2 + e->filter.len + (type == MQTT_SUBSCRIBE ? 1 : 0);
        }
    } else if (sub->raw.data) {
        n += sub->raw.len;
    } else {
        return false;
    }
    s->rem = n;
    return true;
}

static void subscribe_write(mqtt__writer_t *w, const mqtt_subscribe_t *sub, uint8_t type,
                            mqtt_version_t v, const sizes_t *s)
{
    mqtt__write_u16(w, sub->packet_id);
    if (v == MQTT_V5)
        mqtt__props_encode(w, &sub->props, s->props);
    if (!sub->entries) {
        mqtt__write_raw(w, sub->raw.data, sub->raw.len);
        return;
    }
    for (size_t i = 0; i < sub->count; i++) {
        mqtt__write_binary(w, sub->entries[i].filter);
        if (type == MQTT_SUBSCRIBE)
            mqtt__write_u8(w, sub->entries[i].options);
    }
}

static bool suback_size(const mqtt_suback_t *a, uint8_t type, mqtt_version_t v, sizes_t *s)
{
    if (a->packet_id == 0)
        return false;
    size_t n = 2;
    if (v == MQTT_V5) {
        size_t wire;
        if (!props_sized(&a->props, type == MQTT_SUBACK ? MQTT_PROPS_SUBACK : MQTT_PROPS_UNSUBACK,
                         &s->props, &wire))
            return false;
        n += wire;
    }
    if (type == MQTT_SUBACK || v == MQTT_V5) {
        if (a->count && !a->reasons)
            return false;
        for (size_t i = 0; i < a->count; i++) {
            uint8_t rc = a->reasons[i];
            if (v == MQTT_V5 ? !mqtt_reason_valid(type, rc) : !(rc <= 2 || rc == 0x80))
                return false;
        }
        n += a->count;
    }
    s->rem = n;
    return true;
}

static bool body_size(const mqtt_packet_t *pkt, mqtt_version_t v, sizes_t *s)
{
    memset(s, 0, sizeof *s);
    uint8_t type = pkt->type;
    if (type == MQTT_CONNECT)
        return connect_size(&pkt->u.connect, s) && s->rem <= MQTT_VARINT_MAX;
    if (!version_ok(v))
        return false;
    bool ok;
    switch (type) {
    case MQTT_CONNACK:
        if (v == MQTT_V5) {
            size_t wire = 0;
            ok = mqtt_reason_valid(MQTT_CONNACK, pkt->u.connack.reason) &&
                 props_sized(&pkt->u.connack.props, MQTT_PROPS_CONNACK, &s->props, &wire);
            s->rem = 2 + wire;
        } else {
            ok = pkt->u.connack.reason <= MQTT_CONNACK_REFUSED_NOT_AUTHORIZED;
            s->rem = 2;
        }
        break;
    case MQTT_PUBLISH:
        ok = publish_size(&pkt->u.publish, v, s);
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        s->rem = 2;
        ok = pkt->u.ack.packet_id != 0;
        if (ok && v == MQTT_V5)
            ok = reason_props_size(type, pkt->u.ack.reason, &pkt->u.ack.props, MQTT_PROPS_PUBACK, s,
                                   &s->rem);
        break;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        ok = subscribe_size(&pkt->u.subscribe, type, v, s);
        break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        ok = suback_size(&pkt->u.suback, type, v, s);
        break;
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
        ok = true;
        break;
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
        if (v != MQTT_V5) {
            ok = type == MQTT_DISCONNECT;
            break;
        }
        ok = reason_props_size(type, pkt->u.disconnect.reason, &pkt->u.disconnect.props,
                               type == MQTT_AUTH ? MQTT_PROPS_AUTH : MQTT_PROPS_DISCONNECT, s,
                               &s->rem);
        break;
    default:
        ok = false;
        break;
    }
    return ok && s->rem <= MQTT_VARINT_MAX;
}

static uint8_t first_byte(const mqtt_packet_t *pkt)
{
    switch (pkt->type) {
    case MQTT_PUBLISH:
        return publish_first_byte(&pkt->u.publish);
    case MQTT_PUBREL:
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        return (uint8_t)((pkt->type << 4) | 0x02u);
    default:
        return (uint8_t)(pkt->type << 4);
    }
}

static void body_write(mqtt__writer_t *w, const mqtt_packet_t *pkt, mqtt_version_t v,
                       const sizes_t *s)
{
    uint8_t type = pkt->type;
    switch (type) {
    case MQTT_CONNECT:
        connect_write(w, &pkt->u.connect, s);
        break;
    case MQTT_CONNACK:
        mqtt__write_u8(w, (v != MQTT_V31 && pkt->u.connack.session_present) ? 1 : 0);
        mqtt__write_u8(w, pkt->u.connack.reason);
        if (v == MQTT_V5)
            mqtt__props_encode(w, &pkt->u.connack.props, s->props);
        break;
    case MQTT_PUBLISH:
        publish_write_head(w, &pkt->u.publish, v, s);
        mqtt__write_raw(w, pkt->u.publish.payload.data, pkt->u.publish.payload.len);
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        mqtt__write_u16(w, pkt->u.ack.packet_id);
        if (s->with_reason)
            mqtt__write_u8(w, pkt->u.ack.reason);
        if (s->with_props)
            mqtt__props_encode(w, &pkt->u.ack.props, s->props);
        break;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        subscribe_write(w, &pkt->u.subscribe, type, v, s);
        break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        mqtt__write_u16(w, pkt->u.suback.packet_id);
        if (v == MQTT_V5)
            mqtt__props_encode(w, &pkt->u.suback.props, s->props);
        if (type == MQTT_SUBACK || v == MQTT_V5)
            mqtt__write_raw(w, pkt->u.suback.reasons, pkt->u.suback.count);
        break;
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
        if (s->with_reason)
            mqtt__write_u8(w, pkt->u.disconnect.reason);
        if (s->with_props)
            mqtt__props_encode(w, &pkt->u.disconnect.props, s->props);
        break;
    default:
        break;
    }
}

size_t mqtt_encoded_size(const mqtt_packet_t *pkt, mqtt_version_t version)
{
    sizes_t s;
    if (!pkt || !body_size(pkt, version, &s))
        return 0;
    return 1 + mqtt_varint_size((uint32_t)s.rem) + s.rem;
}

mqtt_err_t mqtt_encode(const mqtt_packet_t *pkt, mqtt_version_t version, uint8_t *buf, size_t cap,
                       size_t *written)
{
    sizes_t s;
    if (!pkt || !buf || !written || !body_size(pkt, version, &s))
        return MQTT_ERR_INVALID_ARG;
    size_t total = 1 + mqtt_varint_size((uint32_t)s.rem) + s.rem;
    if (cap < total)
        return MQTT_ERR_BUFFER_TOO_SMALL;
    mqtt__writer_t w = {buf, buf + total, false};
    mqtt__write_u8(&w, first_byte(pkt));
    mqtt__write_varint(&w, (uint32_t)s.rem);
    body_write(&w, pkt, version, &s);
    /* A mismatch between sizing and writing is a codec bug; never hand
     * out a packet whose length field lies. */
    if (w.overflow || w.pos != buf + total)
        return MQTT_ERR_INVALID_ARG;
    *written = total;
    return MQTT_OK;
}

size_t mqtt_publish_head_size(const mqtt_publish_t *pub, mqtt_version_t version)
{
    sizes_t s;
    memset(&s, 0, sizeof s);
    if (!pub || !version_ok(version) || !publish_size(pub, version, &s) || s.rem > MQTT_VARINT_MAX)
        return 0;
    return 1 + mqtt_varint_size((uint32_t)s.rem) + s.rem - pub->payload.len;
}

mqtt_err_t mqtt_encode_publish_head(const mqtt_publish_t *pub, mqtt_version_t version, uint8_t *buf,
                                    size_t cap, size_t *written, size_t *packet_id_offset)
{
    sizes_t s;
    memset(&s, 0, sizeof s);
    if (!pub || !buf || !written || !version_ok(version) || !publish_size(pub, version, &s) ||
        s.rem > MQTT_VARINT_MAX)
        return MQTT_ERR_INVALID_ARG;
    size_t head = 1 + mqtt_varint_size((uint32_t)s.rem) + s.rem - pub->payload.len;
    if (cap < head)
        return MQTT_ERR_BUFFER_TOO_SMALL;
    mqtt__writer_t w = {buf, buf + head, false};
    mqtt__write_u8(&w, publish_first_byte(pub));
    mqtt__write_varint(&w, (uint32_t)s.rem);
    size_t topic_at = (size_t)(w.pos - buf);
    publish_write_head(&w, pub, version, &s);
    if (w.overflow || w.pos != buf + head)
        return MQTT_ERR_INVALID_ARG;
    if (packet_id_offset)
        *packet_id_offset = pub->qos ? topic_at + 2 + pub->topic.len : 0;
    *written = head;
    return MQTT_OK;
}
