/* Option parsing, -D properties, -L URLs and -F checks of the tools. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "tool_cfg.h"

/* Parses a NULL-terminated list of words as argv[1..]. */
#define PARSE(cfg, kind, ...)                                                                      \
    parse_words((cfg), (kind), (const char *[]){"prog", __VA_ARGS__, NULL})

static char *words_store[64];

static int parse_words(tool_cfg_t *cfg, tool_kind_t kind, const char **words)
{
    int argc = 0;
    while (words[argc] && argc < 63) {
        words_store[argc] = (char *)words[argc];
        argc++;
    }
    words_store[argc] = NULL;
    return tool_cfg_parse(cfg, kind, argc, words_store);
}

static int err_is(const tool_cfg_t *cfg, const char *msg)
{
    if (strcmp(cfg->err, msg)) {
        fprintf(stderr, "  got error: %s\n  expected:  %s\n", cfg->err, msg);
        return 0;
    }
    return 1;
}

TEST(pub_minimal_defaults)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a/b", "-m", "hi"), 0);
    CHECK(!strcmp(c.topic, "a/b"));
    CHECK(!strcmp(c.message, "hi"));
    CHECK_EQ_INT(c.msg_mode, TOOL_MSG_CMD);
    CHECK(!strcmp(c.host, "localhost"));
    CHECK_EQ_INT(tool_cfg_port(&c), 1883);
    CHECK_EQ_INT(c.keepalive, 60);
    CHECK_EQ_INT(c.protocol, 4);
    CHECK_EQ_INT(c.qos, 0);
    CHECK(c.clean_session);
    CHECK(!tool_cfg_tls(&c));
    tool_cfg_free(&c);
}

TEST(pub_all_connection_flags)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-h", "127.0.0.1", "-p", "1999", "-t", "x", "-q", "2", "-r",
                       "-i", "me", "-k", "30", "-u", "alice", "-P", "pw", "-V", "mqttv31", "-d",
                       "--quiet", "-c", "-n", "--will-topic", "w", "--will-payload", "bye",
                       "--will-qos", "1", "--will-retain", "--repeat", "3", "--repeat-delay", "0.5",
                       "-M", "5", "--nodelay", "-A", "127.0.0.1"),
                 0);
    CHECK(!strcmp(c.host, "127.0.0.1"));
    CHECK_EQ_INT(tool_cfg_port(&c), 1999);
    CHECK_EQ_INT(c.qos, 2);
    CHECK(c.retain);
    CHECK(!strcmp(c.id, "me"));
    CHECK_EQ_INT(c.keepalive, 30);
    CHECK(!strcmp(c.username, "alice") && !strcmp(c.password, "pw"));
    CHECK_EQ_INT(c.protocol, 3);
    CHECK(c.debug && c.quiet && !c.clean_session);
    CHECK_EQ_INT(c.msg_mode, TOOL_MSG_NULL);
    CHECK(!strcmp(c.will_topic, "w") && !strcmp(c.will_payload, "bye"));
    CHECK_EQ_INT(c.will_qos, 1);
    CHECK(c.will_retain);
    CHECK_EQ_INT(c.repeat_count, 3);
    CHECK(c.repeat_delay > 0.49 && c.repeat_delay < 0.51);
    CHECK_EQ_INT(c.max_inflight, 5);
    CHECK(c.nodelay);
    CHECK(!strcmp(c.bind_address, "127.0.0.1"));
    tool_cfg_free(&c);
}

TEST(long_option_names)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "--host", "h", "--port", "2", "--topic", "t", "--qos", "1",
                       "--retain", "--id", "x", "--keepalive", "10", "--username", "u", "--pw", "p",
                       "--protocol-version", "5", "--debug", "--message", "m"),
                 0);
    CHECK(!strcmp(c.host, "h"));
    CHECK_EQ_INT(c.port, 2);
    CHECK_EQ_INT(c.protocol, 5);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "--topic", "a/#", "--verbose", "--filter-out", "a/b",
                       "--unsubscribe", "x", "--id-prefix", "p"),
                 0);
    CHECK(c.verbose);
    CHECK_EQ_INT(c.filter_out_count, 1);
    CHECK_EQ_INT(c.unsub_count, 1);
    CHECK(!strcmp(c.id_prefix, "p"));
    tool_cfg_free(&c);
}

