/* libmidge internals shared by the files of src/client/. */
#ifndef MIDGE_CLIENT_INTERNAL_H
#define MIDGE_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "midge/client.h"
#include "mqtt/mqtt.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

/* One stored property; strings are owned and NUL-terminated. */
typedef struct {
    uint8_t id;
    uint32_t num;
    char *data;
    size_t len;
    char *value;
    size_t value_len;
} mc_prop_t;

struct midge_props {
    mc_prop_t *items;
    size_t count;
    size_t cap;
};

/* props__ helpers (props.c) */
void mc_props_clear(midge_props_t *p);
/* Fills out (and *user, *subids, allocated, freed by the caller) from p;
 * MIDGE_ERR_INVAL if a property is not allowed in ctx. */
midge_err_t mc_props_to_mqtt(const midge_props_t *p, mqtt_props_context_t ctx, mqtt_props_t *out,
                             mqtt_user_prop_t **user, uint32_t **subids);
/* Copies a decoded property block into p (cleared first). */
midge_err_t mc_props_from_mqtt(midge_props_t *p, const mqtt_props_t *in);

/* Outgoing message states. */
enum {
    MC_QUEUED = 0,   /* not sent on this connection yet */
    MC_WAIT_PUBACK,  /* QoS 1 PUBLISH sent */
    MC_WAIT_PUBREC,  /* QoS 2 PUBLISH sent */
    MC_WAIT_PUBCOMP, /* QoS 2 PUBREL sent */
};

/* A PUBLISH kept until completed; pkt is the whole encoded packet. */
typedef struct mc_msg {
    struct mc_msg *next, *prev;
    uint16_t mid;
    uint8_t qos;
    uint8_t state;
    uint8_t *pkt;
    size_t len;
} mc_msg_t;

/* A SUBSCRIBE/UNSUBSCRIBE waiting for its acknowledgement; pkt encoded. */
typedef struct mc_req {
    struct mc_req *next;
    uint16_t mid;
    uint8_t type;  /* MQTT_SUBSCRIBE or MQTT_UNSUBSCRIBE */
    bool internal; /* a resubscription: no callback */
    bool sent;     /* sent on this connection */
    uint8_t *pkt;
    size_t len;
    char **filters;   /* the filters, to match resubscriptions */
    uint8_t *options; /* their option bytes as sent */
    size_t count;
} mc_req_t;

/* A remembered subscription, renewed after a session loss. */
typedef struct mc_sub {
    struct mc_sub *next;
    char *filter;
    int options;
    midge_props_t *props;
} mc_sub_t;

typedef enum {
    MC_IDLE,       /* no socket, not reconnecting */
    MC_WAIT_RETRY, /* no socket, reconnect at retry_at */
    MC_TCP,        /* non-blocking connect in progress */
    MC_TLS,        /* TLS handshake in progress */
    MC_CONNACK,    /* CONNECT sent */
    MC_CONNECTED,  /* CONNACK accepted */
    MC_CLOSING,    /* DISCONNECT queued: close when written */
} mc_state_t;

struct midge_client {
    pthread_mutex_t lock; /* recursive */
    void *ud;
    midge_callbacks_t cb;

    /* settings */
    char *client_id;
    bool id_generated;
    int version;
    bool clean;
    bool bridge; /* protocol level with 0x80 (midge_set_bridge) */
    unsigned keepalive;
    char *username;
    uint8_t *password;
    size_t password_len;
    bool has_password;
    char *will_topic;
    uint8_t *will_payload;
    size_t will_len;
    int will_qos;
    bool will_retain;
    midge_props_t *will_props;
    midge_props_t *connect_props;
    uint32_t max_packet_in;
    bool reconnect;
    unsigned rc_min_ms, rc_max_ms, rc_delay_ms;
    size_t q_max_msgs, q_max_bytes;
    unsigned max_inflight;
    bool resubscribe;
    unsigned connect_timeout_s;
    SSL_CTX *ssl_ctx;
    bool tls_insecure;
    char *host;
    int port;

    /* connection */
    mc_state_t state;
    bool want_connected;
    int sock;
    SSL *ssl;
    struct addrinfo *addrs, *addr_next;
    int64_t deadline;  /* connect/CONNACK deadline (ms) */
    int64_t retry_at;  /* next reconnect (ms) */
    int64_t last_out;  /* last packet queued for sending (ms) */
    int64_t ping_sent; /* PINGREQ outstanding since (ms), 0 none */
    unsigned ka_eff;   /* keep alive in force (server may override) */
    uint16_t srv_receive_max;
    uint32_t srv_max_packet;
    uint8_t srv_max_qos;
    bool srv_retain;
    uint16_t alias_max;      /* our topic alias maximum */
    char **aliases;          /* [alias_max + 1] topics the server set */
    midge_err_t pending_err; /* a write failed: close at a safe point */
    char pending_detail[256];
    midge_err_t end_err; /* why loop_forever ended */

    /* buffers */
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_off, out_len, out_cap;

    /* session state */
    /* In publish order: in-flight messages first, then queued ones from
     * q_first on (pump sends in order, so the queued ones are a suffix). */
    mc_msg_t *msgs, *msgs_tail, *q_first;
    size_t msg_count, msg_bytes;
    unsigned inflight;
    mc_req_t *reqs, *reqs_tail;
    mc_sub_t *subs;
    uint8_t ids_used[65536 / 8]; /* packet ids of msgs and reqs */
    uint8_t rx_qos2[65536 / 8];  /* QoS 2 ids received, awaiting PUBREL */
    unsigned rx_pending;         /* bits set in rx_qos2 */
    unsigned rx_max;             /* Receive Maximum we announced, 0 none */
    uint16_t next_id;

    char last_error[256];
    char *topic_buf; /* NUL-terminated topic for on_message */
    size_t topic_cap;
    bool read_again; /* a step stopped reading early: call again now */
    bool pumping;    /* pump() is walking the message list */

    /* loop thread */
    pthread_t thread;
    bool thread_running;
    bool thread_stop;
    int wake_fd;            /* eventfd */
    midge_props_t rx_props; /* scratch for callbacks */
};

/* net.c */
int64_t mc_now_ms(void);
void mc_set_error(midge_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
midge_err_t mc_tls_setup(midge_client_t *c, const midge_tls_t *tls);
void mc_tls_free(midge_client_t *c);
/* Starts a non-blocking connect to the next address. MIDGE_OK: in
 * progress or done (state MC_TCP); else no address left. */
midge_err_t mc_net_start(midge_client_t *c);
/* Advances MC_TCP/MC_TLS. Returns MIDGE_OK with state moved on (or still
 * in progress), else a failure (detail set). */
midge_err_t mc_net_progress(midge_client_t *c);
/* Reads up to cap bytes: >0 read, 0 would block, -1 closed/error (detail
 * set, *err the cause). */
long mc_net_read(midge_client_t *c, uint8_t *buf, size_t cap, midge_err_t *err);
/* Writes: >=0 bytes written (0 would block), -1 error (detail set). */
long mc_net_write(midge_client_t *c, const uint8_t *buf, size_t len, midge_err_t *err);
/* True if TLS wants the socket writable to make progress on a read. */
bool mc_net_wants_write(midge_client_t *c);
void mc_net_close(midge_client_t *c);

#endif
