/*
 * Codec speed: decodes (and encodes) typical packets in a tight loop and
 * prints packets per second. Each case runs for a fixed budget of CPU time
 * (BENCH_CODEC_MS, default 300 ms). Rates are per second of this thread's
 * CPU time, so other load on a shared machine skews them less than wall
 * time would.
 */
#include "mqtt/mqtt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static mqtt_bytes_t B(const char *s)
{
    mqtt_bytes_t b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static volatile size_t sink;

typedef struct {
    const char *name;
    mqtt_version_t version;
    uint8_t bytes[512];
    size_t len;
    mqtt_packet_t pkt;
} bench_case_t;

static void report(const char *what, const char *name, size_t len, double n, double secs)
{
    double rate = n / secs;
    printf("%-6s %-40s %4zu B  %12.0f packets/s  %7.1f ns/packet  %7.1f MB/s\n", what, name, len,
           rate, 1e9 / rate, rate * (double)len / 1e6);
}

static void run_decode(const bench_case_t *c, double budget)
{
    mqtt_packet_t out;
    size_t n = 0;
    double start = now_s(), elapsed;
    do {
        for (int i = 0; i < 1000; i++) {
            if (mqtt_decode(c->bytes, c->len, c->version, &out) != MQTT_OK) {
                fprintf(stderr, "%s: decode failed\n", c->name);
                exit(1);
            }
            sink += out.type;
        }
        n += 1000;
        elapsed = now_s() - start;
    } while (elapsed < budget);
    report("decode", c->name, c->len, (double)n, elapsed);
}

static void run_encode(const bench_case_t *c, double budget)
{
    uint8_t buf[512];
    size_t n = 0, w;
    double start = now_s(), elapsed;
    do {
        for (int i = 0; i < 1000; i++) {
            if (mqtt_encode(&c->pkt, c->version, buf, sizeof buf, &w) != MQTT_OK) {
                fprintf(stderr, "%s: encode failed\n", c->name);
                exit(1);
            }
            sink += buf[w - 1];
        }
        n += 1000;
        elapsed = now_s() - start;
    } while (elapsed < budget);
    report("encode", c->name, c->len, (double)n, elapsed);
}

static void finish(bench_case_t *c)
{
    if (mqtt_encode(&c->pkt, c->version, c->bytes, sizeof c->bytes, &c->len) != MQTT_OK) {
        fprintf(stderr, "%s: cannot build\n", c->name);
        exit(1);
    }
}

int main(void)
{
    const char *ms = getenv("BENCH_CODEC_MS");
    double budget = (ms ? atof(ms) : 300.0) / 1000.0;
    static uint8_t payload[64];
    memset(payload, 'x', sizeof payload);
    static const mqtt_user_prop_t users[] = {
        {{(const uint8_t *)"source", 6}, {(const uint8_t *)"gateway-12", 10}},
        {{(const uint8_t *)"unit", 4}, {(const uint8_t *)"celsius", 7}},
    };
    static bench_case_t cases[4];

    bench_case_t *c = &cases[0];
    c->name = "PUBLISH v3.1.1 QoS 1, 64 B payload";
    c->version = MQTT_V311;
    c->pkt.type = MQTT_PUBLISH;
    c->pkt.u.publish.qos = 1;
    c->pkt.u.publish.packet_id = 4242;
    c->pkt.u.publish.topic = B("sensors/building-7/floor-3/temperature");
    c->pkt.u.publish.payload.data = payload;
    c->pkt.u.publish.payload.len = sizeof payload;
    finish(c);

    c = &cases[1];
    c->name = "PUBLISH v5 QoS 1, 6 properties, 64 B";
    c->version = MQTT_V5;
    c->pkt = cases[0].pkt;
    mqtt_props_t *p = &c->pkt.u.publish.props;
    MQTT_PROP_SET(p, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
    p->payload_format_indicator = 1;
    MQTT_PROP_SET(p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    p->message_expiry_interval = 3600;
    MQTT_PROP_SET(p, MQTT_PROP_CONTENT_TYPE);
    p->content_type = B("application/json");
    MQTT_PROP_SET(p, MQTT_PROP_RESPONSE_TOPIC);
    p->response_topic = B("replies/gateway-12");
    p->user = users;
    p->user_count = 2;
    finish(c);

    c = &cases[2];
    c->name = "CONNECT v3.1.1, will, user, password";
    c->version = MQTT_V311;
    c->pkt.type = MQTT_CONNECT;
    mqtt_connect_t *cn = &c->pkt.u.connect;
    cn->version = MQTT_V311;
    cn->clean_start = true;
    cn->keep_alive = 60;
    cn->client_id = B("sensor-gateway-0012");
    cn->will_flag = true;
    cn->will_qos = 1;
    cn->will_topic = B("status/sensor-gateway-0012");
    cn->will_payload = B("offline");
    cn->username_flag = cn->password_flag = true;
    cn->username = B("gateway");
    cn->password = B("s3cr3t-passw0rd");
    finish(c);

    c = &cases[3];
    c->name = "CONNECT v5, will, user, password, 5 props";
    c->version = MQTT_V5;
    c->pkt = cases[2].pkt;
    cn = &c->pkt.u.connect;
    cn->version = MQTT_V5;
    MQTT_PROP_SET(&cn->props, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
    cn->props.session_expiry_interval = 86400;
    MQTT_PROP_SET(&cn->props, MQTT_PROP_RECEIVE_MAXIMUM);
    cn->props.receive_maximum = 100;
    MQTT_PROP_SET(&cn->props, MQTT_PROP_MAXIMUM_PACKET_SIZE);
    cn->props.maximum_packet_size = 1 << 20;
    MQTT_PROP_SET(&cn->props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
    cn->props.topic_alias_maximum = 16;
    cn->props.user = users;
    cn->props.user_count = 1;
    MQTT_PROP_SET(&cn->will_props, MQTT_PROP_WILL_DELAY_INTERVAL);
    cn->will_props.will_delay_interval = 30;
    finish(c);

    printf("bench_codec: %.0f ms of CPU time per case\n", budget * 1000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_decode(&cases[i], budget);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_encode(&cases[i], budget);
    return sink == 0xFFFFFFFF;
}
