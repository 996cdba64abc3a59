#include "broker/session.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/store.h"

static void in_qos2_clear(session_t *s);

#define SESSION_BUCKETS_INITIAL 1024

static uint64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t id_hash(const char *id, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)id[i];
        h *= 1099511628211ull;
    }
    return h;
}

int session_table_init(session_table_t *t, const session_limits_t *limits,
                       void (*msg_release)(void *msg), struct store *store)
{
    memset(t, 0, sizeof(*t));
    t->nbuckets = SESSION_BUCKETS_INITIAL;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets)
        return -1;
    pthread_mutex_init(&t->lock, NULL);
    t->limits = *limits;
    t->msg_release = msg_release;
    t->store = store;
    return 0;
}

void session_table_destroy(session_table_t *t)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nbuckets; i++) {
        while (t->buckets[i]) {
            session_t *s = t->buckets[i];
            t->buckets[i] = s->hnext;
            s->in_table = false;
            pthread_mutex_lock(&s->lock);
            s->ended = true;
            session_out_clear(s);
            pthread_mutex_unlock(&s->lock);
            session_release(s);
        }
    }
    t->count = 0;
    pthread_mutex_unlock(&t->lock);
    free(t->buckets);
    t->buckets = NULL;
    pthread_mutex_destroy(&t->lock);
}

