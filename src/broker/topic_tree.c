/*
 * Layout. Every node holds its subscriptions in an array of entries
 * (session, options, identifier) that matching scans linearly, and its
 * shared groups in a small array. Every session with subscriptions has a
 * record listing where its entries are (node, group, index), non-shared
 * and shared apart; entries point back at their slot in that record. Both
 * sides are kept in sync by swap-removal. Finding a session's subscription
 * scans the shorter of the session's list and the node's entries, so
 * neither a client with thousands of filters nor a filter with thousands
 * of clients makes subscribe, unsubscribe or session end quadratic.
 *
 * Merging overlapping subscriptions needs to know whether a session can
 * match twice. An entry carries `multi` when its session has more than one
 * non-shared subscription: matching emits the others directly and only
 * sorts and merges the `multi` ones.
 */
#include "broker/topic_tree.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "broker/level_map.h"

typedef struct tnode tnode_t;
typedef struct srec srec_t;

typedef struct {
    void *session;
    srec_t *rec;
    uint32_t rec_idx;
    uint32_t sub_id;
    uint8_t opts;
    bool multi;
    bool shared; /* in a group: rec_idx indexes rec->shared, else rec->plain */
} entry_t;

typedef struct {
    entry_t *v;
    uint32_t n;
    uint32_t cap;
} entvec_t;

typedef struct {
    entvec_t members;
    _Atomic uint32_t rr;
    uint32_t name_len;
    char name[];
} sgroup_t;

struct tnode {
    lm_node_t base; /* first: a tnode_t * is an lm_node_t * */
    tnode_t *plus;  /* the '+' child */
    tnode_t *hash;  /* the '#' child */
    entvec_t subs;
    sgroup_t **groups;
    uint32_t ngroups;
    uint32_t groups_cap;
    char name[];
};

typedef struct {
    tnode_t *node;
    sgroup_t *group; /* NULL: a non-shared subscription in node->subs */
    uint32_t idx;    /* index in node->subs or group->members */
} ritem_t;

typedef struct {
    ritem_t *v;
    uint32_t n;
    uint32_t cap;
} ritems_t;

/* Non-shared and shared subscriptions are listed apart: merging only cares
 * about the first kind, and must find them without walking the second. */
struct srec {
    void *session;
    ritems_t plain;
    ritems_t shared;
};

/*
 * The tree's lock is a "big reader" lock: one read-write lock per slot,
 * each on its own cache line. A reader takes only the slot of its thread,
 * so workers matching in parallel never write to a shared cache line; a
 * writer takes every slot, in order. Subscriptions change far less often
 * than messages are routed, which is the trade this makes.
 */
#define TT_LOCK_SLOTS 16

typedef struct {
    pthread_rwlock_t lock;
    char pad[64 - sizeof(pthread_rwlock_t) % 64];
} lock_slot_t;

struct topic_tree {
    lock_slot_t slots[TT_LOCK_SLOTS]; /* first: the tree is 64-byte aligned */
    uint64_t seed;
    tnode_t *root;
    srec_t **recs; /* open addressing by session pointer */
    size_t rec_cap;
    size_t rec_n;
    size_t nodes;
    size_t subs;
    tt_prefer_fn prefer;
    /* Scratch for writers (under the write lock). */
    lm_level_t *wlevels;
    size_t wlevels_cap;
};

/* ---- locking ---- */

static _Atomic unsigned lock_slot_next;
static _Thread_local unsigned lock_slot_mine = UINT_MAX;

static unsigned read_lock(topic_tree_t *t)
{
    if (lock_slot_mine == UINT_MAX)
        lock_slot_mine =
            atomic_fetch_add_explicit(&lock_slot_next, 1, memory_order_relaxed) % TT_LOCK_SLOTS;
    unsigned slot = lock_slot_mine;
    pthread_rwlock_rdlock(&t->slots[slot].lock);
    return slot;
}

static void read_unlock(topic_tree_t *t, unsigned slot)
{
    pthread_rwlock_unlock(&t->slots[slot].lock);
}

