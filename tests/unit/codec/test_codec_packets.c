/* Every packet type of every version: byte-exact round trips through
 * decode and encode, decoded field values, and one test per malformation
 * the decoder must reject with its own error. */
#include "mqtt/mqtt.h"
#include "test.h"

#include <stdint.h>

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < cap; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static mqtt_bytes_t B(const char *s)
{
    mqtt_bytes_t b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static bool eq(mqtt_bytes_t b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.data, s, b.len) == 0;
}

typedef struct {
    const char *name;
    int version; /* 0: the same bytes in every version */
    const char *hex;
} vector_t;

/* Hand-built from the specifications' layouts; properties in ascending
 * identifier order, which is the order the encoder writes. */
static const vector_t vectors[] = {
    {"connect v311 minimal", 4, "101200044d5154540402003c0006636c69656e74"},
    {"connect v311 will user pass", 4,
     "102500044d51545404ee000a00026331000677696c6c2f74000362796500047573657200027077"},
    {"connect v31", 3, "101e00064d514973647003c2001e000a6f6c642d636c69656e74000175000170"},
    {"connect v311 empty id", 4, "100c00044d515454040200000000"},
    /* The variable header of the 3.1.1 and 3.1 specifications' CONNECT
     * example (flags 0xCE, keep alive 10), with a payload to match. */
    {"connect v311 spec example", 4, "101b00044d51545404ce000a0003636964000177000178000175000170"},
    {"connect v31 spec example", 3,
     "101d00064d514973647003ce000a0003636964000177000178000175000170"},
    /* Mosquitto bridges set the top bit of the protocol level. */
    {"connect v311 bridge", 4, "101400044d5154548402003c00086272696467652d31"},
    {"connect v31 bridge", 3, "101600064d51497364708302003c00086272696467652d32"},
    /* The same from the 5.0 specification, with Session Expiry 10. */
    {"connect v5 spec example", 5,
     "102700044d51545405ce000a05110000000a0003636964051800000005000177000178000175000170"},
    {"connect v5 props", 5,
     "107100044d5154540536003c1b1100000e101700190121001422000a2600016b00017627001000000003646576300"
     "101020000003c03000a746578742f706c61696e0800087265706c792f746f0900020102180000001e260001610001"
     "62000a77696c6c2f746f70696300077061796c6f6164"},
    {"connect v5 password only", 5, "101500044d515454054000000000000006736563726574"},
    {"connect v5 auth", 5,
     "102400044d515454050200051615000b534352414d2d5348412d311600050064617461000178"},
    {"connack v311", 4, "20020100"},
    {"connack v311 refused", 4, "20020005"},
    {"connack v31", 3, "20020002"},
    {"connack v5 minimal", 5, "2003000000"},
    {"connack v5 props", 5,
     "205101004e11000000001200066175746f2d3113001e1500016d160001641a0004726573701c000a6f746865723a3"
     "13838331f00026f6b21006422000524012500260001780001792700010000280129002a01"},
    {"connack v5 refused", 5, "20080087051f00026e6f"},
    {"publish v311 qos0", 4, "300a0003612f6268656c6c6f"},
    {"publish v311 qos1 dup retain", 4, "3b080003612f62000778"},
    {"publish v311 qos2 empty payload", 4, "3405000174ffff"},
    {"publish v31 qos1", 3, "3214000c73656e736f72732f74656d70000132312e35"},
    {"publish v5 props", 5,
     "32470003612f62000a38010102000000780300046a736f6e080006726573702f7409000200ff0b010bffffff7f230"
     "0032600026b31000276312600026b31000276327b2261223a317d"},
    {"publish v5 alias only", 5, "300700000323000170"},
    {"publish v5 no props", 5, "300400017800"},
    {"puback v311", 4, "40021234"},
    {"puback v5 short", 5, "40020001"},
    {"pubrec v311", 4, "50021234"},
    {"pubrec v5 short", 5, "50020001"},
    {"pubrel v311", 4, "62021234"},
    {"pubrel v5 short", 5, "62020001"},
    {"pubcomp v311", 4, "70021234"},
    {"pubcomp v5 short", 5, "70020001"},
    {"puback v5 reason", 5, "4003000210"},
    {"pubrec v5 reason props", 5, "50130003800f1f000571756f746126000161000162"},
    {"pubrel v5 reason", 5, "6203000492"},
    {"pubcomp v5 props", 5, "700b000500071f000466696e65"},
    {"subscribe v311", 4, "820e000a0003612f2b010003622f2302"},
    {"subscribe v31", 3, "8206000b00017800"},
    {"subscribe v5", 5, "821f000c090b4d260001750001760003612f622d000a2473686172652f672f6301"},
    {"subscribe v5 no props", 5, "8207000d000001231a"},
    {"suback v311", 4, "9005000a010280"},
    {"suback v5", 5, "900a000c041f000172008fa2"},
    {"suback v5 no props", 5, "9004000d0002"},
    {"unsubscribe v311", 4, "a20a00140003612f2b000162"},
    {"unsubscribe v5", 5, "a2160015072600016b000176000a2473686172652f672f23"},
    {"unsuback v311", 4, "b0020014"},
    {"unsuback v5", 5, "b0050015000011"},
    {"unsuback v5 props", 5, "b00a0016061f000377687987"},
    {"pingreq", 0, "c000"},
    {"pingresp", 0, "d000"},
    {"disconnect", 0, "e000"},
    {"disconnect v5 reason", 5, "e00104"},
    {"disconnect v5 props", 5, "e0148b1211000000001c0004737276321f0003627965"},
    {"auth v5 continue", 5, "f016181415000b534352414d2d5348412d31160003010203"},
    {"auth v5 reauth", 5, "f01519131500084753322d4b5242351f0005616761696e"},
};

