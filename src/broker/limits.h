/*
 * Default limits of the broker. Where the specification leaves a choice the
 * value is Mosquitto 2.0's, so that clients and scripts tuned against it see
 * the same broker.
 */
#ifndef MIDGE_LIMITS_H
#define MIDGE_LIMITS_H

/* Outgoing QoS 1/2 messages in flight per client (Mosquitto
 * max_inflight_messages); also the Receive Maximum we announce in CONNACK
 * and enforce on clients (DISCONNECT 0x93 above it). */
#define MIDGE_DEFAULT_MAX_INFLIGHT 20

/* Messages queued per client beyond the in-flight window, while it is
 * offline or slow (Mosquitto max_queued_messages). 0 = no limit. */
#define MIDGE_DEFAULT_MAX_QUEUED_MESSAGES 1000

/* Bytes of payload queued per client (Mosquitto max_queued_bytes). 0 = no
 * limit. */
#define MIDGE_DEFAULT_MAX_QUEUED_BYTES 0

/* Topic aliases a v5 client may set towards us (Mosquitto max_topic_alias);
 * announced as Topic Alias Maximum in CONNACK. */
#define MIDGE_DEFAULT_MAX_TOPIC_ALIAS 10

/* Largest keep-alive accepted; a client asking for more (or for 0) is told
 * this value in Server Keep Alive (v5), as Mosquitto does. */
#define MIDGE_DEFAULT_MAX_KEEPALIVE 65535

/* Seconds a new socket may take to send CONNECT before it is closed. */
#define MIDGE_CONNECT_TIMEOUT_S 10

/* Seconds between $SYS updates (Mosquitto sys_interval). */
#define MIDGE_DEFAULT_SYS_INTERVAL 10

/* Length of assigned client ids: "auto-" + a UUID in upper-case hex. */
#define MIDGE_AUTO_ID_PREFIX "auto-"

/* Subscription identifiers carried per delivery (overlapping subscriptions
 * of one client that all match one message). More are dropped from the
 * PUBLISH, never the delivery. */
#define MIDGE_MAX_SUB_IDS 16

/* Deliveries that may wait for an online client (beyond its in-flight
 * window) when max_queued_messages is lower. Workers read publishers in
 * large batches, so a reading subscriber sees bursts that a single-threaded
 * broker reading one packet per client per loop never queues; this bound
 * keeps those bursts while still cutting off a client that stopped
 * reading. */
#define MIDGE_MAX_ONLINE_QUEUED 100000

/* A client that acknowledged within this many ms counts as reading. */
#define MIDGE_PROGRESS_MS 1000

#endif
