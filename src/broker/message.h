/*
 * The application message: one immutable, reference-counted object per
 * PUBLISH (or will, or $SYS update), shared by the retained store and by
 * every queued or in-flight delivery. The payload is never copied per
 * subscriber.
 *
 * Contract:
 *  - msg_new() copies everything it is given (topic, payload, forwarded
 *    properties, origin client id) into ONE allocation; the input views may
 *    die right after. The result has one reference, owned by the caller.
 *  - After msg_new() returns, every field except `refs` and `store_id` is
 *    read-only. Readers on any thread may use them without locking as long
 *    as they hold a reference.
 *  - msg_ref()/msg_unref() are atomic; the last msg_unref() frees.
 *  - Times are milliseconds on the caller's monotonic clock (msg_now_ms()
 *    is the broker's). Persistence converts deadlines to wall time itself.
 */
#ifndef MIDGE_BROKER_MESSAGE_H
#define MIDGE_BROKER_MESSAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store.h"
#include "mqtt/mqtt.h"

/* expiry_at of a message without a Message Expiry Interval. */
#define MSG_NO_EXPIRY INT64_MAX

typedef struct msg {
    _Atomic uint32_t refs;
    uint8_t qos;  /* QoS it was published with */
    bool retain;  /* RETAIN flag it was published with */
    bool has_pfi; /* payload_format_indicator is meaningful */
    uint8_t payload_format_indicator;
    uint16_t topic_len;
    uint16_t origin_len;
    uint32_t payload_len;
    uint32_t user_prop_count; /* user properties inside props_block */
    uint32_t props_len;
    int64_t expiry_at; /* deadline in ms, MSG_NO_EXPIRY if none */
    /* Persistence's handle for this message, 0 = not stored. Set once by
     * the store; atomic because the message is shared by then. */
    _Atomic uint64_t store_id;
    const char *topic;  /* NUL-terminated; topic_len bytes without the NUL */
    const char *origin; /* publishing client id, NUL-terminated, "" if none */
    /* The publisher as check_retain_source sees it: set for a PUBLISH or a
     * will from a client ($SYS and log lines are the broker's, never
     * checked). */
    bool from_client;
    uint16_t source_port;     /* port of the publisher's listener */
    uint16_t source_user_len; /* 0 when source_user is NULL */
    const char *source_user;  /* NUL-terminated username, NULL if anonymous */
    size_t alloc_size;        /* bytes of the one allocation (memuse.h) */
    const uint8_t *payload;
    /* The forwarded v5 properties in wire format (without the length
     * prefix): payload format indicator, content type, response topic,
     * correlation data, then the user properties in their original order.
     * props_len 0 if none. It is what the store keeps (store_msg_t.props). */
    const uint8_t *props_block;
    /* Views into props_block; data NULL = absent (present-but-empty values
     * are kept: the server must forward them unaltered). */
    mqtt_bytes_t content_type;
    mqtt_bytes_t response_topic;
    mqtt_bytes_t correlation_data;
} msg_t;

typedef struct {
    mqtt_bytes_t topic; /* a valid topic name (no wildcards), 1..65535 bytes */
    mqtt_bytes_t payload;
    uint8_t qos;
    bool retain;
    /* PUBLISH or will properties, or NULL. Only what a server forwards is
     * kept: payload format indicator, message expiry interval (turned into
     * a deadline; 0 means none, as in Mosquitto), content type, response
     * topic, correlation data and user
     * properties (from `user` if set, else from `raw` when user_count > 0).
     * Topic alias and subscription identifiers are dropped. */
    const mqtt_props_t *props;
    mqtt_bytes_t origin; /* publishing client id, may be empty */
    /* For a PUBLISH or will of a client: from_client set, the client's username
     * (data NULL if anonymous) and its listener's port. */
    bool from_client;
    mqtt_bytes_t source_user;
    uint16_t source_port;
    int64_t now_ms; /* msg clock now: start of the expiry interval */
} msg_init_t;

/* Milliseconds on CLOCK_MONOTONIC: the clock for now_ms everywhere. */
int64_t msg_now_ms(void);

/* A new message with one reference, or NULL if out of memory or a field
 * is longer than MQTT allows (topic/strings > 65535, payload > 256 MB).
 * Its bytes are counted in memuse.h until the last msg_unref. */
msg_t *msg_new(const msg_init_t *in);

/* Takes a reference and returns m (NULL-safe). */
msg_t *msg_ref(msg_t *m);
/* Drops a reference; frees the message on the last one (NULL-safe). */
void msg_unref(msg_t *m);

static inline bool msg_has_expiry(const msg_t *m)
{
    return m->expiry_at != MSG_NO_EXPIRY;
}
/* True once the deadline has passed: the message must not be sent. */
static inline bool msg_expired(const msg_t *m, int64_t now_ms)
{
    return now_ms >= m->expiry_at;
}
/* Seconds left, rounded up, for the Message Expiry Interval of an outgoing
 * PUBLISH; 0 if expired. Meaningless unless msg_has_expiry(m). */
uint32_t msg_expiry_remaining(const msg_t *m, int64_t now_ms);

/*
 * Fills *out (zeroed first) with the properties to send with this message
 * to a subscriber: payload format indicator, Message Expiry Interval (the
 * remaining seconds at now_ms), content type, response topic, correlation
 * data, and the user properties (out->user NULL, out->user_count and
 * out->raw set, so the encoder copies them in order from raw). The views
 * point into the message: keep a reference while encoding. The caller adds
 * subscription identifiers and a topic alias.
 */
void msg_props(const msg_t *m, int64_t now_ms, mqtt_props_t *out);

/*
 * The store's view of m (views into m: keep a reference while the store
 * call runs). The deadline is turned into wall-clock ms (wall_ms is the
 * wall clock at now_ms), since the monotonic clock restarts with the
 * process. out->id is m->store_id.
 */
void msg_store_view(const msg_t *m, int64_t now_ms, int64_t wall_ms, store_msg_t *out);

/* A message rebuilt from a stored record (store_load), with one reference
 * and store_id = sm->id; the origin client id and the source fields come
 * from the record (a record without a source gives origin "").
 * NULL if out of memory or the record is malformed (topic name and
 * property block are checked, since they come from disk). */
msg_t *msg_from_store(const store_msg_t *sm, int64_t now_ms, int64_t wall_ms);

/* A growable array of message references (retained lookups). */
typedef struct {
    msg_t **v;
    size_t n;
    size_t cap;
} msg_vec_t;

/* Appends m, taking a new reference. 0, or -1 if out of memory. */
int msg_vec_push(msg_vec_t *vec, msg_t *m);
/* Drops every reference; keeps the storage for reuse. */
void msg_vec_clear(msg_vec_t *vec);
/* Drops every reference and frees the storage. */
void msg_vec_free(msg_vec_t *vec);

#endif