static int roundtrip_one(const char *name, mqtt_version_t v, const uint8_t *bytes, size_t len)
{
    mqtt_packet_t pkt;
    uint8_t out[1024];
    size_t written = 0;
    mqtt_err_t err = mqtt_decode(bytes, len, v, &pkt);
    if (err != MQTT_OK) {
        fprintf(stderr, "%s (v%d): decode: %s\n", name, v, mqtt_err_str(err));
        return 0;
    }
    mqtt_version_t ev = pkt.type == MQTT_CONNECT ? pkt.u.connect.version : v;
    if (mqtt_encoded_size(&pkt, ev) != len) {
        fprintf(stderr, "%s (v%d): encoded size %zu != %zu\n", name, v, mqtt_encoded_size(&pkt, ev),
                len);
        return 0;
    }
    err = mqtt_encode(&pkt, ev, out, sizeof out, &written);
    if (err != MQTT_OK || written != len || memcmp(out, bytes, len) != 0) {
        fprintf(stderr, "%s (v%d): encode: %s, %zu bytes, differs\n", name, v, mqtt_err_str(err),
                written);
        return 0;
    }
    /* One byte short of the buffer is refused without writing past it. */
    if (mqtt_encode(&pkt, ev, out, len - 1, &written) != MQTT_ERR_BUFFER_TOO_SMALL)
        return 0;
    /* Any prefix is truncated; framing asks for more or decoding fails. */
    for (size_t cut = 0; cut < len; cut++) {
        if (mqtt_decode(bytes, cut, v, &pkt) == MQTT_OK) {
            fprintf(stderr, "%s (v%d): prefix %zu decoded\n", name, v, cut);
            return 0;
        }
    }
    return 1;
}

TEST(roundtrip_vectors)
{
    int checked = 0;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t bytes[512];
        size_t len = unhex(vectors[i].hex, bytes, sizeof bytes);
        for (int v = MQTT_V31; v <= MQTT_V5; v++) {
            if (vectors[i].version && vectors[i].version != v)
                continue;
            CHECK(roundtrip_one(vectors[i].name, (mqtt_version_t)v, bytes, len));
            checked++;
        }
    }
    CHECK(checked >= 50);
}

/* Every packet type appears in every version it exists in. */
TEST(vectors_cover_every_type)
{
    unsigned seen[6] = {0};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t bytes[512];
        unhex(vectors[i].hex, bytes, sizeof bytes);
        for (int v = MQTT_V31; v <= MQTT_V5; v++) {
            if (!vectors[i].version || vectors[i].version == v)
                seen[v] |= 1u << (bytes[0] >> 4);
        }
    }
    /* v3.1 reuses the v3.1.1 acks, SUBACK and UNSUB* shapes: check those
     * decode in 3.1 too. */
    static const char *const v31_extra[] = {"40021234",       "50021234",
                                            "62021234",       "70021234",
                                            "9005000a010280", "a20a00140003612f2b000162",
                                            "b0020014"};
    for (size_t i = 0; i < sizeof v31_extra / sizeof v31_extra[0]; i++) {
        uint8_t bytes[64];
        size_t len = unhex(v31_extra[i], bytes, sizeof bytes);
        CHECK(roundtrip_one(v31_extra[i], MQTT_V31, bytes, len));
        seen[3] |= 1u << (bytes[0] >> 4);
    }
    CHECK_EQ_INT(seen[MQTT_V31], 0x7FFE);
    CHECK_EQ_INT(seen[MQTT_V311], 0x7FFE);
    CHECK_EQ_INT(seen[MQTT_V5], 0xFFFE);
}

static mqtt_err_t decode_hex(const char *hex, mqtt_version_t v, mqtt_packet_t *pkt)
{
    static uint8_t bytes[512];
    size_t len = unhex(hex, bytes, sizeof bytes);
    return mqtt_decode(bytes, len, v, pkt);
}

static const char *find_vector(const char *name)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        if (strcmp(vectors[i].name, name) == 0)
            return vectors[i].hex;
    }
    return "";
}

