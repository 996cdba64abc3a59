/*
 * The bridge directives of mosquitto.conf: `connection NAME` opens a
 * section, and every bridge directive after it (until the next
 * `connection`) configures that bridge, as in Mosquitto. Other directives
 * keep their global or listener meaning wherever they appear.
 *
 * Also the topic mapping of `topic PATTERN DIR QOS LOCAL REMOTE`: pure
 * string work, unit-tested with the parser.
 */
#include "broker/config.h"
#include "broker/config_internal.h"
#include "mqtt/mqtt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static config_bridge_t *current(config_parse_t *p, const char *name)
{
    if (p->cfg->bridge_count == 0) {
        config__fail(p, "%s outside a bridge: it must follow a `connection` line", name);
        return NULL;
    }
    return &p->cfg->bridges[p->cfg->bridge_count - 1];
}

static void topic_free(config_bridge_topic_t *t)
{
    free(t->pattern);
    free(t->local_prefix);
    free(t->remote_prefix);
    free(t->local_topic);
    free(t->remote_topic);
}

static void bridge_free(config_bridge_t *b)
{
    free(b->name);
    for (size_t i = 0; i < b->address_count; i++) {
        free(b->addresses[i].host);
    }
    free(b->addresses);
    for (size_t i = 0; i < b->topic_count; i++) {
        topic_free(&b->topics[i]);
    }
    free(b->topics);
    free(b->remote_clientid);
    free(b->remote_username);
    free(b->remote_password);
    free(b->notification_topic);
    free(b->cafile);
    free(b->capath);
    free(b->certfile);
    free(b->keyfile);
    free(b->tls_version);
    free(b->local_clientid);
    free(b->alpn);
    free(b->file);
}

void config__bridges_free(config_t *cfg)
{
    for (size_t i = 0; i < cfg->bridge_count; i++) {
        bridge_free(&cfg->bridges[i]);
    }
    free(cfg->bridges);
    cfg->bridges = NULL;
    cfg->bridge_count = 0;
}

static int dir_connection(config_parse_t *p, char *args)
{
    char *v;
    if (config__one_value(p, "connection", args, &v) != 0) {
        return -1;
    }
    for (size_t i = 0; i < p->cfg->bridge_count; i++) {
        if (strcmp(p->cfg->bridges[i].name, v) == 0) {
            return config__fail(p, "duplicate bridge name '%s'", v);
        }
    }
    config_bridge_t *grown =
        realloc(p->cfg->bridges, (p->cfg->bridge_count + 1) * sizeof(*p->cfg->bridges));
    if (grown == NULL) {
        return config__fail(p, "out of memory");
    }
    p->cfg->bridges = grown;
    config_bridge_t *b = &grown[p->cfg->bridge_count];
    memset(b, 0, sizeof(*b));
    b->try_private = true;
    b->notifications = true;
    b->outgoing_retain = true;
    b->attempt_unsubscribe = true;
    b->protocol_version = 4;
    b->keepalive = 60;
    b->restart_base = 5;
    b->restart_cap = 30;
    b->line = p->line;
    b->name = strdup(v);
    b->file = strdup(p->file);
    p->cfg->bridge_count++;
    if (b->name == NULL || b->file == NULL) {
        return config__fail(p, "out of memory");
    }
    return 0;
}

/* host[:port]; an IPv6 address needs its port, as in Mosquitto ("::1:1883"
 * is split at the last colon). */
static int add_address(config_parse_t *p, config_bridge_t *b, const char *v)
{
    const char *colon = strrchr(v, ':');
    long port = 1883;
    size_t hlen = strlen(v);
    if (colon != NULL) {
        char *end = NULL;
        port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535) {
            return config__fail(p, "invalid bridge address '%s' (expected host[:port])", v);
        }
        hlen = (size_t)(colon - v);
    }
    if (hlen == 0) {
        return config__fail(p, "invalid bridge address '%s' (expected host[:port])", v);
    }
    config_bridge_address_t *grown =
        realloc(b->addresses, (b->address_count + 1) * sizeof(*b->addresses));
    if (grown == NULL) {
        return config__fail(p, "out of memory");
    }
    b->addresses = grown;
    char *host = strndup(v, hlen);
    if (host == NULL) {
        return config__fail(p, "out of memory");
    }
    grown[b->address_count].host = host;
    grown[b->address_count].port = (uint16_t)port;
    b->address_count++;
    return 0;
}