TEST(protocol_versions)
{
    static const char *names[] = {"31", "mqttv31", "311", "mqttv311", "5", "mqttv5"};
    static const int levels[] = {3, 3, 4, 4, 5, 5};
    for (int i = 0; i < 6; i++) {
        tool_cfg_t c;
        CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-V", names[i]), 0);
        CHECK_EQ_INT(c.protocol, levels[i]);
        tool_cfg_free(&c);
    }
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-V", "6"), TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "Invalid protocol version") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_RR, "-t", "a", "-e", "b", "-m", "x"), 0);
    CHECK_EQ_INT(c.protocol, 5); /* rr defaults to v5 */
    CHECK_EQ_INT(c.msg_count, 1);
    tool_cfg_free(&c);
}

TEST(message_modes_exclusive)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-n"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Only one type of message can be sent at once."));
    CHECK(c.err_usage_hint);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-l", "-s"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-f", "x", "-m", "y"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-f", "file"), 0);
    CHECK_EQ_INT(c.msg_mode, TOOL_MSG_FILE);
    CHECK(!strcmp(c.file, "file"));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-l"), 0);
    CHECK_EQ_INT(c.msg_mode, TOOL_MSG_LINES);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-s"), 0);
    CHECK_EQ_INT(c.msg_mode, TOOL_MSG_STDIN);
    tool_cfg_free(&c);
}

TEST(missing_pieces)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Both topic and message must be supplied."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-m", "a"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-v"), TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "You must specify a topic") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-U", "a"), 0); /* unsubscribe only */
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_RR, "-t", "a", "-m", "x"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: All of topic, message, and response topic must be supplied."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: -t argument given but no topic specified."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "--will-qos"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: --will-qos argument given but no will QoS specified."));
    tool_cfg_free(&c);
}

TEST(unknown_and_foreign_flags)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "--bogus"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Unknown option '--bogus'."));
    CHECK(c.err_usage_hint);
    tool_cfg_free(&c);
    /* Flags of the other tool are unknown here, as with mosquitto. */
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-W", "3"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Unknown option '-W'."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-m", "x"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Unknown option '-m'."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_RR, "-t", "a", "-e", "b", "-m", "x", "-r"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-e", "b"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "--help"), TOOL_CFG_HELP);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "--version"), TOOL_CFG_VERSION);
    tool_cfg_free(&c);
}

TEST(numeric_ranges)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-q", "3"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Invalid QoS given: 3"));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-q", "1x"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-p", "70000"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Invalid port given: 70000"));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-p", "abc"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-k", "4"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-C", "0"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Invalid message count \"0\"."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-W", "0"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Invalid timeout \"0\"."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-C", "3", "-W", "2"), 0);
    CHECK_EQ_INT(c.msg_count, 3);
    CHECK_EQ_INT(c.timeout, 2);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "--repeat", "0"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: --repeat argument must be >0."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "--repeat-delay", "-1"),
                 TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "--random-filter", "0"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "--random-filter", "50"), 0);
    CHECK_EQ_INT(c.random_filter, 5000);
    tool_cfg_free(&c);
}

