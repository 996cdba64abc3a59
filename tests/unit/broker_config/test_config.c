/* mosquitto.conf reader: defaults, every directive kind, the Mosquitto 2.0
 * listener/anonymous rules, include_dir order, and file:line errors. */
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

/* Loads `text` written as conf file `name`; returns config_load's result. */
static int load_text(config_t *cfg, const char *name, const char *text)
{
    warnings[0] = '\0';
    char *path = tf_write(name, text);
    int rc = config_load(cfg, path, errbuf, sizeof(errbuf), collect, NULL);
    free(path);
    return rc;
}

/* The error must be "<dir>/<name>:<line>: ...contains...". */
static int error_is(const char *name, int line, const char *contains)
{
    char want[256];
    snprintf(want, sizeof(want), "/%s:%d: ", name, line);
    if (strstr(errbuf, want) == NULL || strstr(errbuf, contains) == NULL) {
        fprintf(stderr, "unexpected error: '%s' (want '%s' and '%s')\n", errbuf, want, contains);
        return 0;
    }
    return 1;
}

TEST(defaults_are_mosquittos)
{
    config_t c;
    CHECK_EQ_INT(load_text(&c, "empty.conf", "# nothing\n\n"), 0);
    CHECK_EQ_INT(c.listener_count, 1);
    CHECK(c.local_only);
    CHECK(c.listeners[0].local_only);
    CHECK_EQ_INT(c.listeners[0].port, 1883);
    CHECK(c.listeners[0].bind_address == NULL);
    CHECK_EQ_INT(c.security.allow_anonymous, 1);
    CHECK(c.security.allow_zero_length_clientid);
    CHECK(strcmp(c.security.auto_id_prefix, "auto-") == 0);
    CHECK(c.security.password_file == NULL && c.security.acl_file == NULL);
    CHECK_EQ_INT(c.max_packet_size, 0);
    CHECK_EQ_INT(c.message_size_limit, 0);
    CHECK_EQ_INT(c.max_inflight_messages, 20);
    CHECK_EQ_INT(c.max_inflight_bytes, 0);
    CHECK_EQ_INT(c.max_queued_messages, 1000);
    CHECK_EQ_INT(c.max_queued_bytes, 0);
    CHECK_EQ_INT(c.max_keepalive, 65535);
    CHECK(c.retain_available);
    CHECK(!c.upgrade_outgoing_qos);
    CHECK(!c.set_tcp_nodelay);
    CHECK_EQ_INT(c.sys_interval, 10);
    CHECK(!c.persistence);
    CHECK(strcmp(c.persistence_file, "mosquitto.db") == 0);
    CHECK(c.persistence_location == NULL);
    CHECK_EQ_INT(c.autosave_interval, 1800);
    CHECK_EQ_INT(c.log_dest, CONFIG_LOG_DEST_STDERR);
    CHECK_EQ_INT(c.log_type, CONFIG_LOG_ERROR | CONFIG_LOG_WARNING | CONFIG_LOG_NOTICE |
                                 CONFIG_LOG_INFORMATION);
    CHECK(c.log_timestamp);
    CHECK(c.pid_file == NULL);
    CHECK(strcmp(c.user, "mosquitto") == 0);
    CHECK(!c.per_listener_settings);
    CHECK_EQ_INT(c.listeners[0].max_connections, -1);
    CHECK_EQ_INT(c.listeners[0].max_qos, 2);
    CHECK_EQ_INT(c.listeners[0].protocol, CONFIG_PROTOCOL_MQTT);
    CHECK_EQ_INT(c.listeners[0].socket_domain, CONFIG_DOMAIN_ANY);
    CHECK_EQ_INT(c.listeners[0].tls_version, CONFIG_TLS_V1_2);
    config_free(&c);
}

TEST(load_default_without_file)
{
    config_t c;
    CHECK_EQ_INT(config_load_default(&c, 1884), 0);
    CHECK_EQ_INT(c.listener_count, 1);
    CHECK(c.local_only);
    CHECK_EQ_INT(c.listeners[0].port, 1884);
    CHECK_EQ_INT(c.security.allow_anonymous, 1);
    config_free(&c);
}

