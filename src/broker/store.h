/*
 * The storage seam. Sessions, their subscriptions, queued and in-flight
 * messages, incoming QoS 2 ids and retained messages are journalled here as
 * they change, and replayed by store_load() when the broker starts. The
 * protocol code only ever calls these functions; a durable store (SQLite)
 * or a shared one is another store_ops_t, not a change to the handlers.
 *
 * Calls come from any worker thread: an implementation locks what it needs.
 * Records are views valid only during the call; the store copies what it
 * keeps. A failing call returns -1 and the broker carries on in memory.
 */
#ifndef MIDGE_STORE_H
#define MIDGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/mqtt.h"

struct session;
struct session_out;

/* A message as the store sees it. `id` is unique in the broker's life and
 * lets a store keep one copy of a message queued for many sessions. */
typedef struct {
    uint64_t id;
    mqtt_bytes_t topic;
    mqtt_bytes_t payload;
    mqtt_bytes_t props; /* forwarded v5 properties, wire form, no length */
    uint8_t qos;
    bool retain;
    uint64_t expiry_at; /* wall-clock ms, 0: never */
    /* Who published it, for check_retain_source (kept with retained
     * messages): from_client false for the broker's own messages. */
    bool from_client;
    mqtt_bytes_t source_id;   /* client id */
    mqtt_bytes_t source_user; /* data NULL: anonymous */
    uint16_t source_port;     /* the publisher's listener port */
} store_msg_t;

typedef struct {
    mqtt_bytes_t client_id;
    uint32_t expiry_interval;
    uint8_t version;
} store_session_t;

typedef struct {
    uint64_t seq;
    uint16_t packet_id;
    uint8_t qos;
    uint8_t state; /* out_state_t */
    bool retain;
    bool dup;
    const uint32_t *sub_ids;
    size_t sub_id_count;
} store_out_t;

/* What store_load() replays, in an order that rebuilds state: sessions,
 * then each session's subscriptions, outgoing messages (by seq) and
 * incoming ids, then retained messages. A callback returning non-zero stops
 * the load. */
typedef struct {
    int (*session)(void *ctx, const store_session_t *s);
    int (*sub)(void *ctx, mqtt_bytes_t client_id, mqtt_bytes_t filter, uint8_t options,
               uint32_t sub_id);
    int (*out)(void *ctx, mqtt_bytes_t client_id, const store_out_t *o, const store_msg_t *m);
    int (*in)(void *ctx, mqtt_bytes_t client_id, uint16_t packet_id);
    int (*retained)(void *ctx, const store_msg_t *m);
} store_loader_t;

typedef struct store store_t;

typedef struct {
    int (*session_put)(store_t *st, const store_session_t *s);
    int (*session_delete)(store_t *st, mqtt_bytes_t client_id);
    int (*sub_put)(store_t *st, mqtt_bytes_t client_id, mqtt_bytes_t filter, uint8_t options,
                   uint32_t sub_id);
    int (*sub_delete)(store_t *st, mqtt_bytes_t client_id, mqtt_bytes_t filter);
    /* Adds or updates (same seq) an outgoing message. m may be NULL on an
     * update that does not change the message. */
    int (*out_put)(store_t *st, mqtt_bytes_t client_id, const store_out_t *o, const store_msg_t *m);
    int (*out_delete)(store_t *st, mqtt_bytes_t client_id, uint64_t seq);
    int (*in_put)(store_t *st, mqtt_bytes_t client_id, uint16_t packet_id);
    int (*in_delete)(store_t *st, mqtt_bytes_t client_id, uint16_t packet_id);
    int (*retained_put)(store_t *st, const store_msg_t *m);
    int (*retained_delete)(store_t *st, mqtt_bytes_t topic);
    int (*load)(store_t *st, const store_loader_t *l, void *ctx);
    void (*close)(store_t *st);
} store_ops_t;

struct store {
    const store_ops_t *ops;
    /* Fills a store_msg_t from a broker message (set by the broker, since
     * the store does not know the message object). */
    void (*msg_view)(const void *msg, store_msg_t *out);
};

/* The in-memory store: keeps every record, copied, until the process ends.
 * It is the reference implementation of the contract above and what the
 * unit tests run against. */
store_t *store_memory_open(void);

/* Helpers the session code calls. */
int store_session_save(store_t *st, const struct session *s);
int store_session_delete(store_t *st, const char *id, size_t len);
int store_out_put(store_t *st, const struct session *s, const struct session_out *e);
int store_out_delete(store_t *st, const char *id, size_t len, uint64_t seq);
int store_in_put(store_t *st, const char *id, size_t len, uint16_t packet_id);
int store_in_delete(store_t *st, const char *id, size_t len, uint16_t packet_id);
/* Replays the store once, at start, before any worker thread exists. It
 * takes no store lock: its callbacks take the session table's lock, and
 * the workers' calls take the table's before the store's, so holding the
 * store's here would order the two locks both ways. */
static inline int store_load(store_t *st, const store_loader_t *l, void *ctx)
{
    return st->ops->load(st, l, ctx);
}
static inline void store_close(store_t *st)
{
    if (st)
        st->ops->close(st);
}

#endif