static void write_lock(topic_tree_t *t)
{
    for (unsigned i = 0; i < TT_LOCK_SLOTS; i++)
        pthread_rwlock_wrlock(&t->slots[i].lock);
}

static void write_unlock(topic_tree_t *t)
{
    for (unsigned i = TT_LOCK_SLOTS; i-- > 0;)
        pthread_rwlock_unlock(&t->slots[i].lock);
}

/* ---- small helpers ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (np == NULL)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static int entvec_reserve(entvec_t *v)
{
    if (v->n < v->cap)
        return 0;
    uint32_t ncap = v->cap ? v->cap * 2 : 4;
    if (ncap < v->cap)
        return -1;
    entry_t *nv = realloc(v->v, (size_t)ncap * sizeof *nv);
    if (nv == NULL)
        return -1;
    v->v = nv;
    v->cap = ncap;
    return 0;
}

static int ritems_reserve(ritems_t *l)
{
    if (l->n < l->cap)
        return 0;
    uint32_t ncap = l->cap ? l->cap * 2 : 4;
    if (ncap < l->cap)
        return -1;
    ritem_t *nv = realloc(l->v, (size_t)ncap * sizeof *nv);
    if (nv == NULL)
        return -1;
    l->v = nv;
    l->cap = ncap;
    return 0;
}

static ritems_t *entry_items(const entry_t *e)
{
    return e->shared ? &e->rec->shared : &e->rec->plain;
}

static entvec_t *item_vec(const ritem_t *it)
{
    return it->group ? &it->group->members : &it->node->subs;
}

static entry_t *item_entry(const ritem_t *it)
{
    return &item_vec(it)->v[it->idx];
}

static tnode_t *node_new(tnode_t *parent, const char *s, uint32_t len, uint64_t hash)
{
    tnode_t *n = calloc(1, sizeof *n + len + 1);
    if (n == NULL)
        return NULL;
    memcpy(n->name, s, len);
    n->base.level = n->name;
    n->base.len = len;
    n->base.hash = hash;
    n->base.parent = &parent->base;
    return n;
}

static bool node_empty(const tnode_t *n)
{
    return n->subs.n == 0 && n->ngroups == 0 && n->base.kid_n == 0 && n->plus == NULL &&
           n->hash == NULL;
}

static tnode_t *node_parent(const tnode_t *n)
{
    return (tnode_t *)n->base.parent;
}

/* Frees n and its empty ancestors, stopping at the root. */
static void prune(topic_tree_t *t, tnode_t *n)
{
    while (n != t->root && node_empty(n)) {
        tnode_t *p = node_parent(n);
        if (p->plus == n)
            p->plus = NULL;
        else if (p->hash == n)
            p->hash = NULL;
        else
            lm_remove(&p->base, &n->base);
        free(n->subs.v);
        free(n->groups);
        lm_release(&n->base);
        free(n);
        t->nodes--;
        n = p;
    }
}

/* ---- session records ---- */

static size_t ptr_slot(const void *p, size_t mask)
{
    return (size_t)lm_mix((uint64_t)(uintptr_t)p, 0x9E3779B97F4A7C15ull) & mask;
}

static srec_t *rec_find(const topic_tree_t *t, const void *session)
{
    if (t->rec_n == 0)
        return NULL;
    size_t mask = t->rec_cap - 1;
    for (size_t i = ptr_slot(session, mask);; i = (i + 1) & mask) {
        srec_t *r = t->recs[i];
        if (r == NULL)
            return NULL;
        if (r->session == session)
            return r;
    }
}

static void rec_table_put(srec_t **tab, size_t cap, srec_t *r)
{
    size_t mask = cap - 1;
    size_t i = ptr_slot(r->session, mask);
    while (tab[i] != NULL)
        i = (i + 1) & mask;
    tab[i] = r;
}

