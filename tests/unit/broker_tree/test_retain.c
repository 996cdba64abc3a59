/* Messages (one allocation, forwarded properties, expiry, references) and
 * the retained store (set, replace, clear, match by filter, expiry). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "broker/message.h"
#include "broker/retain.h"
#include "test.h"

static mqtt_bytes_t B(const char *s)
{
    mqtt_bytes_t b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static msg_t *mk(const char *topic, const char *payload, int64_t now, uint32_t expiry)
{
    mqtt_props_t props;
    memset(&props, 0, sizeof props);
    if (expiry > 0) {
        MQTT_PROP_SET(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
        props.message_expiry_interval = expiry;
    }
    msg_init_t in = {.topic = B(topic),
                     .payload = B(payload),
                     .qos = 1,
                     .retain = true,
                     .props = &props,
                     .origin = B("pub"),
                     .now_ms = now};
    return msg_new(&in);
}

/* ---- messages ---- */

TEST(message_basic)
{
    msg_init_t in = {.topic = B("a/b"), .payload = B("hello"), .qos = 2, .origin = B("cid")};
    msg_t *m = msg_new(&in);
    CHECK(m != NULL);
    CHECK_EQ_INT(m->topic_len, 3);
    CHECK(strcmp(m->topic, "a/b") == 0);
    CHECK(strcmp(m->origin, "cid") == 0);
    CHECK_EQ_INT(m->payload_len, 5);
    CHECK_MEM(m->payload, "hello", 5);
    CHECK_EQ_INT(m->qos, 2);
    CHECK(!m->retain);
    CHECK(!msg_has_expiry(m));
    CHECK(!msg_expired(m, INT64_MAX - 1));
    CHECK_EQ_INT(m->props_len, 0);
    /* One allocation: everything sits right behind the header. */
    CHECK((const uint8_t *)m->topic == (const uint8_t *)(m + 1));
    CHECK(m->payload < (const uint8_t *)(m + 1) + 3 + 1 + 3 + 1 + 5);
    mqtt_props_t p;
    msg_props(m, 0, &p);
    CHECK_EQ_INT(p.present, 0);
    CHECK_EQ_INT(p.user_count, 0);
    CHECK(msg_ref(m) == m);
    CHECK_EQ_INT(atomic_load(&m->refs), 2);
    msg_unref(m);
    msg_unref(m);
    msg_unref(NULL);
    CHECK(msg_ref(NULL) == NULL);
}

TEST(message_rejects)
{
    msg_init_t in = {.topic = B(""), .payload = B("x")};
    CHECK(msg_new(&in) == NULL);
    in.topic = B("t");
    in.qos = 3;
    CHECK(msg_new(&in) == NULL);
}

