/*
 * The in-memory store: every record copied into plain linked lists under
 * one mutex. Linear searches keep it short and obviously right; it is the
 * reference for the contract in store.h, not a fast path.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "broker/limits.h"
#include "broker/store.h"

typedef struct {
    uint8_t *data;
    size_t len;
} buf_t;

typedef struct mem_msg {
    struct mem_msg *next;
    int refs;
    uint64_t id;
    buf_t topic, payload, props;
    uint8_t qos;
    bool retain;
    uint64_t expiry_at;
    bool from_client, has_user;
    buf_t source_id, source_user;
    uint16_t source_port;
} mem_msg_t;

typedef struct mem_sub {
    struct mem_sub *next;
    buf_t filter;
    uint8_t options;
    uint32_t sub_id;
} mem_sub_t;

typedef struct mem_out {
    struct mem_out *next;
    store_out_t rec;
    uint32_t sub_ids[MIDGE_MAX_SUB_IDS];
    mem_msg_t *msg;
} mem_out_t;

typedef struct mem_in {
    struct mem_in *next;
    uint16_t packet_id;
} mem_in_t;

typedef struct mem_session {
    struct mem_session *next;
    buf_t id;
    uint32_t expiry_interval;
    uint8_t version;
    bool saved; /* session_put seen, not only messages */
    mem_sub_t *subs;
    mem_out_t *outs; /* ascending seq */
    mem_in_t *ins;
} mem_session_t;

typedef struct {
    store_t base;
    pthread_mutex_t lock;
    mem_session_t *sessions;
    mem_msg_t *msgs;     /* referenced by outs */
    mem_msg_t *retained; /* owned, refs unused */
} mem_store_t;

static bool buf_set(buf_t *b, mqtt_bytes_t v)
{
    uint8_t *d = malloc(v.len ? v.len : 1);
    if (!d)
        return false;
    if (v.len)
        memcpy(d, v.data, v.len);
    free(b->data);
    b->data = d;
    b->len = v.len;
    return true;
}

static bool buf_eq(const buf_t *b, mqtt_bytes_t v)
{
    return b->len == v.len && (v.len == 0 || memcmp(b->data, v.data, v.len) == 0);
}

static mqtt_bytes_t buf_view(const buf_t *b)
{
    return (mqtt_bytes_t){b->data, b->len};
}

static void msg_free(mem_msg_t *m)
{
    free(m->topic.data);
    free(m->payload.data);
    free(m->props.data);
    free(m->source_id.data);
    free(m->source_user.data);
    free(m);
}

static mem_msg_t *msg_copy(const store_msg_t *sm)
{
    mem_msg_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (!buf_set(&m->topic, sm->topic) || !buf_set(&m->payload, sm->payload) ||
        !buf_set(&m->props, sm->props) || !buf_set(&m->source_id, sm->source_id) ||
        !buf_set(&m->source_user, sm->source_user)) {
        msg_free(m);
        return NULL;
    }
    m->id = sm->id;
    m->qos = sm->qos;
    m->retain = sm->retain;
    m->expiry_at = sm->expiry_at;
    m->from_client = sm->from_client;
    m->has_user = sm->source_user.data != NULL;
    m->source_port = sm->source_port;
    return m;
}

static void msg_view(const mem_msg_t *m, store_msg_t *out)
{
    out->id = m->id;
    out->topic = buf_view(&m->topic);
    out->payload = buf_view(&m->payload);
    out->props = buf_view(&m->props);
    out->qos = m->qos;
    out->retain = m->retain;
    out->expiry_at = m->expiry_at;
    out->from_client = m->from_client;
    out->source_id = buf_view(&m->source_id);
    out->source_user = m->has_user ? buf_view(&m->source_user) : (mqtt_bytes_t){NULL, 0};
    out->source_port = m->source_port;
}

static mem_msg_t *msg_get(mem_store_t *ms, const store_msg_t *sm)
{
    for (mem_msg_t *m = ms->msgs; m; m = m->next) {
        if (m->id == sm->id) {
            m->refs++;
            return m;
        }
    }
    mem_msg_t *m = msg_copy(sm);
    if (!m)
        return NULL;
    m->refs = 1;
    m->next = ms->msgs;
    ms->msgs = m;
    return m;
}

