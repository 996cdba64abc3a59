/*
 * Property check: many pseudo-random valid packets of every type and
 * version (fixed seed, bounded count) are encoded, decoded, compared field
 * by field with what was built, and re-encoded to the same bytes.
 */
#include "mqtt/mqtt.h"
#include "test.h"
#include "utf8_ref.h"

#include <stdint.h>

#define ROUNDS 3000

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static uint32_t below(uint32_t n)
{
    return n ? rnd() % n : 0;
}

/* Storage for one packet's strings and arrays; reset per packet. */
static uint8_t arena[65536];
static size_t arena_used;

static mqtt_bytes_t rnd_text(size_t max, bool allow_empty, bool topic_chars)
{
    static const char *const pieces[] = {
        "a", "b", "z", "0", "_", "-", " ", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
        "x", "Q"};
    mqtt_bytes_t b = {arena + arena_used, 0};
    size_t n = below((uint32_t)max + 1);
    if (!allow_empty && n == 0)
        n = 1;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[below(sizeof pieces / sizeof pieces[0])];
        if (topic_chars && i > 0 && below(4) == 0)
            p = "/";
        size_t l = strlen(p);
        memcpy(arena + arena_used, p, l);
        arena_used += l;
        b.len += l;
    }
    return b;
}

static mqtt_bytes_t rnd_binary(size_t max)
{
    mqtt_bytes_t b = {arena + arena_used, below((uint32_t)max + 1)};
    for (size_t i = 0; i < b.len; i++)
        arena[arena_used++] = (uint8_t)rnd();
    return b;
}

static mqtt_bytes_t rnd_topic(void)
{
    return rnd_text(12, false, true);
}

static mqtt_bytes_t lit(const char *s)
{
    mqtt_bytes_t b = {arena + arena_used, strlen(s)};
    memcpy(arena + arena_used, s, b.len);
    arena_used += b.len;
    return b;
}

static mqtt_bytes_t concat(mqtt_bytes_t a, mqtt_bytes_t b)
{
    mqtt_bytes_t out = {arena + arena_used, a.len + b.len};
    memmove(arena + arena_used, a.data, a.len);
    memmove(arena + arena_used + a.len, b.data, b.len);
    arena_used += out.len;
    return out;
}

static mqtt_bytes_t rnd_filter(bool *shared)
{
    mqtt_bytes_t f = {arena + arena_used, 0};
    *shared = below(5) == 0;
    if (*shared) {
        mqtt_bytes_t g = concat(lit("$share/"), rnd_text(3, false, false));
        f = concat(g, lit("/"));
    }
    size_t levels = 1 + below(4);
    for (size_t i = 0; i < levels; i++) {
        if (i)
            f = concat(f, lit("/"));
        uint32_t k = below(6);
        if (k == 0)
            f = concat(f, lit("+"));
        else if (k == 1 && i + 1 == levels)
            f = concat(f, lit("#"));
        else
            f = concat(f, rnd_text(4, i > 0, false));
    }
    return f;
}

static mqtt_user_prop_t user_pool[8];
static uint32_t sub_id_pool[8];

