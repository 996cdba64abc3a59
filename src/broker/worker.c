#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net_internal.h"

/* Epoll user data is a pointer tagged in its low bits with what it is;
 * connections are malloc'd, so their low bits are free. */
#define TAG_CONN     0u
#define TAG_LISTENER 1u
#define TAG_WAKE     2u
#define TAG_MASK     3u

/* Connections accepted per listening socket per wake-up. */
#define ACCEPT_BATCH 64
/* Out of descriptors: retry accepting after this long instead of spinning
 * on a listening socket that stays readable. */
#define ACCEPT_PAUSE_MS 100

struct job {
    job_t *next;
    worker_fn fn;
    void *arg;
};

static _Thread_local worker_t *current_worker;

uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

worker_t *worker_current(void)
{
    return current_worker;
}

unsigned worker_id(const worker_t *w)
{
    return w->id;
}

server_t *worker_server(const worker_t *w)
{
    return w->server;
}

uint64_t worker_now_ms(const worker_t *w)
{
    return w->now_ms;
}

bool worker_stopping(const worker_t *w)
{
    return w->stopping;
}

void worker_set_proto(worker_t *w, void *data)
{
    w->proto_data = data;
}

void *worker_proto(const worker_t *w)
{
    return w->proto_data;
}

unsigned worker_conn_count(const worker_t *w)
{
    return w->nconns;
}

static worker_listener_t *find_listener(const worker_t *w, const listener_t *l)
{
    for (size_t i = 0; l && i < w->nlisteners; i++)
        if (w->listeners[i]->listener == l)
            return w->listeners[i];
    return NULL;
}

const listener_spec_t *worker_listener_settings(const worker_t *w, const listener_t *l)
{
    worker_listener_t *wl = find_listener(w, l);
    return wl ? &wl->spec : NULL;
}

void *worker_conf(const worker_t *w)
{
    return w->conf;
}

static void *tag(void *p, unsigned t)
{
    return (void *)((uintptr_t)p | t);
}

static void wake(worker_t *w)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the worker will wake. */
    ssize_t r = write(w->wake_fd, &one, sizeof one);
    (void)r;
}

worker_t *worker_create(unsigned id, const broker_proto_t *proto, server_t *server)
{
    worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->id = id;
    w->server = server;
    w->proto = *proto;
    w->wake_fd = -1;
    w->now_ms = mono_ms();
    wtimer_heap_init(&w->timers);
    atomic_init(&w->stop_requested, false);
    pthread_mutex_init(&w->inbox_lock, NULL);
    w->scratch = malloc(NET_READ_CHUNK);
    w->ev = ev_backend_create();
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!w->scratch || !w->ev || w->wake_fd < 0 ||
        ev_add(w->ev, w->wake_fd, EV_READ, tag(NULL, TAG_WAKE)) != 0) {
        mlog(MLOG_ERROR, "Error: worker %u: %s.", id, strerror(errno));
        worker_destroy(w);
        return NULL;
    }
    return w;
}

/* ---- lists ---- */

void worker_mark_dirty(worker_t *w, conn_t *c)
{
    if (c->flags & (CONN_F_DIRTY | CONN_F_CLOSING))
        return;
    c->flags |= CONN_F_DIRTY;
    c->dirty_next = NULL;
    c->dirty_prev = w->dirty_tail;
    if (w->dirty_tail)
        w->dirty_tail->dirty_next = c;
    else
        w->dirty_head = c;
    w->dirty_tail = c;
}

void worker_unmark_dirty(worker_t *w, conn_t *c)
{
    if (!(c->flags & CONN_F_DIRTY))
        return;
    c->flags &= ~CONN_F_DIRTY;
    if (c->dirty_prev)
        c->dirty_prev->dirty_next = c->dirty_next;
    else
        w->dirty_head = c->dirty_next;
    if (c->dirty_next)
        c->dirty_next->dirty_prev = c->dirty_prev;
    else
        w->dirty_tail = c->dirty_prev;
    c->dirty_next = c->dirty_prev = NULL;
}

void worker_mark_pending(worker_t *w, conn_t *c)
{
    if (c->flags & (CONN_F_PENDING | CONN_F_CLOSING))
        return;
    c->flags |= CONN_F_PENDING;
    c->pending_next = NULL;
    c->pending_prev = w->pending_tail;
    if (w->pending_tail)
        w->pending_tail->pending_next = c;
    else
        w->pending_head = c;
    w->pending_tail = c;
}

void worker_unmark_pending(worker_t *w, conn_t *c)
{
    if (!(c->flags & CONN_F_PENDING))
        return;
    c->flags &= ~CONN_F_PENDING;
    if (c->pending_prev)
        c->pending_prev->pending_next = c->pending_next;
    else
        w->pending_head = c->pending_next;
    if (c->pending_next)
        c->pending_next->pending_prev = c->pending_prev;
    else
        w->pending_tail = c->pending_prev;
    c->pending_next = c->pending_prev = NULL;
}