static srec_t *rec_get(topic_tree_t *t, void *session)
{
    srec_t *r = rec_find(t, session);
    if (r != NULL)
        return r;
    if ((t->rec_n + 1) * 4 > t->rec_cap * 3) {
        size_t cap = t->rec_cap ? t->rec_cap * 2 : 16;
        srec_t **tab = calloc(cap, sizeof *tab);
        if (tab == NULL)
            return NULL;
        for (size_t i = 0; i < t->rec_cap; i++)
            if (t->recs[i] != NULL)
                rec_table_put(tab, cap, t->recs[i]);
        free(t->recs);
        t->recs = tab;
        t->rec_cap = cap;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->session = session;
    rec_table_put(t->recs, t->rec_cap, r);
    t->rec_n++;
    return r;
}

static void rec_drop(topic_tree_t *t, srec_t *r)
{
    size_t mask = t->rec_cap - 1;
    size_t hole = ptr_slot(r->session, mask);
    while (t->recs[hole] != r)
        hole = (hole + 1) & mask;
    for (size_t j = (hole + 1) & mask; t->recs[j] != NULL; j = (j + 1) & mask) {
        size_t home = ptr_slot(t->recs[j]->session, mask);
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            t->recs[hole] = t->recs[j];
            hole = j;
        }
    }
    t->recs[hole] = NULL;
    t->rec_n--;
    free(r->plain.v);
    free(r->shared.v);
    free(r);
}

/* Keeps entry.multi equal to "the session has more than one non-shared
 * subscription" after the count of those changed. */
static void rec_update_multi(srec_t *r)
{
    bool multi = r->plain.n > 1;
    if (r->plain.n > 2)
        return; /* every entry already has multi set */
    for (uint32_t i = 0; i < r->plain.n; i++)
        item_entry(&r->plain.v[i])->multi = multi;
}

/* ---- filters ---- */

bool tt_filter_is_shared(mqtt_bytes_t filter, mqtt_bytes_t *group, mqtt_bytes_t *inner)
{
    static const char prefix[] = "$share/";
    const size_t plen = sizeof prefix - 1;
    if (filter.len <= plen || memcmp(filter.data, prefix, plen) != 0)
        return false;
    const uint8_t *g = filter.data + plen;
    const uint8_t *end = filter.data + filter.len;
    const uint8_t *slash = memchr(g, '/', (size_t)(end - g));
    if (slash == NULL || slash == g || slash + 1 >= end)
        return false;
    if (group != NULL) {
        group->data = g;
        group->len = (size_t)(slash - g);
    }
    if (inner != NULL) {
        inner->data = slash + 1;
        inner->len = (size_t)(end - slash - 1);
    }
    return true;
}

typedef struct {
    mqtt_bytes_t inner;
    mqtt_bytes_t group; /* len 0: not shared */
    long nlev;
} pfilter_t;

/* Splits the filter into t->wlevels and checks the wildcard structure the
 * tree relies on. Write lock held. */
static int parse_filter(topic_tree_t *t, mqtt_bytes_t filter, pfilter_t *pf)
{
    if (filter.len == 0 || filter.len > 65535)
        return TT_ERR_FILTER;
    pf->group.data = NULL;
    pf->group.len = 0;
    pf->inner = filter;
    if (filter.len >= 7 && memcmp(filter.data, "$share/", 7) == 0) {
        if (!tt_filter_is_shared(filter, &pf->group, &pf->inner))
            return TT_ERR_FILTER;
        if (memchr(pf->group.data, '+', pf->group.len) ||
            memchr(pf->group.data, '#', pf->group.len))
            return TT_ERR_FILTER;
    }
    const char *s = (const char *)pf->inner.data;
    long n = lm_split(t->seed, s, pf->inner.len, &t->wlevels, &t->wlevels_cap);
    if (n < 0)
        return TT_ERR_NOMEM;
    for (long i = 0; i < n; i++) {
        const lm_level_t *l = &t->wlevels[i];
        const char *ls = s + l->off;
        bool wild = memchr(ls, '+', l->len) || memchr(ls, '#', l->len);
        if (wild && l->len != 1)
            return TT_ERR_FILTER;
        if (l->len == 1 && ls[0] == '#' && i != n - 1)
            return TT_ERR_FILTER;
    }
    pf->nlev = n;
    return TT_OK;
}

