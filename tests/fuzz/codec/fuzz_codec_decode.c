/*
 * libFuzzer target for the codec. Frames the input as a stream of packets
 * and decodes each in every protocol version; whatever decodes must
 * encode, decode again, and encode to the same bytes. Each packet is
 * copied into an allocation of its exact size so ASan sees any read past
 * its end.
 */
#include "mqtt/mqtt.h"
#include "../../unit/codec/utf8_ref.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void walk(const mqtt_packet_t *pkt)
{
    const mqtt_props_t *props[2] = {NULL, NULL};
    switch (pkt->type) {
    case MQTT_CONNECT:
        props[0] = &pkt->u.connect.props;
        props[1] = &pkt->u.connect.will_props;
        break;
    case MQTT_CONNACK:
        props[0] = &pkt->u.connack.props;
        break;
    case MQTT_PUBLISH:
        props[0] = &pkt->u.publish.props;
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        props[0] = &pkt->u.ack.props;
        break;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE: {
        props[0] = &pkt->u.subscribe.props;
        mqtt_reader_t it;
        mqtt_subscription_t s;
        size_t n = 0;
        mqtt_subscribe_iter_init(&it, &pkt->u.subscribe);
        while (mqtt_subscribe_next(&it, pkt->type, &s)) {
            REQUIRE(mqtt_topic_filter_valid(s.filter));
            n++;
        }
        REQUIRE(n == pkt->u.subscribe.count);
        break;
    }
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        props[0] = &pkt->u.suback.props;
        break;
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
        props[0] = &pkt->u.disconnect.props;
        break;
    default:
        break;
    }
    for (int i = 0; i < 2; i++) {
        if (!props[i])
            continue;
        mqtt_reader_t it;
        mqtt_prop_t p;
        size_t users = 0, subs = 0, total = 0;
        mqtt_props_iter_init(&it, props[i]);
        while (mqtt_props_next(&it, &p)) {
            users += p.id == MQTT_PROP_USER_PROPERTY;
            subs += p.id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER;
            total++;
        }
        REQUIRE(it.pos == it.end);
        REQUIRE(users == props[i]->user_count && subs == props[i]->sub_id_count);
        (void)total;
    }
}

static void check_packet(const uint8_t *bytes, size_t len, mqtt_version_t v)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, bytes, len);
    mqtt_packet_t pkt, again;
    mqtt_err_t err = mqtt_decode(copy, len, v, &pkt);
    REQUIRE((unsigned)err < MQTT_ERR_COUNT);
    REQUIRE(mqtt_err_str(err) != NULL);
    (void)mqtt_err_reason(err);
    if (err != MQTT_OK) {
        free(copy);
        return;
    }
    walk(&pkt);
    mqtt_version_t ev = pkt.type == MQTT_CONNECT ? pkt.u.connect.version : v;
    size_t n1 = mqtt_encoded_size(&pkt, ev), w1 = 0, w2 = 0;
    REQUIRE(n1 > 0);
    uint8_t *e1 = malloc(n1), *e2 = malloc(n1);
    REQUIRE(e1 && e2);
    REQUIRE(mqtt_encode(&pkt, ev, e1, n1, &w1) == MQTT_OK && w1 == n1);
    REQUIRE(mqtt_decode(e1, n1, ev, &again) == MQTT_OK);
    REQUIRE(again.type == pkt.type);
    REQUIRE(mqtt_encoded_size(&again, ev) == n1);
    REQUIRE(mqtt_encode(&again, ev, e2, n1, &w2) == MQTT_OK && w2 == n1);
    REQUIRE(memcmp(e1, e2, n1) == 0);
    if (pkt.type == MQTT_PUBLISH) {
        const mqtt_publish_t *pub = &pkt.u.publish;
        REQUIRE(pub->payload.len == again.u.publish.payload.len);
        size_t hn = mqtt_publish_head_size(pub, ev), hw = 0, pid_at = 0;
        REQUIRE(hn > 0 && hn + pub->payload.len == n1);
        REQUIRE(mqtt_encode_publish_head(pub, ev, e2, hn, &hw, &pid_at) == MQTT_OK && hw == hn);
        REQUIRE(memcmp(e1, e2, hn) == 0);
        if (pub->topic.len) {
            /* A topic matches itself as a filter (unless it reads as a
             * shared subscription) and '#' unless it is a $ topic. */
            bool shared = pub->topic.len >= 7 && memcmp(pub->topic.data, "$share/", 7) == 0;
            REQUIRE(shared || mqtt_topic_matches(pub->topic, pub->topic));
            mqtt_bytes_t all = {(const uint8_t *)"#", 1};
            REQUIRE(mqtt_topic_matches(all, pub->topic) == (pub->topic.data[0] != '$'));
        }
    }
    free(e1);
    free(e2);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int v = MQTT_V31; v <= MQTT_V5; v++) {
        size_t pos = 0;
        for (int frames = 0; frames < 64 && pos < size; frames++) {
            mqtt_fixed_header_t fh;
            if (mqtt_fixed_header_decode(data + pos, size - pos, &fh) != MQTT_OK)
                break;
            size_t total = (size_t)fh.header_len + fh.remaining;
            if (total > size - pos)
                break;
            check_packet(data + pos, total, (mqtt_version_t)v);
            pos += total;
        }
        /* The whole input as one packet, trailing bytes and all. */
        mqtt_packet_t pkt;
        (void)mqtt_decode(data, size, (mqtt_version_t)v, &pkt);
    }
    /* Filter and topic from the two halves of the input. */
    if (size >= 2) {
        size_t half = data[0] % size;
        mqtt_bytes_t f = {data + 1, half ? half - 1 : 0}, t = {data + half, size - half};
        if (mqtt_topic_filter_valid(f) && mqtt_topic_name_valid(t))
            (void)mqtt_topic_matches(f, t);
    }
    /* UTF-8 against the slow reference, from a few starting offsets. */
    for (size_t off = 0; off < 4 && off <= size; off++) {
        REQUIRE(mqtt_utf8_valid(data + off, size - off) == utf8_ref_valid(data + off, size - off));
    }
    return 0;
}