TEST(session_expiry)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-V", "5", "-x", "60"), 0);
    CHECK_EQ_INT(c.session_expiry, 60);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-V", "5", "-x", "-1", "-i", "me"), 0);
    CHECK_EQ_INT(c.session_expiry, 0xffffffffLL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-V", "5", "-x", "\xe2\x88\x9e", "-i", "me"), 0);
    CHECK_EQ_INT(c.session_expiry, 0xffffffffLL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-V", "5", "-x", "-1"), TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "infinite session expiry") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-x", "abc"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: session-expiry-interval not a number."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-x", "4294967296"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: session-expiry-interval out of range."));
    tool_cfg_free(&c);
    /* -c in v5 means a session that never expires */
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-V", "5", "-c", "-i", "me"), 0);
    CHECK_EQ_INT(c.session_expiry, 0xffffffffLL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-c"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: You must provide a client id if you are using the -c option."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-c", "-I", "pre"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
}

TEST(conflicts)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-i", "a", "-I", "b"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: -i and -I argument cannot be used together."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "--will-payload", "x"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Will payload given, but no will topic given."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "--will-retain"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "--cert", "c"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Both certfile and keyfile must be provided if one of them is set."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-R", "--retained-only"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Combining '-R' and '--retained-only' makes no sense."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "--json", "-F", "%t"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(
        PARSE(&c, TOOL_SUB, "-t", "a", "-V", "311", "-D", "CONNECT", "receive-maximum", "5"),
        TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "needs MQTT v5") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-t", "b", "-m", "x"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "--unix", "/x", "-h", "h"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
}

TEST(topic_validation)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a/#", "-m", "x"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Invalid publish topic 'a/#', does it contain '+' or '#'?"));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a/#/b"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards "
                     "correct?"));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a/+b"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "+/+/#", "-t", "#", "-t", "$SYS/#"), 0);
    CHECK_EQ_INT(c.topic_count, 3);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a\xff", "-m", "x"), TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "Malformed UTF-8") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "", "-m", "x"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "--will-topic", "w/+"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_RR, "-t", "a", "-m", "x", "-e", "r/#"), TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Invalid response topic 'r/#', does it contain '+' or '#'?"));
    tool_cfg_free(&c);
}

TEST(topic_matching)
{
    CHECK(tool_topic_matches("a/#", "a/b/c"));
    CHECK(tool_topic_matches("a/#", "a"));
    CHECK(tool_topic_matches("a/+/c", "a/b/c"));
    CHECK(!tool_topic_matches("a/+/c", "a/b/d"));
    CHECK(!tool_topic_matches("a/+", "a/b/c"));
    CHECK(tool_topic_matches("#", "x/y"));
    CHECK(!tool_topic_matches("#", "$SYS/x"));
    CHECK(!tool_topic_matches("+/x", "$SYS/x"));
    CHECK(tool_topic_matches("$SYS/#", "$SYS/x"));
    CHECK(tool_topic_matches("a/b", "a/b"));
    CHECK(!tool_topic_matches("a/b", "a/bc"));
    CHECK(tool_topic_matches("+", ""));
    CHECK(tool_topic_matches("a//b", "a//b"));
}