static bool level_is(const char *s, const lm_level_t *l, char c)
{
    return l->len == 1 && s[l->off] == c;
}

/* The node for the parsed filter, created if `create`; NULL if absent or
 * out of memory (with create, *nomem tells). */
static tnode_t *walk(topic_tree_t *t, const pfilter_t *pf, bool create, bool *nomem)
{
    const char *s = (const char *)pf->inner.data;
    tnode_t *n = t->root;
    *nomem = false;
    for (long i = 0; i < pf->nlev; i++) {
        const lm_level_t *l = &t->wlevels[i];
        tnode_t **special = level_is(s, l, '+') ? &n->plus : level_is(s, l, '#') ? &n->hash : NULL;
        tnode_t *next =
            special ? *special : (tnode_t *)lm_find(&n->base, s + l->off, l->len, l->hash);
        if (next == NULL) {
            if (!create)
                return NULL;
            if ((special == NULL && lm_reserve(&n->base) != 0) ||
                (next = node_new(n, s + l->off, l->len, l->hash)) == NULL) {
                prune(t, n);
                *nomem = true;
                return NULL;
            }
            if (special)
                *special = next;
            else
                lm_insert(&n->base, &next->base);
            t->nodes++;
        }
        n = next;
    }
    return n;
}

static sgroup_t *group_find(const tnode_t *n, mqtt_bytes_t name)
{
    for (uint32_t i = 0; i < n->ngroups; i++) {
        sgroup_t *g = n->groups[i];
        if (g->name_len == name.len && memcmp(g->name, name.data, name.len) == 0)
            return g;
    }
    return NULL;
}

static sgroup_t *group_add(tnode_t *n, mqtt_bytes_t name)
{
    if (n->ngroups == n->groups_cap) {
        uint32_t ncap = n->groups_cap ? n->groups_cap * 2 : 2;
        sgroup_t **ng = realloc(n->groups, (size_t)ncap * sizeof *ng);
        if (ng == NULL)
            return NULL;
        n->groups = ng;
        n->groups_cap = ncap;
    }
    sgroup_t *g = calloc(1, sizeof *g + name.len + 1);
    if (g == NULL)
        return NULL;
    memcpy(g->name, name.data, name.len);
    g->name_len = (uint32_t)name.len;
    atomic_init(&g->rr, 0);
    n->groups[n->ngroups++] = g;
    return g;
}

static void group_drop(tnode_t *n, sgroup_t *g)
{
    for (uint32_t i = 0; i < n->ngroups; i++) {
        if (n->groups[i] == g) {
            n->groups[i] = n->groups[--n->ngroups];
            break;
        }
    }
    free(g->members.v);
    free(g);
}

/* Removes item i of list l of r: its entry, an emptied group, emptied
 * nodes. */
static void remove_item(topic_tree_t *t, srec_t *r, ritems_t *l, uint32_t i)
{
    ritem_t it = l->v[i];
    entvec_t *vec = item_vec(&it);
    if (it.idx != vec->n - 1) {
        entry_t *moved = &vec->v[it.idx];
        *moved = vec->v[vec->n - 1];
        entry_items(moved)->v[moved->rec_idx].idx = it.idx;
    }
    vec->n--;
    if (i != l->n - 1) {
        l->v[i] = l->v[l->n - 1];
        item_entry(&l->v[i])->rec_idx = i;
    }
    l->n--;
    t->subs--;
    if (it.group == NULL)
        rec_update_multi(r);
    else if (it.group->members.n == 0)
        group_drop(it.node, it.group);
    prune(t, it.node);
}

/* Index in r's list (plain, or shared when g is set) of its subscription
 * at node n / group g, or -1. Scans whichever is shorter, the session's
 * list or the node's entries, so neither a session with many filters nor
 * a filter with many sessions makes this slow. */
static long find_item(const srec_t *r, const tnode_t *n, const sgroup_t *g)
{
    const entvec_t *vec = g ? &g->members : &n->subs;
    const ritems_t *l = g ? &r->shared : &r->plain;
    if (vec->n <= l->n) {
        for (uint32_t i = 0; i < vec->n; i++)
            if (vec->v[i].rec == r)
                return vec->v[i].rec_idx;
        return -1;
    }
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].node == n && l->v[i].group == g)
            return i;
    return -1;
}