static void rnd_props(mqtt_props_t *p, mqtt_props_context_t ctx, mqtt_user_prop_t *users,
                      uint32_t *sub_ids)
{
    memset(p, 0, sizeof *p);
    for (uint8_t id = 1; id <= 0x2A; id++) {
        if (id == MQTT_PROP_USER_PROPERTY || id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER)
            continue;
        if (!mqtt_prop_allowed(id, ctx) || below(3) != 0)
            continue;
        MQTT_PROP_SET(p, id);
        uint32_t r = rnd();
        switch (id) {
        case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
            p->payload_format_indicator = r & 1;
            break;
        case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL:
            p->message_expiry_interval = r;
            break;
        case MQTT_PROP_SESSION_EXPIRY_INTERVAL:
            p->session_expiry_interval = r;
            break;
        case MQTT_PROP_WILL_DELAY_INTERVAL:
            p->will_delay_interval = r;
            break;
        case MQTT_PROP_MAXIMUM_PACKET_SIZE:
            p->maximum_packet_size = r | 1;
            break;
        case MQTT_PROP_SERVER_KEEP_ALIVE:
            p->server_keep_alive = (uint16_t)r;
            break;
        case MQTT_PROP_RECEIVE_MAXIMUM:
            p->receive_maximum = (uint16_t)(r | 1);
            break;
        case MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
            p->topic_alias_maximum = (uint16_t)r;
            break;
        case MQTT_PROP_TOPIC_ALIAS:
            p->topic_alias = (uint16_t)(r | 0x100);
            break;
        case MQTT_PROP_REQUEST_PROBLEM_INFORMATION:
            p->request_problem_information = r & 1;
            break;
        case MQTT_PROP_REQUEST_RESPONSE_INFORMATION:
            p->request_response_information = r & 1;
            break;
        case MQTT_PROP_MAXIMUM_QOS:
            p->maximum_qos = r & 1;
            break;
        case MQTT_PROP_RETAIN_AVAILABLE:
            p->retain_available = r & 1;
            break;
        case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
            p->wildcard_sub_available = r & 1;
            break;
        case MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE:
            p->subscription_id_available = r & 1;
            break;
        case MQTT_PROP_SHARED_SUB_AVAILABLE:
            p->shared_sub_available = r & 1;
            break;
        case MQTT_PROP_CONTENT_TYPE:
            p->content_type = rnd_text(8, true, false);
            break;
        case MQTT_PROP_RESPONSE_TOPIC:
            p->response_topic = rnd_topic();
            break;
        case MQTT_PROP_CORRELATION_DATA:
            p->correlation_data = rnd_binary(8);
            break;
        case MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER:
            p->assigned_client_identifier = rnd_text(8, true, false);
            break;
        case MQTT_PROP_AUTHENTICATION_METHOD:
            p->authentication_method = rnd_text(8, true, false);
            break;
        case MQTT_PROP_AUTHENTICATION_DATA:
            p->authentication_data = rnd_binary(8);
            break;
        case MQTT_PROP_RESPONSE_INFORMATION:
            p->response_information = rnd_text(8, true, false);
            break;
        case MQTT_PROP_SERVER_REFERENCE:
            p->server_reference = rnd_text(8, true, false);
            break;
        case MQTT_PROP_REASON_STRING:
            p->reason_string = rnd_text(8, true, false);
            break;
        default:
            break;
        }
    }
    /* Authentication data needs its method. */
    if (MQTT_PROP_HAS(p, MQTT_PROP_AUTHENTICATION_DATA) &&
        !MQTT_PROP_HAS(p, MQTT_PROP_AUTHENTICATION_METHOD)) {
        MQTT_PROP_SET(p, MQTT_PROP_AUTHENTICATION_METHOD);
        p->authentication_method = lit("m");
    }
    p->user_count = below(4);
    for (size_t i = 0; i < p->user_count; i++) {
        users[i].key = rnd_text(5, true, false);
        users[i].value = rnd_text(5, true, false);
    }
    p->user = users;
    if (ctx == MQTT_PROPS_PUBLISH || ctx == MQTT_PROPS_SUBSCRIBE) {
        p->sub_id_count = below(ctx == MQTT_PROPS_PUBLISH ? 4 : 2);
        for (size_t i = 0; i < p->sub_id_count; i++)
            sub_ids[i] = 1 + below(MQTT_VARINT_MAX);
        p->sub_ids = sub_ids;
    }
}

