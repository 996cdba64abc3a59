/*
 * Retained messages: at most one per topic name, found by topic filter
 * when a session subscribes.
 *
 * Contract:
 *  - Shared by every worker thread, behind the store's own read-write
 *    lock (lookups read, changes write); no lock is held on return.
 *  - The store holds one reference on each retained message. Lookups hand
 *    out new references: the caller unrefs them (msg_vec_clear).
 *  - Expired messages (Message Expiry Interval) are never returned; they
 *    are removed by the lookup that meets them and by retain_expire().
 */
#ifndef MIDGE_BROKER_RETAIN_H
#define MIDGE_BROKER_RETAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/message.h"
#include "mqtt/mqtt.h"

typedef struct retain_store retain_store_t;

/* A new empty store, or NULL if out of memory. */
retain_store_t *retain_new(void);
/* Frees the store, dropping its references. */
void retain_free(retain_store_t *s);

/*
 * Stores m as the retained message of m->topic, replacing the previous
 * one; a message with an empty payload clears the topic instead (and is
 * not stored). Takes its own reference. Returns 0, or -1 if out of memory
 * (the previous message stays).
 */
int retain_set(retain_store_t *s, msg_t *m);

/* Removes the retained message of topic; true if there was one. */
bool retain_remove(retain_store_t *s, mqtt_bytes_t topic);

/*
 * Appends to out (not cleared) a reference to every retained message whose
 * topic matches `filter`, a valid non-shared topic filter (the server sends
 * no retained messages for a $share subscription, so the caller does not
 * ask). Filters starting with a wildcard do not match '$' topics. Messages
 * expired at now_ms are skipped and removed. Order: depth-first by topic
 * levels, unspecified among siblings. Returns the number appended, or -1
 * if out of memory (what was appended stays in out).
 */
int retain_match(retain_store_t *s, mqtt_bytes_t filter, int64_t now_ms, msg_vec_t *out);

/* Retained message count (including expired ones not removed yet) and
 * their payload bytes, for $SYS. */
size_t retain_count(retain_store_t *s);
size_t retain_payload_bytes(retain_store_t *s);

/* Calls fn for every retained message under the read lock (persistence
 * snapshots); fn must not call into the store. Stops early and returns
 * fn's value when it is non-zero; 0 after visiting all. */
int retain_foreach(retain_store_t *s, int (*fn)(void *arg, msg_t *m), void *arg);

/* Removes every message expired at now_ms; returns how many. Run it from a
 * timer so unread expired messages do not stay in memory. */
size_t retain_expire(retain_store_t *s, int64_t now_ms);

#endif
