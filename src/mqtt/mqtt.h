/*
 * midge MQTT codec: every packet of MQTT 3.1, 3.1.1 and 5.0, both directions.
 *
 * Contract:
 *  - Pure C11. No I/O, no allocation, no globals; only mem* functions.
 *  - Decoding never reads outside [buf, buf+len). Decoded strings, binary
 *    data and payloads are views (pointer + length) into the caller's
 *    buffer: the buffer MUST outlive the decoded packet.
 *  - Every malformation yields an mqtt_err_t; mqtt_err_reason() maps it to
 *    the MQTT v5 reason code the receiver sends (0x81 malformed, 0x82
 *    protocol error, ...). mqtt_err_str() names it for logs.
 *  - Encoding is two steps: mqtt_encoded_size() then mqtt_encode() into a
 *    buffer at least that big.
 */
#ifndef MIDGE_MQTT_H
#define MIDGE_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol level byte of CONNECT. 3 is MQTT 3.1 ("MQIsdp"). */
typedef enum {
    MQTT_V31 = 3,
    MQTT_V311 = 4,
    MQTT_V5 = 5,
} mqtt_version_t;

typedef enum {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
    MQTT_AUTH = 15,
} mqtt_packet_type_t;

/* MQTT v5 reason codes (also the values of 3.1.1 CONNACK return codes 0-5
 * live in their own enum below, since they overlap numerically). */
typedef enum {
    MQTT_RC_SUCCESS = 0x00, /* also Normal disconnection, Granted QoS 0 */
    MQTT_RC_GRANTED_QOS1 = 0x01,
    MQTT_RC_GRANTED_QOS2 = 0x02,
    MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
    MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    MQTT_RC_CONTINUE_AUTHENTICATION = 0x18,
    MQTT_RC_REAUTHENTICATE = 0x19,
    MQTT_RC_UNSPECIFIED_ERROR = 0x80,
    MQTT_RC_MALFORMED_PACKET = 0x81,
    MQTT_RC_PROTOCOL_ERROR = 0x82,
    MQTT_RC_IMPLEMENTATION_SPECIFIC = 0x83,
    MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84,
    MQTT_RC_CLIENT_ID_NOT_VALID = 0x85,
    MQTT_RC_BAD_USERNAME_OR_PASSWORD = 0x86,
    MQTT_RC_NOT_AUTHORIZED = 0x87,
    MQTT_RC_SERVER_UNAVAILABLE = 0x88,
    MQTT_RC_SERVER_BUSY = 0x89,
    MQTT_RC_BANNED = 0x8A,
    MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MQTT_RC_BAD_AUTHENTICATION_METHOD = 0x8C,
    MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
    MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
    MQTT_RC_TOPIC_NAME_INVALID = 0x90,
    MQTT_RC_PACKET_ID_IN_USE = 0x91,
    MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
    MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93,
    MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQTT_RC_PACKET_TOO_LARGE = 0x95,
    MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    MQTT_RC_QUOTA_EXCEEDED = 0x97,
    MQTT_RC_ADMINISTRATIVE_ACTION = 0x98,
    MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
    MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
    MQTT_RC_SERVER_MOVED = 0x9D,
    MQTT_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MQTT_RC_MAXIMUM_CONNECT_TIME = 0xA0,
    MQTT_RC_SUBSCRIPTION_IDS_NOT_SUPPORTED = 0xA1,
    MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
} mqtt_reason_t;

/* MQTT 3.1 / 3.1.1 CONNACK return codes. */
typedef enum {
    MQTT_CONNACK_ACCEPTED = 0,
    MQTT_CONNACK_REFUSED_PROTOCOL_VERSION = 1,
    MQTT_CONNACK_REFUSED_IDENTIFIER_REJECTED = 2,
    MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE = 3,
    MQTT_CONNACK_REFUSED_BAD_USERNAME_PASSWORD = 4,
    MQTT_CONNACK_REFUSED_NOT_AUTHORIZED = 5,
} mqtt_connack_v3_t;

/*
 * Codec errors. One X-macro list gives the enum, the v5 reason code each
 * maps to, and its log string (mqtt_err_reason / mqtt_err_str).
 * X(name, reason code, description)
 */