TEST(message_expiry)
{
    msg_t *m = mk("t", "x", 10000, 5);
    CHECK(m != NULL);
    CHECK(msg_has_expiry(m));
    CHECK_EQ_INT(m->expiry_at, 15000);
    CHECK_EQ_INT(msg_expiry_remaining(m, 10000), 5);
    CHECK_EQ_INT(msg_expiry_remaining(m, 10001), 5); /* rounded up */
    CHECK_EQ_INT(msg_expiry_remaining(m, 14000), 1);
    CHECK_EQ_INT(msg_expiry_remaining(m, 14999), 1);
    CHECK_EQ_INT(msg_expiry_remaining(m, 15000), 0);
    CHECK(!msg_expired(m, 14999));
    CHECK(msg_expired(m, 15000));
    mqtt_props_t p;
    msg_props(m, 12500, &p);
    CHECK(MQTT_PROP_HAS(&p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL));
    CHECK_EQ_INT(p.message_expiry_interval, 3);
    msg_unref(m);
    /* Interval 0 does not expire (as in Mosquitto). */
    mqtt_props_t zero;
    memset(&zero, 0, sizeof zero);
    MQTT_PROP_SET(&zero, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    msg_init_t in = {.topic = B("t"), .payload = B("x"), .props = &zero, .now_ms = 5};
    m = msg_new(&in);
    CHECK(m != NULL && !msg_has_expiry(m));
    msg_unref(m);
}

static mqtt_user_prop_t users[] = {
    {{(const uint8_t *)"k1", 2}, {(const uint8_t *)"v1", 2}},
    {{(const uint8_t *)"k2", 2}, {(const uint8_t *)"", 0}},
    {{(const uint8_t *)"k1", 2}, {(const uint8_t *)"again", 5}},
};

/* Checks the user properties of props walk as k1=v1, k2=, k1=again. */
static bool users_in_order(const mqtt_props_t *p)
{
    mqtt_reader_t it;
    mqtt_prop_t pr;
    size_t i = 0;
    mqtt_props_iter_init(&it, p);
    while (mqtt_props_next(&it, &pr)) {
        if (pr.id != MQTT_PROP_USER_PROPERTY)
            continue;
        if (i >= 3 || pr.str.len != users[i].key.len || pr.str2.len != users[i].value.len ||
            memcmp(pr.str.data, users[i].key.data, pr.str.len) != 0 ||
            (pr.str2.len && memcmp(pr.str2.data, users[i].value.data, pr.str2.len) != 0))
            return false;
        i++;
    }
    return i == 3;
}

static void check_forwarded(const msg_t *m, bool *ok)
{
    mqtt_props_t p;
    msg_props(m, 0, &p);
    *ok = MQTT_PROP_HAS(&p, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR) &&
          p.payload_format_indicator == 1 && MQTT_PROP_HAS(&p, MQTT_PROP_CONTENT_TYPE) &&
          p.content_type.len == 4 && memcmp(p.content_type.data, "text", 4) == 0 &&
          MQTT_PROP_HAS(&p, MQTT_PROP_RESPONSE_TOPIC) && p.response_topic.len == 5 &&
          memcmp(p.response_topic.data, "reply", 5) == 0 &&
          MQTT_PROP_HAS(&p, MQTT_PROP_CORRELATION_DATA) && p.correlation_data.len == 0 &&
          !MQTT_PROP_HAS(&p, MQTT_PROP_TOPIC_ALIAS) &&
          !MQTT_PROP_HAS(&p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL) && p.user == NULL &&
          p.user_count == 3 && p.raw.data == m->props_block && users_in_order(&p);
}

TEST(message_forwards_properties)
{
    mqtt_props_t props;
    memset(&props, 0, sizeof props);
    MQTT_PROP_SET(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
    props.payload_format_indicator = 1;
    MQTT_PROP_SET(&props, MQTT_PROP_CONTENT_TYPE);
    props.content_type = B("text");
    MQTT_PROP_SET(&props, MQTT_PROP_RESPONSE_TOPIC);
    props.response_topic = B("reply");
    MQTT_PROP_SET(&props, MQTT_PROP_CORRELATION_DATA); /* present and empty */
    props.correlation_data.data = (const uint8_t *)"";
    MQTT_PROP_SET(&props, MQTT_PROP_TOPIC_ALIAS);
    props.topic_alias = 3;
    props.user = users;
    props.user_count = 3;
    msg_init_t in = {.topic = B("t"), .payload = B("p"), .props = &props};
    msg_t *m = msg_new(&in);
    CHECK(m != NULL);
    bool ok;
    check_forwarded(m, &ok);
    CHECK(ok);

    /* Forwarding from a block (as decoded from the wire): the message's
     * own block walks like a decoded one, so a second message built from
     * msg_props of the first must forward the same properties. */
    mqtt_props_t again;
    msg_props(m, 0, &again);
    msg_init_t in2 = {.topic = B("t2"), .payload = B(""), .props = &again};
    msg_t *m2 = msg_new(&in2);
    CHECK(m2 != NULL);
    check_forwarded(m2, &ok);
    CHECK(ok);
    CHECK_EQ_INT(m2->props_len, m->props_len);
    CHECK_MEM(m2->props_block, m->props_block, m->props_len);
    msg_unref(m2);
    msg_unref(m);
}

TEST(message_decoded_publish)
{
    /* A v5 PUBLISH off the wire: topic "t", QoS 0, properties: topic alias
     * 1, user property a=b, content type "ct", user property c=d. */
    static const uint8_t wire[] = {0x30, 28,         /* PUBLISH QoS 0, remaining length */
                                   0x00, 0x01, 't',  /* topic */
                                   22,               /* property length */
                                   0x23, 0x00, 0x01, /* topic alias 1 */
                                   0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', /* user a=b */
                                   0x03, 0x00, 0x02, 'c', 't',             /* content type */
                                   0x26, 0x00, 0x01, 'c', 0x00, 0x01, 'd', /* user c=d */
                                   'P',  'L'};
    mqtt_packet_t pkt;
    CHECK_EQ_INT(mqtt_decode(wire, sizeof wire, MQTT_V5, &pkt), MQTT_OK);
    const mqtt_publish_t *pub = &pkt.u.publish;
    CHECK_EQ_INT(pub->props.user_count, 2);
    msg_init_t in = {.topic = pub->topic, .payload = pub->payload, .props = &pub->props};
    msg_t *m = msg_new(&in);
    CHECK(m != NULL);
    CHECK_EQ_INT(m->payload_len, 2);
    CHECK_EQ_INT(m->user_prop_count, 2);
    CHECK_EQ_INT(m->props_len, 5 + 7 + 7);
    static const uint8_t block[] = {0x03, 0x00, 0x02, 'c',  't',  0x26, 0x00, 0x01, 'a', 0x00,
                                    0x01, 'b',  0x26, 0x00, 0x01, 'c',  0x00, 0x01, 'd'};
    CHECK_MEM(m->props_block, block, sizeof block);
    CHECK(m->content_type.len == 2 && memcmp(m->content_type.data, "ct", 2) == 0);
    /* Encoding forwards content type and the user property, not the alias. */
    mqtt_publish_t out;
    memset(&out, 0, sizeof out);
    out.topic = (mqtt_bytes_t){(const uint8_t *)m->topic, m->topic_len};
    out.payload = (mqtt_bytes_t){m->payload, m->payload_len};
    msg_props(m, 0, &out.props);
    uint8_t buf[64];
    size_t n = 0;
    mqtt_packet_t op = {.type = MQTT_PUBLISH};
    op.u.publish = out;
    CHECK_EQ_INT(mqtt_encode(&op, MQTT_V5, buf, sizeof buf, &n), MQTT_OK);
    mqtt_packet_t back;
    CHECK_EQ_INT(mqtt_decode(buf, n, MQTT_V5, &back), MQTT_OK);
    CHECK(!MQTT_PROP_HAS(&back.u.publish.props, MQTT_PROP_TOPIC_ALIAS));
    CHECK(MQTT_PROP_HAS(&back.u.publish.props, MQTT_PROP_CONTENT_TYPE));
    CHECK_EQ_INT(back.u.publish.props.user_count, 2);
    CHECK(back.u.publish.payload.len == 2 && memcmp(back.u.publish.payload.data, "PL", 2) == 0);
    msg_unref(m);
}

TEST(message_encodes_once)
{
    /* PFI and the strings live in the block too: the encoder must take
     * them from the fields and only the user properties from raw. */
    mqtt_props_t props;
    memset(&props, 0, sizeof props);
    MQTT_PROP_SET(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
    props.payload_format_indicator = 1;
    MQTT_PROP_SET(&props, MQTT_PROP_RESPONSE_TOPIC);
    props.response_topic = B("r/t");
    props.user = users;
    props.user_count = 3;
    msg_init_t in = {.topic = B("t"), .payload = B("p"), .props = &props};
    msg_t *m = msg_new(&in);
    CHECK(m != NULL);
    mqtt_packet_t op = {.type = MQTT_PUBLISH};
    op.u.publish.topic = B("t");
    op.u.publish.payload = B("p");
    msg_props(m, 0, &op.u.publish.props);
    uint8_t buf[128];
    size_t n = 0;
    CHECK_EQ_INT(mqtt_encode(&op, MQTT_V5, buf, sizeof buf, &n), MQTT_OK);
    mqtt_packet_t back;
    CHECK_EQ_INT(mqtt_decode(buf, n, MQTT_V5, &back), MQTT_OK); /* a duplicate PFI would fail */
    const mqtt_props_t *bp = &back.u.publish.props;
    CHECK(MQTT_PROP_HAS(bp, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR) && bp->payload_format_indicator);
    CHECK(bp->response_topic.len == 3);
    CHECK(users_in_order(bp));
    msg_unref(m);
}

TEST(message_store_round_trip)
{
    mqtt_props_t props;
    memset(&props, 0, sizeof props);
    MQTT_PROP_SET(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR);
    props.payload_format_indicator = 1;
    MQTT_PROP_SET(&props, MQTT_PROP_CONTENT_TYPE);
    props.content_type = B("text");
    MQTT_PROP_SET(&props, MQTT_PROP_RESPONSE_TOPIC);
    props.response_topic = B("reply");
    MQTT_PROP_SET(&props, MQTT_PROP_CORRELATION_DATA);
    props.correlation_data.data = (const uint8_t *)"";
    MQTT_PROP_SET(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    props.message_expiry_interval = 60;
    props.user = users;
    props.user_count = 3;
    msg_init_t in = {.topic = B("s/t"),
                     .payload = B("pay"),
                     .qos = 2,
                     .retain = true,
                     .props = &props,
                     .now_ms = 1000};
    msg_t *m = msg_new(&in);
    CHECK(m != NULL);
    atomic_store(&m->store_id, 77);
    store_msg_t sm;
    msg_store_view(m, 11000, 1700000000000, &sm); /* 10 s later, wall clock */
    CHECK_EQ_INT(sm.id, 77);
    CHECK_EQ_INT(sm.expiry_at, 1700000000000 + 50000);
    CHECK(sm.qos == 2 && sm.retain);
    /* Restart: the monotonic clock is elsewhere, the wall clock 20 s on. */
    msg_t *r = msg_from_store(&sm, 5000, 1700000020000);
    CHECK(r != NULL);
    CHECK_EQ_INT(r->expiry_at, 5000 + 30000);
    CHECK_EQ_INT(atomic_load(&r->store_id), 77);
    CHECK(strcmp(r->topic, "s/t") == 0 && r->payload_len == 3);
    CHECK_EQ_INT(r->props_len, m->props_len);
    bool ok;
    check_forwarded(r, &ok);
    CHECK(!ok); /* it has an expiry, which check_forwarded refuses */
    mqtt_props_t a, b;
    msg_props(m, 11000, &a);
    msg_props(r, 5000, &b);
    CHECK_EQ_INT(a.present, b.present);
    CHECK_EQ_INT(a.message_expiry_interval, 50);
    CHECK_EQ_INT(b.message_expiry_interval, 30);
    CHECK(b.content_type.len == 4 && b.correlation_data.data != NULL &&
          b.correlation_data.len == 0);
    CHECK(b.payload_format_indicator == 1 && users_in_order(&b));
    msg_unref(r);

    /* Already expired while stored: still "expired", never "no expiry". */
    msg_store_view(m, 100000, 50, &sm);
    CHECK_EQ_INT(sm.expiry_at, 1);
    msg_unref(m);

    /* A block from a corrupt store is refused, never read past its end. */
    static const uint8_t bad[][6] = {
        {0x26, 0x00, 0x05, 'k', 0x00, 0x00},  /* key runs past the end */
        {0x02, 0x00, 0x00, 0x00, 0x01, 0x00}, /* not a forwarded property */
        {0x01, 0x01, 0x01, 0x00, 0x00, 0x00}, /* PFI twice */
        {0x03, 0x00, 0x00, 0x03, 0x00, 0x00}, /* content type twice */
        {0x01, 0x07, 0x00, 0x00, 0x00, 0x00}, /* PFI out of range */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        store_msg_t c = {.topic = B("t"), .payload = B("x"), .props = {bad[i], 6}};
        if (i == 2)
            c.props.len = 4;
        if (i == 3)
            c.props.len = 6;
        CHECK(msg_from_store(&c, 0, 0) == NULL);
    }
    store_msg_t c = {.topic = B("t/+"), .payload = B("x"), .props = {bad[0], 0}};
    CHECK(msg_from_store(&c, 0, 0) == NULL); /* not a topic name */
    c.topic = B("t");
    msg_t *plain = msg_from_store(&c, 0, 0);
    CHECK(plain != NULL && !msg_has_expiry(plain) && plain->props_len == 0);
    msg_unref(plain);
}

typedef struct {
    msg_t *m;
} refs_arg_t;

static void *ref_churn(void *arg)
{
    refs_arg_t *a = arg;
    for (int i = 0; i < 100000; i++) {
        msg_ref(a->m);
        msg_unref(a->m);
    }
    msg_unref(a->m); /* each thread owns one reference */
    return NULL;
}

TEST(message_refs_threads)
{
    msg_init_t in = {.topic = B("t"), .payload = B("x")};
    refs_arg_t a = {msg_new(&in)};
    CHECK(a.m != NULL);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        msg_ref(a.m);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(pthread_create(&th[i], NULL, ref_churn, &a), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(atomic_load(&a.m->refs), 1);
    msg_unref(a.m);
}

/* ---- retained store ---- */

static msg_vec_t V;

static int rmatch(retain_store_t *s, const char *filter, int64_t now)
{
    msg_vec_clear(&V);
    return retain_match(s, B(filter), now, &V);
}

static bool got(const char *topic)
{
    for (size_t i = 0; i < V.n; i++)
        if (strcmp(V.v[i]->topic, topic) == 0)
            return true;
    return false;
}

static void put(retain_store_t *s, const char *topic, const char *payload)
{
    msg_t *m = mk(topic, payload, 0, 0);
    retain_set(s, m);
    msg_unref(m);
}

TEST(retain_set_replace_clear)
{
    retain_store_t *s = retain_new();
    CHECK(s != NULL);
    put(s, "a/b", "one");
    put(s, "a/c", "two");
    CHECK_EQ_INT(retain_count(s), 2);
    CHECK_EQ_INT(retain_payload_bytes(s), 6);
    put(s, "a/b", "three");
    CHECK_EQ_INT(retain_count(s), 2);
    CHECK_EQ_INT(retain_payload_bytes(s), 8);
    CHECK_EQ_INT(rmatch(s, "a/b", 0), 1);
    CHECK_MEM(V.v[0]->payload, "three", 5);
    put(s, "a/b", ""); /* empty payload clears */
    CHECK_EQ_INT(retain_count(s), 1);
    CHECK_EQ_INT(rmatch(s, "a/b", 0), 0);
    CHECK(!retain_remove(s, B("a/b")));
    CHECK(retain_remove(s, B("a/c")));
    CHECK_EQ_INT(retain_count(s), 0);
    CHECK_EQ_INT(retain_payload_bytes(s), 0);
    put(s, "x", ""); /* clearing nothing */
    CHECK_EQ_INT(retain_count(s), 0);
    msg_vec_clear(&V);
    retain_free(s);
}

TEST(retain_match_filters)
{
    retain_store_t *s = retain_new();
    const char *topics[] = {"a", "a/b", "a/b/c", "a/c", "b", "/x", "a//c", "$SYS/up", "$SYS"};
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
        put(s, topics[i], "p");
    CHECK_EQ_INT(rmatch(s, "#", 0), 7);
    CHECK(!got("$SYS/up") && !got("$SYS"));
    CHECK_EQ_INT(rmatch(s, "a/#", 0), 5);
    CHECK(got("a") && got("a/b") && got("a/b/c") && got("a/c") && got("a//c"));
    CHECK_EQ_INT(rmatch(s, "a/+", 0), 2);
    CHECK(got("a/b") && got("a/c"));
    CHECK_EQ_INT(rmatch(s, "+", 0), 2);
    CHECK(got("a") && got("b"));
    CHECK_EQ_INT(rmatch(s, "+/+", 0), 3);
    CHECK(got("a/b") && got("a/c") && got("/x"));
    CHECK_EQ_INT(rmatch(s, "a/+/c", 0), 2);
    CHECK(got("a/b/c") && got("a//c"));
    CHECK_EQ_INT(rmatch(s, "+/#", 0), 7);
    CHECK_EQ_INT(rmatch(s, "$SYS/#", 0), 2);
    CHECK_EQ_INT(rmatch(s, "$SYS/+", 0), 1);
    CHECK_EQ_INT(rmatch(s, "a/b", 0), 1);
    CHECK_EQ_INT(rmatch(s, "a/b/c/d", 0), 0);
    CHECK_EQ_INT(rmatch(s, "/+", 0), 1);
    msg_vec_clear(&V);
    retain_free(s);
}

typedef struct {
    int n;
} count_t;

static int count_cb(void *arg, msg_t *m)
{
    count_t *c = arg;
    c->n++;
    return m->payload_len == 4 ? 7 : 0;
}

TEST(retain_expiry_and_foreach)
{
    retain_store_t *s = retain_new();
    msg_t *m1 = mk("e/1", "p", 1000, 1); /* expires at 2000 */
    msg_t *m2 = mk("e/2", "p", 1000, 5); /* expires at 6000 */
    msg_t *m3 = mk("e/3", "p", 1000, 0);
    retain_set(s, m1);
    retain_set(s, m2);
    retain_set(s, m3);
    msg_unref(m1);
    msg_unref(m2);
    msg_unref(m3);
    CHECK_EQ_INT(rmatch(s, "e/+", 1999), 3);
    CHECK_EQ_INT(rmatch(s, "e/+", 2000), 2);
    CHECK(!got("e/1"));
    CHECK_EQ_INT(retain_count(s), 2); /* the lookup dropped it */
    CHECK_EQ_INT(retain_expire(s, 5999), 0);
    CHECK_EQ_INT(retain_expire(s, 6000), 1);
    CHECK_EQ_INT(retain_count(s), 1);
    count_t c = {0};
    CHECK_EQ_INT(retain_foreach(s, count_cb, &c), 0);
    CHECK_EQ_INT(c.n, 1);
    put(s, "f", "four");
    put(s, "g", "x");
    c.n = 0;
    CHECK_EQ_INT(retain_foreach(s, count_cb, &c), 7); /* stopped by "four" */
    msg_vec_clear(&V);
    retain_free(s);
}

TEST(retain_prunes)
{
    /* Clearing everything leaves nothing behind (ASan checks the frees),
     * and a store freed while holding messages releases them. */
    retain_store_t *s = retain_new();
    char topic[32];
    for (int i = 0; i < 200; i++) {
        snprintf(topic, sizeof topic, "p/%d/%d", i % 10, i);
        put(s, topic, "v");
    }
    CHECK_EQ_INT(retain_count(s), 200);
    CHECK_EQ_INT(rmatch(s, "p/3/#", 0), 20);
    for (int i = 0; i < 200; i++) {
        snprintf(topic, sizeof topic, "p/%d/%d", i % 10, i);
        CHECK(retain_remove(s, B(topic)));
    }
    CHECK_EQ_INT(retain_count(s), 0);
    CHECK_EQ_INT(rmatch(s, "#", 0), 0);
    put(s, "left/over", "v");
    msg_vec_clear(&V);
    retain_free(s);
}

typedef struct {
    retain_store_t *s;
    int id;
} rworker_t;

static void *retain_reader(void *arg)
{
    rworker_t *w = arg;
    msg_vec_t v = {0};
    const char *filters[] = {"t/#", "t/+/x", "+/+/+", "t/1/x", "#"};
    for (int i = 0; i < 3000; i++) {
        retain_match(w->s, B(filters[(i + w->id) % 5]), i, &v);
        for (size_t k = 0; k < v.n; k++)
            if (v.v[k]->payload_len == 0 || v.v[k]->topic[0] != 't')
                abort();
        msg_vec_clear(&v);
    }
    msg_vec_free(&v);
    return NULL;
}

static void *retain_writer(void *arg)
{
    rworker_t *w = arg;
    char topic[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(topic, sizeof topic, "t/%d/x", (i * 7 + w->id) % 40);
        /* Some expire within the run, so lookups remove them too. */
        msg_t *m = mk(topic, i % 5 == 0 ? "" : "v", i, (uint32_t)(i % 3));
        retain_set(w->s, m);
        msg_unref(m);
        if (i % 200 == 0)
            retain_expire(w->s, i);
    }
    return NULL;
}

TEST(retain_threads)
{
    retain_store_t *s = retain_new();
    pthread_t th[4];
    rworker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (rworker_t){s, i};
        CHECK_EQ_INT(pthread_create(&th[i], NULL, i < 2 ? retain_reader : retain_writer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    size_t n = retain_count(s);
    CHECK(n <= 40);
    msg_vec_clear(&V);
    CHECK_EQ_INT(rmatch(s, "#", 0), (int)n);
    for (int i = 0; i < 40; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "t/%d/x", i);
        retain_remove(s, B(topic));
    }
    CHECK_EQ_INT(retain_count(s), 0);
    CHECK_EQ_INT(retain_payload_bytes(s), 0);
    msg_vec_clear(&V);
    retain_free(s);
}

int main(void)
{
    RUN(message_basic);
    RUN(message_rejects);
    RUN(message_expiry);
    RUN(message_forwards_properties);
    RUN(message_decoded_publish);
    RUN(message_encodes_once);
    RUN(message_store_round_trip);
    RUN(message_refs_threads);
    RUN(retain_set_replace_clear);
    RUN(retain_match_filters);
    RUN(retain_expiry_and_foreach);
    RUN(retain_prunes);
    RUN(retain_threads);
    msg_vec_free(&V);
    return TEST_REPORT();
}
