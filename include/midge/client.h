/*
 * libmidge: an asynchronous MQTT 3.1 / 3.1.1 / 5.0 client.
 *
 * Model
 *  - One midge_client_t is one logical client (one client identifier, one
 *    session). Calls return at once; network progress happens either in the
 *    library's own thread (midge_loop_start) or in the caller's loop
 *    (midge_socket + midge_want_write + midge_timeout_ms + midge_step, or
 *    the blocking helpers midge_loop / midge_loop_forever).
 *  - Every function may be called from any thread: the client is guarded by
 *    one recursive mutex. Callbacks run in the thread that drives the loop,
 *    with that mutex held, so a callback may call midge_publish,
 *    midge_subscribe, midge_disconnect, ... directly. A callback must not
 *    call midge_client_destroy, midge_step, midge_loop, midge_loop_forever
 *    or midge_loop_stop.
 *
 * Ownership
 *  - Every string, payload and property list passed IN is copied before the
 *    call returns; the caller keeps ownership of what it passed.
 *  - Everything passed OUT to a callback (topic, payload, properties,
 *    reason arrays, detail strings) is owned by the library and valid only
 *    until the callback returns: copy what you keep.
 *
 * Delivery
 *  - QoS 1 and 2 messages stay in the client until acknowledged. After a
 *    reconnect whose CONNACK reports a present session they are resent with
 *    DUP set (PUBREL for QoS 2 messages already PUBREC'd); when the session
 *    is gone they are sent again as new messages.
 *  - While offline, midge_publish queues (any QoS) up to the limits set by
 *    midge_set_queue_limits, then fails with MIDGE_ERR_QUEUE_FULL. The
 *    limits also bound the bytes waiting for the socket while connected.
 *  - Subscriptions are remembered; after a reconnect without a present
 *    session the client subscribes again by itself (midge_set_resubscribe).
 *    Do not subscribe again from on_connect.
 */
#ifndef MIDGE_CLIENT_H
#define MIDGE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ---- */

/* X(name, description). One enum, one string table (midge_strerror). */
#define MIDGE_ERR_LIST(X)                                                                          \
    X(MIDGE_OK, "success")                                                                         \
    X(MIDGE_ERR_INVAL, "invalid argument")                                                         \
    X(MIDGE_ERR_NOMEM, "out of memory")                                                            \
    X(MIDGE_ERR_NO_CONN, "not connected")                                                          \
    X(MIDGE_ERR_BUSY, "operation already in progress")                                             \
    X(MIDGE_ERR_DNS, "host name lookup failed")                                                    \
    X(MIDGE_ERR_CONNECT, "could not connect to the server")                                        \
    X(MIDGE_ERR_CONN_REFUSED, "connection refused by the server (CONNACK)")                        \
    X(MIDGE_ERR_CONN_LOST, "connection lost")                                                      \
    X(MIDGE_ERR_TIMEOUT, "timed out")                                                              \
    X(MIDGE_ERR_KEEPALIVE, "no answer from the server within the keep alive")                      \
    X(MIDGE_ERR_PROTOCOL, "protocol error from the server")                                        \
    X(MIDGE_ERR_MALFORMED, "malformed packet from the server")                                     \
    X(MIDGE_ERR_PACKET_TOO_LARGE, "packet larger than the maximum packet size")                    \
    X(MIDGE_ERR_SERVER_DISCONNECT, "disconnected by the server")                                   \
    X(MIDGE_ERR_QUEUE_FULL, "outgoing queue full")                                                 \
    X(MIDGE_ERR_NOT_SUPPORTED, "not supported by this protocol version or server")                 \
    X(MIDGE_ERR_TLS, "TLS error")                                                                  \
    X(MIDGE_ERR_SYSTEM, "system error")

typedef enum {
#define MIDGE_ERR_ENUM(name, desc) name,
    MIDGE_ERR_LIST(MIDGE_ERR_ENUM)
#undef MIDGE_ERR_ENUM
        MIDGE_ERR_COUNT
} midge_err_t;

/* A static description of err; "unknown error" for values out of range. */
const char *midge_strerror(midge_err_t err);