static int props_match(const mqtt_props_t *want, const mqtt_props_t *got)
{
    uint64_t mask =
        ~((1ull << MQTT_PROP_USER_PROPERTY) | (1ull << MQTT_PROP_SUBSCRIPTION_IDENTIFIER));
    if ((want->present & mask) != (got->present & mask))
        return 0;
    if (want->user_count != got->user_count || want->sub_id_count != got->sub_id_count)
        return 0;
#define SAME(f)                                                                                    \
    if (want->f != got->f)                                                                         \
        return 0;
#define SAME_BYTES(f)                                                                              \
    if (want->f.len != got->f.len ||                                                               \
        (want->f.len && memcmp(want->f.data, got->f.data, want->f.len)))                           \
        return 0;
    SAME(message_expiry_interval)
    SAME(session_expiry_interval)
    SAME(will_delay_interval)
    SAME(maximum_packet_size)
    SAME(server_keep_alive)
    SAME(receive_maximum)
    SAME(topic_alias_maximum)
    SAME(topic_alias)
    SAME(payload_format_indicator)
    SAME(request_problem_information)
    SAME(request_response_information)
    SAME(maximum_qos)
    SAME(retain_available)
    SAME(wildcard_sub_available)
    SAME(subscription_id_available)
    SAME(shared_sub_available)
    SAME_BYTES(content_type)
    SAME_BYTES(response_topic)
    SAME_BYTES(correlation_data)
    SAME_BYTES(assigned_client_identifier)
    SAME_BYTES(authentication_method)
    SAME_BYTES(authentication_data)
    SAME_BYTES(response_information)
    SAME_BYTES(server_reference)
    SAME_BYTES(reason_string)
    mqtt_reader_t it;
    mqtt_prop_t prop;
    size_t nu = 0, ns = 0;
    mqtt_props_iter_init(&it, got);
    while (mqtt_props_next(&it, &prop)) {
        if (prop.id == MQTT_PROP_USER_PROPERTY) {
            if (nu >= want->user_count)
                return 0;
            const mqtt_user_prop_t *u = &want->user[nu++];
            if (u->key.len != prop.str.len || memcmp(u->key.data, prop.str.data, u->key.len) ||
                u->value.len != prop.str2.len ||
                memcmp(u->value.data, prop.str2.data, u->value.len))
                return 0;
        } else if (prop.id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
            if (ns >= want->sub_id_count || want->sub_ids[ns++] != prop.value)
                return 0;
        }
    }
    return nu == want->user_count && ns == want->sub_id_count;
}