static void msg_put_ref(mem_store_t *ms, mem_msg_t *m)
{
    if (!m || --m->refs > 0)
        return;
    for (mem_msg_t **pp = &ms->msgs; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    msg_free(m);
}

static mem_session_t *session_get(mem_store_t *ms, mqtt_bytes_t id, bool create)
{
    for (mem_session_t *s = ms->sessions; s; s = s->next) {
        if (buf_eq(&s->id, id))
            return s;
    }
    if (!create)
        return NULL;
    mem_session_t *s = calloc(1, sizeof(*s));
    if (!s || !buf_set(&s->id, id)) {
        free(s);
        return NULL;
    }
    s->next = ms->sessions;
    ms->sessions = s;
    return s;
}

static void session_free(mem_store_t *ms, mem_session_t *s)
{
    while (s->subs) {
        mem_sub_t *x = s->subs;
        s->subs = x->next;
        free(x->filter.data);
        free(x);
    }
    while (s->outs) {
        mem_out_t *x = s->outs;
        s->outs = x->next;
        msg_put_ref(ms, x->msg);
        free(x);
    }
    while (s->ins) {
        mem_in_t *x = s->ins;
        s->ins = x->next;
        free(x);
    }
    free(s->id.data);
    free(s);
}

#define LOCKED(st)                                                                                 \
    mem_store_t *ms = (mem_store_t *)(st);                                                         \
    pthread_mutex_lock(&ms->lock)
#define UNLOCK_RETURN(rc)                                                                          \
    do {                                                                                           \
        pthread_mutex_unlock(&ms->lock);                                                           \
        return (rc);                                                                               \
    } while (0)

static int mem_session_put(store_t *st, const store_session_t *rec)
{
    LOCKED(st);
    mem_session_t *s = session_get(ms, rec->client_id, true);
    if (!s)
        UNLOCK_RETURN(-1);
    s->expiry_interval = rec->expiry_interval;
    s->version = rec->version;
    s->saved = true;
    UNLOCK_RETURN(0);
}

static int mem_session_delete(store_t *st, mqtt_bytes_t id)
{
    LOCKED(st);
    for (mem_session_t **pp = &ms->sessions; *pp; pp = &(*pp)->next) {
        if (buf_eq(&(*pp)->id, id)) {
            mem_session_t *s = *pp;
            *pp = s->next;
            session_free(ms, s);
            break;
        }
    }
    UNLOCK_RETURN(0);
}

static int mem_sub_put(store_t *st, mqtt_bytes_t id, mqtt_bytes_t filter, uint8_t options,
                       uint32_t sub_id)
{
    LOCKED(st);
    mem_session_t *s = session_get(ms, id, true);
    if (!s)
        UNLOCK_RETURN(-1);
    mem_sub_t *x = s->subs, **tail = &s->subs;
    for (; x && !buf_eq(&x->filter, filter); x = x->next)
        tail = &x->next;
    if (!x) {
        x = calloc(1, sizeof(*x));
        if (!x || !buf_set(&x->filter, filter)) {
            free(x);
            UNLOCK_RETURN(-1);
        }
        *tail = x; /* keep subscription order */
    }
    x->options = options;
    x->sub_id = sub_id;
    UNLOCK_RETURN(0);
}

static int mem_sub_delete(store_t *st, mqtt_bytes_t id, mqtt_bytes_t filter)
{
    LOCKED(st);
    mem_session_t *s = session_get(ms, id, false);
    for (mem_sub_t **pp = s ? &s->subs : NULL; pp && *pp; pp = &(*pp)->next) {
        if (buf_eq(&(*pp)->filter, filter)) {
            mem_sub_t *x = *pp;
            *pp = x->next;
            free(x->filter.data);
            free(x);
            break;
        }
    }
    UNLOCK_RETURN(0);
}

static int mem_out_put(store_t *st, mqtt_bytes_t id, const store_out_t *o, const store_msg_t *m)
{
    LOCKED(st);
    mem_session_t *s = session_get(ms, id, true);
    if (!s)
        UNLOCK_RETURN(-1);
    mem_out_t **pp = &s->outs;
    while (*pp && (*pp)->rec.seq < o->seq)
        pp = &(*pp)->next;
    mem_out_t *x = *pp;
    if (!x || x->rec.seq != o->seq) {
        x = calloc(1, sizeof(*x));
        if (!x)
            UNLOCK_RETURN(-1);
        x->next = *pp;
        *pp = x;
    }
    x->rec = *o;
    size_t n = o->sub_id_count < MIDGE_MAX_SUB_IDS ? o->sub_id_count : MIDGE_MAX_SUB_IDS;
    if (n)
        memcpy(x->sub_ids, o->sub_ids, n * sizeof(uint32_t));
    x->rec.sub_id_count = n;
    x->rec.sub_ids = x->sub_ids;
    if (m && (!x->msg || x->msg->id != m->id)) {
        mem_msg_t *nm = msg_get(ms, m);
        if (!nm)
            UNLOCK_RETURN(-1);
        msg_put_ref(ms, x->msg);
        x->msg = nm;
    }
    UNLOCK_RETURN(0);
}

static int mem_out_delete(store_t *st, mqtt_bytes_t id, uint64_t seq)
{
    LOCKED(st);
    mem_session_t *s = session_get(ms, id, false);
    for (mem_out_t **pp = s ? &s->outs : NULL; pp && *pp; pp = &(*pp)->next) {
        if ((*pp)->rec.seq == seq) {
            mem_out_t *x = *pp;
            *pp = x->next;
            msg_put_ref(ms, x->msg);
            free(x);
            break;
        }
    }
    UNLOCK_RETURN(0);
}

static int mem_in_put(store_t *st, mqtt_bytes_t id, uint16_t packet_id)
{
    LOCKED(st);
    mem_session_t *s = session_get(ms, id, true);
    if (!s)
        UNLOCK_RETURN(-1);
    for (mem_in_t *x = s->ins; x; x = x->next) {
        if (x->packet_id == packet_id)
            UNLOCK_RETURN(0);
    }
    mem_in_t *x = calloc(1, sizeof(*x));
    if (!x)
        UNLOCK_RETURN(-1);
    x->packet_id = packet_id;
    x->next = s->ins;
    s->ins = x;
    UNLOCK_RETURN(0);
}

static int mem_in_delete(store_t *st, mqtt_bytes_t id, uint16_t packet_id)
{
    LOCKED(st);
    mem_session_t *s = session_get(ms, id, false);
    for (mem_in_t **pp = s ? &s->ins : NULL; pp && *pp; pp = &(*pp)->next) {
        if ((*pp)->packet_id == packet_id) {
            mem_in_t *x = *pp;
            *pp = x->next;
            free(x);
            break;
        }
    }
    UNLOCK_RETURN(0);
}

static int mem_retained_delete_locked(mem_store_t *ms, mqtt_bytes_t topic)
{
    for (mem_msg_t **pp = &ms->retained; *pp; pp = &(*pp)->next) {
        if (buf_eq(&(*pp)->topic, topic)) {
            mem_msg_t *m = *pp;
            *pp = m->next;
            msg_free(m);
            break;
        }
    }
    return 0;
}

static int mem_retained_put(store_t *st, const store_msg_t *sm)
{
    LOCKED(st);
    mem_retained_delete_locked(ms, sm->topic);
    mem_msg_t *m = msg_copy(sm);
    if (!m)
        UNLOCK_RETURN(-1);
    m->next = ms->retained;
    ms->retained = m;
    UNLOCK_RETURN(0);
}

static int mem_retained_delete(store_t *st, mqtt_bytes_t topic)
{
    LOCKED(st);
    UNLOCK_RETURN(mem_retained_delete_locked(ms, topic));
}

static int mem_load(store_t *st, const store_loader_t *l, void *ctx)
{
    mem_store_t *ms = (mem_store_t *)st; /* no lock: see store_load() */
    int rc = 0;
    for (mem_session_t *s = ms->sessions; s && !rc; s = s->next) {
        mqtt_bytes_t id = buf_view(&s->id);
        store_session_t rec = {id, s->expiry_interval, s->version};
        if (s->saved && l->session)
            rc = l->session(ctx, &rec);
        for (mem_sub_t *x = s->subs; x && !rc && l->sub; x = x->next)
            rc = l->sub(ctx, id, buf_view(&x->filter), x->options, x->sub_id);
        for (mem_out_t *x = s->outs; x && !rc && l->out; x = x->next) {
            store_msg_t m;
            if (x->msg)
                msg_view(x->msg, &m);
            rc = l->out(ctx, id, &x->rec, x->msg ? &m : NULL);
        }
        for (mem_in_t *x = s->ins; x && !rc && l->in; x = x->next)
            rc = l->in(ctx, id, x->packet_id);
    }
    for (mem_msg_t *m = ms->retained; m && !rc && l->retained; m = m->next) {
        store_msg_t v;
        msg_view(m, &v);
        rc = l->retained(ctx, &v);
    }
    return rc;
}

static void mem_close(store_t *st)
{
    mem_store_t *ms = (mem_store_t *)st;
    while (ms->sessions) {
        mem_session_t *s = ms->sessions;
        ms->sessions = s->next;
        session_free(ms, s);
    }
    while (ms->retained) {
        mem_msg_t *m = ms->retained;
        ms->retained = m->next;
        msg_free(m);
    }
    pthread_mutex_destroy(&ms->lock);
    free(ms);
}

static const store_ops_t mem_ops = {
    mem_session_put,  mem_session_delete,  mem_sub_put, mem_sub_delete,
    mem_out_put,      mem_out_delete,      mem_in_put,  mem_in_delete,
    mem_retained_put, mem_retained_delete, mem_load,    mem_close,
};

store_t *store_memory_open(void)
{
    mem_store_t *ms = calloc(1, sizeof(*ms));
    if (!ms)
        return NULL;
    ms->base.ops = &mem_ops;
    pthread_mutex_init(&ms->lock, NULL);
    return &ms->base;
}
