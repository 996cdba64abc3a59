/*
 * Sessions: what the broker keeps for one client id across connections.
 *
 * A session holds the client's outgoing messages (a FIFO of queued
 * deliveries, then the in-flight window of QoS 1/2 messages awaiting their
 * acknowledgement), the packet ids of incoming QoS 2 messages awaiting
 * PUBREL, and its protocol parameters. The QoS state machines here are pure:
 * no I/O and no clock of their own; handlers send what these functions tell
 * them to.
 *
 * Threads: any worker may append a delivery (session_out_push) while the
 * worker owning the client's connection drains and acknowledges. Every
 * session_out_* / session_in_* call and every read or write of a field
 * below `lock` must hold session->lock. The table has its own lock, taken
 * before a session's lock when both are needed.
 */
#ifndef MIDGE_SESSION_H
#define MIDGE_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/limits.h"
#include "mqtt/mqtt.h"

struct store;

/* Where an outgoing message stands. */
typedef enum {
    OUT_QUEUED = 0,   /* not sent yet */
    OUT_WAIT_PUBACK,  /* QoS 1 PUBLISH sent */
    OUT_WAIT_PUBREC,  /* QoS 2 PUBLISH sent */
    OUT_WAIT_PUBCOMP, /* QoS 2 PUBREL sent; the message itself is released */
} out_state_t;

/* One delivery of one message to this client. `msg` is a reference owned
 * by the entry, dropped through the table's msg_release hook. */
typedef struct session_out {
    struct session_out *next;
    struct session_out *prev;
    void *msg;
    uint64_t seq;       /* arrival order within the session */
    uint64_t expiry_at; /* clock ms at which the message expires; 0: never */
    size_t bytes;       /* payload bytes, for the queue and in-flight byte limits */
    uint16_t packet_id; /* 0 while queued */
    uint8_t qos;        /* granted: min(message QoS, subscription QoS), or the
                         * subscription's with upgrade_outgoing_qos */
    uint8_t state;      /* out_state_t */
    bool retain;        /* retain flag as sent */
    bool dup;           /* a resend: DUP set */
    uint8_t sub_id_count;
    uint32_t sub_ids[MIDGE_MAX_SUB_IDS];
} session_out_t;

typedef struct {
    session_out_t *head;
    session_out_t *tail;
    size_t count;
    size_t bytes;
    /* Of which QoS 0: max_queued_messages/bytes bound QoS 1 and 2 only
     * (and QoS 0 only while it waits for an offline client). */
    size_t qos0_count;
    size_t qos0_bytes;
} session_list_t;

typedef struct {
    uint16_t max_inflight;        /* our cap on the outgoing window */
    uint32_t max_queued_messages; /* QoS 1/2 queued beyond the window; 0 none */
    uint64_t max_queued_bytes;    /* payload bytes queued; 0 none */
    uint32_t max_online_queued;   /* the queue bound while online, if higher */
    uint64_t max_inflight_bytes;  /* payload bytes in flight; 0 none (see session_out_next) */
    bool queue_qos0;              /* QoS 0 waits for an offline client (queue_qos0_messages) */
} session_limits_t;

typedef struct session session_t;
typedef struct session_table session_table_t;

struct session {
    atomic_int refs;
    session_table_t *table;
    struct session *hnext; /* table bucket chain (table lock) */
    char *client_id;       /* NUL-terminated copy */
    size_t id_len;
    bool in_table;      /* table lock */
    atomic_bool online; /* a client is bound: a hint for shared-subscription picks */
    void *sink;         /* a bridge's pseudo-session (bridge.h): set once, deliveries go there */

    pthread_mutex_t lock;
    /* Everything below: session->lock. */
    void *conn;               /* bound connection, NULL while offline */
    int worker;               /* worker owning conn */
    mqtt_version_t version;   /* of the last connection */
    uint32_t expiry_interval; /* seconds; UINT32_MAX never expires */
    uint64_t offline_since;   /* clock ms when the last connection ended */
    bool ended;               /* removed: deliveries are refused */
    session_list_t queue;     /* OUT_QUEUED, in arrival order */
    session_list_t inflight;  /* sent, in send order */
    uint16_t window;          /* min(client Receive Maximum, max_inflight) */
    uint8_t max_qos;          /* of the bound client's listener: deliveries are capped to it */
    uint16_t next_packet_id;
    uint64_t next_seq;
    uint64_t dropped;  /* deliveries refused by the queue limits */
    uint64_t acked_at; /* CLOCK_MONOTONIC ms of the client's last ack; 0 none */
    /* Incoming QoS 2 packet ids awaiting PUBREL: a short list, which turns
     * into a 65,536-bit map once a client keeps more than a few open (a
     * 3.1.1 client is bounded only by its ids; a list search per PUBLISH
     * would then cost it tens of thousands of compares). */
    uint16_t *in_qos2;
    uint64_t *in_qos2_bits; /* the map, or NULL while the list is used */
    size_t in_qos2_count;
    size_t in_qos2_cap;
    uint64_t epoch;     /* bumped on every bind and unbind: stale timers see it */
    void *pending_will; /* a delayed will message, released via msg_release */
    uint64_t will_at;   /* clock ms when pending_will is due */
    void *user;         /* the protocol layer's per-session data */
};

