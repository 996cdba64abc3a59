#include "broker/message.h"

#include "broker/memuse.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t msg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* The one allocation: header, topic + NUL, origin + NUL, source username
 * + NUL (if any), property block, payload. Copies all but the block, which
 * the caller writes. */
static msg_t *msg_alloc(mqtt_bytes_t topic, mqtt_bytes_t origin, mqtt_bytes_t user,
                        mqtt_bytes_t payload, size_t props_len, uint8_t qos, bool retain)
{
    if (topic.len == 0 || topic.len > 65535 || origin.len > 65535 || user.len > 65535 ||
        payload.len > MQTT_VARINT_MAX || props_len > MQTT_VARINT_MAX || qos > 2)
        return NULL;
    size_t user_size = user.data != NULL ? user.len + 1 : 0;
    size_t size =
        sizeof(msg_t) + topic.len + 1 + origin.len + 1 + user_size + props_len + payload.len;
    msg_t *m = malloc(size);
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc_size = size;
    atomic_init(&m->refs, 1);
    atomic_init(&m->store_id, 0);
    m->qos = qos;
    m->retain = retain;
    m->topic_len = (uint16_t)topic.len;
    m->origin_len = (uint16_t)origin.len;
    m->payload_len = (uint32_t)payload.len;
    m->props_len = (uint32_t)props_len;
    m->expiry_at = MSG_NO_EXPIRY;
    uint8_t *p = (uint8_t *)(m + 1);
    m->topic = (const char *)p;
    memcpy(p, topic.data, topic.len);
    p += topic.len;
    *p++ = 0;
    m->origin = (const char *)p;
    if (origin.len > 0)
        memcpy(p, origin.data, origin.len);
    p += origin.len;
    *p++ = 0;
    if (user.data != NULL) {
        m->source_user = (const char *)p;
        m->source_user_len = (uint16_t)user.len;
        memcpy(p, user.data, user.len);
        p += user.len;
        *p++ = 0;
    }
    m->props_block = p;
    m->payload = p + props_len;
    if (payload.len > 0)
        memcpy(p + props_len, payload.data, payload.len);
    return m;
}

static bool read_str(const uint8_t **p, const uint8_t *end, mqtt_bytes_t *out)
{
    if (end - *p < 2)
        return false;
    size_t len = ((size_t)(*p)[0] << 8) | (*p)[1];
    if ((size_t)(end - *p - 2) < len)
        return false;
    out->data = *p + 2;
    out->len = len;
    *p += 2 + len;
    return true;
}

/* Walks the message's own block (bounded: it may come from a store on
 * disk) and points the property fields into it. Only the properties
 * msg_new writes are accepted, each single one at most once. */
static bool scan_block(msg_t *m)
{
    const uint8_t *p = m->props_block;
    const uint8_t *end = p + m->props_len;
    mqtt_bytes_t key, val;
    while (p < end) {
        uint8_t id = *p++;
        mqtt_bytes_t *view = NULL;
        switch (id) {
        case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
            if (p == end || m->has_pfi || *p > 1)
                return false;
            m->has_pfi = true;
            m->payload_format_indicator = *p++;
            continue;
        case MQTT_PROP_CONTENT_TYPE:
            view = &m->content_type;
            break;
        case MQTT_PROP_RESPONSE_TOPIC:
            view = &m->response_topic;
            break;
        case MQTT_PROP_CORRELATION_DATA:
            view = &m->correlation_data;
            break;
        case MQTT_PROP_USER_PROPERTY:
            if (!read_str(&p, end, &key) || !read_str(&p, end, &val))
                return false;
            m->user_prop_count++;
            continue;
        default:
            return false;
        }
        if (view->data != NULL || !read_str(&p, end, view))
            return false;
    }
    return true;
}