static int dir_address(config_parse_t *p, config_bridge_t *b, const char *name, char *args)
{
    if (b->address_count > 0) {
        return config__fail(p, "duplicate %s in bridge '%s'", name, b->name);
    }
    char *rest = args;
    char *v;
    while ((v = config__next_token(&rest)) != NULL && v[0] != '#') {
        if (add_address(p, b, v) != 0) {
            return -1;
        }
    }
    if (b->address_count == 0) {
        return config__fail(p, "%s needs a value", name);
    }
    return 0;
}

static char *unquote(const char *v)
{
    return strdup(strcmp(v, "\"\"") == 0 ? "" : v);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *out = malloc(la + lb + 1);
    if (out != NULL) {
        memcpy(out, a, la);
        memcpy(out + la, b, lb + 1);
    }
    return out;
}

static int dir_topic(config_parse_t *p, config_bridge_t *b, char *args)
{
    char *rest = args;
    char *tok[6];
    int n = 0;
    char *v;
    /* "#" is a pattern in first place; later, a comment starts. */
    while (n < 6 && (v = config__next_token(&rest)) != NULL && (n == 0 || v[0] != '#')) {
        tok[n++] = v;
    }
    if (n == 0) {
        return config__fail(p, "topic needs a pattern");
    }
    if (n == 6) {
        return config__fail(p, "unexpected '%s' after the remote prefix of topic", tok[5]);
    }
    if (n == 4) {
        return config__fail(p, "topic with a local prefix needs a remote prefix too");
    }
    int dir = CONFIG_BRIDGE_OUT;
    if (n >= 2) {
        if (strcmp(tok[1], "out") == 0) {
            dir = CONFIG_BRIDGE_OUT;
        } else if (strcmp(tok[1], "in") == 0) {
            dir = CONFIG_BRIDGE_IN;
        } else if (strcmp(tok[1], "both") == 0) {
            dir = CONFIG_BRIDGE_BOTH;
        } else {
            return config__fail(p, "invalid topic direction '%s' (expected in, out or both)",
                                tok[1]);
        }
    }
    int qos = 0;
    if (n >= 3) {
        if (strlen(tok[2]) != 1 || tok[2][0] < '0' || tok[2][0] > '2') {
            return config__fail(p, "invalid topic QoS '%s' (expected 0, 1 or 2)", tok[2]);
        }
        qos = tok[2][0] - '0';
    }
    config_bridge_topic_t t;
    memset(&t, 0, sizeof(t));
    t.direction = dir;
    t.qos = qos;
    t.pattern = unquote(tok[0]);
    t.local_prefix = unquote(n >= 5 ? tok[3] : "");
    t.remote_prefix = unquote(n >= 5 ? tok[4] : "");
    if (!t.pattern || !t.local_prefix || !t.remote_prefix) {
        topic_free(&t);
        return config__fail(p, "out of memory");
    }
    int rc = 0;
    if (t.pattern[0] == '\0' && (t.local_prefix[0] == '\0' || t.remote_prefix[0] == '\0')) {
        rc = config__fail(p, "topic \"\" needs both a local and a remote prefix");
    } else if (strpbrk(t.local_prefix, "+#") || strpbrk(t.remote_prefix, "+#")) {
        rc = config__fail(p, "invalid topic prefix: a prefix cannot contain a wildcard");
    }
    if (rc == 0) {
        t.local_topic = join(t.local_prefix, t.pattern);
        t.remote_topic = join(t.remote_prefix, t.pattern);
        if (!t.local_topic || !t.remote_topic) {
            rc = config__fail(p, "out of memory");
        } else if (!mqtt_topic_filter_valid(
                       (mqtt_bytes_t){(const uint8_t *)t.local_topic, strlen(t.local_topic)}) ||
                   !mqtt_topic_filter_valid(
                       (mqtt_bytes_t){(const uint8_t *)t.remote_topic, strlen(t.remote_topic)})) {
            rc = config__fail(p, "invalid bridge topic '%s' (local '%s', remote '%s')", tok[0],
                              t.local_topic, t.remote_topic);
        }
    }
    if (rc == 0) {
        config_bridge_topic_t *grown = realloc(b->topics, (b->topic_count + 1) * sizeof(t));
        if (grown == NULL) {
            rc = config__fail(p, "out of memory");
        } else {
            b->topics = grown;
            grown[b->topic_count++] = t;
            return 0;
        }
    }
    topic_free(&t);
    return rc;
}