/*
 * The words Mosquitto's tools print for a CONNACK refusal, so scripts that
 * match them keep working. For versions 3 and 4 `code` is the 3.1.x return
 * code ("Connection Refused: not authorised."); for version 5 it is the
 * reason code and this is midge_reason_string(code) ("Not authorized").
 */
const char *midge_connack_string(int version, uint8_t code);
/* Name of an MQTT v5 reason code as Mosquitto spells it ("Not authorized",
 * "Bad User Name or Password", "Unknown reason" if undefined). Static. */
const char *midge_reason_string(uint8_t reason);

/* ---- Properties (MQTT 5) ---- */

/* Property identifiers, the wire values. */
enum {
    MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR = 0x01,     /* int, 0 or 1 */
    MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL = 0x02,      /* int, seconds */
    MIDGE_PROP_CONTENT_TYPE = 0x03,                 /* string */
    MIDGE_PROP_RESPONSE_TOPIC = 0x08,               /* string */
    MIDGE_PROP_CORRELATION_DATA = 0x09,             /* binary */
    MIDGE_PROP_SUBSCRIPTION_IDENTIFIER = 0x0B,      /* int, 1..268435455 */
    MIDGE_PROP_SESSION_EXPIRY_INTERVAL = 0x11,      /* int, seconds */
    MIDGE_PROP_ASSIGNED_CLIENT_IDENTIFIER = 0x12,   /* string (received) */
    MIDGE_PROP_SERVER_KEEP_ALIVE = 0x13,            /* int (received) */
    MIDGE_PROP_AUTHENTICATION_METHOD = 0x15,        /* string */
    MIDGE_PROP_AUTHENTICATION_DATA = 0x16,          /* binary */
    MIDGE_PROP_REQUEST_PROBLEM_INFORMATION = 0x17,  /* int, 0 or 1 */
    MIDGE_PROP_WILL_DELAY_INTERVAL = 0x18,          /* int, seconds */
    MIDGE_PROP_REQUEST_RESPONSE_INFORMATION = 0x19, /* int, 0 or 1 */
    MIDGE_PROP_RESPONSE_INFORMATION = 0x1A,         /* string (received) */
    MIDGE_PROP_SERVER_REFERENCE = 0x1C,             /* string (received) */
    MIDGE_PROP_REASON_STRING = 0x1F,                /* string */
    MIDGE_PROP_RECEIVE_MAXIMUM = 0x21,              /* int, 1..65535 */
    MIDGE_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,          /* int, 0..65535 */
    MIDGE_PROP_TOPIC_ALIAS = 0x23,                  /* int (received) */
    MIDGE_PROP_MAXIMUM_QOS = 0x24,                  /* int (received) */
    MIDGE_PROP_RETAIN_AVAILABLE = 0x25,             /* int (received) */
    MIDGE_PROP_USER_PROPERTY = 0x26,                /* string pair */
    MIDGE_PROP_MAXIMUM_PACKET_SIZE = 0x27,          /* int, bytes */
    MIDGE_PROP_WILDCARD_SUB_AVAILABLE = 0x28,       /* int (received) */
    MIDGE_PROP_SUBSCRIPTION_ID_AVAILABLE = 0x29,    /* int (received) */
    MIDGE_PROP_SHARED_SUB_AVAILABLE = 0x2A,         /* int (received) */
};

/* An ordered list of properties. Built by the caller for outgoing packets
 * (midge_props_new + midge_props_add_*), or handed to callbacks read-only
 * for received packets. */
typedef struct midge_props midge_props_t;

/* One property. For strings and binary data `data`/`len` hold the value and
 * `data` is also NUL-terminated (binary data may contain NULs: use len).
 * For a user property `data`/`len` is the name and `value`/`value_len` the
 * value. For integer properties `num` holds the value. */
typedef struct {
    int id;
    uint32_t num;
    const char *data;
    size_t len;
    const char *value;
    size_t value_len;
} midge_prop_t;

/* A new empty list, NULL when out of memory. Free with midge_props_free. */
midge_props_t *midge_props_new(void);
/* Frees a list made by midge_props_new (or midge_props_copy); NULL is a
 * no-op. Never free the lists handed to callbacks. */