struct session_table {
    pthread_mutex_t lock;
    session_t **buckets;
    size_t nbuckets;
    size_t count;
    session_limits_t limits;
    void (*msg_release)(void *msg);
    void (*user_free)(session_t *s); /* frees s->user at the last release */
    struct store *store;             /* may be NULL: nothing journalled */
};

/* ---- table ---- */

int session_table_init(session_table_t *t, const session_limits_t *limits,
                       void (*msg_release)(void *msg), struct store *store);
/* Releases every session still in the table. */
void session_table_destroy(session_table_t *t);

/* The session for client_id with a new reference, or NULL. Table lock
 * taken inside. */
session_t *session_find(session_table_t *t, const char *id, size_t len);
/* Creates a session (refs: one for the table, one returned) and inserts
 * it, replacing nothing: the caller has removed any old one. Table lock
 * must be held by the caller. NULL on allocation failure. */
session_t *session_create_locked(session_table_t *t, const char *id, size_t len);
session_t *session_find_locked(session_table_t *t, const char *id, size_t len);
/* Takes s out of the table (dropping the table's reference) and marks it
 * ended; queued and in-flight messages are released. Table lock held. */
void session_remove_locked(session_table_t *t, session_t *s);

void session_ref(session_t *s);
void session_release(session_t *s);

/* The store that journals s, or NULL: only sessions that outlive their
 * connection (non-zero expiry) are journalled; the rest would only cost
 * writes that nothing ever reads. s->lock held (or s owned). */
static inline struct store *session_store(const session_t *s)
{
    return s->expiry_interval ? s->table->store : NULL;
}

/* ---- outgoing QoS state ---- */

/* A zeroed entry holding msg (the caller's reference moves into it). */
session_out_t *session_out_new(void *msg, uint8_t qos, bool retain, size_t bytes,
                               uint64_t expiry_at);
/* Releases e's message and frees e. e must not be in a list. */
void session_out_free(session_table_t *t, session_out_t *e);

/* Appends a delivery. False (and e freed) if the session has ended, if it
 * is QoS 0 and the client offline, or if the queue limits are reached. */
bool session_out_push(session_t *s, session_out_t *e);

/*
 * The next delivery to send, or NULL when nothing can go now (queue empty,
 * or a QoS 1/2 message is next and the window is full). The window counts
 * messages and, with max_inflight_bytes, payload bytes as Mosquitto does:
 * a QoS 1/2 message goes while the in-flight payload (until PUBACK or
 * PUBCOMP) is below the limit, so one message of any size always can. A QoS 0 entry is
 * unlinked: the caller sends it, then session_out_free()s it. A QoS 1/2
 * entry gets a packet id and moves to the in-flight list, where it stays
 * owned by the session. Queued messages whose expiry has passed (now_ms)
 * are dropped on the way.
 */
session_out_t *session_out_next(session_t *s, uint64_t now_ms);

/* Acknowledgements; each returns NULL (caller ignores it, as the
 * specification allows) if no in-flight message has that id in that state.
 * session_out_puback / _pubcomp unlink the entry: the caller frees it. */
session_out_t *session_out_puback(session_t *s, uint16_t packet_id);
session_out_t *session_out_pubcomp(session_t *s, uint16_t packet_id);
/* PUBREC: the entry moves to OUT_WAIT_PUBCOMP (its message is released),
 * and the caller sends PUBREL. With a failure reason (>= 0x80, v5) the
 * exchange ends instead: the entry is unlinked and returned with state
 * still OUT_WAIT_PUBREC, and no PUBREL is sent. */
session_out_t *session_out_pubrec(session_t *s, uint16_t packet_id, uint8_t reason);

/* A connection resumes the session: every in-flight PUBLISH will be sent
 * again with DUP set; the caller walks s->inflight and resends (PUBLISH for
 * OUT_WAIT_PUBACK/PUBREC, PUBREL for OUT_WAIT_PUBCOMP). Sets the window
 * from the client's Receive Maximum. */
void session_out_resume(session_t *s, uint16_t client_receive_max);

/* Puts back an entry read from the store (seq, packet_id, state set):
 * queued or in flight by its state. Nothing is journalled. */
void session_out_restore(session_t *s, session_out_t *e);

/* The connection ended: QoS 0 deliveries are dropped (never kept for an
 * offline client). */
void session_out_offline(session_t *s);

/* Drops every queued and in-flight message. */
void session_out_clear(session_t *s);

/* ---- incoming QoS 2 ---- */

/* Records an incoming QoS 2 packet id. Returns 1 if new (deliver the
 * message), 0 if already awaiting PUBREL (a resend: do not deliver again),
 * -1 if it would exceed `max` outstanding (Receive Maximum exceeded), -2
 * on allocation failure. */
int session_in_qos2_add(session_t *s, uint16_t packet_id, size_t max);
/* PUBREL: forgets the id. False if it was not awaited. */
bool session_in_qos2_release(session_t *s, uint16_t packet_id);

#endif