/* Connections with whole packets buffered get their next turn; those that
 * spend their budget again join the list for the next iteration. */
static void run_pending(worker_t *w)
{
    size_t n = 0;
    for (conn_t *c = w->pending_head; c; c = c->pending_next)
        n++;
    while (n-- && w->pending_head) {
        conn_t *c = w->pending_head;
        worker_unmark_pending(w, c);
        conn_process_pending(c);
    }
}

void worker_mark_closing(worker_t *w, conn_t *c)
{
    c->flags |= CONN_F_CLOSING;
    c->close_next = NULL;
    if (w->close_tail)
        w->close_tail->close_next = c;
    else
        w->close_head = c;
    w->close_tail = c;
}

static void link_conn(worker_t *w, conn_t *c)
{
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    if (c->listener) {
        /* The connection may outlive the listener's removal by a reload
         * until it is closed at the safe point. */
        listener_ref((listener_t *)c->listener);
        atomic_fetch_add(&((listener_t *)c->listener)->conn_count, 1);
    }
}

void worker_unlink_conn(worker_t *w, conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    if (c->listener) {
        atomic_fetch_sub(&((listener_t *)c->listener)->conn_count, 1);
        listener_unref((listener_t *)c->listener);
        c->listener = NULL;
    }
}

/* ---- connections and listeners ---- */

static conn_t *adopt(worker_t *w, int fd, const listener_t *l, const listener_spec_t *spec,
                     const struct sockaddr *sa, socklen_t len)
{
    conn_t *c = conn_create(w, fd, l, spec, sa, len);
    if (!c || ev_add(w->ev, fd, EV_READ, tag(c, TAG_CONN)) != 0) {
        mlog(MLOG_WARNING, "Warning: cannot take a new connection: %s.", strerror(errno));
        free(c);
        close(fd);
        return NULL;
    }
    link_conn(w, c);
    if (w->proto.on_accept && w->proto.on_accept(w->proto.ctx, c) != 0) {
        /* Refused: no on_close is owed; close it at the safe point. */
        conn_close(c, CONN_CLOSE_BY_PROTO);
        return NULL;
    }
    c->flags |= CONN_F_ACCEPTED;
    return c;
}

conn_t *worker_adopt(worker_t *w, int fd, const listener_t *l)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fd);
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        len = 0;
    const listener_spec_t *spec = worker_listener_settings(w, l);
    if (!spec && l)
        spec = &l->spec;
    return adopt(w, fd, l, spec, len ? (struct sockaddr *)&ss : NULL, len);
}

static void listener_resume(worker_t *w, wtimer_t *t, void *arg)
{
    worker_listener_t *wl = arg;
    if (ev_add(w->ev, wl->fd, EV_READ, tag(wl, TAG_LISTENER)) == 0)
        wl->paused = false;
    else
        wtimer_start(w, &wl->resume, ACCEPT_PAUSE_MS, listener_resume, wl);
}

static void listener_pause(worker_listener_t *wl)
{
    worker_t *w = wl->worker;
    if (wl->paused)
        return;
    mlog(MLOG_WARNING, "Warning: out of file descriptors on %s, not accepting for %d ms.",
         wl->listener->addr, ACCEPT_PAUSE_MS);
    ev_del(w->ev, wl->fd);
    wl->paused = true;
    wtimer_start(w, &wl->resume, ACCEPT_PAUSE_MS, listener_resume, wl);
}

static void on_acceptable(worker_listener_t *wl)
{
    worker_t *w = wl->worker;
    listener_t *l = wl->listener;
    for (int i = 0; i < ACCEPT_BATCH && !wl->paused; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(wl->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
#if EAGAIN != EWOULDBLOCK
            case EWOULDBLOCK:
#endif
                return;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
                continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                listener_pause(wl);
                return;
            default:
                mlog(MLOG_WARNING, "Warning: accept on %s: %s.", l->addr, strerror(errno));
                return;
            }
        }
        if (wl->spec.max_connections >= 0 &&
            atomic_load(&l->conn_count) >= wl->spec.max_connections) {
            mlog(MLOG_NOTICE, "Client connection refused: %s reached max_connections (%d).",
                 l->addr, wl->spec.max_connections);
            close(fd);
            continue;
        }
        if (wl->spec.tcp_nodelay)
            set_tcp_nodelay(fd, true);
        adopt(w, fd, l, &wl->spec, (struct sockaddr *)&ss, len);
    }
}