#define MQTT_ERR_LIST(X)                                                                           \
    X(MQTT_OK, 0x00, "ok")                                                                         \
    X(MQTT_ERR_NEED_MORE, 0x00, "need more bytes")                                                 \
    X(MQTT_ERR_VARINT, 0x81, "variable byte integer longer than 4 bytes")                          \
    X(MQTT_ERR_TRUNCATED, 0x81, "field runs past the end of the packet")                           \
    X(MQTT_ERR_TRAILING, 0x81, "bytes left over after the last field")                             \
    X(MQTT_ERR_PACKET_TYPE, 0x81, "reserved or unknown packet type")                               \
    X(MQTT_ERR_RESERVED_FLAGS, 0x81, "reserved fixed header flags set")                            \
    X(MQTT_ERR_UTF8, 0x81, "invalid UTF-8 string")                                                 \
    X(MQTT_ERR_PROTOCOL_NAME, 0x84, "unknown protocol name")                                       \
    X(MQTT_ERR_PROTOCOL_VERSION, 0x84, "unsupported protocol level")                               \
    X(MQTT_ERR_CONNECT_FLAGS, 0x81, "invalid CONNECT flags")                                       \
    X(MQTT_ERR_QOS, 0x81, "QoS 3 is not a QoS level")                                              \
    X(MQTT_ERR_PACKET_ID_ZERO, 0x82, "packet identifier 0")                                        \
    X(MQTT_ERR_TOPIC_INVALID, 0x90, "wildcard or invalid character in topic name")                 \
    X(MQTT_ERR_TOPIC_EMPTY, 0x82, "empty topic name without a topic alias")                        \
    X(MQTT_ERR_FILTER_INVALID, 0x81, "invalid topic filter")                                       \
    X(MQTT_ERR_NO_FILTERS, 0x82, "SUBSCRIBE or UNSUBSCRIBE without a topic filter")                \
    X(MQTT_ERR_SUB_OPTIONS, 0x81, "reserved subscription option bits set")                         \
    X(MQTT_ERR_PROP_UNKNOWN, 0x81, "unknown property identifier")                                  \
    X(MQTT_ERR_PROP_NOT_ALLOWED, 0x81, "property not allowed in this packet")                      \
    X(MQTT_ERR_PROP_DUPLICATE, 0x82, "property included more than once")                           \
    X(MQTT_ERR_PROP_VALUE, 0x82, "property value out of range")                                    \
    X(MQTT_ERR_REASON_CODE, 0x82, "reason code not allowed in this packet")                        \
    X(MQTT_ERR_PACKET_TOO_LARGE, 0x95, "packet larger than the maximum packet size")               \
    X(MQTT_ERR_BUFFER_TOO_SMALL, 0x80, "output buffer too small")                                  \
    X(MQTT_ERR_INVALID_ARG, 0x80, "invalid argument to encoder")                                   \
    X(MQTT_ERR_TOPIC_ALIAS_ZERO, 0x94, "topic alias 0")                                            \
    X(MQTT_ERR_RETAIN_HANDLING, 0x82, "retain handling 3")                                         \
    X(MQTT_ERR_SHARED_NO_LOCAL, 0x82, "No Local set on a shared subscription")                     \
    X(MQTT_ERR_AUTH_METHOD, 0x82, "authentication data or AUTH without authentication method")

typedef enum {
#define MQTT_ERR_ENUM(name, rc, desc) name,
    MQTT_ERR_LIST(MQTT_ERR_ENUM)
#undef MQTT_ERR_ENUM
        MQTT_ERR_COUNT
} mqtt_err_t;

const char *mqtt_err_str(mqtt_err_t err);
/* The v5 reason code to send for this error (DISCONNECT or CONNACK). */
uint8_t mqtt_err_reason(mqtt_err_t err);
/* Name of a v5 reason code ("Malformed Packet"), "Unknown" if none. */
const char *mqtt_reason_str(uint8_t reason);
/* True if a v5 packet of this type (CONNACK, PUBACK..PUBCOMP, SUBACK,
 * UNSUBACK, DISCONNECT, AUTH) may carry this reason code. */
bool mqtt_reason_valid(uint8_t type, uint8_t reason);
/* The 3.1/3.1.1 CONNACK return code closest to a v5 CONNACK reason code
 * (0x84 -> 1, 0x85 -> 2, 0x86/0x8C -> 4, 0x87/0x8A -> 5, other failures
 * -> 3 server unavailable), so a server decides once in v5 terms. */
uint8_t mqtt_connack_v3_code(uint8_t reason);
/* The 3.1.1 SUBACK code for a v5 one: granted QoS 0-2 as is, any failure
 * 0x80. */
uint8_t mqtt_suback_v3_code(uint8_t reason);
/* Name of a packet type ("PUBLISH"), "UNKNOWN" if none. */
const char *mqtt_packet_type_str(unsigned type);