TEST(listener_makes_anonymous_false)
{
    config_t c;
    CHECK_EQ_INT(load_text(&c, "l.conf", "listener 1884\n"), 0);
    CHECK_EQ_INT(c.listener_count, 1);
    CHECK(!c.local_only);
    CHECK(!c.listeners[0].local_only);
    CHECK_EQ_INT(c.listeners[0].port, 1884);
    CHECK_EQ_INT(c.security.allow_anonymous, 0);
    CHECK_EQ_INT(config_security_for(&c, &c.listeners[0])->allow_anonymous, 0);
    config_free(&c);

    CHECK_EQ_INT(load_text(&c, "l.conf", "listener 1884\nallow_anonymous true\n"), 0);
    CHECK_EQ_INT(c.security.allow_anonymous, 1);
    config_free(&c);

    /* Without a listener the explicit false stays false. */
    CHECK_EQ_INT(load_text(&c, "l.conf", "allow_anonymous false\n"), 0);
    CHECK(c.local_only);
    CHECK_EQ_INT(c.security.allow_anonymous, 0);
    config_free(&c);
}

TEST(port_creates_default_listener)
{
    config_t c;
    CHECK_EQ_INT(load_text(&c, "p.conf", "port 1885\nbind_address 127.0.0.1\nlistener 1886 ::1\n"),
                 0);
    CHECK_EQ_INT(c.listener_count, 2);
    CHECK_EQ_INT(c.listeners[0].port, 1885);
    CHECK(strcmp(c.listeners[0].bind_address, "127.0.0.1") == 0);
    CHECK_EQ_INT(c.listeners[1].port, 1886);
    CHECK(strcmp(c.listeners[1].bind_address, "::1") == 0);
    CHECK_EQ_INT(c.security.allow_anonymous, 0);
    config_free(&c);

    /* A listener option before any `listener` also makes the default one. */
    CHECK_EQ_INT(load_text(&c, "p.conf", "max_connections 5\n"), 0);
    CHECK_EQ_INT(c.listener_count, 1);
    CHECK(!c.local_only);
    CHECK_EQ_INT(c.listeners[0].port, 1883);
    CHECK_EQ_INT(c.listeners[0].max_connections, 5);
    CHECK_EQ_INT(c.security.allow_anonymous, 0);
    config_free(&c);

    CHECK_EQ_INT(load_text(&c, "p.conf", "port 1\nport 2\n"), 0);
    CHECK_EQ_INT(c.listeners[0].port, 2);
    CHECK(strstr(warnings, "p.conf:2: warning") != NULL);
    config_free(&c);
}

TEST(several_listeners_with_options)
{
    config_t c;
    const char *text = "listener 1883 127.0.0.1\n"
                       "max_connections 100\n"
                       "socket_domain ipv4\n"
                       "mount_point site1/\n"
                       "listener 8883\n"
                       "certfile server.crt\n"
                       "keyfile /etc/k.pem\n"
                       "cafile ca.crt\n"
                       "crlfile crl.pem\n"
                       "capath certs\n"
                       "ciphers ECDHE-RSA-AES128-GCM-SHA256\n"
                       "require_certificate true\n"
                       "use_identity_as_username true\n"
                       "tls_version tlsv1.3\n"
                       "listener 9001\n"
                       "protocol websockets\n"
                       "max_qos 1\n"
                       "listener 9002\n"
                       "maximum_qos 0\n"
                       "max_connections -5\n"
                       "use_subject_as_username false\n";
    CHECK_EQ_INT(load_text(&c, "multi.conf", text), 0);
    CHECK_EQ_INT(c.listener_count, 4);
    config_listener_t *a = &c.listeners[0], *b = &c.listeners[1], *w = &c.listeners[2];
    CHECK_EQ_INT(a->max_connections, 100);
    CHECK_EQ_INT(a->socket_domain, CONFIG_DOMAIN_IPV4);
    CHECK(strcmp(a->mount_point, "site1/") == 0);
    CHECK(a->certfile == NULL);
    CHECK_EQ_INT(a->line, 1);
    CHECK_EQ_INT(b->port, 8883);
    CHECK(b->bind_address == NULL);
    CHECK(b->certfile[0] == '/' && strstr(b->certfile, "/server.crt") != NULL);
    CHECK(strcmp(b->keyfile, "/etc/k.pem") == 0);
    CHECK(strstr(b->cafile, "/ca.crt") != NULL && strstr(b->crlfile, "/crl.pem") != NULL);
    CHECK(strstr(b->capath, "/certs") != NULL);
    CHECK(strcmp(b->ciphers, "ECDHE-RSA-AES128-GCM-SHA256") == 0);
    CHECK(b->require_certificate && b->use_identity_as_username && !b->use_subject_as_username);
    CHECK_EQ_INT(b->tls_version, CONFIG_TLS_V1_3);
    CHECK_EQ_INT(w->protocol, CONFIG_PROTOCOL_WEBSOCKETS);
    CHECK_EQ_INT(w->max_qos, 1);
    CHECK_EQ_INT(c.listeners[3].max_qos, 0);
    CHECK_EQ_INT(c.listeners[3].max_connections, -1);
    config_free(&c);
}

