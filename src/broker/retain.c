/*
 * A tree of topic levels like the subscription tree, but keyed by topic
 * names and walked by a filter: '+' visits every child, '#' a whole
 * subtree. Nodes without a message and without children are pruned.
 */
#include "broker/retain.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "broker/level_map.h"

typedef struct rnode {
    lm_node_t base; /* first: an rnode_t * is an lm_node_t * */
    msg_t *msg;
    char name[];
} rnode_t;

struct retain_store {
    pthread_rwlock_t lock;
    uint64_t seed;
    rnode_t *root;
    _Atomic size_t count;
    _Atomic size_t bytes;
    lm_level_t *wlevels; /* writers' scratch, under the write lock */
    size_t wlevels_cap;
};

typedef struct {
    const rnode_t *node;
    size_t depth; /* filter level to match next; SIZE_MAX: take the subtree */
} rframe_t;

retain_store_t *retain_new(void)
{
    retain_store_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&s->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    s->root = calloc(1, sizeof *s->root + 1);
    if (rc != 0 || s->root == NULL) {
        if (rc == 0)
            pthread_rwlock_destroy(&s->lock);
        free(s->root);
        free(s);
        return NULL;
    }
    s->root->base.level = s->root->name;
    s->seed = lm_seed();
    atomic_init(&s->count, 0);
    atomic_init(&s->bytes, 0);
    return s;
}