TEST(utf8)
{
    CHECK(tool_utf8_valid((const uint8_t *)"h\xc3\xa9llo", 6));
    CHECK(tool_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4));
    CHECK(!tool_utf8_valid((const uint8_t *)"\xc0\x80", 2));     /* overlong NUL */
    CHECK(!tool_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
    CHECK(!tool_utf8_valid((const uint8_t *)"\xe2\x82", 2));     /* truncated */
    CHECK(!tool_utf8_valid((const uint8_t *)"a\0b", 3));
    CHECK(!tool_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(tool_utf8_valid((const uint8_t *)"", 0));
}

TEST(url_forms)
{
    tool_url_t u;
    char err[256];
    CHECK_EQ_INT(tool_url_parse("mqtt://user:pa:ss@host.example:1234/a/b", &u, err, sizeof err), 0);
    CHECK(!u.tls);
    CHECK(!strcmp(u.user, "user") && !strcmp(u.pass, "pa:ss"));
    CHECK(!strcmp(u.host, "host.example"));
    CHECK_EQ_INT(u.port, 1234);
    CHECK(!strcmp(u.topic, "a/b"));
    tool_url_free(&u);
    CHECK_EQ_INT(tool_url_parse("mqtts://h/t", &u, err, sizeof err), 0);
    CHECK(u.tls && !u.user && !u.pass);
    CHECK_EQ_INT(u.port, -1);
    tool_url_free(&u);
    CHECK_EQ_INT(tool_url_parse("MQTT://bob@[::1]:99/x", &u, err, sizeof err), 0);
    CHECK(!strcmp(u.user, "bob") && !u.pass);
    CHECK(!strcmp(u.host, "::1"));
    CHECK_EQ_INT(u.port, 99);
    tool_url_free(&u);
    CHECK_EQ_INT(tool_url_parse("u:p@w@h/t", &u, err, sizeof err), 1);
    CHECK(strstr(err, "Unsupported URL scheme") != NULL);
    CHECK_EQ_INT(tool_url_parse("mqtt://u:p@w@h/t", &u, err, sizeof err), 0);
    CHECK(!strcmp(u.pass, "p@w") && !strcmp(u.host, "h"));
    tool_url_free(&u);
    CHECK_EQ_INT(tool_url_parse("mqtt://host", &u, err, sizeof err), 1);
    CHECK(strstr(err, "topic missing") != NULL);
    CHECK_EQ_INT(tool_url_parse("mqtt://host:0/t", &u, err, sizeof err), 1);
    CHECK_EQ_INT(tool_url_parse("mqtt://host:x/t", &u, err, sizeof err), 1);
    CHECK_EQ_INT(tool_url_parse("mqtt://host:/t", &u, err, sizeof err), 1);
    CHECK_EQ_INT(tool_url_parse("mqtt:///t", &u, err, sizeof err), 1);
    CHECK_EQ_INT(tool_url_parse("mqtt://[::1/t", &u, err, sizeof err), 1);
    CHECK_EQ_INT(tool_url_parse("ws://h/t", &u, err, sizeof err), 1);
}

TEST(url_flag_sets_connection)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-L", "mqtt://al:pw@127.0.0.1:1888/s/t", "-m", "x"), 0);
    CHECK(!strcmp(c.host, "127.0.0.1"));
    CHECK_EQ_INT(tool_cfg_port(&c), 1888);
    CHECK(!strcmp(c.username, "al") && !strcmp(c.password, "pw"));
    CHECK(!strcmp(c.topic, "s/t"));
    CHECK(!tool_cfg_tls(&c));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-L", "mqtts://h/a/#"), 0);
    CHECK(tool_cfg_tls(&c));
    CHECK_EQ_INT(tool_cfg_port(&c), 8883);
    CHECK_EQ_INT(c.topic_count, 1);
    CHECK(!strcmp(c.topics[0], "a/#"));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-L", "mqtt://h/a/#", "-m", "x"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-L", "http://h/a", "-m", "x"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
}

TEST(tls_flags)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "--cafile", "ca.pem", "--cert", "c.pem", "--key",
                       "k.pem", "--insecure", "--tls-version", "tlsv1.3", "--capath", "/d"),
                 0);
    CHECK(tool_cfg_tls(&c));
    CHECK_EQ_INT(tool_cfg_port(&c), 8883);
    CHECK(c.insecure);
    CHECK(!strcmp(c.tls_version, "tlsv1.3"));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "--cafile", "x", "--tls-version", "sslv3"),
                 TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "Invalid TLS version") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "--cafile", "x", "-p", "1884"), 0);
    CHECK_EQ_INT(tool_cfg_port(&c), 1884);
    tool_cfg_free(&c);
}

static const tool_prop_t *find_prop(const tool_cfg_t *c, tool_cmd_t cmd, uint8_t id, size_t nth)
{
    for (size_t i = 0; i < c->prop_count; i++)
        if (c->props[i].cmd == cmd && c->props[i].id == id && nth-- == 0)
            return &c->props[i];
    return NULL;
}

