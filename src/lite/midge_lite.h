/*
 * midge-lite: an MQTT client for microcontrollers.
 *
 *  - No allocation, no globals: the caller owns the context and both
 *    buffers; every packet is built in tx_buf and read into rx_buf.
 *  - I/O through a transport (send/receive with timeouts) and time through
 *    a clock callback, so it runs on bare metal, an RTOS or a host.
 *  - MQTT 3.1.1; MQTT 5.0 when compiled with MIDGE_LITE_V5=1.
 *  - The calls map one to one onto MicroPython's umqtt.simple:
 *      MQTTClient(...)       midge_lite_init
 *      set_callback          midge_lite_set_callback
 *      set_last_will         midge_lite_set_last_will
 *      connect               midge_lite_connect
 *      publish               midge_lite_publish
 *      subscribe             midge_lite_subscribe
 *      check_msg / wait_msg  midge_lite_check_msg / midge_lite_wait_msg
 *      ping / disconnect     midge_lite_ping / midge_lite_disconnect
 *    plus midge_lite_reconnect. Unlike umqtt.simple, keep-alive pings are
 *    sent automatically from check_msg, wait_msg and publish; QoS 2 works
 *    both ways; packet ids wrap from 65535 to 1; lengths are in bytes.
 */
#ifndef MIDGE_LITE_H
#define MIDGE_LITE_H

#include <stddef.h>
#include <stdint.h>

#ifndef MIDGE_LITE_V5
#define MIDGE_LITE_V5 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MIDGE_LITE_OK = 0,
    MIDGE_LITE_ERR_ARG = -1,           /* NULL or out-of-range argument */
    MIDGE_LITE_ERR_IO = -2,            /* transport failed or peer closed */
    MIDGE_LITE_ERR_TIMEOUT = -3,       /* no answer in time (ack or PINGRESP) */
    MIDGE_LITE_ERR_TOO_LARGE = -4,     /* topic/payload/will does not fit tx_buf */
    MIDGE_LITE_ERR_PROTOCOL = -5,      /* malformed or unexpected packet from broker */
    MIDGE_LITE_ERR_RX_TOO_LARGE = -6,  /* broker packet larger than rx_buf */
    MIDGE_LITE_ERR_REFUSED = -7,       /* CONNACK refused: see connack_code */
    MIDGE_LITE_ERR_NOT_CONNECTED = -8, /* call connect (or reconnect) first */
    MIDGE_LITE_ERR_TOPIC = -9,         /* invalid topic name/filter or UTF-8 */
    MIDGE_LITE_ERR_SUBSCRIBE = -10,    /* broker refused the subscription */
    MIDGE_LITE_ERR_REJECTED = -11,     /* v5 ack with a failure reason code */
} midge_lite_err_t;

/*
 * Transport. send/recv return the bytes moved (> 0), 0 when the timeout
 * passed without any, or < 0 on error or when the peer closed. recv may
 * return fewer bytes than asked. open/close/sleep_ms may be NULL when the
 * connection is managed outside (open is needed by midge_lite_reconnect).
 */
typedef struct {
    int (*open)(void *io);
    void (*close)(void *io);
    int (*send)(void *io, const uint8_t *buf, size_t len, uint32_t timeout_ms);
    int (*recv)(void *io, uint8_t *buf, size_t cap, uint32_t timeout_ms);
    void (*sleep_ms)(void *io, uint32_t ms);
    void *io;
} midge_lite_transport_t;

/* Monotonic milliseconds; wrapping at 2^32 is fine. */
typedef uint32_t (*midge_lite_clock_t)(void *io);

/* An application message. topic and payload point into rx_buf and are
 * valid only during the callback. */
typedef void (*midge_lite_callback_t)(void *user, const char *topic, size_t topic_len,
                                      const uint8_t *msg, size_t msg_len);