static void table_grow(session_table_t *t)
{
    size_t n = t->nbuckets * 2;
    session_t **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        session_t *s = t->buckets[i];
        while (s) {
            session_t *next = s->hnext;
            size_t k = id_hash(s->client_id, s->id_len) & (n - 1);
            s->hnext = b[k];
            b[k] = s;
            s = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

session_t *session_find_locked(session_table_t *t, const char *id, size_t len)
{
    session_t *s = t->buckets[id_hash(id, len) & (t->nbuckets - 1)];
    for (; s; s = s->hnext) {
        if (s->id_len == len && memcmp(s->client_id, id, len) == 0)
            return s;
    }
    return NULL;
}

session_t *session_find(session_table_t *t, const char *id, size_t len)
{
    pthread_mutex_lock(&t->lock);
    session_t *s = session_find_locked(t, id, len);
    if (s)
        session_ref(s);
    pthread_mutex_unlock(&t->lock);
    return s;
}

session_t *session_create_locked(session_table_t *t, const char *id, size_t len)
{
    session_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->client_id = malloc(len + 1);
    if (!s->client_id) {
        free(s);
        return NULL;
    }
    memcpy(s->client_id, id, len);
    s->client_id[len] = '\0';
    s->id_len = len;
    s->table = t;
    atomic_init(&s->refs, 2);
    pthread_mutex_init(&s->lock, NULL);
    s->window = t->limits.max_inflight ? t->limits.max_inflight : 65535;
    s->max_qos = 2;
    s->next_packet_id = 1;
    s->worker = -1;
    if (t->count >= t->nbuckets)
        table_grow(t);
    size_t k = id_hash(id, len) & (t->nbuckets - 1);
    s->hnext = t->buckets[k];
    t->buckets[k] = s;
    s->in_table = true;
    t->count++;
    return s;
}

void session_remove_locked(session_table_t *t, session_t *s)
{
    if (!s->in_table)
        return;
    session_t **pp = &t->buckets[id_hash(s->client_id, s->id_len) & (t->nbuckets - 1)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    s->hnext = NULL;
    s->in_table = false;
    t->count--;
    pthread_mutex_lock(&s->lock);
    s->ended = true;
    session_out_clear(s);
    in_qos2_clear(s);
    pthread_mutex_unlock(&s->lock);
    if (t->store)
        store_session_delete(t->store, s->client_id, s->id_len);
    session_release(s);
}

void session_ref(session_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void session_release(session_t *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    session_out_clear(s);
    if (s->pending_will && s->table->msg_release)
        s->table->msg_release(s->pending_will);
    if (s->user && s->table->user_free)
        s->table->user_free(s);
    free(s->in_qos2);
    free(s->in_qos2_bits);
    pthread_mutex_destroy(&s->lock);
    free(s->client_id);
    free(s);
}

/* ---- lists ---- */

static void list_append(session_list_t *l, session_out_t *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->count++;
    l->bytes += e->bytes;
    if (e->qos == 0) {
        l->qos0_count++;
        l->qos0_bytes += e->bytes;
    }
}

static void list_unlink(session_list_t *l, session_out_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->next = e->prev = NULL;
    l->count--;
    l->bytes -= e->bytes;
    if (e->qos == 0) {
        l->qos0_count--;
        l->qos0_bytes -= e->bytes;
    }
}

/* ---- outgoing ---- */

session_out_t *session_out_new(void *msg, uint8_t qos, bool retain, size_t bytes,
                               uint64_t expiry_at)
{
    session_out_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->msg = msg;
    e->qos = qos;
    e->retain = retain;
    e->bytes = bytes;
    e->expiry_at = expiry_at;
    return e;
}

void session_out_free(session_table_t *t, session_out_t *e)
{
    if (!e)
        return;
    if (e->msg && t && t->msg_release)
        t->msg_release(e->msg);
    free(e);
}

static void out_forget(session_t *s, session_out_t *e)
{
    if (session_store(s) && e->qos > 0)
        store_out_delete(s->table->store, s->client_id, s->id_len, e->seq);
}

bool session_out_push(session_t *s, session_out_t *e)
{
    const session_limits_t *lim = &s->table->limits;
    bool ok = !s->ended;
    /* Offline, max_queued_messages bounds the queue; online, what fits the
     * window does not count. A client that is acknowledging (it did within
     * MIDGE_PROGRESS_MS) may queue up to max_online_queued: publishers on
     * other workers get ahead of a reading client by bursts that
     * Mosquitto's single loop never lets build up. A stalled client gets
     * Mosquitto's bound. */
    uint64_t limit = lim->max_queued_messages;
    if (ok && e->qos == 0) {
        if (s->conn && limit && limit < lim->max_online_queued)
            limit = lim->max_online_queued;
        /* Offline, QoS 0 waits only with queue_qos0_messages, within the
         * same bounds as QoS 1 and 2 (Mosquitto's rule). */
        ok = (s->conn != NULL || lim->queue_qos0) && (limit == 0 || s->queue.count < limit);
        if (ok && !s->conn && lim->max_queued_bytes &&
            s->queue.bytes + e->bytes > lim->max_queued_bytes)
            ok = false;
    } else if (ok) {
        size_t room = s->conn && s->inflight.count < s->window ? s->window - s->inflight.count : 0;
        /* QoS 0 backlog for an online client does not count against QoS 1
         * and 2 (Mosquitto never queues it): a burst of QoS 0 must not cost
         * a client its QoS 1 messages. */
        bool all = !s->conn && lim->queue_qos0;
        size_t counted = all ? s->queue.count : s->queue.count - s->queue.qos0_count;
        size_t counted_bytes = all ? s->queue.bytes : s->queue.bytes - s->queue.qos0_bytes;
        size_t waiting = counted >= room ? counted - room : 0;
        if (limit && waiting >= limit) {
            bool progressing =
                s->conn && s->acked_at && mono_now() - s->acked_at < MIDGE_PROGRESS_MS;
            if (!progressing || waiting >= lim->max_online_queued)
                ok = false;
        }
        if (lim->max_queued_bytes && counted_bytes + e->bytes > lim->max_queued_bytes &&
            counted >= room)
            ok = false;
    }
    if (!ok) {
        s->dropped++;
        session_out_free(s->table, e);
        return false;
    }
    e->seq = ++s->next_seq;
    e->state = OUT_QUEUED;
    list_append(&s->queue, e);
    if (session_store(s) && e->qos > 0)
        store_out_put(s->table->store, s, e);
    return true;
}

static bool packet_id_in_use(const session_t *s, uint16_t id)
{
    for (const session_out_t *e = s->inflight.head; e; e = e->next) {
        if (e->packet_id == id)
            return true;
    }
    return false;
}

static uint16_t packet_id_alloc(session_t *s)
{
    /* The window is far smaller than the id space, so this ends quickly. */
    for (unsigned tries = 0; tries < 65535u; tries++) {
        uint16_t id = s->next_packet_id;
        s->next_packet_id = (uint16_t)(id == 65535 ? 1 : id + 1);
        if (!packet_id_in_use(s, id))
            return id;
    }
    return 0;
}

session_out_t *session_out_next(session_t *s, uint64_t now_ms)
{
    while (s->queue.head) {
        session_out_t *e = s->queue.head;
        if (e->expiry_at && now_ms >= e->expiry_at) {
            list_unlink(&s->queue, e);
            out_forget(s, e);
            session_out_free(s->table, e);
            continue;
        }
        if (e->qos == 0) {
            list_unlink(&s->queue, e);
            return e;
        }
        if (s->inflight.count >= s->window)
            return NULL;
        uint64_t max_bytes = s->table->limits.max_inflight_bytes;
        if (max_bytes && s->inflight.bytes >= max_bytes)
            return NULL;
        uint16_t id = packet_id_alloc(s);
        if (id == 0)
            return NULL;
        list_unlink(&s->queue, e);
        e->packet_id = id;
        e->state = e->qos == 1 ? OUT_WAIT_PUBACK : OUT_WAIT_PUBREC;
        list_append(&s->inflight, e);
        if (session_store(s))
            store_out_put(s->table->store, s, e);
        return e;
    }
    return NULL;
}

static session_out_t *inflight_find(session_t *s, uint16_t id, uint8_t state)
{
    for (session_out_t *e = s->inflight.head; e; e = e->next) {
        if (e->packet_id == id)
            return e->state == state ? e : NULL;
    }
    return NULL;
}

session_out_t *session_out_puback(session_t *s, uint16_t packet_id)
{
    session_out_t *e = inflight_find(s, packet_id, OUT_WAIT_PUBACK);
    if (e) {
        list_unlink(&s->inflight, e);
        out_forget(s, e);
    }
    return e;
}

session_out_t *session_out_pubrec(session_t *s, uint16_t packet_id, uint8_t reason)
{
    session_out_t *e = inflight_find(s, packet_id, OUT_WAIT_PUBREC);
    if (!e)
        return NULL;
    if (reason >= 0x80) {
        list_unlink(&s->inflight, e);
        out_forget(s, e);
        return e;
    }
    e->state = OUT_WAIT_PUBCOMP;
    /* From here only the packet id matters: free the payload early. Its
     * size stays counted in flight until PUBCOMP, as in Mosquitto. */
    if (e->msg && s->table->msg_release)
        s->table->msg_release(e->msg);
    e->msg = NULL;
    if (session_store(s))
        store_out_put(s->table->store, s, e);
    return e;
}

session_out_t *session_out_pubcomp(session_t *s, uint16_t packet_id)
{
    session_out_t *e = inflight_find(s, packet_id, OUT_WAIT_PUBCOMP);
    if (e) {
        list_unlink(&s->inflight, e);
        out_forget(s, e);
    }
    return e;
}

void session_out_resume(session_t *s, uint16_t client_receive_max)
{
    uint16_t w = s->table->limits.max_inflight ? s->table->limits.max_inflight : 65535;
    if (client_receive_max && client_receive_max < w)
        w = client_receive_max;
    s->window = w;
    for (session_out_t *e = s->inflight.head; e; e = e->next) {
        if (e->state == OUT_WAIT_PUBACK || e->state == OUT_WAIT_PUBREC)
            e->dup = true;
    }
}

void session_out_restore(session_t *s, session_out_t *e)
{
    list_append(e->state == OUT_QUEUED ? &s->queue : &s->inflight, e);
    if (e->seq > s->next_seq)
        s->next_seq = e->seq;
}

void session_out_offline(session_t *s)
{
    if (s->table->limits.queue_qos0)
        return;
    session_out_t *e = s->queue.head;
    while (e) {
        session_out_t *next = e->next;
        if (e->qos == 0) {
            list_unlink(&s->queue, e);
            session_out_free(s->table, e);
        }
        e = next;
    }
}

void session_out_clear(session_t *s)
{
    session_list_t *lists[2] = {&s->queue, &s->inflight};
    for (int i = 0; i < 2; i++) {
        while (lists[i]->head) {
            session_out_t *e = lists[i]->head;
            list_unlink(lists[i], e);
            session_out_free(s->table, e);
        }
    }
}

/* ---- incoming QoS 2 ---- */

/* Open ids beyond which the list becomes the bit map. */
#define IN_QOS2_LIST_MAX 32
#define IN_QOS2_WORDS    (65536 / 64)

static bool in_qos2_bit(const session_t *s, uint16_t id)
{
    return (s->in_qos2_bits[id / 64] >> (id % 64)) & 1u;
}

static bool in_qos2_has(const session_t *s, uint16_t id)
{
    if (s->in_qos2_bits)
        return in_qos2_bit(s, id);
    for (size_t i = 0; i < s->in_qos2_count; i++) {
        if (s->in_qos2[i] == id)
            return true;
    }
    return false;
}

/* Records id (not yet open); false on allocation failure. */
static bool in_qos2_insert(session_t *s, uint16_t id)
{
    if (!s->in_qos2_bits && s->in_qos2_count == IN_QOS2_LIST_MAX) {
        uint64_t *bits = calloc(IN_QOS2_WORDS, sizeof(*bits));
        if (!bits)
            return false;
        for (size_t i = 0; i < s->in_qos2_count; i++)
            bits[s->in_qos2[i] / 64] |= (uint64_t)1 << (s->in_qos2[i] % 64);
        free(s->in_qos2);
        s->in_qos2 = NULL;
        s->in_qos2_cap = 0;
        s->in_qos2_bits = bits;
    }
    if (s->in_qos2_bits) {
        s->in_qos2_bits[id / 64] |= (uint64_t)1 << (id % 64);
    } else {
        if (s->in_qos2_count == s->in_qos2_cap) {
            size_t cap = s->in_qos2_cap ? s->in_qos2_cap * 2 : 8;
            uint16_t *n = realloc(s->in_qos2, cap * sizeof(*n));
            if (!n)
                return false;
            s->in_qos2 = n;
            s->in_qos2_cap = cap;
        }
        s->in_qos2[s->in_qos2_count] = id;
    }
    s->in_qos2_count++;
    return true;
}

/* Forgets id if open; true if it was. */
static bool in_qos2_remove(session_t *s, uint16_t id)
{
    if (s->in_qos2_bits) {
        if (!in_qos2_bit(s, id))
            return false;
        s->in_qos2_bits[id / 64] &= ~((uint64_t)1 << (id % 64));
        if (--s->in_qos2_count == 0) { /* back to the list: no 8 KB kept idle */
            free(s->in_qos2_bits);
            s->in_qos2_bits = NULL;
        }
        return true;
    }
    for (size_t i = 0; i < s->in_qos2_count; i++) {
        if (s->in_qos2[i] == id) {
            s->in_qos2[i] = s->in_qos2[--s->in_qos2_count];
            return true;
        }
    }
    return false;
}

static void in_qos2_clear(session_t *s)
{
    free(s->in_qos2_bits);
    s->in_qos2_bits = NULL;
    s->in_qos2_count = 0;
}

int session_in_qos2_add(session_t *s, uint16_t packet_id, size_t max)
{
    if (in_qos2_has(s, packet_id))
        return 0;
    if (max && s->in_qos2_count >= max)
        return -1;
    if (!in_qos2_insert(s, packet_id))
        return -2;
    if (session_store(s))
        store_in_put(s->table->store, s->client_id, s->id_len, packet_id);
    return 1;
}

bool session_in_qos2_release(session_t *s, uint16_t packet_id)
{
    if (!in_qos2_remove(s, packet_id))
        return false;
    if (session_store(s))
        store_in_delete(s->table->store, s->client_id, s->id_len, packet_id);
    return true;
}