TEST(properties)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "publish", "user-property", "k",
                       "v", "-D", "PUBLISH", "user-property", "k", "w", "-D", "PUBLISH",
                       "message-expiry-interval", "30", "-D", "PUBLISH", "correlation-data", "cd",
                       "-D", "CONNECT", "receive-maximum", "7", "-D", "CONNECT",
                       "session-expiry-interval", "99", "--will-topic", "w", "-D", "WILL",
                       "will-delay-interval", "4", "-D", "PUBLISH", "payload-format-indicator", "1",
                       "-D", "SUBSCRIBE", "user-property", "s", "t", "-D", "DISCONNECT",
                       "reason-string", "bye"),
                 0);
    CHECK_EQ_INT(c.protocol, 5); /* -D implies v5 */
    CHECK_EQ_INT(c.prop_count, 10);
    const tool_prop_t *p = find_prop(&c, TOOL_CMD_PUBLISH, 0x26, 1);
    CHECK(p && !strcmp(p->str, "k") && !strcmp(p->str2, "w"));
    p = find_prop(&c, TOOL_CMD_PUBLISH, 0x02, 0);
    CHECK(p && p->value == 30 && p->type == TOOL_PT_INT32);
    p = find_prop(&c, TOOL_CMD_PUBLISH, 0x09, 0);
    CHECK(p && !strcmp(p->str, "cd") && p->type == TOOL_PT_BINARY);
    p = find_prop(&c, TOOL_CMD_CONNECT, 0x21, 0);
    CHECK(p && p->value == 7);
    p = find_prop(&c, TOOL_CMD_WILL, 0x18, 0);
    CHECK(p && p->value == 4);
    CHECK(!strcmp(c.topic, "a")); /* parsing resumed after the -D words */
    tool_cfg_free(&c);
}

TEST(property_errors)
{
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "FOO", "user-property", "a", "b"),
                 TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "Invalid command 'FOO'") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "PUBLISH", "foo", "1"),
                 TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "Invalid property name 'foo'") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "PUBLISH", "user-property", "a"),
                 TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: --property argument given but not enough arguments specified."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "PUBLISH"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(
        PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "CONNECT", "receive-maximum", "70000"),
        TOOL_EXIT_USAGE);
    CHECK(err_is(&c, "Error: Property value (70000) out of range for property receive-maximum."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "CONNECT", "receive-maximum", "0"),
                 TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(
        PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "PUBLISH", "message-expiry-interval", "-3"),
        TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "PUBLISH", "receive-maximum", "3"),
                 TOOL_EXIT_USAGE);
    CHECK(err_is(
        &c, "Error: receive-maximum property not allowed for PUBLISH in --property argument."));
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "CONNECT", "maximum-qos", "1"),
                 TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "PUBLISH", "content-type", "a",
                       "-D", "PUBLISH", "content-type", "b"),
                 TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "Duplicate content-type") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(
        PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "WILL", "will-delay-interval", "3"),
        TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "no will topic") != NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(
        PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "PUBLISH", "response-topic", "r/#"),
        TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK_EQ_INT(
        PARSE(&c, TOOL_PUB, "-t", "a", "-m", "x", "-D", "PUBLISH", "payload-format-indicator", "2"),
        TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    CHECK(!strcmp(tool_prop_name(0x26), "user-property"));
    CHECK(tool_prop_name(0x7f) == NULL);
}

TEST(format_check)
{
    char err[128];
    CHECK_EQ_INT(tool_format_check("%t %p %q %r %m %l %U %I %j %J %x %X %P %A %C %D %E %F %R %S %%",
                                   err, sizeof err),
                 0);
    CHECK_EQ_INT(
        tool_format_check("%-10.5t|%08l|%-0x@Y-@m @@ \\n\\t\\e\\0\\a\\r\\v\\\\", err, sizeof err),
        0);
    CHECK_EQ_INT(tool_format_check("%", err, sizeof err), 1);
    CHECK(!strcmp(err, "Error: Incomplete format specifier."));
    CHECK_EQ_INT(tool_format_check("%10", err, sizeof err), 1);
    CHECK_EQ_INT(tool_format_check("%k", err, sizeof err), 1);
    CHECK(!strcmp(err, "Error: Invalid format specifier 'k'."));
    CHECK_EQ_INT(tool_format_check("abc@", err, sizeof err), 1);
    CHECK_EQ_INT(tool_format_check("abc\\", err, sizeof err), 1);
    CHECK(!strcmp(err, "Error: Incomplete escape specifier."));
    CHECK_EQ_INT(tool_format_check("\\q", err, sizeof err), 1);
    CHECK(!strcmp(err, "Error: Invalid escape specifier 'q'."));
    CHECK_EQ_INT(tool_format_check("%99999999999999999999t", err, sizeof err), 1);
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-t", "a", "-F", "%z"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
}