TEST(relative_paths_resolve_from_working_directory)
{
    config_t c;
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK_EQ_INT(load_text(&c, "rel.conf",
                           "password_file pw\nacl_file sub/acl\npid_file /run/m.pid\n"
                           "persistence_location db/\nlog_dest file log.txt\n"),
                 0);
    char want[1200];
    snprintf(want, sizeof(want), "%s/pw", cwd);
    CHECK(strcmp(c.security.password_file, want) == 0);
    snprintf(want, sizeof(want), "%s/sub/acl", cwd);
    CHECK(strcmp(c.security.acl_file, want) == 0);
    CHECK(strcmp(c.pid_file, "/run/m.pid") == 0);
    snprintf(want, sizeof(want), "%s/log.txt", cwd);
    CHECK(strcmp(c.log_file, want) == 0);
    CHECK_EQ_INT(c.log_dest, CONFIG_LOG_DEST_FILE);
    char db[1200];
    CHECK_EQ_INT(config_persistence_path(&c, db, sizeof(db)), 0);
    snprintf(want, sizeof(want), "%s/db/mosquitto.db", cwd);
    CHECK(strcmp(db, want) == 0);
    config_free(&c);
}

TEST(global_values)
{
    config_t c;
    const char *text = "listener 1883\n"
                       "max_packet_size 1000\n"
                       "message_size_limit 500\n"
                       "max_inflight_messages 0\n"
                       "max_inflight_bytes 123456789012\n"
                       "max_queued_messages 7\n"
                       "max_queued_bytes 99\n"
                       "max_keepalive 60\n"
                       "retain_available false\n"
                       "upgrade_outgoing_qos true\n"
                       "set_tcp_nodelay true\n"
                       "sys_interval 0\n"
                       "persistence true\n"
                       "persistence_file x.db\n"
                       "autosave_interval 60\n"
                       "log_dest stdout\n"
                       "log_dest syslog\n"
                       "log_type error\n"
                       "log_type subscribe\n"
                       "log_timestamp false\n"
                       "user nobody\n"
                       "allow_zero_length_clientid false\n"
                       "auto_id_prefix gen-\n"
                       "allow_anonymous true # trailing comment\n";
    CHECK_EQ_INT(load_text(&c, "g.conf", text), 0);
    CHECK_EQ_INT(c.max_packet_size, 1000);
    CHECK_EQ_INT(c.message_size_limit, 500);
    CHECK_EQ_INT(c.max_inflight_messages, 0);
    CHECK(c.max_inflight_bytes == 123456789012ull);
    CHECK_EQ_INT(c.max_queued_messages, 7);
    CHECK_EQ_INT(c.max_queued_bytes, 99);
    CHECK_EQ_INT(c.max_keepalive, 60);
    CHECK(!c.retain_available && c.upgrade_outgoing_qos && c.set_tcp_nodelay);
    CHECK_EQ_INT(c.sys_interval, 0);
    CHECK(c.persistence && strcmp(c.persistence_file, "x.db") == 0);
    CHECK_EQ_INT(c.autosave_interval, 60);
    CHECK_EQ_INT(c.log_dest, CONFIG_LOG_DEST_STDOUT | CONFIG_LOG_DEST_SYSLOG);
    CHECK_EQ_INT(c.log_type, CONFIG_LOG_ERROR | CONFIG_LOG_SUBSCRIBE);
    CHECK(!c.log_timestamp);
    CHECK(strcmp(c.user, "nobody") == 0);
    CHECK(!c.security.allow_zero_length_clientid);
    CHECK(strcmp(c.security.auto_id_prefix, "gen-") == 0);
    CHECK_EQ_INT(c.security.allow_anonymous, 1);
    config_free(&c);

    CHECK_EQ_INT(load_text(&c, "g.conf", "log_dest none\nlog_type all\nlog_type none\n"), 0);
    CHECK_EQ_INT(c.log_dest, 0);
    CHECK_EQ_INT(c.log_type, 0);
    config_free(&c);
}