int worker_add_listener(worker_t *w, listener_t *l, int fd, const listener_spec_t *spec)
{
    worker_listener_t **v = realloc(w->listeners, (w->nlisteners + 1) * sizeof *v);
    if (!v)
        return -1;
    w->listeners = v;
    worker_listener_t *wl = calloc(1, sizeof *wl);
    if (!wl)
        return -1;
    wl->worker = w;
    wl->listener = l;
    wl->spec = *spec;
    wl->fd = fd;
    wtimer_init(&wl->resume);
    if (ev_add(w->ev, fd, EV_READ, tag(wl, TAG_LISTENER)) != 0) {
        free(wl);
        return -1;
    }
    w->listeners[w->nlisteners++] = wl;
    return 0;
}

/* Stops polling wl, closes this worker's socket of it and every
 * connection this worker accepted on it. */
static void remove_listener(worker_t *w, size_t idx)
{
    worker_listener_t *wl = w->listeners[idx];
    listener_t *l = wl->listener;
    if (!wl->paused)
        ev_del(w->ev, wl->fd);
    wtimer_stop(w, &wl->resume);
    if (w->id < l->nfds && l->fds[w->id] == wl->fd) {
        close(wl->fd);
        l->fds[w->id] = -1;
    }
    w->listeners[idx] = w->listeners[--w->nlisteners];
    free(wl);
    unsigned closed = 0;
    for (conn_t *c = w->conns; c; c = c->next)
        if (c->listener == l && !(c->flags & CONN_F_CLOSING)) {
            conn_close(c, CONN_CLOSE_BY_PROTO);
            closed++;
        }
    if (closed)
        mlog(MLOG_NOTICE, "Closing %u connection%s of removed listener %s.", closed,
             closed == 1 ? "" : "s", l->addr);
}

void worker_sync_listeners(worker_t *w, listener_t *const *ls, const listener_spec_t *specs,
                           size_t n, void *conf)
{
    for (size_t i = w->nlisteners; i-- > 0;) {
        worker_listener_t *wl = w->listeners[i];
        size_t k = 0;
        while (k < n && ls[k] != wl->listener)
            k++;
        if (k == n)
            remove_listener(w, i);
        else
            wl->spec = specs[k];
    }
    for (size_t k = 0; k < n; k++) {
        listener_t *l = ls[k];
        if (!l || find_listener(w, l))
            continue;
        int fd = w->id < l->nfds ? l->fds[w->id] : -1;
        if (fd < 0 || worker_add_listener(w, l, fd, &specs[k]) != 0)
            mlog(MLOG_ERROR, "Error: worker %u cannot poll %s: %s.", w->id, l->addr,
                 strerror(errno));
    }
    w->conf = conf;
}

/* ---- inbox ---- */

int worker_post(worker_t *w, worker_fn fn, void *arg)
{
    job_t *j = malloc(sizeof *j);
    if (!j)
        return -1;
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&w->inbox_lock);
    bool was_empty = w->inbox_head == NULL;
    if (w->inbox_tail)
        w->inbox_tail->next = j;
    else
        w->inbox_head = j;
    w->inbox_tail = j;
    pthread_mutex_unlock(&w->inbox_lock);
    if (was_empty)
        wake(w);
    return 0;
}

/* Runs the jobs queued so far; jobs they post run next time, so a job
 * that re-posts itself cannot keep the loop here. */
bool worker_run_inbox(worker_t *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    job_t *j = w->inbox_head;
    w->inbox_head = w->inbox_tail = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    bool ran = j != NULL;
    while (j) {
        job_t *next = j->next;
        j->fn(w, j->arg);
        free(j);
        j = next;
    }
    return ran;
}

/* ---- the loop ---- */

static void run_timers(worker_t *w)
{
    /* Only timers started before this point: one restarted with delay 0
     * by its own callback waits for the next iteration. */
    uint64_t seq_limit = w->timers.next_seq;
    wtimer_t *t;
    while ((t = wtimer_heap_peek(&w->timers)) && t->deadline <= w->now_ms && t->seq < seq_limit) {
        wtimer_heap_remove(&w->timers, t);
        t->fn(w, t, t->arg);
    }
}

static void flush_dirty(worker_t *w)
{
    /* Take the list: connections dirtied while flushing (conn_want_flush
     * from on_flush, writes to other connections) go on a fresh list for
     * the next iteration, which then does not sleep. */
    conn_t *c = w->dirty_head;
    w->dirty_head = w->dirty_tail = NULL;
    while (c) {
        conn_t *next = c->dirty_next;
        c->flags &= ~CONN_F_DIRTY;
        c->dirty_next = c->dirty_prev = NULL;
        /* `next` stays valid: nothing is freed before the close step, and
         * it keeps CONN_F_DIRTY until reached, so marking it again while
         * flushing `c` does not move it to the new list. */
        conn_flush(c);
        c = next;
    }
}