/* A view into a buffer owned by someone else. Not NUL-terminated. */
typedef struct {
    const uint8_t *data;
    size_t len;
} mqtt_bytes_t;

/* Bounded reader: every read checks pos against end and can fail. */
typedef struct {
    const uint8_t *pos;
    const uint8_t *end;
} mqtt_reader_t;

/* ---- Primitives (exposed for the broker, clients and tests) ---- */

/* Variable byte integer: 1-4 bytes, max 268,435,455. */
#define MQTT_VARINT_MAX 268435455u
/* Decodes a variable byte integer. MQTT_ERR_NEED_MORE if the buffer ends
 * inside it, MQTT_ERR_VARINT if it is longer than 4 bytes. Accepts
 * non-minimal forms (as Mosquitto does for the remaining length); the
 * packet decoders refuse them inside packets. */
mqtt_err_t mqtt_varint_decode(const uint8_t *buf, size_t len, uint32_t *value, size_t *used);
/* Bytes needed to encode value (1-4), 0 if value > MQTT_VARINT_MAX. */
size_t mqtt_varint_size(uint32_t value);
/* Writes value; returns bytes written (buf must hold mqtt_varint_size). */
size_t mqtt_varint_encode(uint32_t value, uint8_t *buf);

/* UTF-8 as MQTT requires: well-formed (no overlongs), no surrogates, no
 * U+0000. Like Mosquitto, also refuses what the spec lets a receiver
 * refuse: control characters (U+0001-U+001F, U+007F-U+009F) and Unicode
 * non-characters (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF). */
bool mqtt_utf8_valid(const uint8_t *s, size_t len);
/* Topic name: valid UTF-8, 1..65535 bytes, no '+' or '#'. */
bool mqtt_topic_name_valid(mqtt_bytes_t topic);
/* Topic filter: valid UTF-8, non-empty, '+' alone in its level, '#' alone
 * and last. $share/<group>/<filter> is checked as a shared subscription
 * (group non-empty, no wildcards in it, filter present). */
bool mqtt_topic_filter_valid(mqtt_bytes_t filter);
/* True if topic matches filter, with the rule that filters starting with a
 * wildcard do not match topics starting with '$'. Both must be valid. A
 * shared subscription "$share/<group>/<filter>" matches as its <filter>. */
bool mqtt_topic_matches(mqtt_bytes_t filter, mqtt_bytes_t topic);

/* ---- Fixed header / framing ---- */

typedef struct {
    uint8_t type;       /* mqtt_packet_type_t */
    uint8_t flags;      /* low nibble of the first byte */
    uint8_t header_len; /* 2..5: first byte + remaining length bytes */
    uint32_t remaining; /* remaining length */
} mqtt_fixed_header_t;

/*
 * Reads the fixed header at the start of buf. Returns MQTT_OK (the whole
 * packet is header_len + remaining bytes, which may be more than len),
 * MQTT_ERR_NEED_MORE, or MQTT_ERR_VARINT. The caller enforces its
 * maximum packet size before waiting for the body.
 */
mqtt_err_t mqtt_fixed_header_decode(const uint8_t *buf, size_t len, mqtt_fixed_header_t *fh);

/* ---- Properties (MQTT 5) ---- */