TEST(per_listener_settings)
{
    config_t c;
    const char *text = "per_listener_settings true\n"
                       "listener 1883 127.0.0.1\n"
                       "allow_anonymous true\n"
                       "listener 1884\n"
                       "password_file pw\n"
                       "acl_file acl\n"
                       "auto_id_prefix x-\n";
    CHECK_EQ_INT(load_text(&c, "pl.conf", text), 0);
    CHECK(c.per_listener_settings);
    const config_security_t *s0 = config_security_for(&c, &c.listeners[0]);
    const config_security_t *s1 = config_security_for(&c, &c.listeners[1]);
    CHECK_EQ_INT(s0->allow_anonymous, 1);
    CHECK(s0->password_file == NULL);
    CHECK(strcmp(s0->auto_id_prefix, "auto-") == 0);
    CHECK_EQ_INT(s1->allow_anonymous, 0);
    CHECK(strstr(s1->password_file, "/pw") != NULL && strstr(s1->acl_file, "/acl") != NULL);
    CHECK(strcmp(s1->auto_id_prefix, "x-") == 0);
    CHECK(c.security.password_file == NULL);
    config_free(&c);

    /* Without per_listener_settings the last listener does not capture it. */
    CHECK_EQ_INT(load_text(&c, "pl.conf", "listener 1883\nlistener 1884\npassword_file pw\n"), 0);
    CHECK(strstr(config_security_for(&c, &c.listeners[0])->password_file, "/pw") != NULL);
    CHECK(c.listeners[1].security.password_file == NULL);
    config_free(&c);

    /* A security option before any listener lands on the default listener,
     * which then exists (Mosquitto does the same). */
    CHECK_EQ_INT(load_text(&c, "pl.conf", "per_listener_settings true\nallow_anonymous true\n"), 0);
    CHECK_EQ_INT(c.listener_count, 1);
    CHECK(!c.local_only);
    CHECK_EQ_INT(c.listeners[0].port, 1883);
    CHECK_EQ_INT(config_security_for(&c, &c.listeners[0])->allow_anonymous, 1);
    config_free(&c);

    CHECK_EQ_INT(load_text(&c, "pl.conf", "allow_anonymous true\nper_listener_settings true\n"),
                 -1);
    CHECK(error_is("pl.conf", 2, "per_listener_settings must be set before"));
}

TEST(include_dir_order)
{
    CHECK(config__include_order("A.conf", "a.conf") < 0);
    CHECK(config__include_order("a.conf", "B.conf") < 0);
    CHECK(config__include_order("00.conf", "A.conf") < 0);
    CHECK(config__include_order("b.conf", "B.conf") > 0);
    CHECK(config__include_order("ab.conf", "a.conf") > 0);

    /* Each file adds a listener, so the listener order is the file order. */
    const char *names[] = {"b.conf", "A.conf", "01.conf", "a.conf", "B.conf", "00.conf"};
    const int ports[] = {6, 3, 2, 4, 5, 1};
    char *dir = tf_mkdir("inc.d");
    for (int i = 0; i < 6; i++) {
        char rel[64], text[64];
        snprintf(rel, sizeof(rel), "inc.d/%s", names[i]);
        snprintf(text, sizeof(text), "listener %d\n", 10000 + ports[i]);
        free(tf_write(rel, text));
    }
    free(tf_write("inc.d/ignored.txt", "this is not read\n"));
    free(tf_write("inc.d/.conf", "neither is this\n"));
    char main_text[1200];
    snprintf(main_text, sizeof(main_text), "listener 10000\ninclude_dir %s\n", dir);
    config_t c;
    CHECK_EQ_INT(load_text(&c, "main.conf", main_text), 0);
    CHECK_EQ_INT(c.listener_count, 7);
    for (int i = 0; i < 7; i++) {
        CHECK_EQ_INT(c.listeners[i].port, 10000 + i);
    }
    CHECK(strstr(c.listeners[3].file, "/A.conf") != NULL);
    config_free(&c);

    /* An error inside an included file names that file and line. */
    free(tf_write("inc.d/zz.conf", "\n\nbogus_directive 1\n"));
    CHECK_EQ_INT(load_text(&c, "main.conf", main_text), -1);
    CHECK(error_is("zz.conf", 3, "unknown configuration directive 'bogus_directive'"));

    snprintf(main_text, sizeof(main_text), "include_dir %s/nonexistent\n", dir);
    CHECK_EQ_INT(load_text(&c, "main.conf", main_text), -1);
    CHECK(error_is("main.conf", 1, "cannot open include_dir"));
    free(dir);
}