void midge_props_free(midge_props_t *props);
/* A deep copy of props (NULL when out of memory or props is NULL). */
midge_props_t *midge_props_copy(const midge_props_t *props);
/*
 * Adders copy their arguments. Single-valued properties replace an earlier
 * value of the same id; user properties (and subscription identifiers in a
 * received list) accumulate in order. MIDGE_ERR_INVAL if the id is not of
 * that kind or the value is out of range (a payload format indicator of 2,
 * a receive maximum of 0, a string that is not valid UTF-8, ...). Whether a
 * property is allowed in a given packet is checked when the packet is made
 * (midge_publish etc. return MIDGE_ERR_INVAL).
 */
midge_err_t midge_props_add_int(midge_props_t *props, int id, uint32_t value);
midge_err_t midge_props_add_string(midge_props_t *props, int id, const char *value);
midge_err_t midge_props_add_binary(midge_props_t *props, int id, const void *data, size_t len);
midge_err_t midge_props_add_user(midge_props_t *props, const char *name, const char *value);

/* Number of properties in the list (0 for NULL). */
size_t midge_props_count(const midge_props_t *props);
/* The index-th property in order; false if index is out of range. */
bool midge_props_get(const midge_props_t *props, size_t index, midge_prop_t *out);
/* The first property with this id; false if absent. */
bool midge_props_find(const midge_props_t *props, int id, midge_prop_t *out);
/* The property's name in lower-case words ("correlation-data"), as used by
 * Mosquitto's -D option; NULL for an unknown id. Static. */
const char *midge_prop_name(int id);

/* ---- Messages and callbacks ---- */

/* A received PUBLISH, valid during the on_message callback only. */
typedef struct {
    int mid;             /* packet identifier, 0 for QoS 0 */
    const char *topic;   /* NUL-terminated (topics cannot contain NUL) */
    size_t topic_len;    /* bytes in topic */
    const void *payload; /* payload_len bytes; NULL when empty */
    size_t payload_len;
    int qos;
    bool retain;
    bool dup;
    const midge_props_t *props; /* never NULL; empty before MQTT 5 */
} midge_message_t;

typedef struct midge_client midge_client_t;

/*
 * All callbacks are optional (NULL). `ud` is the userdata given to
 * midge_client_new. Pointers passed in are valid only during the call.
 */
typedef struct {
    /* CONNACK received. `code` is 0 on success, else the 3.1.x return code
     * or v5 reason code (midge_connack_string). On refusal the connection
     * is closed after this returns and, if reconnecting is enabled, tried
     * again later: call midge_disconnect here to give up. */
    void (*on_connect)(midge_client_t *c, void *ud, uint8_t code, bool session_present,
                       const midge_props_t *props);
    /* The connection ended or a connection attempt failed. err is MIDGE_OK
     * after midge_disconnect; otherwise the cause, and `detail` says it in
     * words ("malformed PUBLISH from the server: field runs past the end
     * of the packet"). `reconnecting` tells whether the client will try
     * again on its own. */
    void (*on_disconnect)(midge_client_t *c, void *ud, midge_err_t err, const char *detail,
                          bool reconnecting);
    /* A message arrived. Its PUBACK/PUBREC is already queued (as in
     * Mosquitto's library); a QoS 2 message resent by the server before
     * its PUBREL is not delivered twice. After midge_disconnect no further
     * message is delivered. */
    void (*on_message)(midge_client_t *c, void *ud, const midge_message_t *msg);
    /* A publish completed: QoS 0 when written to the connection's buffer,
     * QoS 1 on PUBACK, QoS 2 on PUBCOMP (or on a PUBREC with a failure
     * reason). `reason` is the v5 reason code (0 before MQTT 5). */
    void (*on_publish)(midge_client_t *c, void *ud, int mid, uint8_t reason,
                       const midge_props_t *props);
    /* SUBACK: one granted QoS or reason code per filter, in order. Not
     * called for the client's own resubscriptions. */
    void (*on_subscribe)(midge_client_t *c, void *ud, int mid, size_t count, const uint8_t *granted,
                         const midge_props_t *props);
    /* UNSUBACK: reason codes per filter in MQTT 5 (count 0 before). */
    void (*on_unsubscribe)(midge_client_t *c, void *ud, int mid, size_t count,
                           const uint8_t *reasons, const midge_props_t *props);
    /* One line of debug text per packet sent or received, worded like
     * Mosquitto's ("Client x sending PUBLISH (d0, q1, r0, m1, 'a/b', ...
     * (5 bytes))"), for the tools' -d option. */
    void (*on_log)(midge_client_t *c, void *ud, const char *line);
} midge_callbacks_t;