typedef enum {
    MQTT_PROP_PAYLOAD_FORMAT_INDICATOR = 0x01,     /* byte */
    MQTT_PROP_MESSAGE_EXPIRY_INTERVAL = 0x02,      /* four-byte integer */
    MQTT_PROP_CONTENT_TYPE = 0x03,                 /* UTF-8 string */
    MQTT_PROP_RESPONSE_TOPIC = 0x08,               /* UTF-8 string */
    MQTT_PROP_CORRELATION_DATA = 0x09,             /* binary data */
    MQTT_PROP_SUBSCRIPTION_IDENTIFIER = 0x0B,      /* variable byte integer */
    MQTT_PROP_SESSION_EXPIRY_INTERVAL = 0x11,      /* four-byte integer */
    MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER = 0x12,   /* UTF-8 string */
    MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,            /* two-byte integer */
    MQTT_PROP_AUTHENTICATION_METHOD = 0x15,        /* UTF-8 string */
    MQTT_PROP_AUTHENTICATION_DATA = 0x16,          /* binary data */
    MQTT_PROP_REQUEST_PROBLEM_INFORMATION = 0x17,  /* byte */
    MQTT_PROP_WILL_DELAY_INTERVAL = 0x18,          /* four-byte integer */
    MQTT_PROP_REQUEST_RESPONSE_INFORMATION = 0x19, /* byte */
    MQTT_PROP_RESPONSE_INFORMATION = 0x1A,         /* UTF-8 string */
    MQTT_PROP_SERVER_REFERENCE = 0x1C,             /* UTF-8 string */
    MQTT_PROP_REASON_STRING = 0x1F,                /* UTF-8 string */
    MQTT_PROP_RECEIVE_MAXIMUM = 0x21,              /* two-byte integer */
    MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,          /* two-byte integer */
    MQTT_PROP_TOPIC_ALIAS = 0x23,                  /* two-byte integer */
    MQTT_PROP_MAXIMUM_QOS = 0x24,                  /* byte */
    MQTT_PROP_RETAIN_AVAILABLE = 0x25,             /* byte */
    MQTT_PROP_USER_PROPERTY = 0x26,                /* UTF-8 string pair */
    MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,          /* four-byte integer */
    MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28,       /* byte */
    MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE = 0x29,    /* byte */
    MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,         /* byte */
} mqtt_prop_id_t;

/* Where a property appears: the will properties of CONNECT are their own
 * context, since they allow a different set than CONNECT's. */
typedef enum {
    MQTT_PROPS_CONNECT,
    MQTT_PROPS_WILL,
    MQTT_PROPS_CONNACK,
    MQTT_PROPS_PUBLISH,
    MQTT_PROPS_PUBACK, /* PUBACK, PUBREC, PUBREL, PUBCOMP */
    MQTT_PROPS_SUBSCRIBE,
    MQTT_PROPS_SUBACK,
    MQTT_PROPS_UNSUBSCRIBE,
    MQTT_PROPS_UNSUBACK,
    MQTT_PROPS_DISCONNECT,
    MQTT_PROPS_AUTH,
} mqtt_props_context_t;

/* True if property id may appear in that context. */
bool mqtt_prop_allowed(uint8_t id, mqtt_props_context_t ctx);

typedef struct {
    mqtt_bytes_t key;
    mqtt_bytes_t value;
} mqtt_user_prop_t;

/*
 * All properties of one packet. Single-valued properties are fields; a
 * field is meaningful only if its bit is set in `present`
 * (MQTT_PROP_HAS / MQTT_PROP_SET, bit number = property id).
 *
 * User properties and subscription identifiers may repeat:
 *  - Decoding sets `raw` to the validated property block, `user_count`
 *    and `sub_id_count`, and leaves `user`/`sub_ids` NULL; iterate them
 *    in order with mqtt_props_iter_init/mqtt_props_next.
 *  - Encoding writes `user[0..user_count)` and `sub_ids[0..sub_id_count)`.
 *    If `user` is NULL but `user_count` > 0 and `raw` is set, the user
 *    properties are copied in order from `raw`: a decoded packet's user
 *    properties can be forwarded without building an array. Subscription
 *    identifiers likewise (`sub_ids` NULL, `sub_id_count` > 0, `raw` set).
 *  - The decoder also sets the present bits of MQTT_PROP_USER_PROPERTY and
 *    MQTT_PROP_SUBSCRIPTION_IDENTIFIER when any is there; the encoder
 *    ignores those two bits and goes by the counts.
 *  - The encoder writes properties in ascending identifier order.
 */
typedef struct {
    uint64_t present;
    uint32_t message_expiry_interval;
    uint32_t session_expiry_interval;
    uint32_t will_delay_interval;
    uint32_t maximum_packet_size;
    uint16_t server_keep_alive;
    uint16_t receive_maximum;
    uint16_t topic_alias_maximum;
    uint16_t topic_alias;
    uint8_t payload_format_indicator;
    uint8_t request_problem_information;
    uint8_t request_response_information;
    uint8_t maximum_qos;
    uint8_t retain_available;
    uint8_t wildcard_sub_available;
    uint8_t subscription_id_available;
    uint8_t shared_sub_available;
    mqtt_bytes_t content_type;
    mqtt_bytes_t response_topic;
    mqtt_bytes_t correlation_data;
    mqtt_bytes_t assigned_client_identifier;
    mqtt_bytes_t authentication_method;
    mqtt_bytes_t authentication_data;
    mqtt_bytes_t response_information;
    mqtt_bytes_t server_reference;
    mqtt_bytes_t reason_string;
    const mqtt_user_prop_t *user;
    size_t user_count;
    const uint32_t *sub_ids;
    size_t sub_id_count;
    mqtt_bytes_t raw;
} mqtt_props_t;