TEST(include_dir_nested_is_ignored_with_warning)
{
    char *dir = tf_mkdir("nest.d");
    char text[1200];
    snprintf(text, sizeof(text), "include_dir %s\nlistener 2000\n", dir);
    free(tf_write("nest.d/x.conf", text));
    snprintf(text, sizeof(text), "include_dir %s\n", dir);
    config_t c;
    CHECK_EQ_INT(load_text(&c, "nest.conf", text), 0);
    CHECK_EQ_INT(c.listener_count, 1);
    CHECK(strstr(warnings, "x.conf:1: warning: include_dir") != NULL);
    config_free(&c);
    free(dir);
}

/* Each bad line must stop the load with file:line: reason. */
TEST(errors_name_file_and_line)
{
    static const struct {
        const char *text;
        int line;
        const char *reason;
    } cases[] = {
        {"listener 1883\nfoo bar\n", 2, "unknown configuration directive 'foo'"},
        {"\tlistener 1883\nallow_anonymous maybe\n", 2, "invalid allow_anonymous value 'maybe'"},
        {"listener abc\n", 1, "invalid listener port 'abc'"},
        {"listener 70000\n", 1, "invalid listener port '70000'"},
        {"listener 0 /tmp/sock\n", 1, "unix socket"},
        {"listener\n", 1, "listener needs a port"},
        {"listener 1883 127.0.0.1 extra\n", 1, "unexpected 'extra'"},
        {"port 0\n", 1, "invalid port value '0'"},
        {"listener 1\npassword_file a\npassword_file b\n", 3, "duplicate password_file value"},
        {"listener 1\nacl_file\n", 2, "empty acl_file value"},
        {"listener 1\nmax_packet_size 10\n", 2, "invalid max_packet_size value '10'"},
        {"listener 1\nmax_packet_size 0\n", 2, "invalid max_packet_size value '0'"},
        {"listener 1\nmax_keepalive 70000\n", 2, "invalid max_keepalive value"},
        {"listener 1\nmax_qos 3\n", 2, "invalid max_qos value '3'"},
        {"listener 1\nsys_interval abc\n", 2, "invalid sys_interval value 'abc'"},
        {"listener 1\nmax_inflight_messages -5\n", 2, "invalid max_inflight_messages value"},
        {"listener 1\nmax_queued_messages 10x\n", 2, "invalid max_queued_messages value '10x'"},
        {"listener 1\nmessage_size_limit 300000000\n", 2, "invalid message_size_limit value"},
        {"listener 1\nautosave_interval -1\n", 2, "invalid autosave_interval value"},
        {"listener 1\nmax_connections 10 20\n", 2, "unexpected '20'"},
        {"listener 1\nprotocol foo\n", 2, "invalid protocol value 'foo'"},
        {"listener 1\nsocket_domain ipv5\n", 2, "invalid socket_domain value 'ipv5'"},
        {"listener 1\ntls_version tlsv1.0\n", 2, "invalid tls_version value"},
        {"listener 1\ntls_version tlsv1.1\n", 2, "midge needs TLS 1.2 or later"},
        {"listener 1\nmount_point a/+/\n", 2, "invalid mount_point"},
        {"listener 1\nuser\n", 2, "empty user value"},
        {"listener 1\nlog_dest file\n", 2, "log_dest file needs a file name"},
        {"listener 1\nlog_dest file a\nlog_dest file b\n", 3, "only one log_dest file"},
        {"listener 1\nlog_dest paper\n", 2, "invalid log_dest value 'paper'"},
        {"listener 1\nlog_type bogus\n", 2, "invalid log_type value 'bogus'"},
        {"listener 1\nretain_available\n", 2, "retain_available needs a value"},
        {"listener 1\nauth_plugin /x.so\n", 2, "'auth_plugin' is not supported by midge"},
        {"listener 1\nauth_opt_db x\n", 2, "'auth_opt_db' is not supported by midge"},
        {"listener 1\npsk_hint h\n", 2, "'psk_hint' is not supported"},
        {"listener 1\nbind_interface eth0\n", 2, "'bind_interface' is not supported"},
        {"listener 1\ncertfile c\n", 1, "certfile and keyfile must be given together"},
        {"listener 1\nlistener 2\nkeyfile k\n", 2, "certfile and keyfile must be given together"},
        {"listener 1\ncertfile c\nkeyfile k\nrequire_certificate true\n", 1,
         "require_certificate needs cafile or capath"},
        {"listener 1\ncafile c\n", 1, "TLS options given without certfile"},
        {"listener 1\ncertfile c\nkeyfile k\ncafile a\nuse_identity_as_username true\n", 1,
         "need require_certificate"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        config_t c;
        errbuf[0] = '\0';
        if (load_text(&c, "bad.conf", cases[i].text) != -1) {
            fprintf(stderr, "case %zu loaded: %s", i, cases[i].text);
            CHECK(0);
        }
        if (!error_is("bad.conf", cases[i].line, cases[i].reason)) {
            fprintf(stderr, "case %zu: %s", i, cases[i].text);
            CHECK(0);
        }
        /* A failed load leaves nothing to free and a usable struct. */
        CHECK_EQ_INT(c.listener_count, 0);
        CHECK(c.listeners == NULL);
    }
}

TEST(missing_file)
{
    config_t c;
    CHECK_EQ_INT(config_load(&c, "no/such/file.conf", errbuf, sizeof(errbuf), NULL, NULL), -1);
    CHECK(strncmp(errbuf, "no/such/file.conf: cannot open", 30) == 0);
}

TEST(warned_directives_name_themselves)
{
    config_t c;
    CHECK_EQ_INT(
        load_text(&c, "w.conf",
                  "listener 1883\nallow_duplicate_messages true\nconnection br\naddress x:1883\n"
                  "idle_timeout 5\nretry_interval 20\n"),
        0);
    CHECK(strstr(warnings, "w.conf:2: warning: 'allow_duplicate_messages' is not supported") !=
          NULL);
    CHECK(strstr(warnings, "w.conf:3: warning") == NULL);
    CHECK(strstr(warnings, "w.conf:5: warning: 'idle_timeout'") != NULL);
    CHECK(strstr(warnings, "w.conf:6: warning: 'retry_interval'") != NULL);
    config_free(&c);
}

TEST(session_and_queue_directives)
{
    config_t c;
    CHECK_EQ_INT(load_text(&c, "s.conf",
                           "max_topic_alias 4\nqueue_qos0_messages true\n"
                           "persistent_client_expiration 2d\nautosave_on_changes true\n"),
                 0);
    CHECK_EQ_INT(c.max_topic_alias, 4);
    CHECK(c.queue_qos0_messages);
    CHECK_EQ_INT(c.persistent_client_expiration, 2 * 86400);
    CHECK(c.autosave_on_changes);
    config_free(&c);
    CHECK_EQ_INT(load_text(&c, "d.conf", "listener 1883\n"), 0);
    CHECK_EQ_INT(c.max_topic_alias, 10); /* Mosquitto's default */
    CHECK_EQ_INT(c.persistent_client_expiration, 0);
    config_free(&c);
    const char *units[][2] = {
        {"30s", "30"}, {"3h", "10800"}, {"1w", "604800"}, {"1m", "2592000"}, {"1y", "31536000"}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "persistent_client_expiration %s\n", units[i][0]);
        CHECK_EQ_INT(load_text(&c, "u.conf", text), 0);
        CHECK_EQ_INT(c.persistent_client_expiration, atoi(units[i][1]));
        config_free(&c);
    }
    const char *bad[] = {"persistent_client_expiration 10\n", "persistent_client_expiration d\n",
                         "persistent_client_expiration 0d\n",
                         "persistent_client_expiration 99999999y\n", "max_topic_alias 70000\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(load_text(&c, "b.conf", bad[i]), -1);
        CHECK(error_is("b.conf", 1, i < 4 ? "persistent_client_expiration" : "max_topic_alias"));
    }
}

