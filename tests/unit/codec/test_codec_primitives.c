/* Error table, variable byte integers, UTF-8, topic names and filters,
 * matching, and the fixed header. */
#include "mqtt/mqtt.h"
#include "test.h"

#include <stdint.h>

static mqtt_bytes_t B(const char *s)
{
    mqtt_bytes_t b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static mqtt_bytes_t BN(const void *s, size_t n)
{
    mqtt_bytes_t b = {(const uint8_t *)s, n};
    return b;
}

TEST(err_table_complete)
{
    for (int e = 0; e < MQTT_ERR_COUNT; e++) {
        CHECK(mqtt_err_str((mqtt_err_t)e) != NULL);
        CHECK(strcmp(mqtt_err_str((mqtt_err_t)e), "unknown error") != 0);
    }
    CHECK(strcmp(mqtt_err_str(MQTT_ERR_COUNT), "unknown error") == 0);
    CHECK_EQ_INT(mqtt_err_reason(MQTT_OK), 0);
    CHECK_EQ_INT(mqtt_err_reason(MQTT_ERR_VARINT), MQTT_RC_MALFORMED_PACKET);
    CHECK_EQ_INT(mqtt_err_reason(MQTT_ERR_UTF8), MQTT_RC_MALFORMED_PACKET);
    CHECK_EQ_INT(mqtt_err_reason(MQTT_ERR_PROP_DUPLICATE), MQTT_RC_PROTOCOL_ERROR);
    CHECK_EQ_INT(mqtt_err_reason(MQTT_ERR_PROP_NOT_ALLOWED), MQTT_RC_MALFORMED_PACKET);
    CHECK_EQ_INT(mqtt_err_reason(MQTT_ERR_PROTOCOL_VERSION), MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
    CHECK_EQ_INT(mqtt_err_reason(MQTT_ERR_TOPIC_ALIAS_ZERO), MQTT_RC_TOPIC_ALIAS_INVALID);
    CHECK_EQ_INT(mqtt_err_reason(MQTT_ERR_COUNT), MQTT_RC_UNSPECIFIED_ERROR);
}

TEST(reason_and_type_names)
{
    CHECK(strcmp(mqtt_reason_str(0x81), "Malformed Packet") == 0);
    CHECK(strcmp(mqtt_reason_str(0x82), "Protocol Error") == 0);
    CHECK(strcmp(mqtt_reason_str(0xA2), "Wildcard Subscriptions not supported") == 0);
    CHECK(strcmp(mqtt_reason_str(0x03), "Unknown") == 0);
    CHECK(strcmp(mqtt_reason_str(0xFF), "Unknown") == 0);
    CHECK(strcmp(mqtt_packet_type_str(MQTT_PUBLISH), "PUBLISH") == 0);
    CHECK(strcmp(mqtt_packet_type_str(MQTT_AUTH), "AUTH") == 0);
    CHECK(strcmp(mqtt_packet_type_str(0), "UNKNOWN") == 0);
    CHECK(strcmp(mqtt_packet_type_str(16), "UNKNOWN") == 0);
}

TEST(reason_valid_per_packet)
{
    CHECK(mqtt_reason_valid(MQTT_CONNACK, 0x00));
    CHECK(mqtt_reason_valid(MQTT_CONNACK, 0x9F));
    CHECK(!mqtt_reason_valid(MQTT_CONNACK, 0x8B));
    CHECK(!mqtt_reason_valid(MQTT_CONNACK, 0x01));
    CHECK(mqtt_reason_valid(MQTT_PUBACK, 0x10));
    CHECK(!mqtt_reason_valid(MQTT_PUBACK, 0x92));
    CHECK(mqtt_reason_valid(MQTT_PUBREC, 0x99));
    CHECK(mqtt_reason_valid(MQTT_PUBREL, 0x92));
    CHECK(!mqtt_reason_valid(MQTT_PUBCOMP, 0x80));
    CHECK(mqtt_reason_valid(MQTT_SUBACK, 0x02));
    CHECK(!mqtt_reason_valid(MQTT_SUBACK, 0x03));
    CHECK(mqtt_reason_valid(MQTT_SUBACK, 0xA2));
    CHECK(mqtt_reason_valid(MQTT_UNSUBACK, 0x11));
    CHECK(!mqtt_reason_valid(MQTT_UNSUBACK, 0x10));
    CHECK(mqtt_reason_valid(MQTT_DISCONNECT, 0x04));
    CHECK(mqtt_reason_valid(MQTT_DISCONNECT, 0x8E));
    CHECK(!mqtt_reason_valid(MQTT_DISCONNECT, 0x84));
    CHECK(mqtt_reason_valid(MQTT_AUTH, 0x18));
    CHECK(!mqtt_reason_valid(MQTT_AUTH, 0x80));
    CHECK(!mqtt_reason_valid(MQTT_PUBLISH, 0x00));
}

TEST(v3_code_mapping)
{
    CHECK_EQ_INT(mqtt_connack_v3_code(0x00), 0);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x84), 1);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x85), 2);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x88), 3);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x89), 3);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x80), 3);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x86), 4);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x8C), 4);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x87), 5);
    CHECK_EQ_INT(mqtt_connack_v3_code(0x8A), 5);
    CHECK_EQ_INT(mqtt_suback_v3_code(0x00), 0);
    CHECK_EQ_INT(mqtt_suback_v3_code(0x02), 2);
    CHECK_EQ_INT(mqtt_suback_v3_code(0x87), 0x80);
    CHECK_EQ_INT(mqtt_suback_v3_code(0xA2), 0x80);
}