#define MQTT_PROP_HAS(p, id) ((((p)->present) >> (id)) & 1u)
#define MQTT_PROP_SET(p, id) ((p)->present |= (1ull << (id)))

/* One property as yielded by the iterator. */
typedef struct {
    uint8_t id;
    uint32_t value;    /* byte, two-byte, four-byte and varint properties */
    mqtt_bytes_t str;  /* strings and binary data; key of a user property */
    mqtt_bytes_t str2; /* value of a user property */
} mqtt_prop_t;

/* Iterates the decoded property block in wire order. */
void mqtt_props_iter_init(mqtt_reader_t *it, const mqtt_props_t *props);
/* False when no property is left. Only valid on a block the decoder
 * accepted. */
bool mqtt_props_next(mqtt_reader_t *it, mqtt_prop_t *out);

/* Bytes the property block occupies on the wire, without its length
 * prefix; 0 for an empty block. */
size_t mqtt_props_size(const mqtt_props_t *props);

/* Decodes one property block (its variable byte integer length first) at
 * r->pos for a packet of context ctx, with every check mqtt_decode makes
 * on properties, and advances r past it. *out is cleared first. For a
 * client that reads packet bodies itself (midge-lite) and so needs no
 * whole mqtt_packet_t. */
mqtt_err_t mqtt_props_decode(mqtt_reader_t *r, mqtt_props_context_t ctx, mqtt_props_t *out);

/* ---- Packets ---- */

/* Subscription options byte: QoS in bits 0-1, No Local bit 2, Retain As
 * Published bit 3, Retain Handling bits 4-5. */
#define MQTT_SUBOPT_QOS(o)             ((o)&0x03u)
#define MQTT_SUBOPT_NO_LOCAL           0x04u
#define MQTT_SUBOPT_RETAIN_AS_PUB      0x08u
#define MQTT_SUBOPT_RETAIN_HANDLING(o) (((o) >> 4) & 0x03u)

typedef struct {
    mqtt_bytes_t filter;
    uint8_t options; /* 3.1.1: the requested QoS only */
} mqtt_subscription_t;

typedef struct {
    mqtt_version_t version;     /* from the protocol level byte */
    mqtt_bytes_t protocol_name; /* "MQTT" or "MQIsdp" */
    bool clean_start;           /* Clean Session in 3.1.1 */
    uint16_t keep_alive;
    mqtt_bytes_t client_id;
    bool will_flag;
    uint8_t will_qos;
    bool will_retain;
    mqtt_props_t will_props;
    mqtt_bytes_t will_topic;
    mqtt_bytes_t will_payload;
    bool username_flag;
    mqtt_bytes_t username;
    bool password_flag;
    mqtt_bytes_t password;
    mqtt_props_t props;
    /* Top bit of the protocol level set: a Mosquitto bridge announcing
     * itself ("try_private"). `version` holds the level without it. */
    bool bridge;
} mqtt_connect_t;

typedef struct {
    bool session_present;
    uint8_t reason; /* v5 reason code, or mqtt_connack_v3_t */
    mqtt_props_t props;
} mqtt_connack_t;

typedef struct {
    bool dup;
    uint8_t qos;
    bool retain;
    mqtt_bytes_t topic; /* may be empty in v5 when a topic alias is set */
    uint16_t packet_id; /* only when qos > 0 */
    mqtt_props_t props;
    mqtt_bytes_t payload;
} mqtt_publish_t;

/* PUBACK, PUBREC, PUBREL, PUBCOMP. In v5 the reason code and properties
 * are omitted on the wire when reason is 0 and there are no properties. */
typedef struct {
    uint16_t packet_id;
    uint8_t reason;
    mqtt_props_t props;
} mqtt_ack_t;

/* SUBSCRIBE. Decoding sets `raw` to the validated list and `count`, leaves
 * `entries` NULL; walk it with mqtt_subscribe_next. Encoding writes
 * entries[0..count), or copies `raw` verbatim when `entries` is NULL (raw
 * must come from a packet of the same type and version). */
typedef struct {
    uint16_t packet_id;
    mqtt_props_t props;
    const mqtt_subscription_t *entries;
    size_t count;
    mqtt_bytes_t raw;
} mqtt_subscribe_t;

/* UNSUBSCRIBE: like SUBSCRIBE, without options (entries[i].options is
 * ignored when encoding and 0 when iterating). */