static bool bytes_same(mqtt_bytes_t a, mqtt_bytes_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static mqtt_user_prop_t will_users[8];
static mqtt_subscription_t entries[6];
static uint8_t reasons[6];

static const uint8_t v5_suback[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E};
static const uint8_t v5_unsuback[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t v5_puback[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t v5_connack[] = {0x00, 0x80, 0x81, 0x85, 0x86, 0x87, 0x8C, 0x9C, 0x9F};
static const uint8_t v5_disconnect[] = {0x00, 0x04, 0x80, 0x8B, 0x8E, 0x93, 0x9E, 0xA2};
static const uint8_t v5_auth[] = {0x00, 0x18, 0x19};

#define PICK(arr) arr[below(sizeof arr / sizeof arr[0])]

static void build(mqtt_packet_t *p, uint8_t type, mqtt_version_t v)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    bool v5 = v == MQTT_V5;
    switch (type) {
    case MQTT_CONNECT: {
        mqtt_connect_t *c = &p->u.connect;
        c->version = v;
        c->protocol_name = lit(v == MQTT_V31 ? "MQIsdp" : "MQTT");
        c->clean_start = below(2);
        c->bridge = below(8) == 0;
        c->keep_alive = (uint16_t)rnd();
        c->client_id = rnd_text(10, v != MQTT_V31, false);
        c->will_flag = below(2);
        if (c->will_flag) {
            c->will_qos = (uint8_t)below(3);
            c->will_retain = below(2);
            c->will_topic = rnd_topic();
            c->will_payload = rnd_binary(20);
            if (v5)
                rnd_props(&c->will_props, MQTT_PROPS_WILL, will_users, NULL);
        }
        c->username_flag = below(2);
        if (c->username_flag)
            c->username = rnd_text(6, true, false);
        c->password_flag = (v5 || c->username_flag) && below(2);
        if (c->password_flag)
            c->password = rnd_binary(6);
        if (v5)
            rnd_props(&c->props, MQTT_PROPS_CONNECT, user_pool, NULL);
        break;
    }
    case MQTT_CONNACK:
        p->u.connack.session_present = v != MQTT_V31 && below(2);
        p->u.connack.reason = v5 ? PICK(v5_connack) : (uint8_t)below(6);
        if (v5)
            rnd_props(&p->u.connack.props, MQTT_PROPS_CONNACK, user_pool, NULL);
        break;
    case MQTT_PUBLISH: {
        mqtt_publish_t *pub = &p->u.publish;
        pub->qos = (uint8_t)below(3);
        pub->dup = pub->qos && below(2);
        pub->retain = below(2);
        pub->packet_id = pub->qos ? (uint16_t)(1 + below(65535)) : 0;
        if (v5)
            rnd_props(&pub->props, MQTT_PROPS_PUBLISH, user_pool, sub_id_pool);
        pub->topic = v5 && MQTT_PROP_HAS(&pub->props, MQTT_PROP_TOPIC_ALIAS) && below(2)
                         ? lit("")
                         : rnd_topic();
        pub->payload = rnd_binary(below(8) == 0 ? 400 : 16);
        break;
    }
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        p->u.ack.packet_id = (uint16_t)(1 + below(65535));
        if (v5) {
            p->u.ack.reason = type <= MQTT_PUBREC ? PICK(v5_puback) : (below(2) ? 0x92 : 0);
            if (below(2))
                rnd_props(&p->u.ack.props, MQTT_PROPS_PUBACK, user_pool, NULL);
        }
        break;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE: {
        mqtt_subscribe_t *s = &p->u.subscribe;
        s->packet_id = (uint16_t)(1 + below(65535));
        s->count = 1 + below(6);
        for (size_t i = 0; i < s->count; i++) {
            bool shared;
            entries[i].filter = rnd_filter(&shared);
            entries[i].options = (uint8_t)below(3);
            if (v5 && type == MQTT_SUBSCRIBE) {
                entries[i].options |= (uint8_t)(below(3) << 4);
                if (below(2))
                    entries[i].options |= MQTT_SUBOPT_RETAIN_AS_PUB;
                if (!shared && below(2))
                    entries[i].options |= MQTT_SUBOPT_NO_LOCAL;
            }
            if (type == MQTT_UNSUBSCRIBE)
                entries[i].options = 0;
        }
        s->entries = entries;
        if (v5)
            rnd_props(&s->props,
                      type == MQTT_SUBSCRIBE ? MQTT_PROPS_SUBSCRIBE : MQTT_PROPS_UNSUBSCRIBE,
                      user_pool, sub_id_pool);
        break;
    }
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: {
        mqtt_suback_t *a = &p->u.suback;
        a->packet_id = (uint16_t)(1 + below(65535));
        if (type == MQTT_SUBACK || v5) {
            a->count = 1 + below(6);
            for (size_t i = 0; i < a->count; i++) {
                static const uint8_t v3codes[] = {0, 1, 2, 0x80};
                reasons[i] = !v5                   ? PICK(v3codes)
                             : type == MQTT_SUBACK ? PICK(v5_suback)
                                                   : PICK(v5_unsuback);
            }
            a->reasons = reasons;
        }
        if (v5)
            rnd_props(&a->props, type == MQTT_SUBACK ? MQTT_PROPS_SUBACK : MQTT_PROPS_UNSUBACK,
                      user_pool, NULL);
        break;
    }
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
        if (!v5)
            break;
        p->u.disconnect.reason = type == MQTT_AUTH ? PICK(v5_auth) : PICK(v5_disconnect);
        if (type == MQTT_AUTH || below(2))
            rnd_props(&p->u.disconnect.props,
                      type == MQTT_AUTH ? MQTT_PROPS_AUTH : MQTT_PROPS_DISCONNECT, user_pool, NULL);
        if (type == MQTT_AUTH &&
            !MQTT_PROP_HAS(&p->u.disconnect.props, MQTT_PROP_AUTHENTICATION_METHOD)) {
            MQTT_PROP_SET(&p->u.disconnect.props, MQTT_PROP_AUTHENTICATION_METHOD);
            p->u.disconnect.props.authentication_method = lit("SCRAM");
        }
        break;
    default:
        break;
    }
}

static int same_packet(const mqtt_packet_t *a, const mqtt_packet_t *b, mqtt_version_t v)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case MQTT_CONNECT: {
        const mqtt_connect_t *x = &a->u.connect, *y = &b->u.connect;
        return x->version == y->version && x->bridge == y->bridge &&
               bytes_same(x->protocol_name, y->protocol_name) && x->clean_start == y->clean_start &&
               x->keep_alive == y->keep_alive && bytes_same(x->client_id, y->client_id) &&
               x->will_flag == y->will_flag && x->will_qos == y->will_qos &&
               x->will_retain == y->will_retain && bytes_same(x->will_topic, y->will_topic) &&
               bytes_same(x->will_payload, y->will_payload) &&
               x->username_flag == y->username_flag && bytes_same(x->username, y->username) &&
               x->password_flag == y->password_flag && bytes_same(x->password, y->password) &&
               props_match(&x->props, &y->props) && props_match(&x->will_props, &y->will_props);
    }
    case MQTT_CONNACK:
        return a->u.connack.session_present == b->u.connack.session_present &&
               a->u.connack.reason == b->u.connack.reason &&
               props_match(&a->u.connack.props, &b->u.connack.props);
    case MQTT_PUBLISH: {
        const mqtt_publish_t *x = &a->u.publish, *y = &b->u.publish;
        return x->dup == y->dup && x->qos == y->qos && x->retain == y->retain &&
               bytes_same(x->topic, y->topic) && x->packet_id == y->packet_id &&
               bytes_same(x->payload, y->payload) && props_match(&x->props, &y->props);
    }
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        return a->u.ack.packet_id == b->u.ack.packet_id && a->u.ack.reason == b->u.ack.reason &&
               props_match(&a->u.ack.props, &b->u.ack.props);
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE: {
        const mqtt_subscribe_t *x = &a->u.subscribe, *y = &b->u.subscribe;
        if (x->packet_id != y->packet_id || x->count != y->count ||
            !props_match(&x->props, &y->props))
            return 0;
        mqtt_reader_t it;
        mqtt_subscription_t s;
        size_t i = 0;
        mqtt_subscribe_iter_init(&it, y);
        while (mqtt_subscribe_next(&it, a->type, &s)) {
            if (i >= x->count || !bytes_same(s.filter, x->entries[i].filter) ||
                s.options != x->entries[i].options)
                return 0;
            i++;
        }
        return i == x->count;
    }
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        return a->u.suback.packet_id == b->u.suback.packet_id &&
               a->u.suback.count == b->u.suback.count &&
               (a->u.suback.count == 0 ||
                memcmp(a->u.suback.reasons, b->u.suback.reasons, a->u.suback.count) == 0) &&
               props_match(&a->u.suback.props, &b->u.suback.props);
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
        return a->u.disconnect.reason == b->u.disconnect.reason &&
               props_match(&a->u.disconnect.props, &b->u.disconnect.props);
    default:
        return v != 0;
    }
}