TEST(varint_examples)
{
    /* The boundaries of MQTT 5.0 table 1-1. */
    static const struct {
        uint32_t v;
        uint8_t bytes[4];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {127, {0x7F}, 1},
        {128, {0x80, 0x01}, 2},
        {16383, {0xFF, 0x7F}, 2},
        {16384, {0x80, 0x80, 0x01}, 3},
        {2097151, {0xFF, 0xFF, 0x7F}, 3},
        {2097152, {0x80, 0x80, 0x80, 0x01}, 4},
        {268435455, {0xFF, 0xFF, 0xFF, 0x7F}, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[4];
        CHECK_EQ_INT(mqtt_varint_size(cases[i].v), cases[i].n);
        CHECK_EQ_INT(mqtt_varint_encode(cases[i].v, buf), cases[i].n);
        CHECK_MEM(buf, cases[i].bytes, cases[i].n);
        uint32_t v = 1;
        size_t used = 0;
        CHECK_EQ_INT(mqtt_varint_decode(cases[i].bytes, cases[i].n, &v, &used), MQTT_OK);
        CHECK_EQ_INT(v, cases[i].v);
        CHECK_EQ_INT(used, cases[i].n);
        /* One byte short of a multi-byte integer: wait for more. */
        if (cases[i].n > 1)
            CHECK_EQ_INT(mqtt_varint_decode(cases[i].bytes, cases[i].n - 1, &v, &used),
                         MQTT_ERR_NEED_MORE);
    }
    CHECK_EQ_INT(mqtt_varint_size(268435456u), 0);
    CHECK_EQ_INT(mqtt_varint_size(UINT32_MAX), 0);
}

TEST(varint_too_long)
{
    static const uint8_t five[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    static const uint8_t four_cont[] = {0x80, 0x80, 0x80, 0x80};
    uint32_t v;
    size_t used;
    CHECK_EQ_INT(mqtt_varint_decode(five, sizeof five, &v, &used), MQTT_ERR_VARINT);
    CHECK_EQ_INT(mqtt_varint_decode(four_cont, sizeof four_cont, &v, &used), MQTT_ERR_VARINT);
    CHECK_EQ_INT(mqtt_varint_decode(five, 0, &v, &used), MQTT_ERR_NEED_MORE);
}

TEST(utf8_valid_strings)
{
    CHECK(mqtt_utf8_valid((const uint8_t *)"", 0));
    CHECK(mqtt_utf8_valid((const uint8_t *)"hello/world", 11));
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xC3\xA9t\xC3\xA9", 5)); /* été */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xE2\x82\xAC", 3));      /* € */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xF0\x9F\x98\x80", 4));  /* U+1F600 */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xF4\x8F\xBF\xBD", 4));  /* U+10FFFF */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xEF\xBB\xBF", 3));      /* BOM kept */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xED\x9F\xBF", 3));      /* U+D7FF */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xEE\x80\x80", 3));      /* U+E000 */
    /* The spec example: U+2A6D4 */
    CHECK(mqtt_utf8_valid((const uint8_t *)"A\xF0\xAA\x9B\x94", 5));
}