/* ---- Life cycle ---- */

/*
 * A new client. client_id is copied; NULL or "" lets the library choose:
 * MQTT 5 sends an empty id and adopts the server's assigned identifier,
 * 3.1/3.1.1 generate "midge-<pid>-<random>". Defaults: MQTT 3.1.1, clean
 * session, keep alive 60 s, reconnect on (1 s doubling to 30 s), queue
 * 1000 messages / 256 MiB, 20 messages in flight, resubscribe on.
 * Returns NULL when out of memory.
 */
midge_client_t *midge_client_new(const char *client_id, void *userdata);
/*
 * Stops the loop thread if any, closes the connection WITHOUT sending
 * DISCONNECT (so the server publishes the will, as after a crash; call
 * midge_disconnect first for a clean end), and frees everything, queued
 * messages included. NULL is a no-op. Not from a callback.
 */
void midge_client_destroy(midge_client_t *c);

/* Installs the callbacks (copied; NULL clears them all). */
void midge_set_callbacks(midge_client_t *c, const midge_callbacks_t *cbs);
/* The client identifier in use (assigned by the server in MQTT 5 if none
 * was given). Copied into buf (NUL-terminated, truncated to cap). */
void midge_client_id(midge_client_t *c, char *buf, size_t cap);

/* ---- Settings: call before midge_connect; they apply from the next
 * connection attempt. All return MIDGE_ERR_INVAL on bad values. ---- */

/* 3 (MQTT 3.1), 4 (3.1.1) or 5. */
midge_err_t midge_set_version(midge_client_t *c, int version);
/* Announces the client as a broker's bridge, as Mosquitto's try_private
 * does: MQTT 3.1/3.1.1 CONNECT carries protocol level | 0x80, which
 * brokers that know it answer by not sending the bridge's own messages
 * back and by keeping retain flags as published. Ignored in MQTT 5 (use
 * MIDGE_SUB_NO_LOCAL there). A broker that does not know it may refuse
 * the connection. Default false. */
midge_err_t midge_set_bridge(midge_client_t *c, bool bridge);
/* Clean session (3.1.x) / Clean Start (5). false asks the server to keep
 * the session; in MQTT 5 also set a Session Expiry Interval in the
 * CONNECT properties, or the server ends the session at disconnect. */
midge_err_t midge_set_clean(midge_client_t *c, bool clean);
/* Keep alive in seconds, 0 disables (65535 max). The client sends PINGREQ
 * when it has sent nothing for that long, and drops the connection if the
 * answer does not come within another keep alive. */
midge_err_t midge_set_keepalive(midge_client_t *c, unsigned seconds);
/* Username and password (either may be NULL; password_len bytes of
 * binary-safe password). */
midge_err_t midge_set_credentials(midge_client_t *c, const char *username, const void *password,
                                  size_t password_len);
/* The will message, published by the server if the connection ends
 * without DISCONNECT. topic NULL removes it. props (MQTT 5): will delay,
 * message expiry, content type, payload format, response topic,
 * correlation data, user properties. */
midge_err_t midge_set_will(midge_client_t *c, const char *topic, const void *payload, size_t len,
                           int qos, bool retain, const midge_props_t *props);
/* MQTT 5 CONNECT properties: session expiry, receive maximum, topic alias
 * maximum, maximum packet size, request problem/response information,
 * user properties. NULL removes them. A maximum packet size given here
 * also becomes the limit of midge_set_max_packet_size. */
midge_err_t midge_set_connect_props(midge_client_t *c, const midge_props_t *props);
/* Largest packet accepted from the server (default and maximum
 * 268435460). A bigger one is refused before its body is read: the
 * connection is dropped with MIDGE_ERR_PACKET_TOO_LARGE. */
