#include "broker/message.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t msg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The forwarded property block is written in wire format so that the
 * encoder (and persistence) can walk it with the codec's iterator. */
static uint8_t *put_str(uint8_t *p, uint8_t id, mqtt_bytes_t s, mqtt_bytes_t *view)
{
    *p++ = id;
    *p++ = (uint8_t)(s.len >> 8);
    *p++ = (uint8_t)s.len;
    if (s.len > 0)
        memcpy(p, s.data, s.len);
    if (view != NULL) {
        view->data = p;
        view->len = s.len;
    }
    return p + s.len;
}

static uint8_t *put_user(uint8_t *p, mqtt_bytes_t k, mqtt_bytes_t v)
{
    p = put_str(p, MQTT_PROP_USER_PROPERTY, k, NULL);
    *p++ = (uint8_t)(v.len >> 8);
    *p++ = (uint8_t)v.len;
    if (v.len > 0)
        memcpy(p, v.data, v.len);
    return p + v.len;
}

/* Walks the user properties of the source in order: the `user` array if
 * set, else the decoded block in `raw`. */
typedef struct {
    const mqtt_props_t *props;
    bool from_raw;
    size_t i;
    mqtt_reader_t it;
} user_iter_t;

static void user_iter_init(user_iter_t *u, const mqtt_props_t *pp)
{
    u->props = pp;
    u->i = 0;
    u->from_raw = pp != NULL && pp->user == NULL && pp->user_count > 0 && pp->raw.len > 0;
    if (u->from_raw)
        mqtt_props_iter_init(&u->it, pp);
}

static bool user_iter_next(user_iter_t *u, mqtt_bytes_t *k, mqtt_bytes_t *v)
{
    if (u->props == NULL)
        return false;
    if (!u->from_raw) {
        if (u->props->user == NULL || u->i >= u->props->user_count)
            return false;
        *k = u->props->user[u->i].key;
        *v = u->props->user[u->i].value;
        u->i++;
        return true;
    }
    mqtt_prop_t pr;
    while (mqtt_props_next(&u->it, &pr)) {
        if (pr.id == MQTT_PROP_USER_PROPERTY) {
            *k = pr.str;
            *v = pr.str2;
            return true;
        }
    }
    return false;
}

msg_t *msg_new(const msg_init_t *in)
{
    if (in->topic.len == 0 || in->topic.len > 65535 || in->origin.len > 65535 ||
        in->payload.len > MQTT_VARINT_MAX || in->qos > 2)
        return NULL;
    const mqtt_props_t *pp = in->props;
    user_iter_t users;
    mqtt_bytes_t k, v;
    size_t props_len = 0;
    size_t user_n = 0;
    if (pp != NULL) {
        const mqtt_bytes_t *strs[3] = {&pp->content_type, &pp->response_topic,
                                       &pp->correlation_data};
        const uint8_t ids[3] = {MQTT_PROP_CONTENT_TYPE, MQTT_PROP_RESPONSE_TOPIC,
                                MQTT_PROP_CORRELATION_DATA};
        for (int i = 0; i < 3; i++) {
            if (!MQTT_PROP_HAS(pp, ids[i]))
                continue;
            if (strs[i]->len > 65535)
                return NULL;
            props_len += 3 + strs[i]->len;
        }
        user_iter_init(&users, pp);
        while (user_iter_next(&users, &k, &v)) {
            if (k.len > 65535 || v.len > 65535)
                return NULL;
            props_len += 5 + k.len + v.len;
            user_n++;
        }
        if (props_len > MQTT_VARINT_MAX)
            return NULL;
    }

    size_t total =
        sizeof(msg_t) + in->topic.len + 1 + in->origin.len + 1 + props_len + in->payload.len;
    msg_t *m = malloc(total);
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof *m);
    atomic_init(&m->refs, 1);
    atomic_init(&m->store_id, 0);
    m->qos = in->qos;
    m->retain = in->retain;
    m->topic_len = (uint16_t)in->topic.len;
    m->origin_len = (uint16_t)in->origin.len;
    m->payload_len = (uint32_t)in->payload.len;
    m->props_len = (uint32_t)props_len;
    m->user_prop_count = (uint32_t)user_n;
    m->expiry_at = MSG_NO_EXPIRY;

    uint8_t *p = (uint8_t *)(m + 1);
    m->topic = (const char *)p;
    memcpy(p, in->topic.data, in->topic.len);
    p += in->topic.len;
    *p++ = 0;
    m->origin = (const char *)p;
    if (in->origin.len > 0)
        memcpy(p, in->origin.data, in->origin.len);
    p += in->origin.len;
    *p++ = 0;

    m->props_block = p;
    if (pp != NULL) {
        if (MQTT_PROP_HAS(pp, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR)) {
            m->has_pfi = true;
            m->payload_format_indicator = pp->payload_format_indicator;
        }
        /* As Mosquitto does, an interval of 0 means "does not expire". */
        if (MQTT_PROP_HAS(pp, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL) && pp->message_expiry_interval > 0)
            m->expiry_at = in->now_ms + (int64_t)pp->message_expiry_interval * 1000;
        if (MQTT_PROP_HAS(pp, MQTT_PROP_CONTENT_TYPE))
            p = put_str(p, MQTT_PROP_CONTENT_TYPE, pp->content_type, &m->content_type);
        if (MQTT_PROP_HAS(pp, MQTT_PROP_RESPONSE_TOPIC))
            p = put_str(p, MQTT_PROP_RESPONSE_TOPIC, pp->response_topic, &m->response_topic);
        if (MQTT_PROP_HAS(pp, MQTT_PROP_CORRELATION_DATA))
            p = put_str(p, MQTT_PROP_CORRELATION_DATA, pp->correlation_data, &m->correlation_data);
        user_iter_init(&users, pp);
        while (user_iter_next(&users, &k, &v))
            p = put_user(p, k, v);
    }
    m->payload = p;
    if (in->payload.len > 0)
        memcpy(p, in->payload.data, in->payload.len);
    return m;
}

