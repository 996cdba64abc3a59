/*
 * Internal to the topic tree and the retained store: a tree node keyed by
 * one topic level, whose children sit in an open-addressing hash table
 * (linear probing, backward-shift deletion, so no tombstones ever slow a
 * lookup; load at most 3/4). Both trees embed lm_node_t as the first member of their nodes.
 *
 * The hash is seeded per tree with random bits, so a client cannot craft
 * thousands of sibling levels that all land in one probe run.
 */
#ifndef MIDGE_BROKER_LEVEL_MAP_H
#define MIDGE_BROKER_LEVEL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct lm_node {
    struct lm_node *parent;
    /* kid_cap slots (a power of two): kids[i] is a child or NULL, tags[i]
     * the high half of its hash with the low bit set, 0 if empty. Probing
     * reads only tags (16 per cache line), so a lookup that misses never
     * touches the (cold) child nodes it passes. */
    struct lm_node **kids;
    uint32_t *tags;
    uint32_t kid_cap;
    uint32_t kid_n;
    uint64_t hash;     /* lm_hash of the level */
    const char *level; /* the level's bytes, owned by the containing node */
    uint32_t len;
} lm_node_t;

/* One level of a split topic or filter. */
typedef struct {
    uint32_t off;
    uint32_t len;
    uint64_t hash;
} lm_level_t;

/* Random seed for one tree. */
uint64_t lm_seed(void);

static inline uint64_t lm_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* The bytes of a string shorter than 8 as one word, reading only inside
 * it; distinct strings of one length give distinct words. */
static inline uint64_t lm_load_short(const char *s, size_t len)
{
    if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        return ((uint64_t)a << 32) | b;
    }
    if (len > 0)
        return ((uint64_t)(unsigned char)s[0] << 16) | ((uint64_t)(unsigned char)s[len >> 1] << 8) |
               (unsigned char)s[len - 1];
    return 0;
}

/* Seeded hash of a short string: 8 bytes per multiply. */
static inline uint64_t lm_hash(uint64_t seed, const char *s, size_t len)
{
    uint64_t h = seed ^ (len * 0x9E3779B97F4A7C15ull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = lm_mix(h ^ w, 0xA0761D6478BD642Full);
        s += 8;
        len -= 8;
    }
    h = lm_mix(h ^ lm_load_short(s, len), 0xE7037ED1A0B428DBull);
    return lm_mix(h, 0x8EBC6AF09C88C6E3ull);
}

/* Equality of two levels of the same length: a word or two, not a loop. */
static inline bool lm_same(const char *a, const char *b, uint32_t len)
{
    if (len < 8)
        return lm_load_short(a, len) == lm_load_short(b, len);
    if (len <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + len - 8, 8);
        memcpy(&b1, b + len - 8, 8);
        return a0 == b0 && a1 == b1;
    }
    return memcmp(a, b, len) == 0;
}

static inline uint32_t lm_tag(uint64_t hash)
{
    return (uint32_t)(hash >> 32) | 1u;
}

static inline lm_node_t *lm_find(const lm_node_t *n, const char *s, uint32_t len, uint64_t hash)
{
    if (n->kid_n == 0)
        return NULL;
    uint32_t mask = n->kid_cap - 1;
    uint32_t tag = lm_tag(hash);
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        uint32_t t = n->tags[i];
        if (t == 0)
            return NULL;
        if (t == tag) {
            lm_node_t *k = n->kids[i];
            if (k->hash == hash && k->len == len && lm_same(k->level, s, len))
                return k;
        }
    }
}

/* Makes room for one more child; 0, or -1 if out of memory. */
int lm_reserve(lm_node_t *n);
/* Adds child (not present yet) to n; lm_reserve must have succeeded. */
void lm_insert(lm_node_t *n, lm_node_t *child);
/* Removes child from n. */
void lm_remove(lm_node_t *n, lm_node_t *child);
/* Frees n's table (the children themselves are the caller's). */
void lm_release(lm_node_t *n);

/* Splits s at '/' into *levels (grown with realloc as needed, *cap
 * updated) and hashes each. Returns the level count, or -1 if out of
 * memory. */
long lm_split(uint64_t seed, const char *s, size_t len, lm_level_t **levels, size_t *cap);

#endif