/* ---- public: lifecycle ---- */

topic_tree_t *tt_new(void)
{
    size_t size = (sizeof(topic_tree_t) + 63) / 64 * 64;
    topic_tree_t *t = aligned_alloc(64, size);
    if (t == NULL)
        return NULL;
    memset(t, 0, size);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    unsigned inited = 0;
    while (inited < TT_LOCK_SLOTS && pthread_rwlock_init(&t->slots[inited].lock, &attr) == 0)
        inited++;
    pthread_rwlockattr_destroy(&attr);
    t->seed = lm_seed();
    t->root = inited == TT_LOCK_SLOTS ? calloc(1, sizeof *t->root + 1) : NULL;
    if (t->root == NULL) {
        while (inited-- > 0)
            pthread_rwlock_destroy(&t->slots[inited].lock);
        free(t);
        return NULL;
    }
    t->root->base.level = t->root->name;
    t->nodes = 1;
    return t;
}

/* Frees a whole tree without recursion or allocation (filters may be 32k
 * levels deep): descend to a leaf, free it, resume at its parent. A
 * node's kid_cap doubles as its scan cursor, since no lookup happens
 * during teardown. */
static void free_subtree(tnode_t *n)
{
    tnode_t *cur = n;
    while (cur != NULL) {
        tnode_t *next = NULL;
        if (cur->plus != NULL) {
            next = cur->plus;
            cur->plus = NULL;
        } else if (cur->hash != NULL) {
            next = cur->hash;
            cur->hash = NULL;
        } else {
            while (next == NULL && cur->base.kid_cap > 0)
                next = (tnode_t *)cur->base.kids[--cur->base.kid_cap];
        }
        if (next != NULL) {
            cur = next;
            continue;
        }
        tnode_t *parent = cur == n ? NULL : node_parent(cur);
        for (uint32_t i = 0; i < cur->ngroups; i++) {
            free(cur->groups[i]->members.v);
            free(cur->groups[i]);
        }
        free(cur->groups);
        free(cur->subs.v);
        lm_release(&cur->base);
        free(cur);
        cur = parent;
    }
}

void tt_free(topic_tree_t *t)
{
    if (t == NULL)
        return;
    free_subtree(t->root);
    for (size_t i = 0; i < t->rec_cap; i++) {
        if (t->recs[i] != NULL) {
            free(t->recs[i]->plain.v);
            free(t->recs[i]->shared.v);
            free(t->recs[i]);
        }
    }
    free(t->recs);
    free(t->wlevels);
    for (unsigned i = 0; i < TT_LOCK_SLOTS; i++)
        pthread_rwlock_destroy(&t->slots[i].lock);
    free(t);
}

void tt_set_share_preference(topic_tree_t *t, tt_prefer_fn prefer)
{
    write_lock(t);
    t->prefer = prefer;
    write_unlock(t);
}

/* ---- public: changes ---- */

