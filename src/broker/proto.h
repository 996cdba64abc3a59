/*
 * The protocol layer: what makes the broker speak MQTT. It implements the
 * network layer's callbacks (proto_ops.h) with one handler per packet type
 * (handle_*.c), sessions (session.h), delivery to subscribers (deliver.c),
 * wills (will.c) and $SYS (sys_topics.c).
 *
 * Objects:
 *  - broker_t: one per process, shared by every worker. Its session table,
 *    topic tree and retained store each have their own lock; its counters
 *    are atomics; everything else is read-only once workers run.
 *  - client_t: one per connection (conn->proto), owned by the connection's
 *    worker. Reference-counted because a session names its bound client and
 *    another worker may hold that name across a post (session takeover);
 *    such a holder only ever posts to client->worker, where the client is
 *    checked for `conn` (NULL once the connection closed).
 *  - wctx_t: per-worker scratch (match results, retained lookups, encode
 *    buffer), so the hot path allocates nothing after warm-up.
 */
#ifndef MIDGE_BROKER_PROTO_H
#define MIDGE_BROKER_PROTO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"
#include "broker/conn.h"
#include "broker/message.h"
#include "broker/proto_ops.h"
#include "broker/retain.h"
#include "broker/server.h"
#include "broker/session.h"
#include "broker/timer.h"
#include "broker/topic_tree.h"
#include "broker/worker.h"
#include "mqtt/mqtt.h"

typedef struct {
    atomic_uint_fast64_t msgs_received, msgs_sent, bytes_received, bytes_sent;
    atomic_uint_fast64_t pub_msgs_received, pub_msgs_sent, pub_bytes_received, pub_bytes_sent;
    atomic_uint_fast64_t msgs_dropped;
    atomic_long clients_connected;
    atomic_long clients_maximum;
    atomic_long sessions_disconnected; /* persistent sessions without a client */
} broker_stats_t;

typedef struct broker {
    /* Settings, read-only while workers run. */
    uint16_t max_inflight;       /* our Receive Maximum and outgoing window cap */
    uint16_t max_topic_alias;    /* aliases a client may set towards us */
    uint16_t max_keepalive;      /* Server Keep Alive above it */
    uint32_t max_packet_size;    /* 0: the protocol's maximum */
    uint32_t message_size_limit; /* payload bytes; 0: none */
    bool upgrade_outgoing_qos;   /* deliver at the subscription's QoS */
    bool retain_available;
    bool allow_zero_length_clientid;
    const char *auto_id_prefix;
    uint32_t sys_interval; /* seconds; 0: no $SYS */
    uint32_t connect_timeout_ms;
    /* Longest a session stays without its client; 0: as it asked. */
    uint32_t persistent_client_expiration;

    session_table_t sessions;
    topic_tree_t *tree;
    retain_store_t *retain;
    server_t *server;
    broker_stats_t stats;
    int64_t start_ms; /* msg clock */
    /* Password and ACL files (security_hooks.h): the snapshot loaded at
     * start (workers switch to a reload's through their own generation);
     * config is the configuration the listeners were made from. */
    struct security *security;
    bool security_ready;
    const config_t *config;
    const char *config_path; /* -c FILE, re-read on SIGHUP; NULL without */
    atomic_uint_fast64_t sys_seq;
} broker_t;

/* A topic alias slot: the topic a number stands for, owned copy. */
typedef struct {
    char *topic;
    uint16_t len;
} alias_t;

typedef struct client {
    atomic_int refs;
    broker_t *b;
    conn_t *conn;       /* NULL once the connection is gone */
    worker_t *worker;   /* owning worker */
    session_t *session; /* a reference, once CONNECT was accepted */
    mqtt_version_t version;
    bool connected;           /* CONNACK 0 sent */
    bool graceful;            /* DISCONNECT received: no will */
    bool taken_over;          /* another connection took the session */
    bool login_refused;       /* refusal CONNACK waits on `timer` */
    bool bridge;              /* 3.1.x CONNECT with the bridge bit (try_private) */
    atomic_bool wake_pending; /* a flush request is posted to our worker */
    uint16_t keepalive;       /* effective, seconds; 0: none */
    wtimer_t timer;           /* CONNECT deadline, then keep-alive */

    msg_t *will;
    uint32_t will_delay; /* seconds */

    /* What the client told us it accepts (v5). */
    uint32_t client_max_packet; /* 0: no limit */
    uint16_t client_receive_max;
    uint16_t client_alias_max;
    bool request_problem_info;
    uint32_t session_expiry; /* as asked in CONNECT */

    /* From the client's listener, copied at CONNECT (a reload may replace
     * the configuration). */
    uint8_t max_qos;   /* highest QoS it may publish or be granted */
    char *mount_point; /* prefix of its topics (mount.h); NULL: none */
    size_t mount_len;

    alias_t *alias_in;  /* [1..max_topic_alias], set by the client */
    alias_t *alias_out; /* [1..client_alias_max], set by us */
    uint16_t alias_out_used;

    char *username;        /* authenticated name, NULL if anonymous (ACL identity) */
    size_t listener_index; /* into config->listeners */
} client_t;

/* How long a session may outlive its connection: what the client asked
 * (UINT32_MAX: never), bounded by persistent_client_expiration. */
static inline uint32_t broker_session_expiry(const broker_t *b, uint32_t asked)
{
    uint32_t cap = b->persistent_client_expiration;
    return cap && asked > cap ? cap : asked;
}