TEST(connect_fields)
{
    mqtt_packet_t p;
    CHECK_EQ_INT(decode_hex(find_vector("connect v5 spec example"), MQTT_V311, &p), MQTT_OK);
    const mqtt_connect_t *c = &p.u.connect;
    CHECK_EQ_INT(p.type, MQTT_CONNECT);
    CHECK_EQ_INT(c->version, MQTT_V5);
    CHECK(eq(c->protocol_name, "MQTT"));
    CHECK(c->clean_start && c->will_flag && c->username_flag && c->password_flag);
    CHECK_EQ_INT(c->will_qos, 1);
    CHECK(!c->will_retain);
    CHECK_EQ_INT(c->keep_alive, 10);
    CHECK(MQTT_PROP_HAS(&c->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL));
    CHECK_EQ_INT(c->props.session_expiry_interval, 10);
    CHECK(eq(c->client_id, "cid"));
    CHECK_EQ_INT(c->will_props.will_delay_interval, 5);
    CHECK(eq(c->will_topic, "w") && eq(c->will_payload, "x"));
    CHECK(eq(c->username, "u") && eq(c->password, "p"));

    CHECK_EQ_INT(decode_hex(find_vector("connect v31"), MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.connect.version, MQTT_V31);
    CHECK(eq(p.u.connect.protocol_name, "MQIsdp"));
    CHECK(eq(p.u.connect.client_id, "old-client"));
    CHECK_EQ_INT(p.u.connect.keep_alive, 30);

    CHECK_EQ_INT(decode_hex(find_vector("connect v5 props"), MQTT_V5, &p), MQTT_OK);
    c = &p.u.connect;
    CHECK_EQ_INT(c->props.receive_maximum, 20);
    CHECK_EQ_INT(c->props.topic_alias_maximum, 10);
    CHECK_EQ_INT(c->props.maximum_packet_size, 1048576);
    CHECK_EQ_INT(c->props.request_response_information, 1);
    CHECK(MQTT_PROP_HAS(&c->props, MQTT_PROP_REQUEST_PROBLEM_INFORMATION));
    CHECK_EQ_INT(c->props.user_count, 1);
    CHECK(c->props.user == NULL);
    CHECK_EQ_INT(c->will_qos, 2);
    CHECK(c->will_retain);
    CHECK(eq(c->will_props.content_type, "text/plain"));
    CHECK(eq(c->will_props.response_topic, "reply/to"));
    CHECK_EQ_INT(c->will_props.correlation_data.len, 2);
    CHECK_EQ_INT(c->will_props.message_expiry_interval, 60);
    CHECK_EQ_INT(c->will_props.payload_format_indicator, 1);

    /* 3.1 tolerates a flagged but absent user name and password. */
    CHECK_EQ_INT(decode_hex("101200064d514973647003c2001e000461626364", MQTT_V31, &p), MQTT_OK);
    CHECK(!p.u.connect.username_flag && !p.u.connect.password_flag);
}

TEST(connect_bridge_bit)
{
    mqtt_packet_t p;
    CHECK_EQ_INT(decode_hex(find_vector("connect v311 bridge"), MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.connect.version, MQTT_V311);
    CHECK(p.u.connect.bridge);
    CHECK_EQ_INT(decode_hex(find_vector("connect v311 minimal"), MQTT_V5, &p), MQTT_OK);
    CHECK(!p.u.connect.bridge);
    /* An unknown level stays unknown with the bridge bit. */
    CHECK_EQ_INT(decode_hex("100d00044d51545486020000000161", MQTT_V311, &p),
                 MQTT_ERR_PROTOCOL_VERSION);
    CHECK_EQ_INT(p.u.connect.version, 6);
}

TEST(connect_version_reported_on_error)
{
    mqtt_packet_t p;
    CHECK_EQ_INT(decode_hex("100d00044d51545406020000000161", MQTT_V311, &p),
                 MQTT_ERR_PROTOCOL_VERSION);
    CHECK_EQ_INT(p.u.connect.version, 6);
    CHECK_EQ_INT(decode_hex("100d00044d51545403020000000161", MQTT_V311, &p),
                 MQTT_ERR_PROTOCOL_VERSION);
    CHECK_EQ_INT(p.u.connect.version, 3);
}

TEST(publish_fields_and_iteration)
{
    mqtt_packet_t p;
    CHECK_EQ_INT(decode_hex(find_vector("publish v5 props"), MQTT_V5, &p), MQTT_OK);
    const mqtt_publish_t *pub = &p.u.publish;
    CHECK_EQ_INT(pub->qos, 1);
    CHECK(!pub->dup && !pub->retain);
    CHECK(eq(pub->topic, "a/b"));
    CHECK_EQ_INT(pub->packet_id, 10);
    CHECK(eq(pub->payload, "{\"a\":1}"));
    CHECK_EQ_INT(pub->props.sub_id_count, 2);
    CHECK_EQ_INT(pub->props.user_count, 2);
    CHECK_EQ_INT(pub->props.topic_alias, 3);
    CHECK(eq(pub->props.content_type, "json"));
    CHECK(MQTT_PROP_HAS(&pub->props, MQTT_PROP_USER_PROPERTY));
    CHECK(MQTT_PROP_HAS(&pub->props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER));

    mqtt_reader_t it;
    mqtt_prop_t prop;
    uint32_t sub_ids[4];
    size_t nsub = 0, nuser = 0, total = 0;
    mqtt_props_iter_init(&it, &pub->props);
    while (mqtt_props_next(&it, &prop) && total < 32) {
        total++;
        if (prop.id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER && nsub < 4)
            sub_ids[nsub++] = prop.value;
        if (prop.id == MQTT_PROP_USER_PROPERTY) {
            CHECK(eq(prop.str, "k1"));
            CHECK(eq(prop.str2, nuser == 0 ? "v1" : "v2"));
            nuser++;
        }
    }
    CHECK_EQ_INT(total, 10);
    CHECK_EQ_INT(nsub, 2);
    CHECK_EQ_INT(sub_ids[0], 1);
    CHECK_EQ_INT(sub_ids[1], 268435455);
    CHECK_EQ_INT(nuser, 2);

    CHECK_EQ_INT(decode_hex(find_vector("publish v5 alias only"), MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.publish.topic.len, 0);
    CHECK_EQ_INT(p.u.publish.props.topic_alias, 1);

    CHECK_EQ_INT(decode_hex(find_vector("publish v311 qos1 dup retain"), MQTT_V311, &p), MQTT_OK);
    CHECK(p.u.publish.dup && p.u.publish.retain);
    CHECK_EQ_INT(p.u.publish.packet_id, 7);
}

TEST(subscribe_iteration)
{
    mqtt_packet_t p;
    mqtt_reader_t it;
    mqtt_subscription_t s;
    CHECK_EQ_INT(decode_hex(find_vector("subscribe v5"), MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.subscribe.count, 2);
    CHECK(p.u.subscribe.entries == NULL);
    CHECK_EQ_INT(p.u.subscribe.props.sub_id_count, 1);
    mqtt_subscribe_iter_init(&it, &p.u.subscribe);
    CHECK(mqtt_subscribe_next(&it, MQTT_SUBSCRIBE, &s));
    CHECK(eq(s.filter, "a/b"));
    CHECK_EQ_INT(MQTT_SUBOPT_QOS(s.options), 1);
    CHECK(s.options & MQTT_SUBOPT_NO_LOCAL);
    CHECK(s.options & MQTT_SUBOPT_RETAIN_AS_PUB);
    CHECK_EQ_INT(MQTT_SUBOPT_RETAIN_HANDLING(s.options), 2);
    CHECK(mqtt_subscribe_next(&it, MQTT_SUBSCRIBE, &s));
    CHECK(eq(s.filter, "$share/g/c"));
    CHECK(!mqtt_subscribe_next(&it, MQTT_SUBSCRIBE, &s));

    CHECK_EQ_INT(decode_hex(find_vector("unsubscribe v311"), MQTT_V311, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.unsubscribe.count, 2);
    mqtt_subscribe_iter_init(&it, &p.u.unsubscribe);
    CHECK(mqtt_subscribe_next(&it, MQTT_UNSUBSCRIBE, &s));
    CHECK(eq(s.filter, "a/+"));
    CHECK_EQ_INT(s.options, 0);
    CHECK(mqtt_subscribe_next(&it, MQTT_UNSUBSCRIBE, &s));
    CHECK(eq(s.filter, "b"));
    CHECK(!mqtt_subscribe_next(&it, MQTT_UNSUBSCRIBE, &s));

    CHECK_EQ_INT(decode_hex(find_vector("suback v5"), MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.suback.count, 3);
    CHECK_EQ_INT(p.u.suback.reasons[2], 0xA2);
    CHECK(eq(p.u.suback.props.reason_string, "r"));
}

TEST(acks_and_disconnect_fields)
{
    mqtt_packet_t p;
    CHECK_EQ_INT(decode_hex("40020001", MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.ack.reason, 0);
    CHECK_EQ_INT(decode_hex(find_vector("pubrec v5 reason props"), MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.type, MQTT_PUBREC);
    CHECK_EQ_INT(p.u.ack.packet_id, 3);
    CHECK_EQ_INT(p.u.ack.reason, 0x80);
    CHECK(eq(p.u.ack.props.reason_string, "quota"));
    /* The same bytes as v3.1.1 are too long. */
    CHECK_EQ_INT(decode_hex(find_vector("pubrec v5 reason props"), MQTT_V311, &p),
                 MQTT_ERR_TRAILING);
    CHECK_EQ_INT(decode_hex("e000", MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.disconnect.reason, 0);
    CHECK_EQ_INT(decode_hex(find_vector("disconnect v5 props"), MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(p.u.disconnect.reason, 0x8B);
    CHECK(eq(p.u.disconnect.props.server_reference, "srv2"));
    CHECK_EQ_INT(decode_hex(find_vector("connack v5 props"), MQTT_V5, &p), MQTT_OK);
    CHECK(p.u.connack.session_present);
    CHECK_EQ_INT(p.u.connack.props.maximum_qos, 1);
    CHECK_EQ_INT(p.u.connack.props.server_keep_alive, 30);
    CHECK(eq(p.u.connack.props.assigned_client_identifier, "auto-1"));
    CHECK_EQ_INT(decode_hex(find_vector("connack v311"), MQTT_V311, &p), MQTT_OK);
    CHECK(p.u.connack.session_present);
    CHECK_EQ_INT(decode_hex("20020100", MQTT_V31, &p), MQTT_OK);
    CHECK(!p.u.connack.session_present);
}

typedef struct {
    const char *name;
    int version;
    const char *hex;
    mqtt_err_t err;
} bad_t;

static const bad_t bad[] = {
    {"varint 5 bytes", 4, "30ffffffff7f", MQTT_ERR_VARINT},
    {"truncated body", 4, "300a0003612f62", MQTT_ERR_TRUNCATED},
    {"truncated header", 4, "30", MQTT_ERR_TRUNCATED},
    {"trailing after packet", 4, "c00000", MQTT_ERR_TRAILING},
    {"pingreq with body", 4, "c00100", MQTT_ERR_TRAILING},
    {"disconnect v311 with body", 4, "e00100", MQTT_ERR_TRAILING},
    {"connack v311 long", 4, "2003000000", MQTT_ERR_TRAILING},
    {"puback v311 long", 4, "4003000100", MQTT_ERR_TRAILING},
    {"puback short", 4, "400100", MQTT_ERR_TRUNCATED},
    {"type 0", 4, "0000", MQTT_ERR_PACKET_TYPE},
    {"auth in v311", 4, "f000", MQTT_ERR_PACKET_TYPE},
    {"pubrel flags 0", 4, "60020001", MQTT_ERR_RESERVED_FLAGS},
    {"subscribe flags 0", 4, "8006000100016100", MQTT_ERR_RESERVED_FLAGS},
    {"unsubscribe flags 3", 5, "a306000100000161", MQTT_ERR_RESERVED_FLAGS},
    {"puback flags 1", 5, "41020001", MQTT_ERR_RESERVED_FLAGS},
    {"pingreq flags", 4, "c800", MQTT_ERR_RESERVED_FLAGS},
    {"connect flags", 4, "110d00044d5154540402003c000163", MQTT_ERR_RESERVED_FLAGS},
    {"connack v311 reserved ack flags", 4, "20020200", MQTT_ERR_RESERVED_FLAGS},
    {"publish dup qos0", 4, "3803000174", MQTT_ERR_RESERVED_FLAGS},
    {"publish qos 3", 4, "36050001740001", MQTT_ERR_QOS},
    {"topic overlong nul", 4, "3005000361c080", MQTT_ERR_UTF8},
    {"topic newline", 4, "300300010a", MQTT_ERR_UTF8},
    {"user prop key DEL", 5, "300a000174062600017f0000", MQTT_ERR_UTF8},
    {"prop varint not minimal", 5, "3007000174030b8100", MQTT_ERR_VARINT},
    {"topic nul", 4, "300400026100", MQTT_ERR_UTF8},
    {"topic surrogate", 5, "30060003eda08000", MQTT_ERR_UTF8},
    {"client id bad utf8", 4, "100d00044d5154540402003c0001ff", MQTT_ERR_UTF8},
    {"username bad utf8", 4, "101000044d5154540482003c0001630001c3", MQTT_ERR_UTF8},
    {"filter bad utf8", 4, "820800010003e0808000", MQTT_ERR_UTF8},
    {"protocol name", 4, "100d00044d51545804020000000163", MQTT_ERR_PROTOCOL_NAME},
    {"MQTT level 3", 4, "100d00044d51545403020000000163", MQTT_ERR_PROTOCOL_VERSION},
    {"MQIsdp level 4", 4, "100f00064d514973647004020000000163", MQTT_ERR_PROTOCOL_VERSION},
    {"MQTT level 6", 4, "100d00044d51545406020000000163", MQTT_ERR_PROTOCOL_VERSION},
    {"connect reserved bit", 4, "100d00044d5154540403003c000163", MQTT_ERR_CONNECT_FLAGS},
    {"will qos without will", 4, "100d00044d515454040a003c000163", MQTT_ERR_CONNECT_FLAGS},
    {"will retain without will", 5, "100e00044d5154540522003c00000163", MQTT_ERR_CONNECT_FLAGS},
    {"will qos 3", 4, "101300044d515454041e003c000163000177000178", MQTT_ERR_QOS},
    {"v311 password without username", 4, "101000044d5154540442003c000163000170",
     MQTT_ERR_CONNECT_FLAGS},
    {"v31 password without username", 3, "101200064d514973647003420000000163000170",
     MQTT_ERR_CONNECT_FLAGS},
    {"will topic wildcard", 4, "101500044d5154540406003c0001630003772f23000178",
     MQTT_ERR_TOPIC_INVALID},
    {"will topic empty", 4, "101200044d5154540406003c0001630000000178", MQTT_ERR_TOPIC_INVALID},
    {"connect missing password", 4, "101000044d51545404c2003c000163000175", MQTT_ERR_TRUNCATED},
    {"publish qos1 id 0", 4, "32050001740000", MQTT_ERR_PACKET_ID_ZERO},
    {"puback id 0", 4, "40020000", MQTT_ERR_PACKET_ID_ZERO},
    {"pubrel id 0", 5, "62020000", MQTT_ERR_PACKET_ID_ZERO},
    {"subscribe id 0", 4, "8206000000016100", MQTT_ERR_PACKET_ID_ZERO},
    {"unsubscribe id 0", 5, "a206000000000161", MQTT_ERR_PACKET_ID_ZERO},
    {"suback id 0", 4, "9003000000", MQTT_ERR_PACKET_ID_ZERO},
    {"publish topic +", 4, "30050003612f2b", MQTT_ERR_TOPIC_INVALID},
    {"publish topic #", 5, "300400012300", MQTT_ERR_TOPIC_INVALID},
    {"publish topic empty v311", 4, "3003000078", MQTT_ERR_TOPIC_EMPTY},
    {"publish topic empty v5 no alias", 5, "30050000020100", MQTT_ERR_TOPIC_EMPTY},
    {"filter # not last", 4, "820a00010005612f232f6200", MQTT_ERR_FILTER_INVALID},
    {"filter empty", 4, "82050001000000", MQTT_ERR_FILTER_INVALID},
    {"filter + in level", 5, "82080001000002612b00", MQTT_ERR_FILTER_INVALID},
    {"filter share no filter", 5, "820e00010000082473686172652f6700", MQTT_ERR_FILTER_INVALID},
    {"unsubscribe filter invalid", 4, "a20700010003232f61", MQTT_ERR_FILTER_INVALID},
    {"subscribe no filters", 4, "82020001", MQTT_ERR_NO_FILTERS},
    {"subscribe v5 no filters", 5, "8203000100", MQTT_ERR_NO_FILTERS},
    {"unsubscribe no filters", 4, "a2020001", MQTT_ERR_NO_FILTERS},
    {"subscribe missing options", 4, "82050001000161", MQTT_ERR_TRUNCATED},
    {"sub options v311 reserved", 4, "8206000100016104", MQTT_ERR_SUB_OPTIONS},
    {"sub options v311 qos 3", 4, "8206000100016103", MQTT_ERR_QOS},
    {"sub options v5 reserved", 5, "820700010000016140", MQTT_ERR_SUB_OPTIONS},
    {"sub options v5 qos 3", 5, "820700010000016103", MQTT_ERR_QOS},
    {"sub options v5 retain handling 3", 5, "820700010000016130", MQTT_ERR_RETAIN_HANDLING},
    {"sub options v5 shared no local", 5, "8210000100000a2473686172652f672f6104",
     MQTT_ERR_SHARED_NO_LOCAL},
    {"prop unknown id", 5, "3006000174020400", MQTT_ERR_PROP_UNKNOWN},
    {"prop id 0", 5, "3006000174020000", MQTT_ERR_PROP_UNKNOWN},
    {"prop two-byte id", 5, "300700017403810100", MQTT_ERR_PROP_UNKNOWN},
    {"topic alias in connect", 5, "101100044d5154540502003c03230001000163",
     MQTT_ERR_PROP_NOT_ALLOWED},
    {"will delay in connect", 5, "101300044d5154540502003c051800000001000163",
     MQTT_ERR_PROP_NOT_ALLOWED},
    {"session expiry in will", 5, "101a00044d5154540506003c00000163051100000001000177000178",
     MQTT_ERR_PROP_NOT_ALLOWED},
    {"reason string in publish", 5, "3008000174041f000172", MQTT_ERR_PROP_NOT_ALLOWED},
    {"sub id in unsubscribe", 5, "a2080001020b01000161", MQTT_ERR_PROP_NOT_ALLOWED},
    {"max qos in connect", 5, "101000044d5154540502003c022401000163", MQTT_ERR_PROP_NOT_ALLOWED},
    {"session expiry twice", 5, "101800044d5154540502003c0a11000000011100000002000163",
     MQTT_ERR_PROP_DUPLICATE},
    {"content type twice", 5, "300c000174080300016103000161", MQTT_ERR_PROP_DUPLICATE},
    {"sub id twice in subscribe", 5, "820b0001040b010b0200016100", MQTT_ERR_PROP_DUPLICATE},
    {"reason string twice", 5, "e00a00081f0001611f000162", MQTT_ERR_PROP_DUPLICATE},
    {"payload format 2", 5, "3006000174020102", MQTT_ERR_PROP_VALUE},
    {"receive maximum 0", 5, "101100044d5154540502003c03210000000163", MQTT_ERR_PROP_VALUE},
    {"maximum packet size 0", 5, "101300044d5154540502003c052700000000000163", MQTT_ERR_PROP_VALUE},
    {"maximum qos 2", 5, "20050000022402", MQTT_ERR_PROP_VALUE},
    {"retain available 2", 5, "20050000022502", MQTT_ERR_PROP_VALUE},
    {"wildcard available 2", 5, "20050000022802", MQTT_ERR_PROP_VALUE},
    {"sub id available 2", 5, "20050000022902", MQTT_ERR_PROP_VALUE},
    {"shared available 2", 5, "20050000022a02", MQTT_ERR_PROP_VALUE},
    {"request problem info 2", 5, "101000044d5154540502003c021702000163", MQTT_ERR_PROP_VALUE},
    {"request response info 2", 5, "101000044d5154540502003c021902000163", MQTT_ERR_PROP_VALUE},
    {"subscription id 0", 5, "82090001020b0000016100", MQTT_ERR_PROP_VALUE},
    {"response topic wildcard", 5, "300a00017406080003722f2b", MQTT_ERR_PROP_VALUE},
    {"response topic empty", 5, "300700017403080000", MQTT_ERR_PROP_VALUE},
    {"topic alias 0", 5, "300700017403230000", MQTT_ERR_TOPIC_ALIAS_ZERO},
    {"auth data without method", 5, "101200044d5154540502003c0416000164000163",
     MQTT_ERR_AUTH_METHOD},
    {"auth without method", 5, "f000", MQTT_ERR_AUTH_METHOD},
    {"auth reason without props", 5, "f00118", MQTT_ERR_TRUNCATED},
    {"prop length past end", 5, "3006000174050100", MQTT_ERR_TRUNCATED},
    {"prop value past block", 5, "3009000174020200000000", MQTT_ERR_TRUNCATED},
    {"prop string past block", 5, "300c000174030300056162636465", MQTT_ERR_TRUNCATED},
    {"prop string bad utf8", 5, "300900017405030002c0af", MQTT_ERR_UTF8},
    {"user prop bad utf8 value", 5, "300d000174092600016b0003edbfbf", MQTT_ERR_UTF8},
    {"prop length 5 bytes", 5, "30080001748080808001", MQTT_ERR_VARINT},
    {"sub id 5 bytes", 5, "300a000174060b8080808001", MQTT_ERR_VARINT},
    {"puback v5 reason 0x92", 5, "4003000192", MQTT_ERR_REASON_CODE},
    {"pubrel v5 reason 0x10", 5, "6203000110", MQTT_ERR_REASON_CODE},
    {"pubcomp v5 reason 0x80", 5, "7003000180", MQTT_ERR_REASON_CODE},
    {"connack v5 reason 0x04", 5, "2003000400", MQTT_ERR_REASON_CODE},
    {"connack v311 rc 6", 4, "20020006", MQTT_ERR_REASON_CODE},
    {"suback v311 rc 3", 4, "9003000103", MQTT_ERR_REASON_CODE},
    {"suback v5 rc 0x11", 5, "90050001000011", MQTT_ERR_REASON_CODE},
    {"unsuback v5 rc 0x10", 5, "b00400010010", MQTT_ERR_REASON_CODE},
    {"disconnect v5 rc 0x84", 5, "e00184", MQTT_ERR_REASON_CODE},
    {"auth rc 0x80", 5, "f00680041500016d", MQTT_ERR_REASON_CODE},
    {"puback v5 props truncated", 5, "4006000100031f00", MQTT_ERR_TRUNCATED},
    {"connack v5 missing props", 5, "20020000", MQTT_ERR_TRUNCATED},
};

TEST(malformations)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mqtt_packet_t p;
        mqtt_err_t err = decode_hex(bad[i].hex, (mqtt_version_t)bad[i].version, &p);
        if (err != bad[i].err)
            fprintf(stderr, "%s: got %s, want %s\n", bad[i].name, mqtt_err_str(err),
                    mqtt_err_str(bad[i].err));
        CHECK_EQ_INT(err, bad[i].err);
    }
}

/* Packets the rules allow that a too eager decoder might refuse. */
TEST(accepted_edge_cases)
{
    mqtt_packet_t p;
    CHECK_EQ_INT(decode_hex("60020001", MQTT_V31, &p), MQTT_OK);
    CHECK_EQ_INT(decode_hex("20020102", MQTT_V31, &p), MQTT_OK);
    /* 3.1 CONNECT: neither the fixed-header flags nor connect flag bit 0
     * are reserved (Mosquitto accepts both). */
    CHECK_EQ_INT(decode_hex("110f00064d514973647003030000000161", MQTT_V311, &p), MQTT_OK);
    CHECK(p.u.connect.clean_start);
    /* v5 DISCONNECT with only a reason code; PUBACK with reason only. */
    CHECK_EQ_INT(decode_hex("e00100", MQTT_V5, &p), MQTT_OK);
    CHECK_EQ_INT(decode_hex("4003000100", MQTT_V5, &p), MQTT_OK);
    /* Non-minimal varint remaining length: accepted, like Mosquitto. */
    CHECK_EQ_INT(decode_hex("c08000", MQTT_V311, &p), MQTT_OK);
    /* U+FEFF is an ordinary character. */
    CHECK_EQ_INT(decode_hex("30050003efbbbf", MQTT_V311, &p), MQTT_OK);
}

TEST(encoder_rejects_invalid_packets)
{
    mqtt_packet_t p;
    uint8_t buf[256];
    size_t n;
    memset(&p, 0, sizeof p);
    p.type = MQTT_PUBLISH;
    p.u.publish.topic = B("t");
    p.u.publish.qos = 3;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V311), 0);
    CHECK_EQ_INT(mqtt_encode(&p, MQTT_V311, buf, sizeof buf, &n), MQTT_ERR_INVALID_ARG);
    p.u.publish.qos = 1; /* packet id 0 */
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V311), 0);
    p.u.publish.packet_id = 1;
    CHECK(mqtt_encoded_size(&p, MQTT_V311) > 0);
    p.u.publish.topic = B(""); /* empty topic without alias */
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 0);
    MQTT_PROP_SET(&p.u.publish.props, MQTT_PROP_TOPIC_ALIAS);
    p.u.publish.props.topic_alias = 0;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 0);
    p.u.publish.props.topic_alias = 9;
    CHECK(mqtt_encoded_size(&p, MQTT_V5) > 0);
    /* A property the context does not allow. */
    MQTT_PROP_SET(&p.u.publish.props, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 0);

    memset(&p, 0, sizeof p);
    p.type = MQTT_AUTH;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V311), 0);
    p.type = MQTT_DISCONNECT;
    p.u.disconnect.reason = 0x84;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 0);
    p.u.disconnect.reason = 0x8E;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 3);

    memset(&p, 0, sizeof p);
    p.type = MQTT_CONNECT;
    p.u.connect.version = MQTT_V311;
    p.u.connect.password_flag = true;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V311), 0);
    p.u.connect.version = MQTT_V5;
    CHECK(mqtt_encoded_size(&p, MQTT_V311) > 0);
    p.u.connect.version = 6;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V311), 0);

    memset(&p, 0, sizeof p);
    p.type = MQTT_SUBSCRIBE;
    p.u.subscribe.packet_id = 1;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V311), 0); /* no filters */
    mqtt_subscription_t sub = {B("a"), 0x30};
    p.u.subscribe.entries = &sub;
    p.u.subscribe.count = 1;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 0); /* retain handling 3 */
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V311), 0);
    sub.options = 0x2E;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 9);
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V311), 0);

    p.type = 0;
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 0);
    p.type = MQTT_PINGREQ;
    CHECK_EQ_INT(mqtt_encoded_size(&p, (mqtt_version_t)7), 0);
    CHECK_EQ_INT(mqtt_encoded_size(&p, MQTT_V5), 2);
}

