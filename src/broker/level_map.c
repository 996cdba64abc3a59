#include "broker/level_map.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

uint64_t lm_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        /* Early boot without entropy: still differ between runs. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = lm_mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32),
                      (uint64_t)(uintptr_t)&seed | 1u);
    }
    return seed;
}

static void table_put(lm_node_t **kids, uint32_t *tags, uint32_t cap, lm_node_t *child)
{
    uint32_t mask = cap - 1;
    uint32_t i = (uint32_t)child->hash & mask;
    while (tags[i] != 0)
        i = (i + 1) & mask;
    kids[i] = child;
    tags[i] = lm_tag(child->hash);
}

int lm_reserve(lm_node_t *n)
{
    /* Load factor at most 3/4 keeps probe runs short and guarantees an
     * empty slot, which ends every lookup. */
    if ((uint64_t)(n->kid_n + 1) * 4 <= (uint64_t)n->kid_cap * 3)
        return 0;
    uint32_t cap = n->kid_cap ? n->kid_cap * 2 : 4;
    if (cap == 0)
        return -1;
    /* One block: the pointers, then the tags. */
    lm_node_t **kids = calloc(cap, sizeof *kids + sizeof(uint32_t));
    if (kids == NULL)
        return -1;
    uint32_t *tags = (uint32_t *)(kids + cap);
    for (uint32_t i = 0; i < n->kid_cap; i++)
        if (n->kids[i] != NULL)
            table_put(kids, tags, cap, n->kids[i]);
    free(n->kids);
    n->kids = kids;
    n->tags = tags;
    n->kid_cap = cap;
    return 0;
}

void lm_insert(lm_node_t *n, lm_node_t *child)
{
    table_put(n->kids, n->tags, n->kid_cap, child);
    n->kid_n++;
    child->parent = n;
}

void lm_remove(lm_node_t *n, lm_node_t *child)
{
    uint32_t mask = n->kid_cap - 1;
    uint32_t i = (uint32_t)child->hash & mask;
    while (n->kids[i] != child)
        i = (i + 1) & mask;
    /* Backward shift: pull later members of the probe run into the hole
     * when their home slot does not lie between the hole and them. */
    uint32_t hole = i;
    for (uint32_t j = (hole + 1) & mask; n->tags[j] != 0; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)n->kids[j]->hash & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            n->kids[hole] = n->kids[j];
            n->tags[hole] = n->tags[j];
            hole = j;
        }
    }
    n->kids[hole] = NULL;
    n->tags[hole] = 0;
    n->kid_n--;
    if (n->kid_n == 0)
        lm_release(n);
}

void lm_release(lm_node_t *n)
{
    free(n->kids);
    n->kids = NULL;
    n->tags = NULL;
    n->kid_cap = 0;
    n->kid_n = 0;
}

long lm_split(uint64_t seed, const char *s, size_t len, lm_level_t **levels, size_t *cap)
{
    size_t count = 0;
    size_t start = 0;
    for (;;) {
        const char *slash = memchr(s + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - s) : len;
        if (count == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            lm_level_t *nl = realloc(*levels, ncap * sizeof *nl);
            if (nl == NULL)
                return -1;
            *levels = nl;
            *cap = ncap;
        }
        lm_level_t *l = &(*levels)[count++];
        l->off = (uint32_t)start;
        l->len = (uint32_t)(end - start);
        l->hash = lm_hash(seed, s + start, end - start);
        if (slash == NULL)
            return (long)count;
        start = end + 1;
    }
}