TEST(directive_status_table)
{
    CHECK_EQ_INT(config_directive_status("listener"), CONFIG_SUPPORTED);
    CHECK_EQ_INT(config_directive_status("password_file"), CONFIG_SUPPORTED);
    CHECK_EQ_INT(config_directive_status("maximum_qos"), CONFIG_SUPPORTED);
    CHECK_EQ_INT(config_directive_status("allow_duplicate_messages"), CONFIG_WARNED);
    CHECK_EQ_INT(config_directive_status("memory_limit"), CONFIG_SUPPORTED);
    CHECK_EQ_INT(config_directive_status("check_retain_source"), CONFIG_SUPPORTED);
    CHECK_EQ_INT(config_directive_status("bridge_cafile"), CONFIG_SUPPORTED);
    CHECK_EQ_INT(config_directive_status("bridge_bind_address"), CONFIG_WARNED);
    CHECK_EQ_INT(config_directive_status("auth_plugin"), CONFIG_REFUSED);
    CHECK_EQ_INT(config_directive_status("auth_opt_anything"), CONFIG_REFUSED);
    CHECK_EQ_INT(config_directive_status("no_such_thing"), -1);
    /* Every directive the brief names is supported. */
    static const char *supported[] = {"listener",
                                      "port",
                                      "bind_address",
                                      "per_listener_settings",
                                      "protocol",
                                      "socket_domain",
                                      "max_connections",
                                      "allow_anonymous",
                                      "password_file",
                                      "acl_file",
                                      "cafile",
                                      "capath",
                                      "certfile",
                                      "keyfile",
                                      "crlfile",
                                      "tls_version",
                                      "ciphers",
                                      "require_certificate",
                                      "use_identity_as_username",
                                      "use_subject_as_username",
                                      "max_packet_size",
                                      "message_size_limit",
                                      "max_inflight_messages",
                                      "max_inflight_bytes",
                                      "max_queued_messages",
                                      "max_queued_bytes",
                                      "max_keepalive",
                                      "maximum_qos",
                                      "max_qos",
                                      "retain_available",
                                      "upgrade_outgoing_qos",
                                      "allow_zero_length_clientid",
                                      "auto_id_prefix",
                                      "mount_point",
                                      "sys_interval",
                                      "persistence",
                                      "persistence_file",
                                      "persistence_location",
                                      "autosave_interval",
                                      "log_dest",
                                      "log_type",
                                      "log_timestamp",
                                      "pid_file",
                                      "user",
                                      "include_dir",
                                      "set_tcp_nodelay"};
    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
        if (config_directive_status(supported[i]) != CONFIG_SUPPORTED) {
            fprintf(stderr, "not supported: %s\n", supported[i]);
            CHECK(0);
        }
    }
}