TEST(publish_head)
{
    static const uint8_t payload[300] = {1, 2, 3};
    mqtt_publish_t pub;
    memset(&pub, 0, sizeof pub);
    pub.topic = B("sensors/a");
    pub.qos = 1;
    pub.packet_id = 0x0102;
    pub.payload.data = payload;
    pub.payload.len = sizeof payload;
    MQTT_PROP_SET(&pub.props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    pub.props.message_expiry_interval = 30;
    static const uint32_t ids[] = {5, 1000};
    pub.props.sub_ids = ids;
    pub.props.sub_id_count = 2;

    for (int v = MQTT_V31; v <= MQTT_V5; v++) {
        mqtt_packet_t pkt;
        pkt.type = MQTT_PUBLISH;
        pkt.u.publish = pub;
        uint8_t full[512], head[64];
        size_t full_len, head_len, pid_at;
        CHECK_EQ_INT(mqtt_encode(&pkt, (mqtt_version_t)v, full, sizeof full, &full_len), MQTT_OK);
        size_t want = mqtt_publish_head_size(&pub, (mqtt_version_t)v);
        CHECK_EQ_INT(want, full_len - sizeof payload);
        CHECK_EQ_INT(
            mqtt_encode_publish_head(&pub, (mqtt_version_t)v, head, want - 1, &head_len, &pid_at),
            MQTT_ERR_BUFFER_TOO_SMALL);
        CHECK_EQ_INT(mqtt_encode_publish_head(&pub, (mqtt_version_t)v, head, sizeof head, &head_len,
                                              &pid_at),
                     MQTT_OK);
        CHECK_EQ_INT(head_len, want);
        CHECK_MEM(head, full, head_len);
        CHECK_EQ_INT(head[pid_at], 0x01);
        CHECK_EQ_INT(head[pid_at + 1], 0x02);
        CHECK_EQ_INT(pid_at, 1 + 2 + 2 + pub.topic.len);
    }
    pub.qos = 0;
    pub.packet_id = 0;
    uint8_t head[64];
    size_t head_len, pid_at = 99;
    CHECK_EQ_INT(mqtt_encode_publish_head(&pub, MQTT_V311, head, sizeof head, &head_len, &pid_at),
                 MQTT_OK);
    CHECK_EQ_INT(pid_at, 0);
}

TEST(prop_allowed_table)
{
    CHECK(mqtt_prop_allowed(MQTT_PROP_TOPIC_ALIAS, MQTT_PROPS_PUBLISH));
    CHECK(!mqtt_prop_allowed(MQTT_PROP_TOPIC_ALIAS, MQTT_PROPS_WILL));
    CHECK(mqtt_prop_allowed(MQTT_PROP_WILL_DELAY_INTERVAL, MQTT_PROPS_WILL));
    CHECK(!mqtt_prop_allowed(MQTT_PROP_WILL_DELAY_INTERVAL, MQTT_PROPS_CONNECT));
    CHECK(mqtt_prop_allowed(MQTT_PROP_REASON_STRING, MQTT_PROPS_PUBACK));
    CHECK(!mqtt_prop_allowed(MQTT_PROP_REASON_STRING, MQTT_PROPS_CONNECT));
    CHECK(mqtt_prop_allowed(MQTT_PROP_SUBSCRIPTION_IDENTIFIER, MQTT_PROPS_SUBSCRIBE));
    CHECK(!mqtt_prop_allowed(MQTT_PROP_SUBSCRIPTION_IDENTIFIER, MQTT_PROPS_UNSUBSCRIBE));
    for (int ctx = MQTT_PROPS_CONNECT; ctx <= MQTT_PROPS_AUTH; ctx++)
        CHECK(mqtt_prop_allowed(MQTT_PROP_USER_PROPERTY, (mqtt_props_context_t)ctx));
    CHECK(!mqtt_prop_allowed(0, MQTT_PROPS_CONNECT));
    CHECK(!mqtt_prop_allowed(0x04, MQTT_PROPS_PUBLISH));
    CHECK(!mqtt_prop_allowed(0x2B, MQTT_PROPS_CONNACK));
    CHECK(!mqtt_prop_allowed(0xFF, MQTT_PROPS_CONNACK));
}

int main(void)
{
    RUN(roundtrip_vectors);
    RUN(vectors_cover_every_type);
    RUN(connect_fields);
    RUN(connect_bridge_bit);
    RUN(connect_version_reported_on_error);
    RUN(publish_fields_and_iteration);
    RUN(subscribe_iteration);
    RUN(acks_and_disconnect_fields);
    RUN(malformations);
    RUN(accepted_edge_cases);
    RUN(encoder_rejects_invalid_packets);
    RUN(publish_head);
    RUN(prop_allowed_table);
    return TEST_REPORT();
}