msg_t *msg_ref(msg_t *m)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void msg_unref(msg_t *m)
{
    if (m != NULL && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}

uint32_t msg_expiry_remaining(const msg_t *m, int64_t now_ms)
{
    if (now_ms >= m->expiry_at)
        return 0;
    int64_t left = (m->expiry_at - now_ms + 999) / 1000;
    return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

void msg_props(const msg_t *m, int64_t now_ms, mqtt_props_t *out)
{
    memset(out, 0, sizeof *out);
    if (m->has_pfi) {
        MQTT_PROP_SET(out, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
        out->payload_format_indicator = m->payload_format_indicator;
    }
    if (msg_has_expiry(m)) {
        MQTT_PROP_SET(out, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
        out->message_expiry_interval = msg_expiry_remaining(m, now_ms);
    }
    if (m->content_type.data != NULL) {
        MQTT_PROP_SET(out, MQTT_PROP_CONTENT_TYPE);
        out->content_type = m->content_type;
    }
    if (m->response_topic.data != NULL) {
        MQTT_PROP_SET(out, MQTT_PROP_RESPONSE_TOPIC);
        out->response_topic = m->response_topic;
    }
    if (m->correlation_data.data != NULL) {
        MQTT_PROP_SET(out, MQTT_PROP_CORRELATION_DATA);
        out->correlation_data = m->correlation_data;
    }
    if (m->user_prop_count > 0) {
        out->user_count = m->user_prop_count;
        out->raw.data = m->props_block;
        out->raw.len = m->props_len;
    }
}

int msg_vec_push(msg_vec_t *vec, msg_t *m)
{
    if (vec->n == vec->cap) {
        size_t ncap = vec->cap ? vec->cap * 2 : 16;
        msg_t **nv = realloc(vec->v, ncap * sizeof *nv);
        if (nv == NULL)
            return -1;
        vec->v = nv;
        vec->cap = ncap;
    }
    vec->v[vec->n++] = msg_ref(m);
    return 0;
}

void msg_vec_clear(msg_vec_t *vec)
{
    for (size_t i = 0; i < vec->n; i++)
        msg_unref(vec->v[i]);
    vec->n = 0;
}

void msg_vec_free(msg_vec_t *vec)
{
    msg_vec_clear(vec);
    free(vec->v);
    vec->v = NULL;
    vec->cap = 0;
}