TEST(long_and_odd_lines)
{
    config_t c;
    size_t n = 70000;
    char *big = malloc(n + 64);
    CHECK(big != NULL);
    strcpy(big, "listener 1883\nuser ");
    memset(big + strlen(big), 'u', n);
    big[19 + n] = '\0';
    strcat(big, "\n");
    int rc = load_text(&c, "big.conf", big);
    free(big);
    CHECK_EQ_INT(rc, -1);
    CHECK(error_is("big.conf", 2, "line longer than"));

    CHECK_EQ_INT(
        load_text(&c, "crlf.conf", "listener 1883\r\n   \r\n#x\r\nallow_anonymous true\r\n"), 0);
    CHECK_EQ_INT(c.security.allow_anonymous, 1);
    config_free(&c);
}

int main(void)
{
    tf_setup("cfgtest");
    RUN(defaults_are_mosquittos);
    RUN(load_default_without_file);
    RUN(listener_makes_anonymous_false);
    RUN(port_creates_default_listener);
    RUN(several_listeners_with_options);
    RUN(relative_paths_resolve_from_working_directory);
    RUN(global_values);
    RUN(per_listener_settings);
    RUN(include_dir_order);
    RUN(include_dir_nested_is_ignored_with_warning);
    RUN(errors_name_file_and_line);
    RUN(missing_file);
    RUN(warned_directives_name_themselves);
    RUN(session_and_queue_directives);
    RUN(directive_status_table);
    RUN(long_and_odd_lines);
    tf_cleanup();
    return TEST_REPORT();
}