static int subscribe_locked(topic_tree_t *t, void *session, mqtt_bytes_t filter, uint8_t options,
                            uint32_t sub_id, bool *replaced)
{
    pfilter_t pf;
    int rc = parse_filter(t, filter, &pf);
    if (rc != TT_OK)
        return rc;
    bool nomem;
    tnode_t *n = walk(t, &pf, true, &nomem);
    if (n == NULL)
        return TT_ERR_NOMEM;
    srec_t *r = rec_get(t, session);
    if (r == NULL) {
        prune(t, n);
        return TT_ERR_NOMEM;
    }
    sgroup_t *g = NULL;
    if (pf.group.len > 0)
        g = group_find(n, pf.group);
    /* Replace in place if the session already has this subscription. */
    long found = (g != NULL || pf.group.len == 0) ? find_item(r, n, g) : -1;
    if (found >= 0) {
        entry_t *e = item_entry(g ? &r->shared.v[found] : &r->plain.v[found]);
        e->opts = options;
        e->sub_id = sub_id;
        *replaced = true;
        return TT_OK;
    }
    bool new_group = false;
    if (pf.group.len > 0 && g == NULL) {
        g = group_add(n, pf.group);
        if (g == NULL)
            goto nomem;
        new_group = true;
    }
    entvec_t *vec = g ? &g->members : &n->subs;
    ritems_t *l = g ? &r->shared : &r->plain;
    if (entvec_reserve(vec) != 0 || ritems_reserve(l) != 0) {
        if (new_group)
            group_drop(n, g);
        goto nomem;
    }
    entry_t *e = &vec->v[vec->n];
    e->session = session;
    e->rec = r;
    e->rec_idx = l->n;
    e->sub_id = sub_id;
    e->opts = options;
    e->multi = false;
    e->shared = g != NULL;
    l->v[l->n].node = n;
    l->v[l->n].group = g;
    l->v[l->n].idx = vec->n;
    vec->n++;
    l->n++;
    t->subs++;
    if (g == NULL) {
        if (r->plain.n > 2)
            e->multi = true;
        else
            rec_update_multi(r);
    }
    return TT_OK;

nomem:
    if (r->plain.n + r->shared.n == 0)
        rec_drop(t, r);
    prune(t, n);
    return TT_ERR_NOMEM;
}

int tt_subscribe(topic_tree_t *t, void *session, mqtt_bytes_t filter, uint8_t options,
                 uint32_t sub_id, bool *replaced)
{
    bool dummy;
    if (replaced == NULL)
        replaced = &dummy;
    *replaced = false;
    if (session == NULL)
        return TT_ERR_FILTER;
    write_lock(t);
    int rc = subscribe_locked(t, session, filter, options, sub_id, replaced);
    write_unlock(t);
    return rc;
}

static int unsubscribe_locked(topic_tree_t *t, void *session, mqtt_bytes_t filter)
{
    pfilter_t pf;
    int rc = parse_filter(t, filter, &pf);
    if (rc != TT_OK)
        return rc;
    bool nomem;
    tnode_t *n = walk(t, &pf, false, &nomem);
    srec_t *r = rec_find(t, session);
    if (n == NULL || r == NULL)
        return TT_ERR_NOT_FOUND;
    sgroup_t *g = NULL;
    if (pf.group.len > 0 && (g = group_find(n, pf.group)) == NULL)
        return TT_ERR_NOT_FOUND;
    long i = find_item(r, n, g);
    if (i < 0)
        return TT_ERR_NOT_FOUND;
    remove_item(t, r, g ? &r->shared : &r->plain, (uint32_t)i);
    if (r->plain.n + r->shared.n == 0)
        rec_drop(t, r);
    return TT_OK;
}

int tt_unsubscribe(topic_tree_t *t, void *session, mqtt_bytes_t filter)
{
    write_lock(t);
    int rc = unsubscribe_locked(t, session, filter);
    write_unlock(t);
    return rc;
}

size_t tt_remove_session(topic_tree_t *t, void *session)
{
    size_t removed = 0;
    write_lock(t);
    srec_t *r = rec_find(t, session);
    if (r != NULL) {
        removed = (size_t)r->plain.n + r->shared.n;
        while (r->shared.n > 0)
            remove_item(t, r, &r->shared, r->shared.n - 1);
        while (r->plain.n > 0)
            remove_item(t, r, &r->plain, r->plain.n - 1);
        rec_drop(t, r);
    }
    write_unlock(t);
    return removed;
}

size_t tt_subscription_count(topic_tree_t *t)
{
    unsigned slot = read_lock(t);
    size_t n = t->subs;
    read_unlock(t, slot);
    return n;
}

size_t tt_node_count(topic_tree_t *t)
{
    unsigned slot = read_lock(t);
    size_t n = t->nodes;
    read_unlock(t, slot);
    return n;
}

/* ---- public: matching ---- */

enum { SC_LEVELS, SC_STACK, SC_PENDING };

typedef struct {
    const tnode_t *node;
    size_t depth;
} frame_t;