midge_err_t midge_set_max_packet_size(midge_client_t *c, uint32_t bytes);
/* Automatic reconnection: enabled, first delay and maximum delay in ms
 * (the delay doubles after each failure, resets after a CONNACK). */
midge_err_t midge_set_reconnect(midge_client_t *c, bool enabled, unsigned min_delay_ms,
                                unsigned max_delay_ms);
/* Bounds of the outgoing queue: messages (1..65535) and bytes (at least
 * 1). Counts messages waiting or in flight, and bytes waiting for the
 * socket. */
midge_err_t midge_set_queue_limits(midge_client_t *c, size_t max_messages, size_t max_bytes);
/* QoS 1/2 messages sent but unacknowledged at a time (1..65535); the
 * server's Receive Maximum lowers it further. */
midge_err_t midge_set_max_inflight(midge_client_t *c, unsigned count);
/* Whether remembered subscriptions are renewed after a reconnect that
 * found no session (default true). */
midge_err_t midge_set_resubscribe(midge_client_t *c, bool enabled);
/* Seconds to wait for the TCP connection, TLS handshake and CONNACK
 * (default 30). */
midge_err_t midge_set_connect_timeout(midge_client_t *c, unsigned seconds);

/* TLS settings. Strings are copied; NULL means unset. */
typedef struct {
    const char *cafile;      /* PEM file of trusted CAs */
    const char *capath;      /* directory of hashed CA certificates */
    const char *certfile;    /* client certificate (PEM), for mutual TLS */
    const char *keyfile;     /* its private key (PEM, unencrypted) */
    const char *tls_version; /* "tlsv1.2" or "tlsv1.3": use only that
                                version; NULL: 1.2 or newer */
    const char *ciphers;     /* OpenSSL cipher list for TLS <= 1.2 */
    const char *alpn;        /* one ALPN protocol name to offer, or NULL */
    bool insecure;           /* do not check that the certificate names the
                                host (the chain is still verified) */
} midge_tls_t;
/*
 * Enables TLS for the next connections (NULL disables it). Without cafile
 * and capath the system's default trust store is used. The certificate
 * must name the host given to midge_connect (DNS name or IP address)
 * unless `insecure`. Files are loaded now: a missing or bad file fails
 * here with MIDGE_ERR_TLS and the reason in midge_last_error.
 */
midge_err_t midge_set_tls(midge_client_t *c, const midge_tls_t *tls);

/* ---- Connection ---- */

/*
 * Starts connecting to host:port (host copied; a name or an IPv4/IPv6
 * address). The name is resolved here (blocking); the TCP connect, TLS
 * handshake and CONNECT/CONNACK proceed in the loop, and on_connect
 * reports the outcome. Fails at once with MIDGE_ERR_DNS, or
 * MIDGE_ERR_CONNECT when every address refused immediately (details in
 * midge_last_error); no retry is scheduled then. MIDGE_ERR_BUSY if
 * already connected or connecting.
 */
midge_err_t midge_connect(midge_client_t *c, const char *host, int port);
/*
 * Ends the connection cleanly: sends DISCONNECT after what is already
 * queued for the socket, then closes it and calls on_disconnect with
 * MIDGE_OK. Stops reconnecting. Unsent QoS 1/2 messages stay queued for a
 * later midge_connect. midge_disconnect_v5 adds a reason code (0x04 asks
 * the server to publish the will) and properties (session expiry, reason
 * string, user properties).
 */
midge_err_t midge_disconnect(midge_client_t *c);
midge_err_t midge_disconnect_v5(midge_client_t *c, uint8_t reason, const midge_props_t *props);
/* True between a CONNACK that accepted and the end of that connection. */
bool midge_is_connected(midge_client_t *c);

/* The detail of the last failure (connect, TLS, protocol), or "" if none.
 * Copied into buf, NUL-terminated and truncated to cap. */
void midge_last_error(midge_client_t *c, char *buf, size_t cap);

/* ---- Operations. All copy their arguments. `mid`, if not NULL, receives
 * the message id passed later to on_publish / on_subscribe /
 * on_unsubscribe. ---- */