static uint8_t buf1[70000], buf2[70000];

TEST(random_roundtrips)
{
    size_t done = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int v = MQTT_V31; v <= MQTT_V5; v++) {
            for (uint8_t type = MQTT_CONNECT; type <= MQTT_AUTH; type++) {
                if (type == MQTT_AUTH && v != MQTT_V5)
                    continue;
                arena_used = 0;
                mqtt_packet_t built, dec, dec2;
                build(&built, type, (mqtt_version_t)v);
                size_t n1, n2;
                size_t want = mqtt_encoded_size(&built, (mqtt_version_t)v);
                mqtt_err_t err = mqtt_encode(&built, (mqtt_version_t)v, buf1, sizeof buf1, &n1);
                if (err != MQTT_OK)
                    fprintf(stderr, "round %d v%d %s: encode %s\n", round, v,
                            mqtt_packet_type_str(type), mqtt_err_str(err));
                CHECK_EQ_INT(err, MQTT_OK);
                CHECK_EQ_INT(n1, want);
                err = mqtt_decode(buf1, n1, (mqtt_version_t)v, &dec);
                if (err != MQTT_OK)
                    fprintf(stderr, "round %d v%d %s: decode %s\n", round, v,
                            mqtt_packet_type_str(type), mqtt_err_str(err));
                CHECK_EQ_INT(err, MQTT_OK);
                if (!same_packet(&built, &dec, (mqtt_version_t)v))
                    fprintf(stderr, "round %d v%d %s: fields differ\n", round, v,
                            mqtt_packet_type_str(type));
                CHECK(same_packet(&built, &dec, (mqtt_version_t)v));
                CHECK_EQ_INT(mqtt_encode(&dec, (mqtt_version_t)v, buf2, sizeof buf2, &n2), MQTT_OK);
                CHECK_EQ_INT(n2, n1);
                CHECK_MEM(buf1, buf2, n1);
                /* Framing agrees with the packet. */
                mqtt_fixed_header_t fh;
                CHECK_EQ_INT(mqtt_fixed_header_decode(buf1, n1, &fh), MQTT_OK);
                CHECK_EQ_INT(fh.header_len + fh.remaining, n1);
                CHECK_EQ_INT(mqtt_decode_body(&fh, buf1 + fh.header_len, (mqtt_version_t)v, &dec2),
                             MQTT_OK);
                CHECK(same_packet(&built, &dec2, (mqtt_version_t)v));
                done++;
            }
        }
    }
    printf("%zu random packets round-tripped\n", done);
}

