/*
 * Per-worker timers (keep-alive, CONNECT deadline, will delay, session
 * expiry) on a binary min-heap: O(log n) start, stop and restart, O(1) to
 * find the next deadline, which becomes the epoll_wait timeout.
 *
 * The caller owns the wtimer_t memory (embed it in the object it times),
 * so starting and stopping never allocate per timer and a stopped timer is
 * simply not in the heap: stopping twice, or stopping a timer that already
 * fired, is safe. A timer belongs to the worker it was started on; only
 * that worker's thread may start or stop it. Stop it before freeing it.
 */
#ifndef MIDGE_BROKER_TIMER_H
#define MIDGE_BROKER_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct worker worker_t;
typedef struct wtimer wtimer_t;

/* Runs on the worker thread. The timer is already inactive, so the
 * callback may restart it, stop or free it. */
typedef void (*wtimer_fn)(worker_t *w, wtimer_t *t, void *arg);

struct wtimer {
    uint64_t deadline; /* worker clock, ms */
    uint64_t seq;      /* start order: equal deadlines fire first-in first */
    size_t index;      /* position in the heap; WTIMER_INACTIVE if none */
    wtimer_fn fn;
    void *arg;
};

#define WTIMER_INACTIVE ((size_t)-1)

/* Marks t inactive; call once before first use (or zero it and call this). */
void wtimer_init(wtimer_t *t);
bool wtimer_active(const wtimer_t *t);

/* (Re)starts t to fire delay_ms from the worker's current time. Returns
 * 0, or -1 if the heap could not grow (t stays inactive). */
int wtimer_start(worker_t *w, wtimer_t *t, uint64_t delay_ms, wtimer_fn fn, void *arg);
void wtimer_stop(worker_t *w, wtimer_t *t);

/* ---- The heap itself, used by worker.c and tests ---- */
typedef struct {
    wtimer_t **items;
    size_t len, cap;
    uint64_t next_seq;
} wtimer_heap_t;

void wtimer_heap_init(wtimer_heap_t *h);
void wtimer_heap_free(wtimer_heap_t *h);
int wtimer_heap_add(wtimer_heap_t *h, wtimer_t *t, uint64_t deadline);
void wtimer_heap_remove(wtimer_heap_t *h, wtimer_t *t);
/* The earliest timer, NULL if none. */
wtimer_t *wtimer_heap_peek(const wtimer_heap_t *h);

#endif