typedef mqtt_subscribe_t mqtt_unsubscribe_t;

/* SUBACK and UNSUBACK: one reason code per filter (3.1.1 SUBACK: granted
 * QoS or 0x80; 3.1.1 UNSUBACK has none, count 0). Decoding points
 * `reasons` into the buffer. */
typedef struct {
    uint16_t packet_id;
    mqtt_props_t props;
    const uint8_t *reasons;
    size_t count;
} mqtt_suback_t;

/* DISCONNECT and AUTH (v5 reason and properties; 3.1.1 DISCONNECT has
 * neither). */
typedef struct {
    uint8_t reason;
    mqtt_props_t props;
} mqtt_disconnect_t;

typedef struct {
    uint8_t type; /* mqtt_packet_type_t */
    union {
        mqtt_connect_t connect;
        mqtt_connack_t connack;
        mqtt_publish_t publish;
        mqtt_ack_t ack; /* PUBACK PUBREC PUBREL PUBCOMP */
        mqtt_subscribe_t subscribe;
        mqtt_unsubscribe_t unsubscribe;
        mqtt_suback_t suback;         /* SUBACK UNSUBACK */
        mqtt_disconnect_t disconnect; /* DISCONNECT AUTH */
    } u;
} mqtt_packet_t;

/*
 * Decodes one whole packet: buf holds exactly the fixed header and the
 * remaining length bytes (len == header_len + remaining). `version` is
 * the connection's negotiated version; it is ignored for CONNECT, whose
 * own level is decoded into out->u.connect.version (also on
 * MQTT_ERR_PROTOCOL_NAME / MQTT_ERR_PROTOCOL_VERSION, so the server can
 * answer in the client's version).
 *
 * Checks everything the specification makes checkable from the packet
 * alone: reserved flags, lengths, UTF-8, QoS, packet id 0, topic name and
 * filter rules, property ids, types, contexts, duplicates and value ranges,
 * reason codes valid for the packet type. Session-dependent rules (topic
 * alias range, receive maximum, ...) are the caller's.
 */
mqtt_err_t mqtt_decode(const uint8_t *buf, size_t len, mqtt_version_t version, mqtt_packet_t *out);

/* Same, for a body already framed: fh from mqtt_fixed_header_decode, body
 * the fh->remaining bytes after the fixed header. */
mqtt_err_t mqtt_decode_body(const mqtt_fixed_header_t *fh, const uint8_t *body,
                            mqtt_version_t version, mqtt_packet_t *out);

/* Total bytes of the encoded packet, 0 if the packet cannot be encoded
 * (invalid field, or larger than the protocol allows). The encoder checks
 * what is cheap: QoS, packet id 0, flag combinations, lengths, option
 * bits, v5 reason codes per packet, property contexts and value ranges.
 * It does not re-validate UTF-8 or topic syntax: check input from users
 * with mqtt_utf8_valid / mqtt_topic_name_valid / mqtt_topic_filter_valid. */
size_t mqtt_encoded_size(const mqtt_packet_t *pkt, mqtt_version_t version);

/* Encodes pkt into buf. On success *written is the packet's size. For
 * CONNECT the version written is pkt->u.connect.version. */
mqtt_err_t mqtt_encode(const mqtt_packet_t *pkt, mqtt_version_t version, uint8_t *buf, size_t cap,
                       size_t *written);

/*
 * PUBLISH without its payload: writes the fixed header (whose remaining
 * length counts the payload), topic, packet id and properties. The full
 * packet is these bytes followed by pub->payload, so a server can share
 * one payload among many subscribers and only build this head for each.
 * *packet_id_offset (if not NULL) is where the 2 packet id bytes sit
 * (0 for QoS 0), so a cached head can be patched per subscriber.
 */
size_t mqtt_publish_head_size(const mqtt_publish_t *pub, mqtt_version_t version);
mqtt_err_t mqtt_encode_publish_head(const mqtt_publish_t *pub, mqtt_version_t version, uint8_t *buf,
                                    size_t cap, size_t *written, size_t *packet_id_offset);

/* Walks the decoded topic-filter list of a SUBSCRIBE or UNSUBSCRIBE (pass
 * the packet type); false when none is left. */
void mqtt_subscribe_iter_init(mqtt_reader_t *it, const mqtt_subscribe_t *sub);
bool mqtt_subscribe_next(mqtt_reader_t *it, uint8_t type, mqtt_subscription_t *out);

#ifdef __cplusplus
}
#endif
#endif
