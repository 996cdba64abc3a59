/*
 * The subscription tree: which sessions want a topic. It matches and
 * returns matches; it never sends, queues or touches a session.
 *
 * Contract:
 *  - One tree is shared by every worker thread. Each call takes the
 *    tree's own lock: tt_match() reads, everything that changes
 *    subscriptions writes (writer-preferring, so a stream of PUBLISHes
 *    cannot starve SUBSCRIBE). The lock is split in per-thread-slot
 *    read-write locks, so matching threads share no written cache line;
 *    a writer takes all slots. No lock is held on return.
 *  - A session is an opaque, non-NULL pointer the tree never dereferences.
 *    It is the identity of a subscriber: one subscription per (session,
 *    filter). The caller keeps the session alive while it has
 *    subscriptions here; call tt_remove_session() before freeing it. A
 *    match result may name a session whose subscriptions another thread
 *    removes right after the lock is released: use the visit callback of
 *    tt_match() (run under the read lock) to take a reference if that
 *    matters.
 *  - Filters must be valid (mqtt_topic_filter_valid); the tree still checks
 *    the wildcard structure it relies on and answers TT_ERR_FILTER.
 *
 * Matching rules (MQTT 3.1.1 and 5.0):
 *  - '+' matches one level, '#' the parent level and any number below it
 *    ("a/#" matches "a", "a/b", "a/b/c"); levels may be empty ("a//b").
 *  - Filters starting with '+' or '#' do not match topics starting with
 *    '$'.
 *  - Per session, all matching non-shared subscriptions merge into ONE
 *    result: QoS is the highest of them, sub_ids holds every non-zero
 *    subscription identifier among them (v5 3.3.4: a single copy carries
 *    all of them), retain_as_published is set if any of them has Retain As
 *    Published (each overlapping subscription would have seen the flag in
 *    its own copy, so the merged copy keeps it).
 *  - No Local: a subscription with No Local set does not match a message
 *    published by the same session (the `publisher` argument); it neither
 *    contributes QoS nor identifiers. Other subscriptions of that session
 *    still deliver.
 *  - Shared subscriptions ($share/<group>/<filter>): one group per (filter,
 *    group name). Each matching group yields ONE result for one member,
 *    never merged with other results (a session may receive the same
 *    message once per group plus once for its own subscriptions, as the
 *    spec says). The member is chosen round-robin: an atomic counter per
 *    group advances on every message it receives. If a preference callback
 *    is set (tt_set_share_preference), the first preferred member from the
 *    round-robin position is chosen, so connected members are picked over
 *    offline ones; if none is preferred, the round-robin member is. No
 *    Local does not apply to shared subscriptions (it is a protocol error
 *    to ask for it there).
 */
#ifndef MIDGE_BROKER_TOPIC_TREE_H
#define MIDGE_BROKER_TOPIC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/mqtt.h"

typedef struct topic_tree topic_tree_t;

enum {
    TT_OK = 0,
    TT_ERR_NOT_FOUND = 1, /* tt_unsubscribe: no such subscription */
    TT_ERR_FILTER = -1,   /* malformed filter or shared-subscription name */
    TT_ERR_NOMEM = -2,
};

/* One merged result of tt_match(). */
typedef struct {
    void *session;
    /* Every non-zero subscription identifier of the merged subscriptions,
     * in no particular order; valid until the next tt_match() with the same
     * tt_matches_t. */
    const uint32_t *sub_ids;
    uint32_t sub_id_count;
    uint8_t qos; /* highest subscription QoS; the caller takes min(msg QoS) */
    bool retain_as_published;
    bool shared; /* from a shared-subscription group */
} tt_match_t;

/* Caller-owned results and scratch space for tt_match(). Keep one per
 * worker and reuse it: after warm-up, matching allocates nothing. Not to be
 * shared between threads. Zero-initialise or use tt_matches_init(). */
typedef struct {
    tt_match_t *v;
    size_t n;
    size_t cap;
    /* Internal scratch, not for the caller. */
    uint32_t *ids;
    size_t ids_n, ids_cap;
    void *scratch[4];
    size_t scratch_cap[4];
} tt_matches_t;

void tt_matches_init(tt_matches_t *m);
void tt_matches_free(tt_matches_t *m);

/* Called for each result while the read lock is held: it must be quick,
 * must not call into the tree, and must not block on anything a tree
 * writer could hold. */
typedef void (*tt_visit_fn)(void *arg, const tt_match_t *match);

/* Decides whether a shared-group member is a good pick (e.g. "is
 * connected"). Called under the read lock from any worker thread. */
typedef bool (*tt_prefer_fn)(void *session);

/* A new empty tree, or NULL if out of memory. */
topic_tree_t *tt_new(void);
/* Frees the tree and its subscriptions (never the sessions). */
void tt_free(topic_tree_t *t);

/* Sets (or clears, with NULL) the shared-subscription preference. Call
 * before the tree is shared between threads. */
void tt_set_share_preference(topic_tree_t *t, tt_prefer_fn prefer);

/*
 * Adds or replaces the subscription of `session` to `filter` (which may be
 * $share/<group>/<filter>). `options` is the v5 subscription options byte
 * (3.1.1: the QoS); `sub_id` the v5 Subscription Identifier, 0 for none.
 * *replaced (if not NULL) tells whether the session already had this
 * subscription (Retain Handling 1 sends retained messages only if not).
 * Returns TT_OK, TT_ERR_FILTER or TT_ERR_NOMEM (nothing changed then).
 */
int tt_subscribe(topic_tree_t *t, void *session, mqtt_bytes_t filter, uint8_t options,
                 uint32_t sub_id, bool *replaced);

/* Removes the subscription of `session` to `filter` and prunes nodes left
 * empty. TT_OK, TT_ERR_NOT_FOUND (UNSUBACK 0x11) or TT_ERR_FILTER. */
int tt_unsubscribe(topic_tree_t *t, void *session, mqtt_bytes_t filter);

/* Removes every subscription of `session` (session end); returns how many.
 * Cost is proportional to the session's own subscriptions. */
size_t tt_remove_session(topic_tree_t *t, void *session);

/*
 * Collects into out (cleared first) one result per subscribing session and
 * one per matching shared group for a PUBLISH to `topic` (a valid topic
 * name). `publisher` is the publishing session for No Local, or NULL.
 * If visit is not NULL it is called for each result before the read lock
 * is released. Returns the number of results, or TT_ERR_NOMEM (out is then
 * empty and visit was not called).
 */
int tt_match(topic_tree_t *t, mqtt_bytes_t topic, const void *publisher, tt_matches_t *out,
             tt_visit_fn visit, void *arg);

/* Number of subscriptions (shared memberships included), for $SYS. */
size_t tt_subscription_count(topic_tree_t *t);
/* Number of tree nodes, root included (tests check pruning with it). */
size_t tt_node_count(topic_tree_t *t);

/* If filter is $share/<group>/<inner>, sets *group and *inner (views into
 * filter) and returns true. False for a non-shared filter. A "$share/"
 * filter without a non-empty group and inner filter is not shared and not
 * valid either: mqtt_topic_filter_valid rejects it. */
bool tt_filter_is_shared(mqtt_bytes_t filter, mqtt_bytes_t *group, mqtt_bytes_t *inner);

#endif
