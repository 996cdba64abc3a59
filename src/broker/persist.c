/*
 * Persistence: the broker side of the store seam. With `persistence true`
 * the durable store journals every change to a persistent session (one
 * with a non-zero expiry) and every retained message as it happens, and
 * persist_open() rebuilds sessions, subscriptions, queued and in-flight
 * messages, incoming QoS 2 ids and retained messages from it at start.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/log.h"
#include "broker/proto.h"
#include "broker/store.h"
#include "broker/store_sqlite.h"

/* Message ids only need to be unique within what the store holds; seeding
 * with the start time keeps them apart from the ids of an earlier run. */
static atomic_uint_fast64_t next_store_id;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void view_msg(const void *p, store_msg_t *out)
{
    msg_t *m = (msg_t *)p;
    uint64_t id = atomic_load_explicit(&m->store_id, memory_order_relaxed);
    if (id == 0) {
        uint64_t fresh = atomic_fetch_add_explicit(&next_store_id, 1, memory_order_relaxed);
        /* Another thread may name the message first: keep its id. */
        if (!atomic_compare_exchange_strong(&m->store_id, &id, fresh))
            fresh = id;
    }
    msg_store_view(m, msg_now_ms(), wall_ms(), out);
}

void persist_retained(broker_t *b, msg_t *m)
{
    store_t *st = b->sessions.store;
    if (!st || (m->topic_len >= 4 && memcmp(m->topic, "$SYS", 4) == 0))
        return;
    if (m->payload_len == 0) {
        st->ops->retained_delete(st, (mqtt_bytes_t){(const uint8_t *)m->topic, m->topic_len});
        return;
    }
    store_msg_t v;
    view_msg(m, &v);
    st->ops->retained_put(st, &v);
}

/* ---- load ---- */

typedef struct {
    broker_t *b;
    int64_t now, wall;
    size_t sessions, messages, retained;
} loader_ctx_t;

static session_t *find(loader_ctx_t *lc, mqtt_bytes_t id)
{
    return session_find(&lc->b->sessions, (const char *)id.data, id.len);
}

static int ld_session(void *ctx, const store_session_t *rec)
{
    loader_ctx_t *lc = ctx;
    session_table_t *t = &lc->b->sessions;
    pthread_mutex_lock(&t->lock);
    session_t *s = session_find_locked(t, (const char *)rec->client_id.data, rec->client_id.len);
    if (!s) {
        s = session_create_locked(t, (const char *)rec->client_id.data, rec->client_id.len);
        if (s)
            session_release(s); /* the table keeps its reference */
    }
    if (s) {
        s->expiry_interval = rec->expiry_interval;
        s->version = (mqtt_version_t)rec->version;
        s->offline_since = (uint64_t)lc->now;
        lc->sessions++;
        atomic_fetch_add_explicit(&lc->b->stats.sessions_disconnected, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&t->lock);
    return s ? 0 : -1;
}

static int ld_sub(void *ctx, mqtt_bytes_t id, mqtt_bytes_t filter, uint8_t options, uint32_t sub_id)
{
    loader_ctx_t *lc = ctx;
    session_t *s = find(lc, id);
    if (!s)
        return 0; /* subscriptions of a session without a record */
    int rc = tt_subscribe(lc->b->tree, s, filter, options, sub_id, NULL);
    session_release(s);
    return rc == TT_ERR_NOMEM ? -1 : 0;
}

static int ld_out(void *ctx, mqtt_bytes_t id, const store_out_t *o, const store_msg_t *sm)
{
    loader_ctx_t *lc = ctx;
    session_t *s = find(lc, id);
    if (!s)
        return 0;
    msg_t *m = sm ? msg_from_store(sm, lc->now, lc->wall) : NULL;
    if (!m && o->state != OUT_WAIT_PUBCOMP) {
        session_release(s);
        return 0; /* nothing to send: dropped */
    }
    session_out_t *e = session_out_new(m, o->qos, o->retain, m ? m->payload_len : 0,
                                       m && msg_has_expiry(m) ? (uint64_t)m->expiry_at : 0);
    if (!e) {
        msg_unref(m);
        session_release(s);
        return -1;
    }
    e->seq = o->seq;
    e->packet_id = o->packet_id;
    e->state = o->state;
    e->dup = o->state != OUT_QUEUED;
    size_t n = o->sub_id_count < MIDGE_MAX_SUB_IDS ? o->sub_id_count : MIDGE_MAX_SUB_IDS;
    for (size_t i = 0; i < n; i++)
        e->sub_ids[i] = o->sub_ids[i];
    e->sub_id_count = (uint8_t)n;
    pthread_mutex_lock(&s->lock);
    session_out_restore(s, e);
    pthread_mutex_unlock(&s->lock);
    lc->messages++;
    session_release(s);
    return 0;
}

static int ld_in(void *ctx, mqtt_bytes_t id, uint16_t packet_id)
{
    loader_ctx_t *lc = ctx;
    session_t *s = find(lc, id);
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    int rc = session_in_qos2_add(s, packet_id, 0);
    pthread_mutex_unlock(&s->lock);
    session_release(s);
    return rc < 0 ? -1 : 0;
}

static int ld_retained(void *ctx, const store_msg_t *sm)
{
    loader_ctx_t *lc = ctx;
    msg_t *m = msg_from_store(sm, lc->now, lc->wall);
    if (!m)
        return 0;
    if (!msg_has_expiry(m) || !msg_expired(m, lc->now)) {
        if (retain_set(lc->b->retain, m) != 0) {
            msg_unref(m);
            return -1;
        }
        lc->retained++;
    }
    msg_unref(m);
    return 0;
}

int persist_open(broker_t *b, const config_t *cfg)
{
    int64_t w = wall_ms();
    atomic_store(&next_store_id, ((uint64_t)w << 16) | 1u);
    if (!cfg->persistence)
        return 0;
    char path[4096];
    char err[512];
    if (config_persistence_path(cfg, path, sizeof(path)) != 0) {
        mlog(MLOG_ERROR, "Error: persistence path too long.");
        return -1;
    }
    store_t *st = store_sqlite_open(path, false, err, sizeof(err));
    if (!st) {
        mlog(MLOG_ERROR, "Error: cannot open persistence file %s: %s", path, err);
        return -1;
    }
    st->msg_view = view_msg;
    /* The table journals nothing while it is being rebuilt from the
     * journal itself. */
    loader_ctx_t lc = {.b = b, .now = msg_now_ms(), .wall = w};
    store_loader_t l = {ld_session, ld_sub, ld_out, ld_in, ld_retained};
    int rc = store_load(st, &l, &lc);
    if (rc != 0) {
        mlog(MLOG_ERROR, "Error: cannot load %s.", path);
        store_close(st);
        return -1;
    }
    b->sessions.store = st;
    mlog(MLOG_NOTICE,
         "Restored %zu sessions, %zu queued messages and %zu retained messages from %s.",
         lc.sessions, lc.messages, lc.retained, path);
    return 0;
}

void persist_close(broker_t *b)
{
    store_t *st = b->sessions.store;
    b->sessions.store = NULL;
    store_close(st);
}
