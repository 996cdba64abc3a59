/*
 * Accounting of the broker's big memory consumers, for `memory_limit` and
 * $SYS/broker/heap/current and heap/maximum.
 *
 * What is counted: every message object (msg_t: header, topic, origin
 * client id, publisher's username, forwarded properties and payload), from
 * msg_new/msg_from_store to its last msg_unref. A message is counted once
 * however many retained stores, queues, in-flight windows and output
 * buffers hold a reference, so a retained message, a queued one and one
 * waiting in a socket's output all show up.
 * Not counted: connections and their input/output buffers (apart from the
 * shared payloads above), sessions and their queue entries, subscriptions,
 * the topic tree, TLS, the store's own copies and the allocator's overhead.
 *
 * One process-wide atomic counter: an add on allocation, a subtract on
 * free, both relaxed; the maximum is raised with a compare-and-swap only
 * when the current value passes it. Safe from any thread.
 */
#ifndef MIDGE_BROKER_MEMUSE_H
#define MIDGE_BROKER_MEMUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void memuse_add(size_t n);
void memuse_sub(size_t n);
/* Bytes counted now, and the most ever counted at once. */
uint64_t memuse_current(void);
uint64_t memuse_maximum(void);

/* The limit (memory_limit), 0 = none. Set before the workers start or at
 * a reload; read with a relaxed load. */
void memuse_set_limit(uint64_t limit);
uint64_t memuse_limit(void);
/* True when taking n more bytes would pass the limit (as Mosquitto's
 * allocator decides: current + n > limit). Always false without a limit. */
bool memuse_would_exceed(size_t n);

#endif