static void close_pending(worker_t *w)
{
    /* on_close may close other connections: they join this list. */
    while (w->close_head) {
        conn_t *c = w->close_head;
        w->close_head = c->close_next;
        if (!w->close_head)
            w->close_tail = NULL;
        conn_destroy(c);
    }
}

static int wait_timeout(worker_t *w, int max_wait_ms)
{
    if (w->dirty_head || w->close_head || w->pending_head || atomic_load(&w->stop_requested))
        return 0;
    int timeout = max_wait_ms;
    wtimer_t *t = wtimer_heap_peek(&w->timers);
    if (t) {
        uint64_t now = mono_ms();
        uint64_t d = t->deadline > now ? t->deadline - now : 0;
        if (d > INT32_MAX)
            d = INT32_MAX;
        if (timeout < 0 || (int)d < timeout)
            timeout = (int)d;
    }
    return timeout;
}

static void handle_event(worker_t *w, const ev_event_t *e)
{
    uintptr_t p = (uintptr_t)e->ptr;
    switch (p & TAG_MASK) {
    case TAG_CONN: {
        conn_t *c = (conn_t *)p;
        if (c->flags & CONN_F_CLOSING)
            return;
        if (e->mask & EV_WRITE)
            conn_on_writable(c);
        if ((e->mask & EV_ERROR) && (c->flags & CONN_F_PAUSED))
            /* Hang-up or error is reported even with reading off; the
             * socket is dead (a TCP peer's plain close only shows as
             * readable), so end it rather than be woken for it forever. */
            conn_close(c, CONN_CLOSE_IO_ERROR);
        else if (e->mask & (EV_READ | EV_ERROR))
            conn_on_readable(c);
        return;
    }
    case TAG_LISTENER:
        on_acceptable((worker_listener_t *)(p & ~(uintptr_t)TAG_MASK));
        return;
    case TAG_WAKE: {
        uint64_t v;
        ssize_t r = read(w->wake_fd, &v, sizeof v);
        (void)r;
        return;
    }
    }
}

void worker_run_once(worker_t *w, int max_wait_ms)
{
    current_worker = w;
    ev_event_t events[256];
    int n = ev_wait(w->ev, events, 256, wait_timeout(w, max_wait_ms));
    w->now_ms = mono_ms();
    /* Earlier iterations' leftovers before new input, so a connection
     * that spent its budget does not also go first. */
    run_pending(w);
    for (int i = 0; i < n; i++)
        handle_event(w, &events[i]);
    worker_run_inbox(w);
    run_timers(w);
    if (w->proto.on_worker_tick)
        w->proto.on_worker_tick(w->proto.ctx, w);
    flush_dirty(w);
    close_pending(w);
}

void worker_request_stop(worker_t *w)
{
    atomic_store(&w->stop_requested, true);
    wake(w);
}

void worker_run(worker_t *w)
{
    current_worker = w;
    w->started = true;
    w->now_ms = mono_ms();
    if (w->proto.on_worker_start)
        w->proto.on_worker_start(w->proto.ctx, w);
    while (!atomic_load(&w->stop_requested))
        worker_run_once(w, -1);
    worker_shutdown(w);
}

void worker_shutdown(worker_t *w)
{
    current_worker = w;
    if (w->stopping)
        return;
    w->stopping = true;
    w->now_ms = mono_ms();
    for (size_t i = 0; i < w->nlisteners; i++) {
        worker_listener_t *wl = w->listeners[i];
        if (!wl->paused)
            ev_del(w->ev, wl->fd);
        wtimer_stop(w, &wl->resume);
    }
    /* Let already-queued work finish so what it wrote is flushed below. */
    worker_run_inbox(w);
    for (conn_t *c = w->conns; c; c = c->next)
        conn_close(c, CONN_CLOSE_SHUTDOWN);
    flush_dirty(w);
    close_pending(w);
    if (w->started && w->proto.on_worker_stop)
        w->proto.on_worker_stop(w->proto.ctx, w);
}

void worker_destroy(worker_t *w)
{
    if (!w)
        return;
    current_worker = w;
    w->stopping = true;
    /* Connections still open (a test that never shut down) end here too. */
    for (conn_t *c = w->conns; c; c = c->next)
        conn_close(c, CONN_CLOSE_SHUTDOWN);
    close_pending(w);
    for (int round = 0; round < 100 && worker_run_inbox(w); round++)
        continue;
    for (size_t i = 0; i < w->nlisteners; i++) {
        wtimer_stop(w, &w->listeners[i]->resume);
        free(w->listeners[i]);
    }
    free(w->listeners);
    wtimer_heap_free(&w->timers);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    ev_backend_destroy(w->ev);
    free(w->scratch);
    pthread_mutex_destroy(&w->inbox_lock);
    current_worker = NULL;
    free(w);
}