typedef struct {
    tt_matches_t *out;
    const void *publisher;
    tt_prefer_fn prefer;
    size_t npending;
} mctx_t;

void tt_matches_init(tt_matches_t *m)
{
    memset(m, 0, sizeof *m);
}

void tt_matches_free(tt_matches_t *m)
{
    free(m->v);
    free(m->ids);
    for (int i = 0; i < 4; i++)
        free(m->scratch[i]);
    memset(m, 0, sizeof *m);
}

/* Makes room for `results` more results and as many identifiers, so the
 * emitting loops below need no checks. */
static int reserve(tt_matches_t *out, size_t results)
{
    if (grow((void **)&out->v, &out->cap, out->n + results, sizeof *out->v) != 0 ||
        grow((void **)&out->ids, &out->ids_cap, out->ids_n + results, sizeof *out->ids) != 0)
        return -1;
    return 0;
}

/* Appends a result. Identifiers are appended right after it and before the
 * next result, so tt_match can hand out pointers by walking in order. */
static tt_match_t *emit(tt_matches_t *out, void *session, uint8_t qos, bool rap, bool shared)
{
    tt_match_t *m = &out->v[out->n++];
    m->session = session;
    m->sub_ids = NULL;
    m->sub_id_count = 0;
    m->qos = qos;
    m->retain_as_published = rap;
    m->shared = shared;
    return m;
}

static void add_id(tt_matches_t *out, tt_match_t *m, uint32_t id)
{
    if (id != 0) {
        out->ids[out->ids_n++] = id;
        m->sub_id_count++;
    }
}

static void emit_entry(tt_matches_t *out, const entry_t *e, bool shared)
{
    tt_match_t *m = emit(out, e->session, (uint8_t)MQTT_SUBOPT_QOS(e->opts),
                         (e->opts & MQTT_SUBOPT_RETAIN_AS_PUB) != 0, shared);
    add_id(out, m, e->sub_id);
}

static void pick_shared(mctx_t *c, sgroup_t *g)
{
    uint32_t n = g->members.n;
    uint32_t start = atomic_fetch_add_explicit(&g->rr, 1, memory_order_relaxed);
    uint32_t pick = start % n;
    if (c->prefer != NULL && !c->prefer(g->members.v[pick].session)) {
        for (uint32_t j = 1; j < n; j++) {
            uint32_t k = (start + j) % n;
            if (c->prefer(g->members.v[k].session)) {
                pick = k;
                /* Continue after the chosen member, so the one behind an
                 * offline member does not get a double share. */
                atomic_store_explicit(&g->rr, start + j + 1, memory_order_relaxed);
                break;
            }
        }
    }
    emit_entry(c->out, &g->members.v[pick], true);
}

static int visit_node(mctx_t *c, const tnode_t *n)
{
    tt_matches_t *out = c->out;
    if (reserve(out, (size_t)n->subs.n + n->ngroups) != 0 ||
        grow(&out->scratch[SC_PENDING], &out->scratch_cap[SC_PENDING], c->npending + n->subs.n,
             sizeof(entry_t *)) != 0)
        return -1;
    const entry_t **pending = out->scratch[SC_PENDING];
    for (uint32_t i = 0; i < n->subs.n; i++) {
        const entry_t *e = &n->subs.v[i];
        if ((e->opts & MQTT_SUBOPT_NO_LOCAL) && e->session == c->publisher)
            continue;
        if (e->multi)
            pending[c->npending++] = e;
        else
            emit_entry(out, e, false);
    }
    for (uint32_t i = 0; i < n->ngroups; i++)
        pick_shared(c, n->groups[i]);
    return 0;
}

static int cmp_entry_session(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)(*(const entry_t *const *)a)->session;
    uintptr_t y = (uintptr_t)(*(const entry_t *const *)b)->session;
    return x < y ? -1 : x > y;
}