typedef struct {
    const midge_lite_transport_t *transport;
    midge_lite_clock_t clock;
    uint8_t *tx_buf; /* one outgoing packet; 32 bytes + topic + payload */
    uint8_t *rx_buf; /* one incoming packet */
    uint16_t tx_cap;
    uint16_t rx_cap;
    const char *client_id; /* these strings must outlive the client */
    const char *user;      /* NULL for none */
    const char *password;  /* NULL for none */
    uint16_t keepalive;    /* seconds, 0 = off */
    uint16_t timeout_ms;   /* wait for acks and CONNACK; 0 = 5000 */
#if MIDGE_LITE_V5
    uint32_t session_expiry; /* seconds, sent when connecting clean = 0 */
#endif
} midge_lite_config_t;

/* Inbound QoS 2 ids received but not yet released (exactly-once). */
#define MIDGE_LITE_QOS2_SLOTS 4

/* The client. Fields are internal except next_id (the next packet id to
 * use, never 0) and connack_code (why the last CONNECT was refused). */
typedef struct {
    const midge_lite_transport_t *tr;
    midge_lite_clock_t clock;
    midge_lite_callback_t cb;
    void *cb_user;
    uint8_t *tx;
    uint8_t *rx;
    const char *client_id;
    const char *user;
    const char *password;
    const char *will_topic;
    const uint8_t *will_msg;
    uint16_t will_len;
    uint16_t tx_cap;
    uint16_t rx_cap;
    uint16_t rx_have; /* bytes of the current incoming packet read so far */
    uint16_t keepalive;
    uint16_t timeout_ms;
    uint16_t next_id;
    uint16_t qos2_ids[MIDGE_LITE_QOS2_SLOTS];
    uint32_t last_tx;
    uint32_t ping_sent;
#if MIDGE_LITE_V5
    uint32_t session_expiry;
    uint32_t max_packet; /* from CONNACK; 0 = no limit */
#endif
    uint8_t will_flags; /* bit 0 set, bits 1-2 QoS, bit 3 retain */
    uint8_t state;      /* bit 0 connected, bit 1 ping outstanding, bit 2 clean */
    uint8_t connack_code;
    uint8_t rx_header; /* fixed header length once known, else 0 */
} midge_lite_t;

/* MQTTClient(client_id, server, port, user, password, keepalive) */
int midge_lite_init(midge_lite_t *c, const midge_lite_config_t *cfg);
/* set_callback(f) */
void midge_lite_set_callback(midge_lite_t *c, midge_lite_callback_t cb, void *user);
/* set_last_will(topic, msg, retain, qos); pointers must outlive c. */
int midge_lite_set_last_will(midge_lite_t *c, const char *topic, const uint8_t *msg, size_t len,
                             int retain, int qos);
/* connect(clean_session): sends CONNECT on an open transport and waits for
 * CONNACK. Returns 0, or 1 if the broker kept a session, or an error. */
int midge_lite_connect(midge_lite_t *c, int clean);
/* publish(topic, msg, retain, qos): QoS 1 and 2 wait for the handshake to
 * finish (delivering messages that arrive meanwhile). */
int midge_lite_publish(midge_lite_t *c, const char *topic, const uint8_t *msg, size_t len,
                       int retain, int qos);
/* subscribe(topic, qos): waits for SUBACK; returns the granted QoS. */
int midge_lite_subscribe(midge_lite_t *c, const char *filter, int qos);
/* check_msg(): handles what has arrived without blocking; sends PINGREQ
 * when keep-alive is due. */
int midge_lite_check_msg(midge_lite_t *c);
/* wait_msg(): blocks until one packet arrives and handles it, keeping the
 * connection alive meanwhile. */
int midge_lite_wait_msg(midge_lite_t *c);
/* ping(): sends PINGREQ now (never needed to stay connected). */
int midge_lite_ping(midge_lite_t *c);
/* disconnect(): sends DISCONNECT and closes the transport. */
int midge_lite_disconnect(midge_lite_t *c);
/* Closes the transport, then up to `attempts` times opens it and connects
 * with the last clean flag, sleeping delay_ms between tries. Returns as
 * midge_lite_connect. */
int midge_lite_reconnect(midge_lite_t *c, unsigned attempts, uint32_t delay_ms);
/* Nonzero while connected. */
int midge_lite_is_connected(const midge_lite_t *c);

#ifdef __cplusplus
}
#endif
#endif