static char cfg_dir[256];

static void write_defaults(const char *prog, const char *text)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", cfg_dir, prog);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void remove_defaults(const char *prog)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", cfg_dir, prog);
    remove(path);
}

TEST(config_file_defaults)
{
    write_defaults("midge_sub", "# defaults\n-h broker.example\n-p 1999\r\n\n-t a/#\n-v\n"
                                "-D CONNECT user-property k v w\n--will-payload two words\n"
                                "--will-topic w\n");
    tool_cfg_t c;
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-p", "2000", "-t", "b"), TOOL_EXIT_USAGE);
    /* "k v w" is three words for a user property: name, value, extra */
    CHECK(strstr(c.err, "Unknown option 'w'") != NULL);
    CHECK(strstr(c.err, "line 7") != NULL);
    tool_cfg_free(&c);
    write_defaults("midge_sub", "# defaults\n-h broker.example\n-p 1999\r\n\n-t a/#\n-v\n"
                                "-D CONNECT user-property k v\n--will-payload two words\n"
                                "--will-topic w\n");
    CHECK_EQ_INT(PARSE(&c, TOOL_SUB, "-p", "2000", "-t", "b"), 0);
    CHECK(!strcmp(c.host, "broker.example"));
    CHECK_EQ_INT(c.port, 2000); /* the command line wins */
    CHECK_EQ_INT(c.topic_count, 2);
    CHECK(c.verbose);
    CHECK_EQ_INT(c.protocol, 5);
    CHECK(!strcmp(c.will_payload, "two words"));
    tool_cfg_free(&c);
    remove_defaults("midge_sub");

    write_defaults("midge_pub", "-t from/file\n-m default\n-q 1\n");
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "cli", "-f", "x"), 0);
    CHECK(!strcmp(c.topic, "cli"));
    CHECK_EQ_INT(c.msg_mode, TOOL_MSG_FILE);
    CHECK_EQ_INT(c.qos, 1);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-n"), 0);
    CHECK(!strcmp(c.topic, "from/file"));
    CHECK_EQ_INT(c.msg_mode, TOOL_MSG_NULL);
    tool_cfg_free(&c);
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-n", "-m", "x"), TOOL_EXIT_USAGE);
    tool_cfg_free(&c);
    write_defaults("midge_pub", "-q 7\n");
    CHECK_EQ_INT(PARSE(&c, TOOL_PUB, "-t", "a", "-n"), TOOL_EXIT_USAGE);
    CHECK(strstr(c.err, "Invalid QoS given: 7 (in ") != NULL);
    tool_cfg_free(&c);
    remove_defaults("midge_pub");
}

int main(void)
{
    /* Defaults files come from a private directory, never the user's. */
    const char *tmp = getenv("TMPDIR");
    snprintf(cfg_dir, sizeof cfg_dir, "%s/midge-tools-cfg-%d", tmp && *tmp ? tmp : P_tmpdir,
             (int)getpid());
    mkdir(cfg_dir, 0700);
    setenv("XDG_CONFIG_HOME", cfg_dir, 1);
    RUN(pub_minimal_defaults);
    RUN(pub_all_connection_flags);
    RUN(long_option_names);
    RUN(protocol_versions);
    RUN(message_modes_exclusive);
    RUN(missing_pieces);
    RUN(unknown_and_foreign_flags);
    RUN(numeric_ranges);
    RUN(session_expiry);
    RUN(conflicts);
    RUN(topic_validation);
    RUN(topic_matching);
    RUN(utf8);
    RUN(url_forms);
    RUN(url_flag_sets_connection);
    RUN(tls_flags);
    RUN(properties);
    RUN(property_errors);
    RUN(format_check);
    RUN(config_file_defaults);
    rmdir(cfg_dir);
    return TEST_REPORT();
}
