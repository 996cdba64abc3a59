/*
 * midge-lite. Built on the shared codec's primitives (fixed header and
 * variable byte integers, UTF-8 and topic checks); the handful of packets
 * a client sends and receives are written and read here directly, so a
 * firmware links only these and no whole-packet structures (the codec's
 * mqtt_packet_t would not fit a small task's stack).
 */
#include "lite/midge_lite.h"

#include <string.h>

#include "mqtt/mqtt.h"

enum { ST_CONNECTED = 1, ST_PING = 2, ST_CLEAN = 4 };

#define DEFAULT_TIMEOUT_MS 5000u
#define CHECK_MSG_BATCH    16

static uint32_t now_ms(const midge_lite_t *c)
{
    return c->clock(c->tr->io);
}

static uint32_t ka_ms(const midge_lite_t *c)
{
    return (uint32_t)c->keepalive * 1000u;
}

static void drop(midge_lite_t *c)
{
    c->state &= (uint8_t) ~(ST_CONNECTED | ST_PING);
    c->rx_have = 0;
    c->rx_header = 0;
    if (c->tr->close)
        c->tr->close(c->tr->io);
}

static int fail(midge_lite_t *c, int err)
{
    drop(c);
    return err;
}

int midge_lite_init(midge_lite_t *c, const midge_lite_config_t *cfg)
{
    if (!c || !cfg || !cfg->transport || !cfg->transport->send || !cfg->transport->recv ||
        !cfg->clock || !cfg->tx_buf || !cfg->rx_buf || cfg->tx_cap < 16 || cfg->rx_cap < 16)
        return MIDGE_LITE_ERR_ARG;
    memset(c, 0, sizeof(*c));
    c->tr = cfg->transport;
    c->clock = cfg->clock;
    c->tx = cfg->tx_buf;
    c->rx = cfg->rx_buf;
    c->tx_cap = cfg->tx_cap;
    c->rx_cap = cfg->rx_cap;
    c->client_id = cfg->client_id ? cfg->client_id : "";
    c->user = cfg->user;
    c->password = cfg->password;
    c->keepalive = cfg->keepalive;
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->next_id = 1;
#if MIDGE_LITE_V5
    c->session_expiry = cfg->session_expiry;
#endif
    return MIDGE_LITE_OK;
}

void midge_lite_set_callback(midge_lite_t *c, midge_lite_callback_t cb, void *user)
{
    c->cb = cb;
    c->cb_user = user;
}

static int topic_ok(const char *t, size_t n, int filter)
{
    mqtt_bytes_t b = {(const uint8_t *)t, n};
    return n <= 65535 && (filter ? mqtt_topic_filter_valid(b) : mqtt_topic_name_valid(b));
}

int midge_lite_set_last_will(midge_lite_t *c, const char *topic, const uint8_t *msg, size_t len,
                             int retain, int qos)
{
    if (!topic || (len && !msg) || qos < 0 || qos > 2 || len > 65535)
        return MIDGE_LITE_ERR_ARG;
    if (!topic_ok(topic, strlen(topic), 0))
        return MIDGE_LITE_ERR_TOPIC;
    c->will_topic = topic;
    c->will_msg = msg;
    c->will_len = (uint16_t)len;
    c->will_flags = (uint8_t)(1u | ((unsigned)qos << 1) | (retain ? 8u : 0u));
    return MIDGE_LITE_OK;
}

/* ---- Writing packets into tx ---- */

