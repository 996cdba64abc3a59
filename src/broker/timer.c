#include "timer.h"

#include <stdlib.h>

#include "net_internal.h"

void wtimer_init(wtimer_t *t)
{
    t->index = WTIMER_INACTIVE;
    t->fn = NULL;
    t->arg = NULL;
}

bool wtimer_active(const wtimer_t *t)
{
    return t->index != WTIMER_INACTIVE;
}

/* a fires before b: earlier deadline, or started earlier. */
static bool before(const wtimer_t *a, const wtimer_t *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(wtimer_heap_t *h, size_t i, wtimer_t *t)
{
    h->items[i] = t;
    t->index = i;
}

static void sift_up(wtimer_heap_t *h, size_t i)
{
    wtimer_t *t = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(wtimer_heap_t *h, size_t i)
{
    wtimer_t *t = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && before(h->items[child + 1], h->items[child]))
            child++;
        if (!before(h->items[child], t))
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

void wtimer_heap_init(wtimer_heap_t *h)
{
    h->items = NULL;
    h->len = h->cap = 0;
    h->next_seq = 0;
}

void wtimer_heap_free(wtimer_heap_t *h)
{
    for (size_t i = 0; i < h->len; i++)
        h->items[i]->index = WTIMER_INACTIVE;
    free(h->items);
    wtimer_heap_init(h);
}

int wtimer_heap_add(wtimer_heap_t *h, wtimer_t *t, uint64_t deadline)
{
    if (wtimer_active(t))
        wtimer_heap_remove(h, t);
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        wtimer_t **items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return -1;
        h->items = items;
        h->cap = cap;
    }
    t->deadline = deadline;
    t->seq = h->next_seq++;
    place(h, h->len++, t);
    sift_up(h, t->index);
    return 0;
}

void wtimer_heap_remove(wtimer_heap_t *h, wtimer_t *t)
{
    size_t i = t->index;
    if (i == WTIMER_INACTIVE || i >= h->len || h->items[i] != t)
        return;
    t->index = WTIMER_INACTIVE;
    wtimer_t *last = h->items[--h->len];
    if (i == h->len)
        return;
    place(h, i, last);
    /* The moved element may belong above or below its new position. */
    if (i > 0 && before(last, h->items[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

wtimer_t *wtimer_heap_peek(const wtimer_heap_t *h)
{
    return h->len ? h->items[0] : NULL;
}

int wtimer_start(worker_t *w, wtimer_t *t, uint64_t delay_ms, wtimer_fn fn, void *arg)
{
    t->fn = fn;
    t->arg = arg;
    /* "Never" (session expiry 0xFFFFFFFF s) must not wrap to "now". */
    uint64_t deadline = delay_ms > UINT64_MAX - w->now_ms ? UINT64_MAX : w->now_ms + delay_ms;
    return wtimer_heap_add(&w->timers, t, deadline);
}

void wtimer_stop(worker_t *w, wtimer_t *t)
{
    wtimer_heap_remove(&w->timers, t);
}