/*
 * Publishes payload (len bytes, may be NULL when len is 0) to topic at QoS
 * 0..2. props (MQTT 5): payload format, message expiry, content type,
 * response topic, correlation data, user properties. Queues the message
 * when offline. Errors: MIDGE_ERR_INVAL (bad topic, QoS, properties),
 * MIDGE_ERR_QUEUE_FULL, MIDGE_ERR_PACKET_TOO_LARGE (bigger than the
 * server's Maximum Packet Size), MIDGE_ERR_NOT_SUPPORTED (QoS above the
 * server's Maximum QoS, or retain where the server has none).
 */
midge_err_t midge_publish(midge_client_t *c, int *mid, const char *topic, const void *payload,
                          size_t len, int qos, bool retain, const midge_props_t *props);

/* Subscription option bits, OR-ed with the QoS (0..2) in `options`.
 * The three flags are MQTT 5 only (ignored before). */
#define MIDGE_SUB_NO_LOCAL            0x04
#define MIDGE_SUB_RETAIN_AS_PUBLISHED 0x08
#define MIDGE_SUB_RETAIN_HANDLING(n)  (((n)&3) << 4) /* 0 send, 1 if new, 2 never */

/*
 * Subscribes to `count` filters in one SUBSCRIBE (options[i] for
 * filters[i]). Remembered for resubscription. Sent now, or after the next
 * CONNACK when offline. props (MQTT 5): subscription identifier, user
 * properties.
 */
midge_err_t midge_subscribe_many(midge_client_t *c, int *mid, size_t count,
                                 const char *const *filters, const int *options,
                                 const midge_props_t *props);
/* One filter: midge_subscribe_many with count 1. */
midge_err_t midge_subscribe(midge_client_t *c, int *mid, const char *filter, int options,
                            const midge_props_t *props);
/* Unsubscribes and forgets the filters for resubscription. */
midge_err_t midge_unsubscribe_many(midge_client_t *c, int *mid, size_t count,
                                   const char *const *filters, const midge_props_t *props);
midge_err_t midge_unsubscribe(midge_client_t *c, int *mid, const char *filter,
                              const midge_props_t *props);

/* Messages waiting or in flight (QoS 1/2 not yet completed). */
size_t midge_queued_count(midge_client_t *c);

/* ---- Running way 1: the library's own thread ---- */

/* Starts a thread that runs the loop until midge_loop_stop. */
midge_err_t midge_loop_start(midge_client_t *c);
/* Stops and joins that thread. It first writes what is queued for the
 * socket (a DISCONNECT from midge_disconnect included), for up to one
 * second. Not from a callback. */
midge_err_t midge_loop_stop(midge_client_t *c);

/* ---- Running way 2: the caller's loop ---- */

/* The socket to watch for readability, -1 when there is none (waiting to
 * reconnect, or idle). It changes across reconnects: ask every time. */
int midge_socket(midge_client_t *c);
/* True if the socket should also be watched for writability. */
bool midge_want_write(midge_client_t *c);
/* Milliseconds until midge_step must be called even without socket
 * activity (keep alive, reconnect, timeouts); -1 when nothing is due. */
int midge_timeout_ms(midge_client_t *c);
/*
 * Does all work possible without blocking: connects, reads and handles
 * packets, writes, runs timers, reconnects. Call it when the socket is
 * ready or the timeout has passed (extra calls are harmless). Returns
 * MIDGE_OK, or MIDGE_ERR_NO_CONN when the client is idle (disconnected
 * and not reconnecting): nothing more will happen until midge_connect.
 */
midge_err_t midge_step(midge_client_t *c);
/* One wait (poll of the socket, at most timeout_ms, -1 = until something
 * happens) and one midge_step. Returns like midge_step. */
midge_err_t midge_loop(midge_client_t *c, int timeout_ms);
/* midge_loop until the client is idle (after midge_disconnect, or a loss
 * without reconnection). Returns MIDGE_OK after midge_disconnect, else
 * the error that ended the connection. */
midge_err_t midge_loop_forever(midge_client_t *c);

#ifdef __cplusplus
}
#endif
#endif