TEST(utf8_invalid_strings)
{
    CHECK(!mqtt_utf8_valid((const uint8_t *)"a\0b", 3));             /* U+0000 */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xC0\x80", 2));         /* overlong NUL */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xC1\xBF", 2));         /* overlong */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xE0\x9F\xBF", 3));     /* overlong */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xF0\x8F\xBF\xBF", 4)); /* overlong */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xED\xA0\x80", 3));     /* U+D800 */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xED\xBF\xBF", 3));     /* U+DFFF */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xF5\x80\x80\x80", 4));
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\x80", 1));         /* stray */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xC3", 1));         /* cut */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xE2\x82", 2));     /* cut */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xF0\x9F\x98", 3)); /* cut */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xC3\x28", 2));     /* bad cont */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xFF", 1));
    /* What the spec lets a receiver refuse and Mosquitto does: control
     * characters and non-characters. */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"a\nb", 3));
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\x01", 1));
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\x1F", 1));
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\x7F", 1));
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xC2\x80", 2));         /* U+0080 */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xC2\x9F", 2));         /* U+009F */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xC2\xA0", 2));          /* U+00A0 */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xEF\xB7\x90", 3));     /* U+FDD0 */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xEF\xB7\xAF", 3));     /* U+FDEF */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xEF\xB7\xB0", 3));      /* U+FDF0 */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xEF\xB7\x8F", 3));      /* U+FDCF */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xEF\xBF\xBE", 3));     /* U+FFFE */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xEF\xBF\xBF", 3));     /* U+FFFF */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xEF\xBF\xBD", 3));      /* U+FFFD */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xF0\x9F\xBF\xBE", 4)); /* U+1FFFE */
    CHECK(!mqtt_utf8_valid((const uint8_t *)"\xF4\x8F\xBF\xBF", 4)); /* U+10FFFF */
    CHECK(mqtt_utf8_valid((const uint8_t *)"\xF0\x9F\xBF\xBD", 4));  /* U+1FFFD */
}

/* A bad byte at every position of strings of many lengths, so no fast
 * path can skip over one. */
TEST(utf8_every_position)
{
    static const uint8_t bad[] = {0x00, 0x01, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xFF};
    uint8_t buf[48];
    for (size_t len = 1; len <= sizeof buf; len++) {
        memset(buf, 'a', len);
        CHECK(mqtt_utf8_valid(buf, len));
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t b = 0; b < sizeof bad; b++) {
                memset(buf, pos % 2 ? '~' : ' ', len);
                buf[pos] = bad[b];
                CHECK(!mqtt_utf8_valid(buf, len));
            }
            /* A valid 2-byte character there keeps the string valid. */
            if (pos + 1 < len) {
                memset(buf, 'z', len);
                buf[pos] = 0xC3;
                buf[pos + 1] = 0xA9;
                CHECK(mqtt_utf8_valid(buf, len));
            }
        }
    }
}

TEST(topic_names)
{
    CHECK(mqtt_topic_name_valid(B("a")));
    CHECK(mqtt_topic_name_valid(B("/")));
    CHECK(mqtt_topic_name_valid(B("sport/tennis/player1")));
    CHECK(mqtt_topic_name_valid(B("$SYS/broker")));
    CHECK(mqtt_topic_name_valid(B("a//b ")));
    CHECK(!mqtt_topic_name_valid(B("")));
    CHECK(!mqtt_topic_name_valid(B("a/+")));
    CHECK(!mqtt_topic_name_valid(B("a/#")));
    CHECK(!mqtt_topic_name_valid(B("a+b")));
    CHECK(!mqtt_topic_name_valid(BN("a\0b", 3)));
    CHECK(!mqtt_topic_name_valid(BN("\xED\xA0\x80", 3)));
}

TEST(topic_filters)
{
    static const char *const good[] = {
        "#",          "+",          "a",          "a/b",       "a/+", "a/#",    "+/+",
        "/+",         "+/#",        "a/+/c",      "sport/#",   "/",   "$SYS/#", "$share/g/a/b",
        "$share/g/#", "$share/g/+", "$share/g//", "$sharex/+",
    };
    static const char *const bad[] = {
        "",          "a#",        "a/#/b",       "#/a",
        "a+",        "+a",        "a/b+",        "sport/tennis#",
        "a/++",      "##",        "$share/",     "$share/g",
        "$share/g/", "$share//a", "$share/g+/a", "$share/#/a",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!mqtt_topic_filter_valid(B(good[i])))
            fprintf(stderr, "expected valid: %s\n", good[i]);
        CHECK(mqtt_topic_filter_valid(B(good[i])));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mqtt_topic_filter_valid(B(bad[i])))
            fprintf(stderr, "expected invalid: %s\n", bad[i]);
        CHECK(!mqtt_topic_filter_valid(B(bad[i])));
    }
    CHECK(!mqtt_topic_filter_valid(BN("a\0", 2)));
    CHECK(!mqtt_topic_filter_valid(BN("\xC0\x80", 2)));
}