static int dir_protocol_version(config_parse_t *p, config_bridge_t *b, const char *name, char *args)
{
    char *v;
    if (config__one_value(p, name, args, &v) != 0) {
        return -1;
    }
    if (strcmp(v, "mqttv31") == 0) {
        b->protocol_version = 3;
    } else if (strcmp(v, "mqttv311") == 0) {
        b->protocol_version = 4;
    } else if (strcmp(v, "mqttv50") == 0) {
        b->protocol_version = 5;
    } else {
        return config__fail(p, "invalid %s '%s' (expected mqttv31, mqttv311 or mqttv50)", name, v);
    }
    return 0;
}

static int dir_restart_timeout(config_parse_t *p, config_bridge_t *b, char *args)
{
    char *rest = args;
    char *base = config__next_token(&rest);
    char *cap = config__next_token(&rest);
    if (cap != NULL && cap[0] == '#') {
        cap = NULL;
    } else if (cap != NULL && config__expect_end(p, "restart_timeout", rest) != 0) {
        return -1;
    }
    if (base == NULL) {
        return config__fail(p, "restart_timeout needs a value");
    }
    long long nb, nc = 0;
    if (config__parse_integer(p, "restart_timeout", base, 1, 86400, &nb) != 0 ||
        (cap != NULL && config__parse_integer(p, "restart_timeout", cap, 1, 86400, &nc) != 0)) {
        return -1;
    }
    if (cap != NULL && nc < nb) {
        return config__fail(p, "restart_timeout cap %lld is below its base %lld", nc, nb);
    }
    b->restart_base = (uint32_t)nb;
    b->restart_cap = (uint32_t)nc;
    return 0;
}

static int dir_tls_version(config_parse_t *p, config_bridge_t *b, const char *name, char *args)
{
    char *v;
    if (config__one_value(p, name, args, &v) != 0) {
        return -1;
    }
    if (strcmp(v, "tlsv1.1") == 0 || strcmp(v, "tlsv1") == 0) {
        return config__fail(p, "%s %s is refused: midge needs TLS 1.2 or later", name, v);
    }
    if (strcmp(v, "tlsv1.2") != 0 && strcmp(v, "tlsv1.3") != 0) {
        return config__fail(p, "invalid %s '%s' (expected tlsv1.2 or tlsv1.3)", name, v);
    }
    return config__parse_string(p, name, v, &b->tls_version, false);
}