/* Random strings built mostly from UTF-8-shaped pieces, valid or not,
 * checked against the reference. */
TEST(random_utf8_against_reference)
{
    static const uint8_t pieces[][4] = {
        {'a'},
        {' '},
        {'~'},
        {0x7F},
        {0x1F},
        {0x00},
        {0xC2, 0xA0},
        {0xC2, 0x9F},
        {0xC0, 0x80},
        {0xE2, 0x82, 0xAC},
        {0xED, 0xA0, 0x80},
        {0xEF, 0xB7, 0x90},
        {0xEF, 0xBF, 0xBE},
        {0xE0, 0x9F, 0xBF},
        {0xF0, 0x9F, 0x98, 0x80},
        {0xF4, 0x90, 0x80, 0x80},
        {0xF0, 0x9F, 0xBF, 0xBF},
        {0x80},
        {0xC3},
        {0xF5},
    };
    static const uint8_t piece_len[] = {1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 1, 1, 1};
    uint8_t buf[80];
    int valid = 0;
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        size_t want = below(sizeof buf - 4);
        /* Mostly printable ASCII, so the word-wide path is exercised. */
        while (n < want) {
            uint32_t k = below(3) ? 0 : below(sizeof piece_len);
            if (k == 0 && below(2))
                buf[n] = (uint8_t)(0x20 + below(0x5F));
            else
                memcpy(buf + n, pieces[k], piece_len[k]);
            n += k == 0 ? 1 : piece_len[k];
        }
        bool want_ok = utf8_ref_valid(buf, n);
        valid += want_ok;
        CHECK_EQ_INT(mqtt_utf8_valid(buf, n), want_ok);
    }
    CHECK(valid > 1000);
}

/* Level-by-level reference matcher, recursive and obviously right. */
static bool ref_match_levels(const char *const *f, size_t nf, const char *const *t, size_t nt)
{
    if (nf == 0)
        return nt == 0;
    if (strcmp(f[0], "#") == 0)
        return true;
    if (nt == 0)
        return false;
    if (strcmp(f[0], "+") != 0 && strcmp(f[0], t[0]) != 0)
        return false;
    return ref_match_levels(f + 1, nf - 1, t + 1, nt - 1);
}

static size_t join(char *out, const char *const *levels, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            out[len++] = '/';
        memcpy(out + len, levels[i], strlen(levels[i]));
        len += strlen(levels[i]);
    }
    return len;
}

TEST(random_matching_against_reference)
{
    static const char *const tl[] = {"", "a", "b", "ab", "$x"};
    static const char *const fl[] = {"", "a", "b", "ab", "+", "$x"};
    int matched = 0;
    for (int round = 0; round < 50000; round++) {
        const char *f[5], *t[5];
        size_t nf = 1 + below(4), nt = 1 + below(4);
        for (size_t i = 0; i < nt; i++)
            t[i] = tl[below(sizeof tl / sizeof tl[0])];
        for (size_t i = 0; i < nf; i++)
            f[i] = fl[below(sizeof fl / sizeof fl[0])];
        if (below(3) == 0)
            f[nf - 1] = "#";
        char fb[64], tb[64], sb[80];
        size_t flen = join(fb, f, nf), tlen = join(tb, t, nt);
        mqtt_bytes_t filter = {(const uint8_t *)fb, flen}, topic = {(const uint8_t *)tb, tlen};
        if (flen == 0 || tlen == 0)
            continue;
        CHECK(mqtt_topic_filter_valid(filter));
        bool want =
            ref_match_levels(f, nf, t, nt) && !(tb[0] == '$' && (fb[0] == '+' || fb[0] == '#'));
        matched += want;
        CHECK_EQ_INT(mqtt_topic_matches(filter, topic), want);
        /* The same as a shared subscription. */
        memcpy(sb, "$share/g/", 9);
        memcpy(sb + 9, fb, flen);
        mqtt_bytes_t shared = {(const uint8_t *)sb, 9 + flen};
        CHECK(mqtt_topic_filter_valid(shared));
        CHECK_EQ_INT(mqtt_topic_matches(shared, topic), want);
    }
    CHECK(matched > 1000);
}

int main(void)
{
    RUN(random_roundtrips);
    RUN(random_utf8_against_reference);
    RUN(random_matching_against_reference);
    return TEST_REPORT();
}