void retain_free(retain_store_t *s)
{
    if (s == NULL)
        return;
    /* Leaf-first teardown without recursion; kid_cap serves as the scan
     * cursor since nothing looks up during teardown. */
    rnode_t *cur = s->root;
    while (cur != NULL) {
        rnode_t *next = NULL;
        while (next == NULL && cur->base.kid_cap > 0)
            next = (rnode_t *)cur->base.kids[--cur->base.kid_cap];
        if (next != NULL) {
            cur = next;
            continue;
        }
        rnode_t *parent = cur == s->root ? NULL : (rnode_t *)cur->base.parent;
        msg_unref(cur->msg);
        lm_release(&cur->base);
        free(cur);
        cur = parent;
    }
    free(s->wlevels);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

static void prune(retain_store_t *s, rnode_t *n)
{
    while (n != s->root && n->msg == NULL && n->base.kid_n == 0) {
        rnode_t *p = (rnode_t *)n->base.parent;
        lm_remove(&p->base, &n->base);
        lm_release(&n->base);
        free(n);
        n = p;
    }
}

/* The node of topic (split in s->wlevels), created if `create`. NULL if
 * absent or out of memory. Write lock held. */
static rnode_t *find_topic(retain_store_t *s, mqtt_bytes_t topic, bool create)
{
    const char *str = (const char *)topic.data;
    long n = lm_split(s->seed, str, topic.len, &s->wlevels, &s->wlevels_cap);
    if (n < 0)
        return NULL;
    rnode_t *cur = s->root;
    for (long i = 0; i < n; i++) {
        const lm_level_t *l = &s->wlevels[i];
        rnode_t *next = (rnode_t *)lm_find(&cur->base, str + l->off, l->len, l->hash);
        if (next == NULL) {
            if (!create)
                return NULL;
            if (lm_reserve(&cur->base) != 0 ||
                (next = calloc(1, sizeof *next + l->len + 1)) == NULL) {
                prune(s, cur);
                return NULL;
            }
            memcpy(next->name, str + l->off, l->len);
            next->base.level = next->name;
            next->base.len = l->len;
            next->base.hash = l->hash;
            lm_insert(&cur->base, &next->base);
        }
        cur = next;
    }
    return cur;
}

static void drop_msg(retain_store_t *s, rnode_t *n)
{
    atomic_fetch_sub_explicit(&s->count, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->bytes, n->msg->payload_len, memory_order_relaxed);
    msg_unref(n->msg);
    n->msg = NULL;
}

bool retain_remove(retain_store_t *s, mqtt_bytes_t topic)
{
    bool had = false;
    pthread_rwlock_wrlock(&s->lock);
    rnode_t *n = find_topic(s, topic, false);
    if (n != NULL && n->msg != NULL) {
        drop_msg(s, n);
        had = true;
        prune(s, n);
    }
    pthread_rwlock_unlock(&s->lock);
    return had;
}

int retain_set(retain_store_t *s, msg_t *m)
{
    mqtt_bytes_t topic = {(const uint8_t *)m->topic, m->topic_len};
    if (m->payload_len == 0) {
        retain_remove(s, topic);
        return 0;
    }
    int rc = 0;
    pthread_rwlock_wrlock(&s->lock);
    rnode_t *n = find_topic(s, topic, true);
    if (n == NULL) {
        rc = -1;
    } else {
        if (n->msg != NULL)
            drop_msg(s, n);
        n->msg = msg_ref(m);
        atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->bytes, m->payload_len, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static int push_frame(rframe_t **stack, size_t *cap, size_t sp, const rnode_t *n, size_t depth)
{
    if (sp == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        rframe_t *ns = realloc(*stack, ncap * sizeof *ns);
        if (ns == NULL)
            return -1;
        *stack = ns;
        *cap = ncap;
    }
    (*stack)[sp].node = n;
    (*stack)[sp].depth = depth;
    return 0;
}

/* '$' topics are not matched by a wildcard in the first filter level. */
static bool hidden_at_root(const rnode_t *n, size_t depth)
{
    return depth == 0 && n->base.len > 0 && n->base.level[0] == '$';
}

typedef struct {
    int64_t now_ms;
    msg_vec_t *out;
    msg_vec_t *expired;
    int appended;
} collect_t;

static int collect(collect_t *c, const rnode_t *n)
{
    if (n->msg == NULL)
        return 0;
    if (msg_expired(n->msg, c->now_ms))
        return msg_vec_push(c->expired, n->msg);
    if (msg_vec_push(c->out, n->msg) != 0)
        return -1;
    c->appended++;
    return 0;
}

static int match_locked(retain_store_t *s, mqtt_bytes_t filter, lm_level_t **levels,
                        size_t *levels_cap, collect_t *c)
{
    const char *f = (const char *)filter.data;
    long nlev = lm_split(s->seed, f, filter.len, levels, levels_cap);
    if (nlev < 0)
        return -1;
    rframe_t *stack = NULL;
    size_t cap = 0, sp = 0;
    int rc = push_frame(&stack, &cap, sp++, s->root, 0);
    while (rc == 0 && sp > 0) {
        rframe_t fr = stack[--sp];
        const rnode_t *n = fr.node;
        const lm_node_t *b = &n->base;
        if (fr.depth == SIZE_MAX || (fr.depth < (size_t)nlev && (*levels)[fr.depth].len == 1 &&
                                     f[(*levels)[fr.depth].off] == '#')) {
            /* '#': this node (the parent level) and everything below. */
            bool at_root = fr.depth == 0;
            rc = collect(c, n);
            for (uint32_t i = 0; rc == 0 && i < b->kid_cap; i++) {
                const rnode_t *k = (const rnode_t *)b->kids[i];
                if (k != NULL && !(at_root && hidden_at_root(k, 0)))
                    rc = push_frame(&stack, &cap, sp++, k, SIZE_MAX);
            }
            continue;
        }
        if (fr.depth == (size_t)nlev) {
            rc = collect(c, n);
            continue;
        }
        const lm_level_t *l = &(*levels)[fr.depth];
        if (l->len == 1 && f[l->off] == '+') {
            for (uint32_t i = 0; rc == 0 && i < b->kid_cap; i++) {
                const rnode_t *k = (const rnode_t *)b->kids[i];
                if (k != NULL && !hidden_at_root(k, fr.depth))
                    rc = push_frame(&stack, &cap, sp++, k, fr.depth + 1);
            }
            continue;
        }
        const rnode_t *k = (const rnode_t *)lm_find(b, f + l->off, l->len, l->hash);
        if (k != NULL)
            rc = push_frame(&stack, &cap, sp++, k, fr.depth + 1);
    }
    free(stack);
    return rc;
}

int retain_match(retain_store_t *s, mqtt_bytes_t filter, int64_t now_ms, msg_vec_t *out)
{
    msg_vec_t expired = {0};
    collect_t c = {.now_ms = now_ms, .out = out, .expired = &expired, .appended = 0};
    lm_level_t *levels = NULL;
    size_t levels_cap = 0;
    pthread_rwlock_rdlock(&s->lock);
    int rc = match_locked(s, filter, &levels, &levels_cap, &c);
    pthread_rwlock_unlock(&s->lock);
    free(levels);
    if (expired.n > 0) {
        /* Remove what expired, unless it was replaced in the meantime. */
        pthread_rwlock_wrlock(&s->lock);
        for (size_t i = 0; i < expired.n; i++) {
            msg_t *m = expired.v[i];
            rnode_t *n =
                find_topic(s, (mqtt_bytes_t){(const uint8_t *)m->topic, m->topic_len}, false);
            if (n != NULL && n->msg == m) {
                drop_msg(s, n);
                prune(s, n);
            }
        }
        pthread_rwlock_unlock(&s->lock);
    }
    msg_vec_free(&expired);
    return rc == 0 ? c.appended : -1;
}

size_t retain_count(retain_store_t *s)
{
    return atomic_load_explicit(&s->count, memory_order_relaxed);
}

size_t retain_payload_bytes(retain_store_t *s)
{
    return atomic_load_explicit(&s->bytes, memory_order_relaxed);
}

/* Visits every node holding a message, depth-first, calling fn(arg, n);
 * stops at the first non-zero return. Lock held by the caller. */
static int walk_all(retain_store_t *s, int (*fn)(void *arg, rnode_t *n), void *arg)
{
    rframe_t *stack = NULL;
    size_t cap = 0, sp = 0;
    int rc = push_frame(&stack, &cap, sp++, s->root, 0);
    if (rc != 0)
        return rc;
    while (rc == 0 && sp > 0) {
        rnode_t *n = (rnode_t *)stack[--sp].node;
        for (uint32_t i = 0; rc == 0 && i < n->base.kid_cap; i++)
            if (n->base.kids[i] != NULL)
                rc = push_frame(&stack, &cap, sp++, (rnode_t *)n->base.kids[i], 0);
        if (rc == 0 && n->msg != NULL)
            rc = fn(arg, n);
    }
    free(stack);
    return rc;
}

typedef struct {
    int (*fn)(void *arg, msg_t *m);
    void *arg;
} foreach_t;

static int foreach_node(void *arg, rnode_t *n)
{
    foreach_t *f = arg;
    return f->fn(f->arg, n->msg);
}

int retain_foreach(retain_store_t *s, int (*fn)(void *arg, msg_t *m), void *arg)
{
    foreach_t f = {fn, arg};
    pthread_rwlock_rdlock(&s->lock);
    int rc = walk_all(s, foreach_node, &f);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

typedef struct {
    int64_t now_ms;
    msg_vec_t expired;
} expire_t;

static int expire_node(void *arg, rnode_t *n)
{
    expire_t *e = arg;
    if (msg_expired(n->msg, e->now_ms))
        return msg_vec_push(&e->expired, n->msg);
    return 0;
}

size_t retain_expire(retain_store_t *s, int64_t now_ms)
{
    expire_t e = {.now_ms = now_ms, .expired = {0}};
    size_t removed = 0;
    /* Find under the read lock, remove under the write lock: the scan is
     * long, and publishers must not wait behind it. */
    pthread_rwlock_rdlock(&s->lock);
    walk_all(s, expire_node, &e);
    pthread_rwlock_unlock(&s->lock);
    if (e.expired.n == 0) {
        msg_vec_free(&e.expired);
        return 0;
    }
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < e.expired.n; i++) {
        msg_t *m = e.expired.v[i];
        rnode_t *n = find_topic(s, (mqtt_bytes_t){(const uint8_t *)m->topic, m->topic_len}, false);
        if (n != NULL && n->msg == m) {
            drop_msg(s, n);
            prune(s, n);
            removed++;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    msg_vec_free(&e.expired);
    return removed;
}