static uint8_t *put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static uint8_t *put_str(uint8_t *p, const void *s, size_t n)
{
    p = put16(p, n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* Writes the fixed header for a body of `rem` bytes; *total is the whole
 * packet's size. Refuses what does not fit tx (or, in v5, what the
 * broker said it would not take). */
static uint8_t *begin(midge_lite_t *c, uint8_t first, size_t rem, size_t *total)
{
    size_t n;
    if (rem > c->tx_cap)
        return NULL;
    n = 1 + mqtt_varint_size((uint32_t)rem) + rem;
    if (n > c->tx_cap)
        return NULL;
#if MIDGE_LITE_V5
    if (c->max_packet && n > c->max_packet)
        return NULL;
#endif
    *total = n;
    c->tx[0] = first;
    return c->tx + 1 + mqtt_varint_encode((uint32_t)rem, c->tx + 1);
}

static int send_tx(midge_lite_t *c, size_t len)
{
    size_t off = 0;
    while (off < len) {
        int r = c->tr->send(c->tr->io, c->tx + off, len - off, c->timeout_ms);
        if (r <= 0 || (size_t)r > len - off)
            return fail(c, MIDGE_LITE_ERR_IO);
        off += (size_t)r;
    }
    c->last_tx = now_ms(c);
    return MIDGE_LITE_OK;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP with reason 0 and no properties, and
 * PINGREQ / DISCONNECT (id < 0: no body). */
static int send_short(midge_lite_t *c, uint8_t first, long id)
{
    c->tx[0] = first;
    if (id < 0) {
        c->tx[1] = 0;
        return send_tx(c, 2);
    }
    c->tx[1] = 2;
    put16(c->tx + 2, (size_t)id);
    return send_tx(c, 4);
}

static uint16_t take_id(midge_lite_t *c)
{
    uint16_t id = c->next_id ? c->next_id : 1;
    c->next_id = (uint16_t)(id == 65535 ? 1 : id + 1);
    return id;
}

/* ---- Reading packets from rx ---- */

static int get16(mqtt_reader_t *r, uint16_t *v)
{
    if (r->end - r->pos < 2)
        return 0;
    *v = (uint16_t)((r->pos[0] << 8) | r->pos[1]);
    r->pos += 2;
    return 1;
}

#if MIDGE_LITE_V5
/* A v5 property block, checked by the codec as mqtt_decode would. */
static int read_props(mqtt_reader_t *r, mqtt_props_context_t ctx, mqtt_props_t *p)
{
    return mqtt_props_decode(r, ctx, p) == MQTT_OK;
}
#endif

/* Reads until rx holds one whole packet: 1 when it does, 0 if timeout_ms
 * passed first (what was read is kept for the next call), < 0 on error
 * (connection dropped). */
static int read_packet(midge_lite_t *c, uint32_t timeout_ms)
{
    uint32_t start = now_ms(c);
    for (;;) {
        mqtt_fixed_header_t fh;
        size_t want, total = 0;
        uint32_t spent;
        int r;
        if (c->rx_header) {
            mqtt_fixed_header_decode(c->rx, c->rx_have, &fh);
            total = (size_t)fh.header_len + fh.remaining;
            if (c->rx_have == total)
                return 1;
            want = total - c->rx_have;
        } else if (c->rx_have < 2) {
            want = 2u - c->rx_have;
        } else {
            mqtt_err_t e = mqtt_fixed_header_decode(c->rx, c->rx_have, &fh);
            if (e == MQTT_OK) {
                total = (size_t)fh.header_len + fh.remaining;
                if (total > c->rx_cap)
                    return fail(c, MIDGE_LITE_ERR_RX_TOO_LARGE);
                c->rx_header = fh.header_len;
                continue;
            }
            if (e != MQTT_ERR_NEED_MORE)
                return fail(c, MIDGE_LITE_ERR_PROTOCOL);
            want = 1;
        }
        spent = now_ms(c) - start;
        r = c->tr->recv(c->tr->io, c->rx + c->rx_have, want,
                        spent >= timeout_ms ? 0 : timeout_ms - spent);
        if (r < 0 || (size_t)r > want)
            return fail(c, MIDGE_LITE_ERR_IO);
        if (r == 0) {
            if (now_ms(c) - start >= timeout_ms)
                return 0;
            continue;
        }
        c->rx_have = (uint16_t)(c->rx_have + r);
    }
}

static int qos2_seen(midge_lite_t *c, uint16_t id, int remove)
{
    unsigned i;
    for (i = 0; i < MIDGE_LITE_QOS2_SLOTS; i++) {
        if (c->qos2_ids[i] == id) {
            if (remove)
                c->qos2_ids[i] = 0;
            return 1;
        }
    }
    return 0;
}

static void qos2_add(midge_lite_t *c, uint16_t id)
{
    unsigned i;
    for (i = 0; i < MIDGE_LITE_QOS2_SLOTS; i++) {
        if (c->qos2_ids[i] == 0) {
            c->qos2_ids[i] = id;
            return;
        }
    }
    /* More unreleased QoS 2 messages than slots (a 3.1.1 broker is not
     * bound by our Receive Maximum): the oldest id is forgotten, so only
     * a redelivery of that one could be seen twice. */
    memmove(c->qos2_ids, c->qos2_ids + 1, sizeof(c->qos2_ids) - sizeof(c->qos2_ids[0]));
    c->qos2_ids[MIDGE_LITE_QOS2_SLOTS - 1] = id;
}

static int handle_publish(midge_lite_t *c, uint8_t flags, mqtt_reader_t *r)
{
    uint16_t tlen, id = 0;
    unsigned qos = (flags >> 1) & 3u;
    const uint8_t *topic;
    int deliver = 1;
    if (qos == 3 || !get16(r, &tlen) || (size_t)(r->end - r->pos) < tlen)
        return MIDGE_LITE_ERR_PROTOCOL;
    topic = r->pos;
    r->pos += tlen;
    if (tlen == 0 || !mqtt_utf8_valid(topic, tlen))
        return MIDGE_LITE_ERR_PROTOCOL;
    if (qos && (!get16(r, &id) || id == 0))
        return MIDGE_LITE_ERR_PROTOCOL;
#if MIDGE_LITE_V5
    {
        /* No Topic Alias: we never offered a Topic Alias Maximum. */
        mqtt_props_t p;
        if (!read_props(r, MQTT_PROPS_PUBLISH, &p) || MQTT_PROP_HAS(&p, MQTT_PROP_TOPIC_ALIAS))
            return MIDGE_LITE_ERR_PROTOCOL;
    }
#endif
    if (qos == 2) {
        deliver = !qos2_seen(c, id, 0);
        if (deliver)
            qos2_add(c, id);
    }
    /* rx is free again before the callback, which may itself publish. */
    c->rx_have = 0;
    c->rx_header = 0;
    if (deliver && c->cb)
        c->cb(c->cb_user, (const char *)topic, tlen, r->pos, (size_t)(r->end - r->pos));
    /* The callback may have disconnected: then there is nobody to ack. */
    if (!(c->state & ST_CONNECTED))
        return MIDGE_LITE_OK;
    if (qos == 1)
        return send_short(c, 0x40, id);
    if (qos == 2)
        return send_short(c, 0x50, id);
    return MIDGE_LITE_OK;
}

/*
 * Handles the packet in rx. If it is the ack (type want, packet id
 * want_id) a caller waits for, returns 1 and leaves the packet in rx;
 * otherwise handles it and returns 0, or an error.
 */
static int handle_packet(midge_lite_t *c, unsigned want, uint16_t want_id)
{
    const uint8_t *b = c->rx + c->rx_header;
    mqtt_reader_t r = {b, c->rx + c->rx_have};
    unsigned type = c->rx[0] >> 4, flags = c->rx[0] & 15u;
    uint16_t id = 0;
    int rc = MIDGE_LITE_OK;
    c->state &= (uint8_t)~ST_PING;
    if (type == MQTT_PUBLISH) {
        rc = handle_publish(c, (uint8_t)flags, &r);
        return rc < 0 ? fail(c, rc) : 0;
    }
    if (type == MQTT_PINGRESP) {
        if (flags || r.pos != r.end)
            return fail(c, MIDGE_LITE_ERR_PROTOCOL);
    } else if (type >= MQTT_PUBACK && type <= MQTT_PUBCOMP) {
        if (flags != (type == MQTT_PUBREL ? 2u : 0u) || !get16(&r, &id) || id == 0)
            return fail(c, MIDGE_LITE_ERR_PROTOCOL);
#if MIDGE_LITE_V5
        if (r.pos != r.end) {
            mqtt_props_t p;
            if (!mqtt_reason_valid((uint8_t)type, *r.pos++) ||
                (r.pos != r.end && !read_props(&r, MQTT_PROPS_PUBACK, &p)))
                return fail(c, MIDGE_LITE_ERR_PROTOCOL);
        }
#endif
        if (r.pos != r.end)
            return fail(c, MIDGE_LITE_ERR_PROTOCOL);
        if (type == want && id == want_id)
            return 1;
        if (type == MQTT_PUBREL) {
            qos2_seen(c, id, 1);
            rc = send_short(c, 0x70, id);
        } else if (type == MQTT_PUBREC) {
            /* A PUBREC nobody waits for (its publish timed out, or from
             * before a reconnect): complete the flow. */
            rc = send_short(c, 0x62, id);
        }
    } else if (type == MQTT_SUBACK || type == MQTT_UNSUBACK) {
        if (flags || !get16(&r, &id) || id == 0)
            return fail(c, MIDGE_LITE_ERR_PROTOCOL);
        if (type == want && id == want_id)
            return 1;
#if MIDGE_LITE_V5
    } else if (type == MQTT_DISCONNECT) {
        return fail(c, MIDGE_LITE_ERR_IO);
#endif
    } else {
        return fail(c, MIDGE_LITE_ERR_PROTOCOL);
    }
    c->rx_have = 0;
    c->rx_header = 0;
    return rc < 0 ? rc : 0;
}

/* Sends PINGREQ when three quarters of the keep-alive passed since our
 * last packet; gives up when a PINGRESP is a whole keep-alive late. */
static int keepalive(midge_lite_t *c)
{
    uint32_t t, ka = ka_ms(c);
    if (!ka)
        return MIDGE_LITE_OK;
    t = now_ms(c);
    if (c->state & ST_PING) {
        if (t - c->ping_sent >= ka)
            return fail(c, MIDGE_LITE_ERR_TIMEOUT);
        return MIDGE_LITE_OK;
    }
    if (t - c->last_tx >= ka - ka / 4)
        return midge_lite_ping(c);
    return MIDGE_LITE_OK;
}

/* How long to block before keepalive() has work again. */
static uint32_t idle_budget(const midge_lite_t *c, uint32_t cap)
{
    uint32_t ka = ka_ms(c), t = now_ms(c), since, due;
    if (!ka)
        return cap;
    since = t - ((c->state & ST_PING) ? c->ping_sent : c->last_tx);
    due = (c->state & ST_PING) ? ka : ka - ka / 4;
    due = since >= due ? 1 : due - since;
    return due < cap ? due : cap;
}

/* Waits for ack `type` with `id`, handling everything else meanwhile. */
static int await(midge_lite_t *c, unsigned type, uint16_t id)
{
    uint32_t start = now_ms(c);
    for (;;) {
        uint32_t spent = now_ms(c) - start;
        int r;
        if (spent >= c->timeout_ms)
            return MIDGE_LITE_ERR_TIMEOUT;
        r = keepalive(c);
        if (r < 0)
            return r;
        r = read_packet(c, idle_budget(c, c->timeout_ms - spent));
        if (r < 0)
            return r;
        if (r > 0) {
            r = handle_packet(c, type, id);
            if (r != 0)
                return r;
        }
    }
}

static void ack_done(midge_lite_t *c)
{
    c->rx_have = 0;
    c->rx_header = 0;
}

/* The reason code of the ack in rx (v5; 0 in 3.1.1). */
static uint8_t ack_reason(const midge_lite_t *c)
{
#if MIDGE_LITE_V5
    if (c->rx_have > c->rx_header + 2u)
        return c->rx[c->rx_header + 2];
#else
    (void)c;
#endif
    return 0;
}

static size_t cstrlen(const char *s)
{
    return s ? strlen(s) : 0;
}

int midge_lite_connect(midge_lite_t *c, int clean)
{
    size_t idlen = strlen(c->client_id), ulen = cstrlen(c->user), plen = cstrlen(c->password);
    size_t wtlen = cstrlen(c->will_topic), rem, total;
    uint8_t flags = clean ? 0x02 : 0x00, *p;
    int r;
    if (idlen > 65535 || ulen > 65535 || plen > 65535)
        return MIDGE_LITE_ERR_ARG;
    rem = 10 + 2 + idlen;
#if MIDGE_LITE_V5
    /* Session Expiry (persistent sessions only), Receive Maximum (our
     * QoS 2 slots), Maximum Packet Size (our rx buffer). */
    rem += 1 + 3 + 5 + (clean ? 0 : 5);
    if (c->will_flags)
        rem += 1;
#endif
    if (c->will_flags) {
        flags = (uint8_t)(flags | 0x04 | ((c->will_flags & 6u) << 2) | ((c->will_flags & 8u) << 2));
        rem += 4 + wtlen + c->will_len;
    }
    if (c->user) {
        flags |= 0x80;
        rem += 2 + ulen;
    }
    if (c->password) {
        flags |= 0x40;
        rem += 2 + plen;
    }
    c->state = clean ? ST_CLEAN : 0;
    c->rx_have = 0;
    c->rx_header = 0;
    c->connack_code = 0;
#if MIDGE_LITE_V5
    c->max_packet = 0;
#endif
    p = begin(c, 0x10, rem, &total);
    if (!p)
        return MIDGE_LITE_ERR_TOO_LARGE;
    if (c->tr->open && c->tr->open(c->tr->io) < 0)
        return MIDGE_LITE_ERR_IO;
    p = put_str(p, "MQTT", 4);
    *p++ = MIDGE_LITE_V5 ? 5 : 4;
    *p++ = flags;
    p = put16(p, c->keepalive);
#if MIDGE_LITE_V5
    *p++ = (uint8_t)(clean ? 8 : 13);
    if (!clean) {
        *p++ = 0x11;
        p = put16(put16(p, c->session_expiry >> 16), c->session_expiry & 0xFFFF);
    }
    *p++ = 0x21;
    p = put16(p, MIDGE_LITE_QOS2_SLOTS);
    *p++ = 0x27;
    p = put16(put16(p, 0), c->rx_cap);
#endif
    p = put_str(p, c->client_id, idlen);
    if (c->will_flags) {
#if MIDGE_LITE_V5
        *p++ = 0;
#endif
        p = put_str(p, c->will_topic, wtlen);
        p = put_str(p, c->will_msg, c->will_len);
    }
    if (c->user)
        p = put_str(p, c->user, ulen);
    if (c->password)
        put_str(p, c->password, plen);
    r = send_tx(c, total);
    if (r < 0)
        return r;
    r = read_packet(c, c->timeout_ms);
    if (r <= 0)
        return r < 0 ? r : fail(c, MIDGE_LITE_ERR_TIMEOUT);
    {
        mqtt_reader_t rd = {c->rx + c->rx_header, c->rx + c->rx_have};
        uint8_t ack_flags, code;
        if (c->rx[0] != 0x20 || rd.end - rd.pos < 2)
            return fail(c, MIDGE_LITE_ERR_PROTOCOL);
        ack_flags = rd.pos[0];
        code = rd.pos[1];
        rd.pos += 2;
#if MIDGE_LITE_V5
        {
            mqtt_props_t pr;
            if (!read_props(&rd, MQTT_PROPS_CONNACK, &pr) ||
                (code && !mqtt_reason_valid(MQTT_CONNACK, code)))
                return fail(c, MIDGE_LITE_ERR_PROTOCOL);
            if (MQTT_PROP_HAS(&pr, MQTT_PROP_MAXIMUM_PACKET_SIZE))
                c->max_packet = pr.maximum_packet_size;
            if (MQTT_PROP_HAS(&pr, MQTT_PROP_SERVER_KEEP_ALIVE))
                c->keepalive = pr.server_keep_alive;
        }
#endif
        if (rd.pos != rd.end || (ack_flags & 0xFE))
            return fail(c, MIDGE_LITE_ERR_PROTOCOL);
        ack_done(c);
        if (code) {
            c->connack_code = code;
            return fail(c, MIDGE_LITE_ERR_REFUSED);
        }
        if (clean || !(ack_flags & 1))
            memset(c->qos2_ids, 0, sizeof(c->qos2_ids));
        c->state |= ST_CONNECTED;
        return ack_flags & 1;
    }
}

int midge_lite_publish(midge_lite_t *c, const char *topic, const uint8_t *msg, size_t len,
                       int retain, int qos)
{
    size_t tlen, rem, total;
    uint16_t id = 0;
    uint8_t *p;
    int r;
    if (!topic || (len && !msg) || qos < 0 || qos > 2)
        return MIDGE_LITE_ERR_ARG;
    if (!(c->state & ST_CONNECTED))
        return MIDGE_LITE_ERR_NOT_CONNECTED;
    tlen = strlen(topic);
    if (!topic_ok(topic, tlen, 0))
        return MIDGE_LITE_ERR_TOPIC;
    r = keepalive(c);
    if (r < 0)
        return r;
    if (len > c->tx_cap || tlen > c->tx_cap)
        return MIDGE_LITE_ERR_TOO_LARGE;
    rem = 2 + tlen + (qos ? 2 : 0) + len + (MIDGE_LITE_V5 ? 1 : 0);
    p = begin(c, (uint8_t)(0x30 | (qos << 1) | (retain ? 1 : 0)), rem, &total);
    if (!p)
        return MIDGE_LITE_ERR_TOO_LARGE;
    p = put_str(p, topic, tlen);
    if (qos) {
        id = take_id(c);
        p = put16(p, id);
    }
#if MIDGE_LITE_V5
    *p++ = 0;
#endif
    if (len)
        memcpy(p, msg, len);
    r = send_tx(c, total);
    if (r < 0 || qos == 0)
        return r;
    r = await(c, qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, id);
    if (r < 0)
        return r;
    r = ack_reason(c);
    ack_done(c);
    if (r >= 0x80)
        return MIDGE_LITE_ERR_REJECTED;
    if (qos == 1)
        return MIDGE_LITE_OK;
    r = send_short(c, 0x62, id);
    if (r < 0)
        return r;
    r = await(c, MQTT_PUBCOMP, id);
    if (r < 0)
        return r;
    r = ack_reason(c);
    ack_done(c);
    return r >= 0x80 ? MIDGE_LITE_ERR_REJECTED : MIDGE_LITE_OK;
}

int midge_lite_subscribe(midge_lite_t *c, const char *filter, int qos)
{
    size_t flen, total;
    uint16_t id;
    uint8_t *p, code;
    int r;
    if (!filter || qos < 0 || qos > 2)
        return MIDGE_LITE_ERR_ARG;
    if (!(c->state & ST_CONNECTED))
        return MIDGE_LITE_ERR_NOT_CONNECTED;
    flen = strlen(filter);
    if (!topic_ok(filter, flen, 1))
        return MIDGE_LITE_ERR_TOPIC;
    p = begin(c, 0x82, 2 + 2 + flen + 1 + (MIDGE_LITE_V5 ? 1 : 0), &total);
    if (!p)
        return MIDGE_LITE_ERR_TOO_LARGE;
    id = take_id(c);
    p = put16(p, id);
#if MIDGE_LITE_V5
    *p++ = 0;
#endif
    p = put_str(p, filter, flen);
    *p = (uint8_t)qos;
    r = send_tx(c, total);
    if (r < 0)
        return r;
    r = await(c, MQTT_SUBACK, id);
    if (r < 0)
        return r;
    {
        mqtt_reader_t rd = {c->rx + c->rx_header + 2, c->rx + c->rx_have};
#if MIDGE_LITE_V5
        mqtt_props_t pr;
        if (!read_props(&rd, MQTT_PROPS_SUBACK, &pr))
            return fail(c, MIDGE_LITE_ERR_PROTOCOL);
#endif
        if (rd.end - rd.pos != 1)
            return fail(c, MIDGE_LITE_ERR_PROTOCOL);
        code = rd.pos[0];
    }
    ack_done(c);
    if (code >= 0x80)
        return MIDGE_LITE_ERR_SUBSCRIBE;
    if (code > 2)
        return fail(c, MIDGE_LITE_ERR_PROTOCOL);
    return code;
}

int midge_lite_check_msg(midge_lite_t *c)
{
    int i, r;
    if (!(c->state & ST_CONNECTED))
        return MIDGE_LITE_ERR_NOT_CONNECTED;
    for (i = 0; i < CHECK_MSG_BATCH; i++) {
        r = read_packet(c, 0);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        r = handle_packet(c, 0, 0);
        if (r < 0)
            return r;
        /* the callback disconnected */
        if (!(c->state & ST_CONNECTED))
            return MIDGE_LITE_OK;
    }
    return keepalive(c);
}

int midge_lite_wait_msg(midge_lite_t *c)
{
    for (;;) {
        int r;
        if (!(c->state & ST_CONNECTED))
            return MIDGE_LITE_ERR_NOT_CONNECTED;
        r = keepalive(c);
        if (r < 0)
            return r;
        r = read_packet(c, idle_budget(c, 1000));
        if (r < 0)
            return r;
        if (r > 0) {
            r = handle_packet(c, 0, 0);
            if (r < 0 || !(c->state & ST_CONNECTED))
                return r < 0 ? r : MIDGE_LITE_OK;
            return keepalive(c);
        }
    }
}

int midge_lite_ping(midge_lite_t *c)
{
    int r;
    if (!(c->state & ST_CONNECTED))
        return MIDGE_LITE_ERR_NOT_CONNECTED;
    r = send_short(c, 0xC0, -1);
    if (r == MIDGE_LITE_OK && !(c->state & ST_PING)) {
        c->state |= ST_PING;
        c->ping_sent = c->last_tx;
    }
    return r;
}

int midge_lite_disconnect(midge_lite_t *c)
{
    int r = MIDGE_LITE_ERR_NOT_CONNECTED;
    if (c->state & ST_CONNECTED)
        r = send_short(c, 0xE0, -1);
    drop(c);
    return r;
}

int midge_lite_reconnect(midge_lite_t *c, unsigned attempts, uint32_t delay_ms)
{
    int r = MIDGE_LITE_ERR_ARG;
    unsigned i;
    drop(c);
    for (i = 0; i < attempts; i++) {
        if (i && c->tr->sleep_ms)
            c->tr->sleep_ms(c->tr->io, delay_ms);
        r = midge_lite_connect(c, (c->state & ST_CLEAN) != 0);
        if (r >= 0 || r == MIDGE_LITE_ERR_REFUSED)
            return r;
    }
    return r;
}

int midge_lite_is_connected(const midge_lite_t *c)
{
    return (c->state & ST_CONNECTED) != 0;
}
