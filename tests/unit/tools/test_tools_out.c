/* Rendering of received messages: default, -v, -F, %j/%J and --json. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tool_out.h"

/* 2020-05-06 21:48:00 UTC, plus 123456789 ns. */
static const struct timespec now = {1588801680, 123456789};

static tool_buf_t out, err;

static const char *render(const tool_out_opts_t *o, const tool_msg_t *m)
{
    tool_buf_reset(&out);
    tool_buf_reset(&err);
    tool_render(&out, &err, o, m, &now);
    return out.data ? out.data : "";
}

#define MSG(t, p)                                                                                  \
    {                                                                                              \
        (t), strlen(t), (const uint8_t *)(p), strlen(p), 0, false, 0, NULL, NULL, 0                \
    }

static int same(const char *got, const char *want)
{
    if (strcmp(got, want)) {
        fprintf(stderr, "  got:  [%s]\n  want: [%s]\n", got, want);
        return 0;
    }
    return 1;
}

/* A v5 property set with everything -F can print. */
static mqtt_user_prop_t users[2];
static uint32_t subids[2] = {7, 9};
static mqtt_props_t full_props(void)
{
    mqtt_props_t p;
    memset(&p, 0, sizeof p);
    users[0].key = (mqtt_bytes_t){(const uint8_t *)"k1", 2};
    users[0].value = (mqtt_bytes_t){(const uint8_t *)"v1", 2};
    users[1].key = (mqtt_bytes_t){(const uint8_t *)"k2", 2};
    users[1].value = (mqtt_bytes_t){(const uint8_t *)"v 2", 3};
    p.user = users;
    p.user_count = 2;
    p.sub_ids = subids;
    p.sub_id_count = 2;
    MQTT_PROP_SET(&p, MQTT_PROP_CONTENT_TYPE);
    p.content_type = (mqtt_bytes_t){(const uint8_t *)"text/plain", 10};
    MQTT_PROP_SET(&p, MQTT_PROP_CORRELATION_DATA);
    p.correlation_data = (mqtt_bytes_t){(const uint8_t *)"c\x01", 2};
    MQTT_PROP_SET(&p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    p.message_expiry_interval = 100;
    MQTT_PROP_SET(&p, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
    p.payload_format_indicator = 1;
    MQTT_PROP_SET(&p, MQTT_PROP_RESPONSE_TOPIC);
    p.response_topic = (mqtt_bytes_t){(const uint8_t *)"re/sp", 5};
    MQTT_PROP_SET(&p, MQTT_PROP_TOPIC_ALIAS);
    p.topic_alias = 3;
    return p;
}

TEST(default_and_verbose)
{
    tool_out_opts_t o = {.eol = true};
    tool_msg_t m = MSG("a/b", "hello");
    CHECK(same(render(&o, &m), "hello\n"));
    o.verbose = true;
    CHECK(same(render(&o, &m), "a/b hello\n"));
    o.eol = false;
    CHECK(same(render(&o, &m), "a/b hello"));
    tool_msg_t e = MSG("a/b", "");
    o.eol = true;
    CHECK(same(render(&o, &e), "a/b (null)\n"));
    o.verbose = false;
    CHECK(same(render(&o, &e), "")); /* an empty payload prints nothing */
}

TEST(binary_payload_exact)
{
    static const uint8_t bin[] = {0, 1, 0xff, '\n', 0x80};
    tool_out_opts_t o = {.eol = false};
    tool_msg_t m = {"t", 1, bin, sizeof bin, 0, false, 0, NULL, NULL, 0};
    render(&o, &m);
    CHECK_EQ_INT(out.len, sizeof bin);
    CHECK_MEM(out.data, bin, sizeof bin);
}

TEST(format_message_fields)
{
    tool_out_opts_t o = {.eol = true, .format = "%t|%p|%q|%r|%m|%l|%%|%x|%X"};
    tool_msg_t m = MSG("a/b", "Hi!");
    m.qos = 2;
    m.retain = true;
    m.mid = 42;
    CHECK(same(render(&o, &m), "a/b|Hi!|2|1|42|3|%|486921|486921\n"));
    o.eol = false;
    o.format = "%t";
    CHECK(same(render(&o, &m), "a/b"));
}

TEST(format_widths)
{
    tool_out_opts_t o = {.eol = false};
    tool_msg_t m = MSG("topic", "hello \"w\"");
    m.mid = 7;
    o.format = "%10t|%-10t|%.3t|%10.3t|%-6l|%06l|%6m";
    CHECK(same(render(&o, &m), "     topic|topic     |top|       top|9     |000009|     7"));
    /* A width also caps the payload, in hex to width/2 bytes. */
    o.format = "%5p|%-5p|%4x|%05x|%12p|";
    CHECK(same(render(&o, &m), "hello|hello|6865|06865|   hello \"w\"|"));
    tool_msg_t e = MSG("t", "");
    o.format = "%5p|%-5p|%4x|";
    CHECK(same(render(&o, &e), "     |     |    |"));
}

TEST(format_v5_properties)
{
    mqtt_props_t p = full_props();
    tool_out_opts_t o = {.eol = false, .format = "%P|%A|%C|%D|%E|%F|%R|%S|%5A|%-4E|%04F|%.4C"};
    tool_msg_t m = MSG("t", "x");
    m.props = &p;
    CHECK(
        same(render(&o, &m), "k1:v1 k2:v 2|3|text/plain|c\x01|100|1|re/sp|7|    3|100 |0001|text"));
    /* Absent properties print nothing, or blanks to the field width. */
    tool_msg_t v3 = MSG("t", "x");
    o.format = "[%P|%A|%C|%D|%E|%F|%R|%S|%3A|%03E|%2C|%4R]";
    CHECK(same(render(&o, &v3), "[||||||||   |000|  |]"));
}

TEST(format_time)
{
    setenv("TZ", "UTC", 1);
    tzset();
    tool_out_opts_t o = {.eol = false};
    tool_msg_t m = MSG("t", "x");
    o.format = "%I|%U|@Y-@m-@dT@H:@M:@S@z|@N|@@|%25I|%-25I|%.4I";
    CHECK(same(render(&o, &m), "2020-05-06T21:48:00+0000|1588801680.123456789|"
                               "2020-05-06T21:48:00+0000|123456789|@| 2020-05-06T21:48:00+0000|"
                               "2020-05-06T21:48:00+0000 |2020"));
}

TEST(format_escapes)
{
    tool_out_opts_t o = {.eol = false, .format = "a\\nb\\tc\\\\d\\ee\\rf\\vg\\ah\\0i"};
    tool_msg_t m = MSG("t", "x");
    render(&o, &m);
    static const char want[] = "a\nb\tc\\d\033e\rf\vg\ah\0i";
    CHECK_EQ_INT(out.len, sizeof want - 1);
    CHECK_MEM(out.data, want, sizeof want - 1);
}

TEST(format_json_j)
{
    setenv("TZ", "UTC", 1);
    tzset();
    tool_out_opts_t o = {.eol = false, .format = "%j"};
    tool_msg_t m = MSG("greeting", "hello \"world\"\n");
    CHECK(same(render(&o, &m),
               "{\"tst\":\"2020-05-06T21:48:00.123456Z+0000\",\"topic\":\"greeting\",\"qos\":0,"
               "\"retain\":0,\"payloadlen\":14,\"payload\":\"hello \\\"world\\\"\\n\"}"));
    m.qos = 1;
    m.mid = 5;
    m.retain = true;
    mqtt_props_t p;
    memset(&p, 0, sizeof p);
    users[0].key = (mqtt_bytes_t){(const uint8_t *)"k", 1};
    users[0].value = (mqtt_bytes_t){(const uint8_t *)"v", 1};
    p.user = users;
    p.user_count = 1;
    MQTT_PROP_SET(&p, MQTT_PROP_CONTENT_TYPE);
    p.content_type = (mqtt_bytes_t){(const uint8_t *)"ct", 2};
    m.props = &p;
    CHECK(same(render(&o, &m),
               "{\"tst\":\"2020-05-06T21:48:00.123456Z+0000\",\"topic\":\"greeting\",\"qos\":1,"
               "\"retain\":1,\"payloadlen\":14,\"mid\":5,\"properties\":{\"user-properties\":"
               "{\"k\":\"v\"},\"content-type\":\"ct\"},\"payload\":\"hello \\\"world\\\"\\n\"}"));
    tool_msg_t e = MSG("t", "");
    CHECK(same(render(&o, &e), "{\"tst\":\"2020-05-06T21:48:00.123456Z+0000\",\"topic\":\"t\","
                               "\"qos\":0,\"retain\":0,\"payloadlen\":0,\"payload\":null}"));
}

TEST(format_json_wire_order)
{
    setenv("TZ", "UTC", 1);
    tzset();
    mqtt_props_t p = full_props();
    static const uint8_t order[] = {MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, MQTT_PROP_USER_PROPERTY,
                                    MQTT_PROP_CONTENT_TYPE};
    p.present = 0;
    MQTT_PROP_SET(&p, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
    MQTT_PROP_SET(&p, MQTT_PROP_CONTENT_TYPE);
    p.sub_id_count = 0;
    p.user_count = 1;
    tool_out_opts_t o = {.eol = false, .format = "%j"};
    tool_msg_t m = MSG("t", "x");
    m.props = &p;
    m.prop_order = order;
    m.prop_order_len = 3;
    CHECK(same(render(&o, &m), "{\"tst\":\"2020-05-06T21:48:00.123456Z+0000\",\"topic\":\"t\","
                               "\"qos\":0,\"retain\":0,\"payloadlen\":1,\"properties\":{"
                               "\"payload-format-indicator\":1,\"user-properties\":{\"k1\":\"v1\"},"
                               "\"content-type\":\"text/plain\"},\"payload\":\"x\"}"));
}

TEST(format_json_pretty)
{
    setenv("TZ", "UTC", 1);
    tzset();
    tool_out_opts_t o = {.eol = false, .format = "%j", .pretty = true};
    tool_msg_t m = MSG("t", "p");
    CHECK(same(render(&o, &m), "{\n\t\"tst\":\t\"2020-05-06T21:48:00.123456Z+0000\",\n"
                               "\t\"topic\":\t\"t\",\n\t\"qos\":\t0,\n\t\"retain\":\t0,\n"
                               "\t\"payloadlen\":\t1,\n\t\"payload\":\t\"p\"\n}"));
}

TEST(format_json_J)
{
    setenv("TZ", "UTC", 1);
    tzset();
    tool_out_opts_t o = {.eol = true, .format = "%J"};
    tool_msg_t m = MSG("t", "{\"a\": [1, 2.5e3, true, null, \"x\\u00e9\"]}");
    CHECK(same(render(&o, &m),
               "{\"tst\":\"2020-05-06T21:48:00.123456Z+0000\",\"topic\":\"t\","
               "\"qos\":0,\"retain\":0,\"payloadlen\":40,\"payload\":{\"a\":[1,2.5e3,"
               "true,null,\"x\xc3\xa9\"]}}\n"));
    /* re-emitted like mosquitto_sub's cJSON: compact, or indented */
    o.pretty = true;
    tool_msg_t n = MSG("t", " {\"k\" : {\"z\":[ {\"y\":1} ], \"e\":{}, \"f\":[]}} ");
    CHECK(same(render(&o, &n),
               "{\n\t\"tst\":\t\"2020-05-06T21:48:00.123456Z+0000\",\n"
               "\t\"topic\":\t\"t\",\n\t\"qos\":\t0,\n\t\"retain\":\t0,\n"
               "\t\"payloadlen\":\t43,\n\t\"payload\":\t{\n"
               "\t\t\"k\":\t{\n\t\t\t\"z\":\t[{\n\t\t\t\t\t\"y\":\t1\n"
               "\t\t\t\t}],\n\t\t\t\"e\":\t{\n\t\t\t},\n\t\t\t\"f\":\t[]\n\t\t}\n\t}\n}\n"));
    o.pretty = false;
    CHECK_EQ_INT(err.len, 0);
    tool_msg_t bad = MSG("b/t", "{not json");
    CHECK(same(render(&o, &bad), "\n"));
    CHECK(same(err.data, "Error: Message payload is not valid JSON on topic b/t.\n"));
}

TEST(json_validator)
{
#define V(s) tool_json_valid((const uint8_t *)(s), strlen(s))
    CHECK(V("{}"));
    CHECK(V(" [ ] "));
    CHECK(V("-0.5E+3"));
    CHECK(V("\"a\\\"b\""));
    CHECK(V("{\"a\":{\"b\":[1,{}]}}"));
    CHECK(!V(""));
    CHECK(!V("{"));
    CHECK(!V("[1,]"));
    CHECK(!V("{\"a\"}"));
    CHECK(!V("01"));
    CHECK(!V("1 2"));
    CHECK(!V("\"\\x\""));
    CHECK(!V("\"a\nb\""));
    CHECK(!V("tru"));
    CHECK(!V("\"\\u12\""));
    /* Deep nesting is refused, not recursed into without bound. */
    char deep[2001];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    CHECK(!V(deep));
#undef V
}

TEST(midge_json_text_and_binary)
{
    tool_out_opts_t o = {.json = true, .eol = true};
    tool_msg_t m = MSG("a/b", "h\xc3\xa9\"llo\t");
    m.qos = 1;
    m.mid = 9;
    CHECK(same(render(&o, &m), "{\"topic\":\"a/b\",\"qos\":1,\"retain\":false,\"mid\":9,"
                               "\"payloadlen\":8,\"payload\":\"h\xc3\xa9\\\"llo\\t\","
                               "\"payload_encoding\":\"utf8\"}\n"));
    static const uint8_t bin[] = {0xff, 0x00, 0x10, 'a'};
    tool_msg_t b = {"t", 1, bin, sizeof bin, 0, true, 0, NULL, NULL, 0};
    CHECK(same(render(&o, &b), "{\"topic\":\"t\",\"qos\":0,\"retain\":true,\"payloadlen\":4,"
                               "\"payload\":\"/wAQYQ==\",\"payload_encoding\":\"base64\"}\n"));
    tool_msg_t e = MSG("t", "");
    CHECK(same(render(&o, &e), "{\"topic\":\"t\",\"qos\":0,\"retain\":false,\"payloadlen\":0,"
                               "\"payload\":\"\",\"payload_encoding\":\"utf8\"}\n"));
}

TEST(midge_json_properties)
{
    mqtt_props_t p = full_props();
    tool_out_opts_t o = {.json = true};
    tool_msg_t m = MSG("t", "x");
    m.props = &p;
    CHECK(same(render(&o, &m),
               "{\"topic\":\"t\",\"qos\":0,\"retain\":false,\"payloadlen\":1,\"properties\":{"
               "\"payload-format-indicator\":1,\"message-expiry-interval\":100,"
               "\"content-type\":\"text/plain\",\"response-topic\":\"re/sp\","
               "\"correlation-data\":\"c\\u0001\",\"correlation-data-encoding\":\"utf8\","
               "\"topic-alias\":3,\"subscription-identifiers\":[7,9],"
               "\"user-properties\":[[\"k1\",\"v1\"],[\"k2\",\"v 2\"]]},"
               "\"payload\":\"x\",\"payload_encoding\":\"utf8\"}\n"));
    p.correlation_data = (mqtt_bytes_t){(const uint8_t *)"\xfe\xff", 2};
    render(&o, &m);
    CHECK(strstr(out.data, "\"correlation-data\":\"/v8=\",\"correlation-data-encoding\":"
                           "\"base64\"") != NULL);
    o.pretty = true;
    p.present = 0;
    p.sub_id_count = 0;
    p.user_count = 1;
    CHECK(same(render(&o, &m), "{\n\t\"topic\":\t\"t\",\n\t\"qos\":\t0,\n\t\"retain\":\tfalse,\n"
                               "\t\"payloadlen\":\t1,\n\t\"properties\":\t{\n"
                               "\t\t\"user-properties\":\t[[\"k1\", \"v1\"]]\n\t},\n"
                               "\t\"payload\":\t\"x\",\n\t\"payload_encoding\":\t\"utf8\"\n}\n"));
}

TEST(base64)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        tool_buf_reset(&out);
        tool_base64(&out, (const uint8_t *)in[i], strlen(in[i]));
        CHECK(same(out.data ? out.data : "", want[i]));
    }
}

TEST(large_payload_hex)
{
    size_t n = 1 << 20;
    uint8_t *p = malloc(n);
    CHECK(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31);
    tool_out_opts_t o = {.format = "%x"};
    tool_msg_t m = {"t", 1, p, n, 0, false, 0, NULL, NULL, 0};
    render(&o, &m);
    int ok = out.len == 2 * n && !memcmp(out.data, "001f3e", 6);
    free(p);
    CHECK(ok);
}

int main(void)
{
    RUN(default_and_verbose);
    RUN(binary_payload_exact);
    RUN(format_message_fields);
    RUN(format_widths);
    RUN(format_v5_properties);
    RUN(format_time);
    RUN(format_escapes);
    RUN(format_json_j);
    RUN(format_json_pretty);
    RUN(format_json_wire_order);
    RUN(format_json_J);
    RUN(json_validator);
    RUN(midge_json_text_and_binary);
    RUN(midge_json_properties);
    RUN(base64);
    RUN(large_payload_hex);
    tool_buf_free(&out);
    tool_buf_free(&err);
    return TEST_REPORT();
}
