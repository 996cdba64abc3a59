/*
 * The end of a connection: wills and session expiry.
 *
 * A will is published when a connection ends without a normal DISCONNECT
 * (v5 DISCONNECT 0x04 asks for it explicitly), except when another
 * connection took the session over. A v5 Will Delay Interval holds it back;
 * it goes out at the earlier of the delay and the session's end, and not at
 * all if the client reconnects first. A session whose connection ended
 * lives for its Session Expiry Interval (never, for a 3.1.1 session without
 * clean session), then leaves the table and the topic tree.
 *
 * Timers run on the worker where the connection ended and carry the
 * session's epoch: a reconnect bumps it, so a stale timer does nothing.
 */
#include <stdlib.h>

#include "broker/log.h"
#include "broker/proto.h"

typedef struct will_timer {
    wtimer_t t;
    struct will_timer *next, *prev;
    wctx_t *wc;
    session_t *s; /* a reference */
    uint64_t epoch;
    bool expiry; /* session expiry; else will delay */
} will_timer_t;

static void timer_unlink(will_timer_t *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        x->wc->timers = x->next;
    if (x->next)
        x->next->prev = x->prev;
}

static void timer_free(will_timer_t *x)
{
    timer_unlink(x);
    session_release(x->s);
    free(x);
}

void session_end(broker_t *b, session_t *s)
{
    msg_t *will = NULL;
    pthread_mutex_lock(&b->sessions.lock);
    pthread_mutex_lock(&s->lock);
    will = s->pending_will;
    s->pending_will = NULL;
    pthread_mutex_unlock(&s->lock);
    session_remove_locked(&b->sessions, s);
    pthread_mutex_unlock(&b->sessions.lock);
    tt_remove_session(b->tree, s);
    if (will) {
        deliver_publish(b, will, NULL);
        msg_unref(will);
    }
}

/* Ends s unless a connection bound it since `epoch` (every bind bumps
 * it). Checked under the table's lock, which CONNECT holds to find and
 * bind a session, so a client resuming the session in between keeps it.
 * True if it ended. */
static bool session_end_at(broker_t *b, session_t *s, uint64_t epoch)
{
    msg_t *will = NULL;
    pthread_mutex_lock(&b->sessions.lock);
    pthread_mutex_lock(&s->lock);
    bool due = s->epoch == epoch && !s->conn && !s->ended;
    if (due) {
        will = s->pending_will;
        s->pending_will = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (due)
        session_remove_locked(&b->sessions, s);
    pthread_mutex_unlock(&b->sessions.lock);
    if (!due)
        return false;
    tt_remove_session(b->tree, s);
    if (will) {
        deliver_publish(b, will, NULL);
        msg_unref(will);
    }
    return true;
}

static void timer_fire(worker_t *w, wtimer_t *t, void *arg)
{
    will_timer_t *x = arg;
    broker_t *b = x->wc->b;
    session_t *s = x->s;
    if (x->expiry) {
        if (session_end_at(b, s, x->epoch)) {
            mlog(MLOG_INFO, "Session of client %s expired.", s->client_id);
            atomic_fetch_sub_explicit(&b->stats.sessions_disconnected, 1, memory_order_relaxed);
        }
    } else {
        msg_t *will = NULL;
        pthread_mutex_lock(&s->lock);
        if (s->epoch == x->epoch && !s->conn) {
            will = s->pending_will;
            s->pending_will = NULL;
        }
        pthread_mutex_unlock(&s->lock);
        if (will) {
            deliver_publish(b, will, NULL);
            msg_unref(will);
        }
    }
    timer_free(x);
}

static void timer_add(wctx_t *wc, session_t *s, uint64_t epoch, bool expiry, uint64_t delay_ms)
{
    will_timer_t *x = calloc(1, sizeof(*x));
    if (!x)
        return; /* the session then lives until the broker stops */
    wtimer_init(&x->t);
    x->wc = wc;
    session_ref(s);
    x->s = s;
    x->epoch = epoch;
    x->expiry = expiry;
    x->next = wc->timers;
    if (wc->timers)
        wc->timers->prev = x;
    wc->timers = x;
    if (wtimer_start(wc->w, &x->t, delay_ms, timer_fire, x) != 0)
        timer_free(x);
}

void will_arm_restored(wctx_t *wc)
{
    session_table_t *t = &wc->b->sessions;
    if (!t->store)
        return;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (session_t *s = t->buckets[i]; s; s = s->hnext) {
            pthread_mutex_lock(&s->lock);
            bool arm = !s->conn && s->expiry_interval &&
                       broker_session_expiry(wc->b, s->expiry_interval) != UINT32_MAX;
            uint64_t epoch = s->epoch;
            uint32_t expiry = broker_session_expiry(wc->b, s->expiry_interval);
            pthread_mutex_unlock(&s->lock);
            if (arm)
                timer_add(wc, s, epoch, true, (uint64_t)expiry * 1000u);
        }
    }
    pthread_mutex_unlock(&t->lock);
}

void will_worker_stop(wctx_t *wc)
{
    while (wc->timers) {
        will_timer_t *x = wc->timers;
        wtimer_stop(wc->w, &x->t);
        timer_free(x);
    }
}

void will_cancel_locked(session_t *s)
{
    if (s->pending_will) {
        msg_unref(s->pending_will);
        s->pending_will = NULL;
    }
}

void will_on_close(client_t *c, bool shutdown)
{
    broker_t *b = c->b;
    session_t *s = c->session;
    if (c->connected)
        atomic_fetch_sub_explicit(&b->stats.clients_connected, 1, memory_order_relaxed);
    msg_t *will = c->will;
    c->will = NULL;
    if (c->graceful) {
        msg_unref(will);
        will = NULL;
    }

    pthread_mutex_lock(&s->lock);
    if (s->conn != c) {
        /* Taken over: the new connection owns the session. The old
         * connection ended without DISCONNECT, so its will goes out, unless
         * delayed: the session was resumed within the delay. */
        pthread_mutex_unlock(&s->lock);
        if (will && c->will_delay == 0 && !shutdown)
            deliver_publish(b, will, NULL);
        msg_unref(will);
        return;
    }
    s->conn = NULL;
    atomic_store_explicit(&s->online, false, memory_order_relaxed);
    s->epoch++;
    s->offline_since = (uint64_t)msg_now_ms();
    session_out_offline(s);
    uint64_t epoch = s->epoch;
    uint32_t expiry = broker_session_expiry(b, s->expiry_interval);
    bool delayed = will && c->will_delay > 0 && expiry > 0 && !shutdown;
    if (delayed) {
        will_cancel_locked(s);
        s->pending_will = will;
        will = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    client_release(c); /* the session's reference */

    if (shutdown) {
        msg_unref(will);
        return;
    }
    if (will) {
        deliver_publish(b, will, NULL);
        msg_unref(will);
    }
    wctx_t *wc = worker_proto(c->worker);
    if (expiry == 0) {
        /* A client may have resumed it since the lock was let go. */
        session_end_at(b, s, epoch);
        return;
    }
    atomic_fetch_add_explicit(&b->stats.sessions_disconnected, 1, memory_order_relaxed);
    if (delayed && wc) {
        uint64_t d = c->will_delay < expiry ? c->will_delay : expiry;
        timer_add(wc, s, epoch, false, d * 1000u);
    }
    if (expiry != UINT32_MAX && wc)
        timer_add(wc, s, epoch, true, (uint64_t)expiry * 1000u);
}