static uint8_t *put_u16(uint8_t *p, size_t v)
{
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_bytes(uint8_t *p, mqtt_bytes_t s)
{
    p = put_u16(p, s.len);
    if (s.len > 0)
        memcpy(p, s.data, s.len);
    return p + s.len;
}

static const uint8_t fwd_ids[3] = {MQTT_PROP_CONTENT_TYPE, MQTT_PROP_RESPONSE_TOPIC,
                                   MQTT_PROP_CORRELATION_DATA};

static mqtt_bytes_t fwd_str(const mqtt_props_t *pp, int i)
{
    return i == 0 ? pp->content_type : i == 1 ? pp->response_topic : pp->correlation_data;
}

msg_t *msg_new(const msg_init_t *in)
{
    const mqtt_props_t *pp = in->props;
    user_iter_t users;
    mqtt_bytes_t k, v;
    size_t props_len = 0;
    if (pp != NULL) {
        if (MQTT_PROP_HAS(pp, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR))
            props_len += 2;
        for (int i = 0; i < 3; i++) {
            if (!MQTT_PROP_HAS(pp, fwd_ids[i]))
                continue;
            if (fwd_str(pp, i).len > 65535)
                return NULL;
            props_len += 3 + fwd_str(pp, i).len;
        }
        user_iter_init(&users, pp);
        while (user_iter_next(&users, &k, &v)) {
            if (k.len > 65535 || v.len > 65535)
                return NULL;
            props_len += 5 + k.len + v.len;
        }
    }
    mqtt_bytes_t user = in->from_client ? in->source_user : (mqtt_bytes_t){NULL, 0};
    msg_t *m = msg_alloc(in->topic, in->origin, user, in->payload, props_len, in->qos, in->retain);
    if (m == NULL)
        return NULL;
    m->from_client = in->from_client;
    m->source_port = in->from_client ? in->source_port : 0;
    if (pp != NULL) {
        uint8_t *p = (uint8_t *)m->props_block;
        if (MQTT_PROP_HAS(pp, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR)) {
            *p++ = MQTT_PROP_PAYLOAD_FORMAT_INDICATOR;
            *p++ = pp->payload_format_indicator ? 1 : 0;
        }
        for (int i = 0; i < 3; i++) {
            if (MQTT_PROP_HAS(pp, fwd_ids[i])) {
                *p++ = fwd_ids[i];
                p = put_bytes(p, fwd_str(pp, i));
            }
        }
        user_iter_init(&users, pp);
        while (user_iter_next(&users, &k, &v)) {
            *p++ = MQTT_PROP_USER_PROPERTY;
            p = put_bytes(p, k);
            p = put_bytes(p, v);
        }
        /* As Mosquitto does, an interval of 0 means "does not expire". */
        if (MQTT_PROP_HAS(pp, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL) && pp->message_expiry_interval > 0)
            m->expiry_at = in->now_ms + (int64_t)pp->message_expiry_interval * 1000;
    }
    if (!scan_block(m)) {
        /* Cannot happen for a block written above; kept as a guard. */
        free(m);
        return NULL;
    }
    memuse_add(m->alloc_size);
    return m;
}

void msg_store_view(const msg_t *m, int64_t now_ms, int64_t wall_ms, store_msg_t *out)
{
    out->id = atomic_load_explicit(&m->store_id, memory_order_relaxed);
    out->topic.data = (const uint8_t *)m->topic;
    out->topic.len = m->topic_len;
    out->payload.data = m->payload;
    out->payload.len = m->payload_len;
    out->props.data = m->props_block;
    out->props.len = m->props_len;
    out->qos = m->qos;
    out->retain = m->retain;
    out->expiry_at = 0;
    out->from_client = m->from_client;
    out->source_id.data = (const uint8_t *)m->origin;
    out->source_id.len = m->origin_len;
    out->source_user.data = (const uint8_t *)m->source_user;
    out->source_user.len = m->source_user_len;
    out->source_port = m->source_port;
    if (msg_has_expiry(m)) {
        int64_t at = wall_ms + (m->expiry_at - now_ms);
        out->expiry_at = at > 0 ? (uint64_t)at : 1; /* 0 would mean "never" */
    }
}

static bool has_nul(mqtt_bytes_t b)
{
    return b.len > 0 && memchr(b.data, 0, b.len) != NULL;
}

msg_t *msg_from_store(const store_msg_t *sm, int64_t now_ms, int64_t wall_ms)
{
    mqtt_bytes_t none = {NULL, 0};
    if (!mqtt_topic_name_valid(sm->topic))
        return NULL;
    /* The source comes from disk: a client id or username with a NUL
     * inside would name someone else in an ACL check, so such a record
     * keeps no source (and is then never checked, as a broker message). */
    bool source = sm->from_client && !has_nul(sm->source_id) && !has_nul(sm->source_user);
    msg_t *m = msg_alloc(sm->topic, source ? sm->source_id : none, source ? sm->source_user : none,
                         sm->payload, sm->props.len, sm->qos, sm->retain);
    if (m == NULL)
        return NULL;
    m->from_client = source;
    m->source_port = source ? sm->source_port : 0;
    if (sm->props.len > 0)
        memcpy((uint8_t *)m->props_block, sm->props.data, sm->props.len);
    if (!scan_block(m)) {
        free(m);
        return NULL;
    }
    if (sm->expiry_at != 0) {
        int64_t left =
            sm->expiry_at > (uint64_t)INT64_MAX ? INT64_MAX / 2 : (int64_t)sm->expiry_at - wall_ms;
        m->expiry_at = now_ms + left;
    }
    atomic_store_explicit(&m->store_id, sm->id, memory_order_relaxed);
    memuse_add(m->alloc_size);
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
    if (m != NULL && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        memuse_sub(m->alloc_size);
        free(m);
    }
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