/* Merges the pending entries of sessions with several subscriptions. */
static int merge_pending(mctx_t *c)
{
    const entry_t **p = c->out->scratch[SC_PENDING];
    size_t n = c->npending;
    if (reserve(c->out, n) != 0)
        return -1;
    if (n > 16) {
        qsort(p, n, sizeof *p, cmp_entry_session);
    } else {
        /* The usual handful: insertion sort beats qsort's call overhead. */
        for (size_t i = 1; i < n; i++) {
            const entry_t *e = p[i];
            size_t j = i;
            for (; j > 0 && (uintptr_t)p[j - 1]->session > (uintptr_t)e->session; j--)
                p[j] = p[j - 1];
            p[j] = e;
        }
    }
    for (size_t i = 0; i < n;) {
        const entry_t *e = p[i];
        tt_match_t *m = emit(c->out, e->session, 0, false, false);
        for (; i < n && p[i]->session == e->session; i++) {
            uint8_t q = (uint8_t)MQTT_SUBOPT_QOS(p[i]->opts);
            if (q > m->qos)
                m->qos = q;
            if (p[i]->opts & MQTT_SUBOPT_RETAIN_AS_PUB)
                m->retain_as_published = true;
            add_id(c->out, m, p[i]->sub_id);
        }
    }
    return 0;
}

static int match_locked(topic_tree_t *t, mqtt_bytes_t topic, mctx_t *c)
{
    tt_matches_t *out = c->out;
    lm_level_t *levels = out->scratch[SC_LEVELS];
    long nlev = lm_split(t->seed, (const char *)topic.data, topic.len, &levels,
                         &out->scratch_cap[SC_LEVELS]);
    out->scratch[SC_LEVELS] = levels;
    if (nlev < 0)
        return -1;
    const char *s = (const char *)topic.data;
    bool dollar = topic.len > 0 && s[0] == '$';

    size_t sp = 0;
    if (grow(&out->scratch[SC_STACK], &out->scratch_cap[SC_STACK], 1, sizeof(frame_t)) != 0)
        return -1;
    frame_t *stack = out->scratch[SC_STACK];
    stack[sp++] = (frame_t){t->root, 0};
    while (sp > 0) {
        frame_t f = stack[--sp];
        const tnode_t *n = f.node;
        bool wild_ok = !(dollar && f.depth == 0);
        if (n->hash != NULL && wild_ok && visit_node(c, n->hash) != 0)
            return -1;
        if (f.depth == (size_t)nlev) {
            if (visit_node(c, n) != 0)
                return -1;
            continue;
        }
        const lm_level_t *l = &levels[f.depth];
        const tnode_t *exact = (const tnode_t *)lm_find(&n->base, s + l->off, l->len, l->hash);
        const tnode_t *plus = wild_ok ? n->plus : NULL;
        if (exact == NULL && plus == NULL)
            continue;
        if (grow(&out->scratch[SC_STACK], &out->scratch_cap[SC_STACK], sp + 2, sizeof(frame_t)) !=
            0)
            return -1;
        stack = out->scratch[SC_STACK];
        if (exact != NULL)
            stack[sp++] = (frame_t){exact, f.depth + 1};
        if (plus != NULL)
            stack[sp++] = (frame_t){plus, f.depth + 1};
    }
    return merge_pending(c);
}

int tt_match(topic_tree_t *t, mqtt_bytes_t topic, const void *publisher, tt_matches_t *out,
             tt_visit_fn visit, void *arg)
{
    out->n = 0;
    out->ids_n = 0;
    mctx_t c = {.out = out, .publisher = publisher, .npending = 0};
    unsigned slot = read_lock(t);
    c.prefer = t->prefer;
    if (match_locked(t, topic, &c) != 0) {
        read_unlock(t, slot);
        out->n = 0;
        out->ids_n = 0;
        return TT_ERR_NOMEM;
    }
    size_t off = 0;
    for (size_t i = 0; i < out->n; i++) {
        out->v[i].sub_ids = out->v[i].sub_id_count ? out->ids + off : NULL;
        off += out->v[i].sub_id_count;
    }
    if (visit != NULL)
        for (size_t i = 0; i < out->n; i++)
            visit(arg, &out->v[i]);
    read_unlock(t, slot);
    return (int)out->n;
}