/* Per-worker scratch. */
typedef struct {
    broker_t *b;
    worker_t *w;
    tt_matches_t matches;
    msg_vec_t retained;
    uint8_t *buf; /* encode buffer for heads and small packets */
    size_t buf_cap;
    wtimer_t sys_timer;
    wtimer_t retain_timer;
    struct will_timer *timers; /* will delay and session expiry timers */
} wctx_t;

/* The callbacks handed to server_create(); ctx is the broker_t. */
void proto_ops_init(broker_proto_t *ops, broker_t *b);
int broker_init(broker_t *b, const config_t *cfg);
void broker_destroy(broker_t *b);

/* ---- shared by the handlers ---- */

void client_ref(client_t *c);
void client_release(client_t *c);

/* A scratch buffer of at least n bytes on the current worker; NULL if out
 * of memory. Valid until the next call on this worker. */
uint8_t *proto_buf(client_t *c, size_t n);

/* Encodes and queues pkt on c's connection. -1 if it could not. */
int proto_send(client_t *c, const mqtt_packet_t *pkt);

/* Ends the connection because of err (a decode or protocol failure): a v5
 * client gets DISCONNECT with `reason` first, an older one is just closed,
 * as Mosquitto does. */
void proto_fail(client_t *c, uint8_t reason, const char *why);

/* PUBACK/PUBREC/PUBREL/PUBCOMP; the reason is only written in v5 and
 * only when not 0. */
void proto_send_ack(client_t *c, uint8_t type, uint16_t id, uint8_t reason);

/* The v5 reason for a packet the codec refused: Mosquitto 2.0's choice
 * where it differs from the codec's (0x81 for most malformations, 0x82 for
 * a wildcard or empty topic and a PUBLISH packet id 0). */
uint8_t proto_decode_reason(mqtt_err_t err, uint8_t type);
void proto_fail_decode(client_t *c, mqtt_err_t err, uint8_t type);

/* Sends a v5 DISCONNECT with reason (no-op for older clients) and closes. */
void proto_disconnect(client_t *c, uint8_t reason);

/* (Re)starts the keep-alive check of a connected client. */
void proto_start_keepalive(client_t *c);

/* A subscription filter as the broker keeps it: under the client's mount
 * point (mount.h), else filter itself. Written into small (cap bytes) or,
 * if longer, into a buffer returned in *heap for the caller to free.
 * False when it would be too long for MQTT or memory ran out. */
bool proto_mount_filter(client_t *c, mqtt_bytes_t filter, char *small, size_t cap, char **heap,
                        mqtt_bytes_t *out);

/* Handlers: body is the packet after the fixed header. */
void handle_connect(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body);
void handle_publish(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body);
void handle_ack(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body);
void handle_subscribe(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body);
void handle_unsubscribe(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body);
void handle_pingreq(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body);
void handle_disconnect(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body);
void handle_auth(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body);

/* ---- delivery (deliver.c) ---- */

/* Routes m to every matching subscription; `publisher` (may be NULL) for
 * No Local. Returns the number of sessions it was queued for. */
int deliver_route(broker_t *b, msg_t *m, session_t *publisher);
/* Queues one message for one session (retained on subscribe, resends). */
bool deliver_to_session(broker_t *b, session_t *s, msg_t *m, uint8_t qos, bool retain,
                        const uint32_t *sub_ids, size_t sub_id_count);
/* The QoS a message published at msg_qos goes out at to a subscription
 * granted sub_qos: the lower of the two, or sub_qos with
 * upgrade_outgoing_qos (Mosquitto's rule). */
uint8_t deliver_qos(const broker_t *b, uint8_t msg_qos, uint8_t sub_qos);
/* on_flush: turns the session's queued deliveries into bytes. */
void deliver_flush(client_t *c);
/* Resends the in-flight window of a resumed session (DUP, PUBREL). */
void deliver_resend_inflight(client_t *c);
/* Publishes a message the broker made (will, $SYS): retained store, then
 * subscribers. */
void deliver_publish(broker_t *b, msg_t *m, session_t *publisher);

/* ---- wills and session end (will.c) ---- */

/* The connection of c ended: publish or schedule its will, end or keep its
 * session by its expiry interval. */
void will_on_close(client_t *c, bool shutdown);
/* Frees the worker's pending will and expiry timers (worker stopping). */
void will_worker_stop(wctx_t *wc);
/* Ends a session now: out of the table and the topic tree. Publishes its
 * pending will, if any. */
void session_end(broker_t *b, session_t *s);
/* Drops a will a reconnecting client makes obsolete. s->lock held. */
void will_cancel_locked(session_t *s);

/* ---- persistence (persist.c) ---- */

/* Opens the durable store if cfg asks for persistence and rebuilds the
 * broker's state from it; call before the workers start. 0 or -1. */
int persist_open(broker_t *b, const config_t *cfg);
/* After the workers stopped and before broker_destroy. */
void persist_close(broker_t *b);
/* Journals m as the retained message of its topic (cleared by an empty
 * payload); $SYS topics are not kept. */
void persist_retained(broker_t *b, msg_t *m);
/* Starts expiry timers for sessions restored from the store (worker 0). */
void will_arm_restored(wctx_t *wc);

/* ---- $SYS (sys_topics.c) ---- */
void sys_start(wctx_t *wc);
void sys_publish_now(broker_t *b);

#endif