TEST(topic_matching)
{
    static const struct {
        const char *filter, *topic;
        bool match;
    } cases[] = {
        /* The examples of MQTT 5.0 section 4.7. */
        {"sport/tennis/player1/#", "sport/tennis/player1", true},
        {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
        {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
        {"sport/#", "sport", true},
        {"sport/tennis/+", "sport/tennis/player1", true},
        {"sport/tennis/+", "sport/tennis/player2", true},
        {"sport/tennis/+", "sport/tennis/player1/ranking", false},
        {"sport/+", "sport", false},
        {"sport/+", "sport/", true},
        {"+/+", "/finance", true},
        {"/+", "/finance", true},
        {"+", "/finance", false},
        {"#", "$SYS/x", false},
        {"+/monitor/Clients", "$SYS/monitor/Clients", false},
        {"$SYS/#", "$SYS/monitor/Clients", true},
        {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
        /* More. */
        {"#", "a", true},
        {"#", "/", true},
        {"a", "a", true},
        {"a", "b", false},
        {"a", "a/b", false},
        {"a/b", "a", false},
        {"a/b", "ab", false},
        {"a/+/c", "a/b/c", true},
        {"a/+/c", "a//c", true},
        {"a/+/c", "a/b/d", false},
        {"a/#", "a/b/c/d", true},
        {"a/#", "ab", false},
        {"+/+/+", "a/b", false},
        {"+/+", "a/b/", false},
        {"a/+", "a/b/", false},
        {"a//", "a//", true},
        {"$share/g/a/+", "a/b", true},
        {"$share/g/#", "$SYS/x", false},
        {"$share/g/a", "b", false},
        /* A shared filter matches as its inner filter, never literally. */
        {"$share/g/a", "$share/g/a", false},
        {"$share/g/$share/g/a", "$share/g/a", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool m = mqtt_topic_matches(B(cases[i].filter), B(cases[i].topic));
        if (m != cases[i].match)
            fprintf(stderr, "match(%s, %s) != %d\n", cases[i].filter, cases[i].topic,
                    cases[i].match);
        CHECK(m == cases[i].match);
    }
}

TEST(fixed_header)
{
    mqtt_fixed_header_t fh;
    static const uint8_t pingreq[] = {0xC0, 0x00};
    CHECK_EQ_INT(mqtt_fixed_header_decode(pingreq, 2, &fh), MQTT_OK);
    CHECK_EQ_INT(fh.type, MQTT_PINGREQ);
    CHECK_EQ_INT(fh.flags, 0);
    CHECK_EQ_INT(fh.header_len, 2);
    CHECK_EQ_INT(fh.remaining, 0);

    static const uint8_t pubrel[] = {0x62, 0x02, 0x00, 0x01};
    CHECK_EQ_INT(mqtt_fixed_header_decode(pubrel, 1, &fh), MQTT_ERR_NEED_MORE);
    CHECK_EQ_INT(mqtt_fixed_header_decode(pubrel, 0, &fh), MQTT_ERR_NEED_MORE);
    CHECK_EQ_INT(mqtt_fixed_header_decode(pubrel, 2, &fh), MQTT_OK);
    CHECK_EQ_INT(fh.type, MQTT_PUBREL);
    CHECK_EQ_INT(fh.flags, 2);
    CHECK_EQ_INT(fh.remaining, 2);

    static const uint8_t big[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    CHECK_EQ_INT(mqtt_fixed_header_decode(big, 4, &fh), MQTT_ERR_NEED_MORE);
    CHECK_EQ_INT(mqtt_fixed_header_decode(big, 5, &fh), MQTT_OK);
    CHECK_EQ_INT(fh.header_len, 5);
    CHECK_EQ_INT(fh.remaining, MQTT_VARINT_MAX);
    CHECK_EQ_INT(fh.flags, 0);

    static const uint8_t toolong[] = {0x30, 0x80, 0x80, 0x80, 0x80, 0x01};
    CHECK_EQ_INT(mqtt_fixed_header_decode(toolong, sizeof toolong, &fh), MQTT_ERR_VARINT);
}

int main(void)
{
    RUN(err_table_complete);
    RUN(reason_and_type_names);
    RUN(reason_valid_per_packet);
    RUN(v3_code_mapping);
    RUN(varint_examples);
    RUN(varint_too_long);
    RUN(utf8_valid_strings);
    RUN(utf8_invalid_strings);
    RUN(utf8_every_position);
    RUN(topic_names);
    RUN(topic_filters);
    RUN(topic_matching);
    RUN(fixed_header);
    return TEST_REPORT();
}
