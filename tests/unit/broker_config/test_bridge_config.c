/* Bridge sections of mosquitto.conf: defaults, every directive, the
 * errors, and the topic mapping with Mosquitto's prefix table. */
#include "broker/config.h"
#include "broker/config_internal.h"
#include "test.h"
#include "test_files.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char errbuf[512];
static char warnings[4096];

static void collect(void *ctx, config_level_t level, const char *msg)
{
    strncat(warnings, msg, sizeof(warnings) - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

static int load_text(config_t *cfg, const char *name, const char *text)
{
    warnings[0] = '\0';
    errbuf[0] = '\0';
    char *path = tf_write(name, text);
    int rc = config_load(cfg, path, errbuf, sizeof(errbuf), collect, NULL);
    free(path);
    return rc;
}

static int fails_with(const char *text, int line, const char *contains)
{
    config_t c;
    if (load_text(&c, "bad.conf", text) == 0) {
        config_free(&c);
        fprintf(stderr, "loaded, expected an error: %s\n", text);
        return 0;
    }
    char want[64];
    snprintf(want, sizeof(want), "bad.conf:%d: ", line);
    if (strstr(errbuf, want) == NULL || strstr(errbuf, contains) == NULL) {
        fprintf(stderr, "unexpected error '%s' (want '%s' and '%s')\n", errbuf, want, contains);
        return 0;
    }
    return 1;
}

/* Maps topic through c's first bridge; "" when nothing matches. */
static char mapped[256];
static const char *map(const config_t *c, bool out, const char *topic, int *qos)
{
    char *m = config_bridge_map(&c->bridges[0], out, topic, strlen(topic), qos);
    snprintf(mapped, sizeof(mapped), "%s", m ? m : "");
    free(m);
    return mapped;
}

TEST(defaults_are_mosquittos)
{
    config_t c;
    CHECK_EQ_INT(load_text(&c, "d.conf", "connection cloud\naddress example.org\ntopic a/#\n"), 0);
    CHECK_EQ_INT(c.bridge_count, 1);
    config_bridge_t *b = &c.bridges[0];
    CHECK(strcmp(b->name, "cloud") == 0);
    CHECK_EQ_INT(b->address_count, 1);
    CHECK(strcmp(b->addresses[0].host, "example.org") == 0);
    CHECK_EQ_INT(b->addresses[0].port, 1883);
    char host[256];
    CHECK(gethostname(host, sizeof(host)) == 0);
    char want[300];
    snprintf(want, sizeof(want), "%s.cloud", host);
    CHECK(strcmp(b->remote_clientid, want) == 0);
    snprintf(want, sizeof(want), "$SYS/broker/connection/%s.cloud/state", host);
    CHECK(strcmp(b->notification_topic, want) == 0);
    CHECK(!b->cleansession);
    CHECK(b->try_private);
    CHECK(b->notifications);
    CHECK(!b->notifications_local_only);
    CHECK(b->outgoing_retain);
    CHECK_EQ_INT(b->protocol_version, 4);
    CHECK_EQ_INT(b->keepalive, 60);
    CHECK_EQ_INT(b->restart_base, 5);
    CHECK_EQ_INT(b->restart_cap, 30);
    CHECK(b->cafile == NULL && b->remote_username == NULL);
    CHECK_EQ_INT(b->topic_count, 1);
    CHECK_EQ_INT(b->topics[0].direction, CONFIG_BRIDGE_OUT);
    CHECK_EQ_INT(b->topics[0].qos, 0);
    CHECK(strcmp(b->topics[0].local_topic, "a/#") == 0);
    CHECK(strcmp(b->topics[0].remote_topic, "a/#") == 0);
    /* Still the implicit loopback listener: a bridge is no listener. */
    CHECK_EQ_INT(c.listener_count, 1);
    CHECK(warnings[0] == '\0');
    config_free(&c);
}

TEST(every_directive)
{
    config_t c;
    CHECK_EQ_INT(load_text(&c, "all.conf",
                           "listener 1883\n"
                           "connection one\n"
                           "addresses 10.0.0.1:8883 h:x1 ::1:1884 # comment\n"),
                 -1);
    CHECK(strstr(errbuf, "invalid bridge address") != NULL);
    CHECK_EQ_INT(load_text(&c, "all.conf",
                           "listener 1883\n"
                           "connection one\n"
                           "addresses 10.0.0.1:8883 ::1:1884 # comment\n"
                           "topic sensors/# out 1 pi/ cloud/pi/\n"
                           "topic cmd/# in 2 \"\" remote/\n"
                           "topic x both\n"
                           "remote_clientid pi-one\n"
                           "remote_username u\n"
                           "remote_password p w\n"
                           "cleansession true\n"
                           "keepalive_interval 5\n"
                           "bridge_protocol_version mqttv50\n"
                           "try_private false\n"
                           "notifications false\n"
                           "notifications_local_only true\n"
                           "notification_topic state/one\n"
                           "restart_timeout 7\n"
                           "start_type automatic\n"
                           "bridge_cafile ca.pem\n"
                           "bridge_certfile c.pem\n"
                           "bridge_keyfile k.pem\n"
                           "bridge_insecure true\n"
                           "bridge_tls_version tlsv1.3\n"
                           "bridge_outgoing_retain false\n"
                           "bridge_max_packet_size 1000\n"
                           "connection two\n"
                           "address h\n"
                           "clientid c2\n"
                           "username u2\n"
                           "password p2\n"
                           "restart_timeout 2 9\n"
                           "bridge_protocol_version mqttv31\n"
                           "topic \"\" both 0 here/x there/y\n"
                           "bridge_capath /etc/ssl/certs\n"),
                 0);
    CHECK_EQ_INT(c.bridge_count, 2);
    config_bridge_t *b = &c.bridges[0];
    CHECK_EQ_INT(b->address_count, 2);
    CHECK(strcmp(b->addresses[0].host, "10.0.0.1") == 0);
    CHECK_EQ_INT(b->addresses[0].port, 8883);
    CHECK(strcmp(b->addresses[1].host, "::1") == 0);
    CHECK_EQ_INT(b->addresses[1].port, 1884);
    CHECK_EQ_INT(b->topic_count, 3);
    CHECK_EQ_INT(b->topics[0].qos, 1);
    CHECK(strcmp(b->topics[0].local_topic, "pi/sensors/#") == 0);
    CHECK(strcmp(b->topics[0].remote_topic, "cloud/pi/sensors/#") == 0);
    CHECK_EQ_INT(b->topics[1].direction, CONFIG_BRIDGE_IN);
    CHECK_EQ_INT(b->topics[1].qos, 2);
    CHECK(strcmp(b->topics[1].local_topic, "cmd/#") == 0);
    CHECK(strcmp(b->topics[1].remote_topic, "remote/cmd/#") == 0);
    CHECK_EQ_INT(b->topics[2].direction, CONFIG_BRIDGE_BOTH);
    CHECK(strcmp(b->remote_clientid, "pi-one") == 0);
    CHECK(strcmp(b->remote_username, "u") == 0);
    CHECK(strcmp(b->remote_password, "p w") == 0);
    CHECK(b->cleansession && !b->try_private && !b->notifications);
    CHECK(b->notifications_local_only && !b->outgoing_retain && b->insecure);
    CHECK(strcmp(b->notification_topic, "state/one") == 0);
    CHECK_EQ_INT(b->keepalive, 5);
    CHECK_EQ_INT(b->protocol_version, 5);
    CHECK_EQ_INT(b->restart_base, 7);
    CHECK_EQ_INT(b->restart_cap, 0);
    CHECK(b->cafile[0] == '/' && strstr(b->cafile, "/ca.pem") != NULL);
    CHECK(strstr(b->certfile, "/c.pem") != NULL && strstr(b->keyfile, "/k.pem") != NULL);
    CHECK(strcmp(b->tls_version, "tlsv1.3") == 0);
    CHECK_EQ_INT(b->max_packet_size, 1000);
    b = &c.bridges[1];
    CHECK(strcmp(b->remote_clientid, "c2") == 0);
    CHECK(strcmp(b->remote_username, "u2") == 0 && strcmp(b->remote_password, "p2") == 0);
    CHECK_EQ_INT(b->restart_base, 2);
    CHECK_EQ_INT(b->restart_cap, 9);
    CHECK_EQ_INT(b->protocol_version, 3);
    CHECK(strcmp(b->topics[0].local_topic, "here/x") == 0);
    CHECK(strcmp(b->topics[0].remote_topic, "there/y") == 0);
    CHECK(strcmp(b->notification_topic, "$SYS/broker/connection/c2/state") == 0);
    CHECK(strcmp(b->capath, "/etc/ssl/certs") == 0);
    config_free(&c);
}

TEST(errors)
{
    CHECK(fails_with("address h\n", 1, "outside a bridge"));
    CHECK(fails_with("listener 1883\ntopic a\n", 2, "outside a bridge"));
    CHECK(fails_with("connection a\naddress h\nconnection a\n", 3, "duplicate bridge name"));
    CHECK(fails_with("connection a\ntopic x\n", 1, "has no address"));
    CHECK(fails_with("connection a\naddress h:0\n", 2, "invalid bridge address"));
    CHECK(fails_with("connection a\naddress h:99999\n", 2, "invalid bridge address"));
    CHECK(fails_with("connection a\naddress h\naddress g\n", 3, "duplicate address"));
    CHECK(fails_with("connection a\naddress h\ntopic x sideways\n", 3, "invalid topic direction"));
    CHECK(fails_with("connection a\naddress h\ntopic x in 3\n", 3, "invalid topic QoS"));
    CHECK(fails_with("connection a\naddress h\ntopic x in 1 l/\n", 3, "needs a remote prefix"));
    CHECK(fails_with("connection a\naddress h\ntopic \"\" in 1 l/ \"\"\n", 3,
                     "needs both a local and a remote prefix"));
    CHECK(fails_with("connection a\naddress h\ntopic \"\" in 1 \"\" r\n", 3,
                     "needs both a local and a remote prefix"));
    CHECK(fails_with("connection a\naddress h\ntopic x in 1 l/+/ r/\n", 3, "wildcard"));
    CHECK(fails_with("connection a\naddress h\ntopic a/#/b\n", 3, "invalid bridge topic"));
    CHECK(fails_with("connection a\naddress h\ntopic x in 1 a b c\n", 3, "unexpected 'c'"));
    CHECK(fails_with("connection a\naddress h\nkeepalive_interval 4\n", 3, "keepalive_interval"));
    CHECK(fails_with("connection a\naddress h\nbridge_protocol_version mqttv6\n", 3,
                     "expected mqttv31"));
    CHECK(fails_with("connection a\naddress h\nrestart_timeout 9 3\n", 3, "below its base"));
    CHECK(fails_with("connection a\naddress h\nbridge_tls_version tlsv1.1\n", 3, "refused"));
    CHECK(fails_with("connection a\naddress h\nstart_type manual\n", 3, "invalid start_type"));
    CHECK(fails_with("connection a\naddress h\nbridge_certfile c\n", 1, "bridge_keyfile"));
    CHECK(fails_with("connection a\naddress h\nbridge_insecure true\n", 1, "bridge_cafile"));
    CHECK(fails_with("connection a\naddress h\nremote_password p\n", 1, "without remote_username"));
    CHECK(fails_with("connection a\naddress h\nnotification_topic a/#\n", 1,
                     "invalid notification_topic"));
    CHECK(fails_with("connection a\naddress h\nremote_username a\nusername b\n", 4, "duplicate"));
}

TEST(lazy_warns)
{
    config_t c;
    CHECK_EQ_INT(load_text(&c, "w.conf", "connection a\naddress h\nstart_type lazy\n"), 0);
    CHECK(strstr(warnings, "w.conf:3: warning: start_type lazy") != NULL);
    CHECK(!c.bridges[0].start_once);
    config_free(&c);
    CHECK_EQ_INT(load_text(&c, "w.conf", "connection a\naddress h\nidle_timeout 9\n"), 0);
    CHECK(strstr(warnings, "w.conf:3: warning: 'idle_timeout'") != NULL);
    config_free(&c);
}

TEST(more_options)
{
    config_t c;
    CHECK_EQ_INT(
        load_text(&c, "o.conf", "connection a\naddress h g:2\nremote_clientid r\ntopic x\n"), 0);
    config_bridge_t *b = &c.bridges[0];
    CHECK(!b->start_once && !b->round_robin && b->attempt_unsubscribe);
    CHECK(strcmp(b->local_clientid, "local.r") == 0);
    CHECK(b->alpn == NULL);
    config_free(&c);
    CHECK_EQ_INT(load_text(&c, "o.conf",
                           "connection a\naddress h\nstart_type once\nround_robin true\n"
                           "bridge_attempt_unsubscribe false\nlocal_clientid here\n"
                           "bridge_cafile ca.pem\nbridge_alpn mqtt\n"),
                 0);
    b = &c.bridges[0];
    CHECK(b->start_once && b->round_robin && !b->attempt_unsubscribe);
    CHECK(strcmp(b->local_clientid, "here") == 0);
    CHECK(strcmp(b->alpn, "mqtt") == 0);
    CHECK(warnings[0] == '\0');
    config_free(&c);
    CHECK(fails_with("connection a\naddress h\nbridge_alpn mqtt\n", 1, "bridge_alpn"));
}

/* The table of the mosquitto.conf manual, both directions. */
TEST(prefix_mapping)
{
    config_t c;
    int qos = -1;
    CHECK_EQ_INT(load_text(&c, "m.conf",
                           "connection a\naddress h\n"
                           "topic sensors/# out 1 L/ R/\n"
                           "topic cmd/+ in 2 L/ \"\"\n"
                           "topic up/# out 0 \"\" R/\n"
                           "topic plain/# both 1 \"\" \"\"\n"
                           "topic \"\" both 0 local/one remote/two\n"),
                 0);
    CHECK(strcmp(map(&c, true, "L/sensors/t", &qos), "R/sensors/t") == 0);
    CHECK_EQ_INT(qos, 1);
    CHECK(strcmp(map(&c, true, "L/sensors", &qos), "R/sensors") == 0);
    CHECK(strcmp(map(&c, true, "sensors/t", &qos), "") == 0);    /* not under L/ */
    CHECK(strcmp(map(&c, false, "R/sensors/t", &qos), "") == 0); /* out only */
    CHECK(strcmp(map(&c, false, "cmd/x", &qos), "L/cmd/x") == 0);
    CHECK_EQ_INT(qos, 2);
    CHECK(strcmp(map(&c, false, "cmd/x/y", &qos), "") == 0);
    CHECK(strcmp(map(&c, true, "L/cmd/x", &qos), "") == 0); /* in only */
    CHECK(strcmp(map(&c, true, "up/a/b", &qos), "R/up/a/b") == 0);
    CHECK(strcmp(map(&c, true, "plain/z", &qos), "plain/z") == 0);
    CHECK(strcmp(map(&c, false, "plain/z", &qos), "plain/z") == 0);
    CHECK(strcmp(map(&c, true, "local/one", &qos), "remote/two") == 0);
    CHECK(strcmp(map(&c, false, "remote/two", &qos), "local/one") == 0);
    CHECK(strcmp(map(&c, true, "local/one/x", &qos), "") == 0);
    /* A leading wildcard never matches $ topics. */
    config_free(&c);
    CHECK_EQ_INT(load_text(&c, "m.conf", "connection a\naddress h\ntopic # both 0 a/ b/\n"), 0);
    CHECK(strcmp(map(&c, true, "a/x", &qos), "b/x") == 0);
    CHECK(strcmp(map(&c, false, "b/$x", &qos), "a/$x") == 0);
    CHECK(strcmp(map(&c, true, "$SYS/x", &qos), "") == 0);
    config_free(&c);
}

TEST(status_table)
{
    static const char *supported[] = {"connection",
                                      "address",
                                      "addresses",
                                      "topic",
                                      "remote_clientid",
                                      "clientid",
                                      "remote_username",
                                      "username",
                                      "remote_password",
                                      "password",
                                      "cleansession",
                                      "keepalive_interval",
                                      "try_private",
                                      "notifications",
                                      "notification_topic",
                                      "restart_timeout",
                                      "start_type",
                                      "bridge_protocol_version",
                                      "bridge_cafile",
                                      "bridge_capath",
                                      "bridge_certfile",
                                      "bridge_keyfile",
                                      "bridge_insecure",
                                      "bridge_tls_version",
                                      "bridge_outgoing_retain",
                                      "bridge_max_packet_size",
                                      "notifications_local_only"};
    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
        if (config_directive_status(supported[i]) != CONFIG_SUPPORTED) {
            fprintf(stderr, "not supported: %s\n", supported[i]);
            CHECK(0);
        }
    }
    static const char *warned[] = {"local_username", "local_password",      "idle_timeout",
                                   "threshold",      "bridge_bind_address", "local_cleansession"};
    for (size_t i = 0; i < sizeof(warned) / sizeof(warned[0]); i++) {
        if (config_directive_status(warned[i]) != CONFIG_WARNED) {
            fprintf(stderr, "not warned: %s\n", warned[i]);
            CHECK(0);
        }
    }
}

/* Ignoring these would send a bridge's traffic in the clear (PSK) or
 * trust a revoked certificate (OCSP): midge refuses to start instead. */
TEST(refused)
{
    CHECK_EQ_INT(config_directive_status("bridge_psk"), CONFIG_REFUSED);
    CHECK_EQ_INT(config_directive_status("bridge_identity"), CONFIG_REFUSED);
    CHECK_EQ_INT(config_directive_status("bridge_require_ocsp"), CONFIG_REFUSED);
    CHECK(fails_with("connection a\naddress h\nbridge_identity me\nbridge_psk 00ff\n", 3,
                     "refusing to start"));
}

int main(void)
{
    tf_setup("bridgecfg");
    RUN(defaults_are_mosquittos);
    RUN(every_directive);
    RUN(errors);
    RUN(lazy_warns);
    RUN(more_options);
    RUN(prefix_mapping);
    RUN(status_table);
    RUN(refused);
    tf_cleanup();
    return TEST_REPORT();
}