int config__dir_bridge(config_parse_t *p, const config_directive_t *d, const char *name, char *args)
{
    if (strcmp(name, "connection") == 0) {
        return dir_connection(p, args);
    }
    config_bridge_t *b = current(p, name);
    if (b == NULL) {
        return -1;
    }
    long long n;
    if (strcmp(name, "address") == 0 || strcmp(name, "addresses") == 0) {
        return dir_address(p, b, name, args);
    }
    if (strcmp(name, "topic") == 0) {
        return dir_topic(p, b, args);
    }
    if (strcmp(name, "remote_clientid") == 0 || strcmp(name, "clientid") == 0) {
        return config__parse_string(p, name, args, &b->remote_clientid, false);
    }
    if (strcmp(name, "remote_username") == 0 || strcmp(name, "username") == 0) {
        return config__parse_string(p, name, args, &b->remote_username, false);
    }
    if (strcmp(name, "remote_password") == 0 || strcmp(name, "password") == 0) {
        return config__parse_string(p, name, args, &b->remote_password, false);
    }
    if (strcmp(name, "notification_topic") == 0) {
        return config__parse_string(p, name, args, &b->notification_topic, false);
    }
    if (strcmp(name, "cleansession") == 0) {
        return config__parse_bool(p, name, args, &b->cleansession);
    }
    if (strcmp(name, "try_private") == 0) {
        return config__parse_bool(p, name, args, &b->try_private);
    }
    if (strcmp(name, "notifications") == 0) {
        return config__parse_bool(p, name, args, &b->notifications);
    }
    if (strcmp(name, "notifications_local_only") == 0) {
        return config__parse_bool(p, name, args, &b->notifications_local_only);
    }
    if (strcmp(name, "bridge_outgoing_retain") == 0) {
        return config__parse_bool(p, name, args, &b->outgoing_retain);
    }
    if (strcmp(name, "bridge_attempt_unsubscribe") == 0) {
        return config__parse_bool(p, name, args, &b->attempt_unsubscribe);
    }
    if (strcmp(name, "round_robin") == 0) {
        return config__parse_bool(p, name, args, &b->round_robin);
    }
    if (strcmp(name, "local_clientid") == 0) {
        return config__parse_string(p, name, args, &b->local_clientid, false);
    }
    if (strcmp(name, "bridge_alpn") == 0) {
        return config__parse_string(p, name, args, &b->alpn, false);
    }
    if (strcmp(name, "bridge_insecure") == 0) {
        return config__parse_bool(p, name, args, &b->insecure);
    }
    if (strcmp(name, "keepalive_interval") == 0) {
        if (config__parse_integer(p, name, args, 5, 65535, &n) != 0) {
            return -1;
        }
        b->keepalive = (uint16_t)n;
        return 0;
    }
    if (strcmp(name, "bridge_max_packet_size") == 0) {
        if (config__parse_integer(p, name, args, 0, 268435460, &n) != 0) {
            return -1;
        }
        b->max_packet_size = (uint32_t)n;
        return 0;
    }
    if (strcmp(name, "bridge_protocol_version") == 0) {
        return dir_protocol_version(p, b, name, args);
    }
    if (strcmp(name, "restart_timeout") == 0) {
        return dir_restart_timeout(p, b, args);
    }
    if (strcmp(name, "start_type") == 0) {
        char *v;
        if (config__one_value(p, name, args, &v) != 0) {
            return -1;
        }
        if (strcmp(v, "automatic") == 0 || strcmp(v, "once") == 0) {
            b->start_once = strcmp(v, "once") == 0;
            return 0;
        }
        if (strcmp(v, "lazy") == 0) {
            config__warn(p, "start_type lazy is not supported by midge yet; the bridge starts "
                            "automatically");
            return 0;
        }
        return config__fail(p, "invalid start_type '%s' (expected automatic, lazy or once)", v);
    }
    if (strcmp(name, "bridge_cafile") == 0) {
        return config__parse_string(p, name, args, &b->cafile, true);
    }
    if (strcmp(name, "bridge_capath") == 0) {
        return config__parse_string(p, name, args, &b->capath, true);
    }
    if (strcmp(name, "bridge_certfile") == 0) {
        return config__parse_string(p, name, args, &b->certfile, true);
    }
    if (strcmp(name, "bridge_keyfile") == 0) {
        return config__parse_string(p, name, args, &b->keyfile, true);
    }
    if (strcmp(name, "bridge_tls_version") == 0) {
        return dir_tls_version(p, b, name, args);
    }
    return config__fail(p, "internal: bridge directive %s has no handler", name);
}

/* Errors about a whole bridge point at its `connection` line. */
static int bridge_fail(config_parse_t *p, const config_bridge_t *b, const char *why)
{
    p->file = b->file;
    p->line = b->line;
    return config__fail(p, "bridge '%s' %s", b->name, why);
}

int config__bridges_finish(config_parse_t *p)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    for (size_t i = 0; i < p->cfg->bridge_count; i++) {
        config_bridge_t *b = &p->cfg->bridges[i];
        if (b->address_count == 0) {
            return bridge_fail(p, b, "has no address");
        }
        if ((b->certfile == NULL) != (b->keyfile == NULL)) {
            return bridge_fail(p, b, "needs both bridge_certfile and bridge_keyfile");
        }
        if ((b->certfile || b->insecure || b->tls_version) && !b->cafile && !b->capath) {
            return bridge_fail(p, b,
                               "has TLS settings but neither bridge_cafile nor "
                               "bridge_capath");
        }
        if (b->remote_password && !b->remote_username) {
            return bridge_fail(p, b, "has remote_password without remote_username");
        }
        if (b->remote_clientid == NULL) {
            size_t len = strlen(host) + 1 + strlen(b->name) + 1;
            b->remote_clientid = malloc(len);
            if (b->remote_clientid == NULL) {
                return config__fail(p, "out of memory");
            }
            snprintf(b->remote_clientid, len, "%s.%s", host, b->name);
        }
        if (b->local_clientid == NULL) {
            size_t len = strlen("local.") + strlen(b->remote_clientid) + 1;
            b->local_clientid = malloc(len);
            if (b->local_clientid == NULL) {
                return config__fail(p, "out of memory");
            }
            snprintf(b->local_clientid, len, "local.%s", b->remote_clientid);
        }
        if (b->alpn && !b->cafile && !b->capath) {
            return bridge_fail(p, b,
                               "has bridge_alpn but neither bridge_cafile nor "
                               "bridge_capath");
        }
        if (b->notification_topic == NULL) {
            const char *fmt = "$SYS/broker/connection/%s/state";
            size_t len = strlen(fmt) + strlen(b->remote_clientid) + 1;
            b->notification_topic = malloc(len);
            if (b->notification_topic == NULL) {
                return config__fail(p, "out of memory");
            }
            snprintf(b->notification_topic, len, fmt, b->remote_clientid);
        }
        if (!mqtt_topic_name_valid((mqtt_bytes_t){(const uint8_t *)b->notification_topic,
                                                  strlen(b->notification_topic)})) {
            return bridge_fail(p, b, "has an invalid notification_topic");
        }
    }
    return 0;
}

char *config_bridge_map(const config_bridge_t *br, bool outgoing, const char *topic, size_t len,
                        int *qos)
{
    int want = outgoing ? CONFIG_BRIDGE_OUT : CONFIG_BRIDGE_IN;
    mqtt_bytes_t name = {(const uint8_t *)topic, len};
    for (size_t i = 0; i < br->topic_count; i++) {
        const config_bridge_topic_t *t = &br->topics[i];
        if (!(t->direction & want)) {
            continue;
        }
        const char *filter = outgoing ? t->local_topic : t->remote_topic;
        const char *from = outgoing ? t->local_prefix : t->remote_prefix;
        const char *to = outgoing ? t->remote_prefix : t->local_prefix;
        if (!mqtt_topic_matches((mqtt_bytes_t){(const uint8_t *)filter, strlen(filter)}, name)) {
            continue;
        }
        size_t lf = strlen(from), lt = strlen(to);
        /* The filter starts with the prefix, so a match does too (a '+'
         * or '#' cannot stand for it: prefixes have no wildcard). */
        if (len < lf || memcmp(topic, from, lf) != 0) {
            continue;
        }
        size_t rest = len - lf;
        if (lt + rest == 0) {
            continue;
        }
        char *out = malloc(lt + rest + 1);
        if (out == NULL) {
            return NULL;
        }
        memcpy(out, to, lt);
        memcpy(out + lt, topic + lf, rest);
        out[lt + rest] = '\0';
        if (qos != NULL) {
            *qos = t->qos;
        }
        return out;
    }
    return NULL;
}
