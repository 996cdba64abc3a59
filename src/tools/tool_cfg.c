/* Option parsing for midge_pub, midge_sub and midge_rr (see tool_cfg.h). */
#include "tool_cfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALL (TOOL_PUB | TOOL_SUB | TOOL_RR)
#define PUB TOOL_PUB
#define SUB TOOL_SUB
#define RR  TOOL_RR

typedef enum {
    O_BIND,
    O_CAFILE,
    O_CAPATH,
    O_CERT,
    O_CIPHERS,
    O_KEY,
    O_KEYFORM,
    O_INSECURE,
    O_TLS_ALPN,
    O_TLS_ENGINE,
    O_TLS_KPASS,
    O_TLS_OS_CERTS,
    O_TLS_VERSION,
    O_PSK,
    O_PSK_IDENTITY,
    O_PROXY,
    O_COUNT,
    O_NO_CLEAN,
    O_DEBUG,
    O_PROPERTY,
    O_RESPONSE_TOPIC,
    O_EXIT_AFTER_SUB,
    O_FILE,
    O_FORMAT,
    O_HELP,
    O_HOST,
    O_ID,
    O_ID_PREFIX,
    O_KEEPALIVE,
    O_URL,
    O_LINES,
    O_MESSAGE,
    O_MAX_INFLIGHT,
    O_NODELAY,
    O_NULL,
    O_NO_EOL,
    O_PORT,
    O_PRETTY,
    O_PASSWORD,
    O_QOS,
    O_QUIET,
    O_RETAIN,
    O_NO_RETAIN,
    O_RANDOM_FILTER,
    O_REMOVE_RETAINED,
    O_REPEAT,
    O_REPEAT_DELAY,
    O_RETAIN_AS_PUBLISHED,
    O_RETAINED_ONLY,
    O_STDIN,
    O_TOPIC,
    O_FILTER_OUT,
    O_USERNAME,
    O_UNIX,
    O_UNSUBSCRIBE,
    O_PROTOCOL,
    O_VERBOSE,
    O_VERSION,
    O_TIMEOUT,
    O_WILL_PAYLOAD,
    O_WILL_QOS,
    O_WILL_RETAIN,
    O_WILL_TOPIC,
    O_SESSION_EXPIRY,
    O_JSON,
} opt_id_t;

/* One flag: its names, the tools that accept it, and for flags taking a
 * value, the word naming that value in "no ... specified". */
typedef struct {
    const char *name;
    const char *alias;
    unsigned tools;
    opt_id_t id;
    const char *arg;
} opt_t;

static const opt_t opts[] = {
    {"-A", NULL, ALL, O_BIND, "address"},
    {"--cafile", NULL, ALL, O_CAFILE, "file"},
    {"--capath", NULL, ALL, O_CAPATH, "directory"},
    {"--cert", NULL, ALL, O_CERT, "file"},
    {"--ciphers", NULL, ALL, O_CIPHERS, "ciphers"},
    {"--key", NULL, ALL, O_KEY, "file"},
    {"--keyform", NULL, ALL, O_KEYFORM, "keyform"},
    {"--insecure", NULL, ALL, O_INSECURE, NULL},
    {"--tls-alpn", NULL, ALL, O_TLS_ALPN, "protocol"},
    {"--tls-engine", NULL, ALL, O_TLS_ENGINE, "engine_id"},
    {"--tls-engine-kpass-sha1", NULL, ALL, O_TLS_KPASS, "kpass sha1"},
    {"--tls-use-os-certs", NULL, ALL, O_TLS_OS_CERTS, NULL},
    {"--tls-version", NULL, ALL, O_TLS_VERSION, "version"},
    {"--psk", NULL, ALL, O_PSK, "key"},
    {"--psk-identity", NULL, ALL, O_PSK_IDENTITY, "identity"},
    {"--proxy", NULL, ALL, O_PROXY, "proxy url"},
    {"-C", NULL, SUB, O_COUNT, "count"},
    {"-c", "--disable-clean-session", ALL, O_NO_CLEAN, NULL},
    {"-d", "--debug", ALL, O_DEBUG, NULL},
    {"-D", "--property", ALL, O_PROPERTY, NULL},
    {"-e", NULL, RR, O_RESPONSE_TOPIC, "response topic"},
    {"-E", NULL, SUB, O_EXIT_AFTER_SUB, NULL},
    {"-f", "--file", PUB | RR, O_FILE, "file"},
    {"-F", NULL, SUB | RR, O_FORMAT, "format"},
    {"--help", NULL, ALL, O_HELP, NULL},
    {"-h", "--host", ALL, O_HOST, "host"},
    {"-i", "--id", ALL, O_ID, "id"},
    {"-I", "--id-prefix", ALL, O_ID_PREFIX, "id prefix"},
    {"-k", "--keepalive", ALL, O_KEEPALIVE, "keepalive"},
    {"-L", "--url", ALL, O_URL, "URL"},
    {"-l", "--stdin-line", PUB, O_LINES, NULL},
    {"-m", "--message", PUB | RR, O_MESSAGE, "message"},
    {"-M", NULL, ALL, O_MAX_INFLIGHT, "max_inflight"},
    {"--nodelay", NULL, ALL, O_NODELAY, NULL},
    {"-n", "--null-message", PUB | RR, O_NULL, NULL},
    {"-N", NULL, SUB | RR, O_NO_EOL, NULL},
    {"-p", "--port", ALL, O_PORT, "port"},
    {"--pretty", NULL, SUB | RR, O_PRETTY, NULL},
    {"-P", "--pw", ALL, O_PASSWORD, "password"},
    {"-q", "--qos", ALL, O_QOS, "QoS"},
    {"--quiet", NULL, ALL, O_QUIET, NULL},
    {"-r", "--retain", PUB, O_RETAIN, NULL},
    {"-R", NULL, SUB | RR, O_NO_RETAIN, NULL},
    {"--random-filter", NULL, SUB, O_RANDOM_FILTER, "chance"},
    {"--remove-retained", NULL, SUB, O_REMOVE_RETAINED, NULL},
    {"--repeat", NULL, PUB, O_REPEAT, "count"},
    {"--repeat-delay", NULL, PUB, O_REPEAT_DELAY, "time"},
    {"--retain-as-published", NULL, SUB | RR, O_RETAIN_AS_PUBLISHED, NULL},
    {"--retained-only", NULL, SUB, O_RETAINED_ONLY, NULL},
    {"-s", "--stdin-file", PUB | RR, O_STDIN, NULL},
    {"-t", "--topic", ALL, O_TOPIC, "topic"},
    {"-T", "--filter-out", SUB, O_FILTER_OUT, "topic filter"},
    {"-u", "--username", ALL, O_USERNAME, "username"},
    {"--unix", NULL, ALL, O_UNIX, "socket path"},
    {"-U", "--unsubscribe", SUB, O_UNSUBSCRIBE, "unsubscribe topic"},
    {"-V", "--protocol-version", ALL, O_PROTOCOL, "version"},
    {"-v", "--verbose", SUB | RR, O_VERBOSE, NULL},
    {"--version", NULL, ALL, O_VERSION, NULL},
    {"-W", NULL, SUB | RR, O_TIMEOUT, "timeout"},
    {"--will-payload", NULL, ALL, O_WILL_PAYLOAD, "will payload"},
    {"--will-qos", NULL, ALL, O_WILL_QOS, "will QoS"},
    {"--will-retain", NULL, ALL, O_WILL_RETAIN, NULL},
    {"--will-topic", NULL, ALL, O_WILL_TOPIC, "will topic"},
    {"-x", NULL, ALL, O_SESSION_EXPIRY, "session expiry interval"},
    {"--json", NULL, SUB | RR, O_JSON, NULL},
};

static int fail(tool_cfg_t *cfg, bool hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(tool_cfg_t *cfg, bool hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->err, sizeof cfg->err, fmt, ap);
    va_end(ap);
    cfg->err_usage_hint = hint;
    return TOOL_EXIT_USAGE;
}

/* Whole-string decimal integer in [lo, hi]. */
static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || v != v)
        return false;
    *out = v;
    return true;
}

static int push_str(tool_cfg_t *cfg, const char ***list, size_t *count, const char *s)
{
    const char **n = realloc((void *)*list, (*count + 1) * sizeof **list);
    if (!n)
        return fail(cfg, false, "Error: Out of memory.");
    n[(*count)++] = s;
    *list = n;
    return 0;
}

static const char *own(tool_cfg_t *cfg, char *s)
{
    if (!s)
        return NULL;
    char **n = realloc(cfg->owned, (cfg->owned_count + 1) * sizeof *n);
    if (!n) {
        free(s);
        return NULL;
    }
    n[cfg->owned_count++] = s;
    cfg->owned = n;
    return s;
}

/* -t for pub and rr (one topic) or sub (many); `what` names the source of
 * the topic in messages ("-t", "-L topic"). */
static int add_topic(tool_cfg_t *cfg, const char *topic, const char *what)
{
    if (!tool_utf8_valid((const uint8_t *)topic, strlen(topic)))
        return fail(cfg, false, "Error: Malformed UTF-8 in %s argument.", what);
    if (cfg->kind == TOOL_SUB) {
        if (!tool_topic_sub_valid(topic))
            return fail(cfg, true,
                        "Error: Invalid subscription topic '%s', are all '+' and '#' wildcards "
                        "correct?",
                        topic);
        return push_str(cfg, &cfg->topics, &cfg->topic_count, topic);
    }
    if (!tool_topic_pub_valid(topic))
        return fail(cfg, true, "Error: Invalid publish topic '%s', does it contain '+' or '#'?",
                    topic);
    if (cfg->topic && !cfg->topic_from_file)
        return fail(cfg, true, "Error: Only one topic can be given to %s; '%s' and '%s' given.",
                    cfg->prog, cfg->topic, topic);
    cfg->topic = topic;
    cfg->topic_from_file = cfg->in_file;
    return 0;
}

static int set_msg_mode(tool_cfg_t *cfg, tool_msg_mode_t mode)
{
    /* The command line may replace a message chosen in the config file. */
    if (cfg->msg_mode != TOOL_MSG_NONE && !cfg->msg_mode_from_file)
        return fail(cfg, true, "Error: Only one type of message can be sent at once.");
    cfg->msg_mode = mode;
    cfg->msg_mode_from_file = cfg->in_file;
    return 0;
}

static int apply_url(tool_cfg_t *cfg, const char *url)
{
    tool_url_t u;
    int rc = tool_url_parse(url, &u, cfg->err, sizeof cfg->err);
    if (rc) {
        cfg->err_usage_hint = true;
        return TOOL_EXIT_USAGE;
    }
    cfg->url_tls = u.tls;
    cfg->port = u.port >= 0 ? u.port : (u.tls ? 8883 : 1883);
    cfg->host = own(cfg, u.host);
    if (u.user)
        cfg->username = own(cfg, u.user);
    if (u.pass)
        cfg->password = own(cfg, u.pass);
    const char *topic = own(cfg, u.topic);
    if (!cfg->host || (u.user && !cfg->username) || (u.pass && !cfg->password) || !topic)
        return fail(cfg, false, "Error: Out of memory.");
    if (*topic == '\0' && cfg->kind == TOOL_SUB)
        return 0; /* mqtt://host/ with -t given separately */
    return add_topic(cfg, topic, "-L topic");
}

static const opt_t *find_opt(const char *arg)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strcmp(arg, opts[i].name) || (opts[i].alias && !strcmp(arg, opts[i].alias)))
            return &opts[i];
    return NULL;
}

static int handle(tool_cfg_t *cfg, const opt_t *o, const char *flag, const char *v, int argc,
                  char **argv, int *i)
{
    long n;
    double d;
    switch (o->id) {
    case O_BIND:
        cfg->bind_address = v;
        break;
    case O_CAFILE:
        cfg->cafile = v;
        break;
    case O_CAPATH:
        cfg->capath = v;
        break;
    case O_CERT:
        cfg->certfile = v;
        break;
    case O_CIPHERS:
        cfg->ciphers = v;
        break;
    case O_KEY:
        cfg->keyfile = v;
        break;
    case O_KEYFORM:
        cfg->keyform = v;
        break;
    case O_INSECURE:
        cfg->insecure = true;
        break;
    case O_TLS_ALPN:
        cfg->tls_alpn = v;
        break;
    case O_TLS_ENGINE:
        cfg->tls_engine = v;
        break;
    case O_TLS_KPASS:
        cfg->tls_engine_kpass_sha1 = v;
        break;
    case O_TLS_OS_CERTS:
        cfg->tls_use_os_certs = true;
        break;
    case O_TLS_VERSION:
        if (strcmp(v, "tlsv1.3") && strcmp(v, "tlsv1.2") && strcmp(v, "tlsv1.1"))
            return fail(cfg, true,
                        "Error: Invalid TLS version '%s', it must be one of tlsv1.3, tlsv1.2 or "
                        "tlsv1.1.",
                        v);
        cfg->tls_version = v;
        break;
    case O_PSK:
        cfg->psk = v;
        break;
    case O_PSK_IDENTITY:
        cfg->psk_identity = v;
        break;
    case O_PROXY:
        cfg->proxy = v;
        break;
    case O_COUNT:
        if (!parse_long(v, 1, 0x7fffffffL, &n))
            return fail(cfg, true, "Error: Invalid message count \"%s\".", v);
        cfg->msg_count = n;
        break;
    case O_NO_CLEAN:
        cfg->clean_session = false;
        break;
    case O_DEBUG:
        cfg->debug = true;
        break;
    case O_PROPERTY: {
        (*i)++;
        int rc = tool_prop_parse(cfg, argc, argv, i);
        if (rc)
            return rc;
        break;
    }
    case O_RESPONSE_TOPIC:
        if (!tool_utf8_valid((const uint8_t *)v, strlen(v)))
            return fail(cfg, false, "Error: Malformed UTF-8 in -e argument.");
        if (!tool_topic_pub_valid(v))
            return fail(cfg, true,
                        "Error: Invalid response topic '%s', does it contain '+' or '#'?", v);
        cfg->response_topic = v;
        break;
    case O_EXIT_AFTER_SUB:
        cfg->exit_after_sub = true;
        break;
    case O_FILE:
        if (set_msg_mode(cfg, TOOL_MSG_FILE))
            return TOOL_EXIT_USAGE;
        cfg->file = v;
        break;
    case O_FORMAT:
        if (tool_format_check(v, cfg->err, sizeof cfg->err))
            return TOOL_EXIT_USAGE;
        cfg->format = v;
        break;
    case O_HELP:
        return TOOL_CFG_HELP;
    case O_HOST:
        cfg->host = v;
        break;
    case O_ID:
        if (cfg->id_prefix)
            return fail(cfg, true, "Error: -i and -I argument cannot be used together.");
        if (strlen(v) > 65535)
            return fail(cfg, true, "Error: Client id longer than 65535 bytes.");
        cfg->id = v;
        break;
    case O_ID_PREFIX:
        if (cfg->id)
            return fail(cfg, true, "Error: -i and -I argument cannot be used together.");
        cfg->id_prefix = v;
        break;
    case O_KEEPALIVE:
        if (!parse_long(v, 5, 65535, &n))
            return fail(cfg, true,
                        "Error: Invalid keepalive given, it must be between 5 and 65535 "
                        "inclusive.");
        cfg->keepalive = (int)n;
        break;
    case O_URL:
        return apply_url(cfg, v);
    case O_LINES:
        return set_msg_mode(cfg, TOOL_MSG_LINES);
    case O_MESSAGE:
        if (set_msg_mode(cfg, TOOL_MSG_CMD))
            return TOOL_EXIT_USAGE;
        cfg->message = v;
        break;
    case O_MAX_INFLIGHT:
        if (!parse_long(v, 1, 65535, &n))
            return fail(cfg, true, "Error: Maximum inflight messages must be between 1 and 65535.");
        cfg->max_inflight = (unsigned)n;
        break;
    case O_NODELAY:
        cfg->nodelay = true;
        break;
    case O_NULL:
        return set_msg_mode(cfg, TOOL_MSG_NULL);
    case O_NO_EOL:
        cfg->eol = false;
        break;
    case O_PORT:
        if (!parse_long(v, 1, 65535, &n))
            return fail(cfg, true, "Error: Invalid port given: %s", v);
        cfg->port = (int)n;
        break;
    case O_PRETTY:
        cfg->pretty = true;
        break;
    case O_PASSWORD:
        cfg->password = v;
        break;
    case O_QOS:
        if (!parse_long(v, 0, 2, &n))
            return fail(cfg, true, "Error: Invalid QoS given: %s", v);
        cfg->qos = (int)n;
        break;
    case O_QUIET:
        cfg->quiet = true;
        break;
    case O_RETAIN:
        cfg->retain = true;
        break;
    case O_NO_RETAIN:
        cfg->no_retain = true;
        break;
    case O_RANDOM_FILTER:
        if (!parse_double(v, &d) || d < 0.1 || d > 100.0)
            return fail(cfg, true, "Error: --random-filter chance must be between 0.1-100.0");
        cfg->random_filter = (int)(d * 100.0 + 0.5);
        break;
    case O_REMOVE_RETAINED:
        cfg->remove_retained = true;
        break;
    case O_REPEAT:
        if (!parse_long(v, 1, 0x7fffffffL, &n))
            return fail(cfg, true, "Error: --repeat argument must be >0.");
        cfg->repeat_count = n;
        break;
    case O_REPEAT_DELAY:
        if (!parse_double(v, &d) || d < 0.0 || d > 86400.0 * 365)
            return fail(cfg, true, "Error: --repeat-delay argument must be >=0.0.");
        cfg->repeat_delay = d;
        break;
    case O_RETAIN_AS_PUBLISHED:
        cfg->retain_as_published = true;
        break;
    case O_RETAINED_ONLY:
        cfg->retained_only = true;
        break;
    case O_STDIN:
        return set_msg_mode(cfg, TOOL_MSG_STDIN);
    case O_TOPIC:
        return add_topic(cfg, v, flag);
    case O_FILTER_OUT:
        if (!tool_utf8_valid((const uint8_t *)v, strlen(v)))
            return fail(cfg, false, "Error: Malformed UTF-8 in -T argument.");
        if (!tool_topic_sub_valid(v))
            return fail(cfg, true,
                        "Error: Invalid filter topic '%s', are all '+' and '#' wildcards correct?",
                        v);
        return push_str(cfg, &cfg->filter_outs, &cfg->filter_out_count, v);
    case O_USERNAME:
        cfg->username = v;
        break;
    case O_UNIX:
        cfg->unix_path = v;
        break;
    case O_UNSUBSCRIBE:
        if (!tool_utf8_valid((const uint8_t *)v, strlen(v)))
            return fail(cfg, false, "Error: Malformed UTF-8 in -U argument.");
        if (!tool_topic_sub_valid(v))
            return fail(cfg, true,
                        "Error: Invalid unsubscribe topic '%s', are all '+' and '#' wildcards "
                        "correct?",
                        v);
        return push_str(cfg, &cfg->unsub_topics, &cfg->unsub_count, v);
    case O_PROTOCOL:
        if (!strcmp(v, "mqttv31") || !strcmp(v, "31"))
            cfg->protocol = 3;
        else if (!strcmp(v, "mqttv311") || !strcmp(v, "311"))
            cfg->protocol = 4;
        else if (!strcmp(v, "mqttv5") || !strcmp(v, "5"))
            cfg->protocol = 5;
        else
            return fail(cfg, true,
                        "Error: Invalid protocol version argument given: '%s' (use 31, 311 or "
                        "5).",
                        v);
        cfg->protocol_given = true;
        break;
    case O_VERBOSE:
        cfg->verbose = true;
        break;
    case O_VERSION:
        return TOOL_CFG_VERSION;
    case O_TIMEOUT:
        if (!parse_long(v, 1, 0x7fffffffL, &n))
            return fail(cfg, true, "Error: Invalid timeout \"%s\".", v);
        cfg->timeout = (unsigned)n;
        break;
    case O_WILL_PAYLOAD:
        cfg->will_payload = v;
        break;
    case O_WILL_QOS:
        if (!parse_long(v, 0, 2, &n))
            return fail(cfg, true, "Error: Invalid will QoS %s.", v);
        cfg->will_qos = (int)n;
        break;
    case O_WILL_RETAIN:
        cfg->will_retain = true;
        break;
    case O_WILL_TOPIC:
        if (!tool_utf8_valid((const uint8_t *)v, strlen(v)))
            return fail(cfg, false, "Error: Malformed UTF-8 in --will-topic argument.");
        if (!tool_topic_pub_valid(v))
            return fail(cfg, true, "Error: Invalid will topic '%s', does it contain '+' or '#'?",
                        v);
        cfg->will_topic = v;
        break;
    case O_SESSION_EXPIRY:
        if (!strcmp(v, "\xe2\x88\x9e")) { /* the infinity sign */
            cfg->session_expiry = 0xffffffffLL;
            break;
        }
        if (!parse_long(v, -0x7fffffffL, 0x7fffffffffffL, &n))
            return fail(cfg, true, "Error: session-expiry-interval not a number.");
        if (n < -1 || n > 0xffffffffL)
            return fail(cfg, true, "Error: session-expiry-interval out of range.");
        cfg->session_expiry = n == -1 ? 0xffffffffLL : n;
        break;
    case O_JSON:
        cfg->json = true;
        break;
    }
    return 0;
}

/* Rules that involve more than one flag, checked once all are known. */
static int check_combination(tool_cfg_t *cfg)
{
    if (cfg->prop_count) {
        if (cfg->protocol_given && cfg->protocol != 5)
            return fail(cfg, true, "Error: -D/--property needs MQTT v5, but -V selects MQTT v3.%s.",
                        cfg->protocol == 3 ? "1" : "1.1");
        cfg->protocol = 5;
    }
    if (cfg->retain_as_published && cfg->protocol != 5)
        return fail(cfg, true, "Error: --retain-as-published needs MQTT v5 (-V 5).");
    if (cfg->will_payload && !cfg->will_topic)
        return fail(cfg, true, "Error: Will payload given, but no will topic given.");
    if (cfg->will_retain && !cfg->will_topic)
        return fail(cfg, true, "Error: Will retain given, but no will topic given.");
    if (cfg->will_qos && !cfg->will_topic)
        return fail(cfg, true, "Error: Will QoS given, but no will topic given.");
    for (size_t i = 0; i < cfg->prop_count; i++)
        if (cfg->props[i].cmd == TOOL_CMD_WILL && !cfg->will_topic)
            return fail(cfg, true, "Error: Will properties given, but no will topic given.");
    if ((cfg->certfile && !cfg->keyfile) || (cfg->keyfile && !cfg->certfile))
        return fail(cfg, true,
                    "Error: Both certfile and keyfile must be provided if one of them is set.");
    if (cfg->keyform && !cfg->keyfile)
        return fail(cfg, true, "Error: If keyform is set, keyfile must be also specified.");
    if (cfg->tls_engine_kpass_sha1 && (!cfg->keyform || !cfg->tls_engine))
        return fail(cfg, true,
                    "Error: when using tls-engine-kpass-sha1, both tls-engine and keyform must "
                    "also be provided.");
    if ((cfg->cafile || cfg->capath) && cfg->psk)
        return fail(cfg, true,
                    "Error: Only one of --psk or --cafile/--capath may be used at once.");
    if (cfg->psk && !cfg->psk_identity)
        return fail(cfg, true, "Error: --psk-identity required if --psk used.");
    if (cfg->no_retain && cfg->retained_only)
        return fail(cfg, true, "Error: Combining '-R' and '--retained-only' makes no sense.");
    if (cfg->json && cfg->format)
        return fail(cfg, true, "Error: --json and -F cannot be used together.");
    if (cfg->unix_path && (cfg->host || cfg->port != TOOL_PORT_UNSET))
        return fail(cfg, true, "Error: --unix cannot be combined with -h, -p or -L.");

    if (cfg->protocol == 5) {
        if (!cfg->clean_session && cfg->session_expiry == -1)
            cfg->session_expiry = 0xffffffffLL;
        if (cfg->session_expiry == 0xffffffffLL && (cfg->id_prefix || !cfg->id))
            return fail(cfg, true,
                        "Error: You must provide a client id if you are using an infinite "
                        "session expiry interval.");
    } else if (!cfg->clean_session && (cfg->id_prefix || !cfg->id)) {
        return fail(cfg, true,
                    "Error: You must provide a client id if you are using the -c option.");
    }

    switch (cfg->kind) {
    case TOOL_PUB:
        if (!cfg->topic || cfg->msg_mode == TOOL_MSG_NONE)
            return fail(cfg, true, "Error: Both topic and message must be supplied.");
        break;
    case TOOL_RR:
        if (!cfg->topic || cfg->msg_mode == TOOL_MSG_NONE || !cfg->response_topic)
            return fail(cfg, true,
                        "Error: All of topic, message, and response topic must be supplied.");
        break;
    case TOOL_SUB:
        if (cfg->topic_count == 0 && cfg->unsub_count == 0)
            return fail(cfg, true,
                        "Error: You must specify a topic to subscribe to (-t) or unsubscribe "
                        "from (-U).");
        break;
    }
    if (!cfg->host && !cfg->unix_path)
        cfg->host = "localhost";
    return 0;
}

static int parse_words(tool_cfg_t *cfg, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const opt_t *o = find_opt(arg);
        if (!o || !(o->tools & cfg->kind))
            return fail(cfg, true, "Error: Unknown option '%s'.", arg);
        const char *v = NULL;
        if (o->arg) {
            if (i == argc - 1)
                return fail(cfg, true, "Error: %s argument given but no %s specified.", arg,
                            o->arg);
            v = argv[++i];
        }
        int rc = handle(cfg, o, arg, v, argc, argv, &i);
        if (rc)
            return rc;
    }
    return 0;
}

#define CONFIG_MAX_BYTES 65536
#define CONFIG_MAX_WORDS 64

/* One line of the defaults file: "-option value", the value being the
 * rest of the line (for -D, its words). Parsed like the command line. */
static int config_line(tool_cfg_t *cfg, char *line)
{
    char *words[CONFIG_MAX_WORDS + 1];
    int n = 0;
    words[n++] = (char *)cfg->prog;
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    words[n++] = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    bool split = !strncmp(words[1], "-D", 2) || !strcmp(words[1], "--property");
    while (*p) {
        *p++ = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == CONFIG_MAX_WORDS)
            return fail(cfg, false, "Error: Too many words on one line.");
        words[n++] = p;
        if (!split)
            break; /* the value is the rest of the line, spaces and all */
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    words[n] = NULL;
    return parse_words(cfg, n, words);
}

static int load_config_file(tool_cfg_t *cfg)
{
    char path[4096];
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(path, sizeof path, "%s/%s", xdg, cfg->prog);
    else if (home && *home)
        snprintf(path, sizeof path, "%s/.config/%s", home, cfg->prog);
    else
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *text = malloc(CONFIG_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        return fail(cfg, false, "Error: Out of memory.");
    }
    size_t len = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
    fclose(f);
    if (len > CONFIG_MAX_BYTES) {
        free(text);
        return fail(cfg, false, "Error: Config file %s is larger than %d bytes.", path,
                    CONFIG_MAX_BYTES);
    }
    text[len] = '\0';
    if (!own(cfg, text)) /* the options point into it */
        return fail(cfg, false, "Error: Out of memory.");
    cfg->in_file = true;
    int line_no = 0, rc = 0;
    for (char *line = text; line && *line && !rc;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[l - 1] = '\0';
        line_no++;
        rc = config_line(cfg, line);
        line = next;
    }
    cfg->in_file = false;
    if (rc == TOOL_EXIT_USAGE) {
        size_t el = strlen(cfg->err);
        snprintf(cfg->err + el, sizeof cfg->err - el, " (in %s, line %d)", path, line_no);
    }
    return rc;
}

int tool_cfg_parse(tool_cfg_t *cfg, tool_kind_t kind, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->prog = kind == TOOL_PUB ? "midge_pub" : kind == TOOL_SUB ? "midge_sub" : "midge_rr";
    cfg->port = TOOL_PORT_UNSET;
    cfg->keepalive = 60;
    cfg->clean_session = true;
    cfg->session_expiry = -1;
    cfg->protocol = kind == TOOL_RR ? 5 : 4;
    cfg->max_inflight = 20;
    cfg->eol = true;
    cfg->repeat_count = 1;
    cfg->random_filter = 10000;
    cfg->msg_count = kind == TOOL_RR ? 1 : 0;

    int rc = load_config_file(cfg);
    if (rc)
        return rc;
    rc = parse_words(cfg, argc, argv);
    if (rc)
        return rc;
    return check_combination(cfg);
}

void tool_cfg_free(tool_cfg_t *cfg)
{
    free((void *)cfg->topics);
    free((void *)cfg->filter_outs);
    free((void *)cfg->unsub_topics);
    free(cfg->props);
    for (size_t i = 0; i < cfg->owned_count; i++)
        free(cfg->owned[i]);
    free(cfg->owned);
    cfg->topics = cfg->filter_outs = cfg->unsub_topics = NULL;
    cfg->props = NULL;
    cfg->owned = NULL;
    cfg->topic_count = cfg->filter_out_count = cfg->unsub_count = 0;
    cfg->prop_count = cfg->owned_count = 0;
}

bool tool_cfg_tls(const tool_cfg_t *cfg)
{
    if (cfg->cafile || cfg->capath || cfg->psk || cfg->url_tls || cfg->tls_use_os_certs)
        return true;
    return cfg->port == 8883 && !cfg->unix_path;
}

int tool_cfg_port(const tool_cfg_t *cfg)
{
    if (cfg->port != TOOL_PORT_UNSET)
        return cfg->port;
    return tool_cfg_tls(cfg) ? 8883 : 1883;
}

/* ---- -L ---- */

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void tool_url_free(tool_url_t *u)
{
    free(u->user);
    free(u->pass);
    free(u->host);
    free(u->topic);
    memset(u, 0, sizeof *u);
    u->port = -1;
}

int tool_url_parse(const char *url, tool_url_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = -1;
    const char *p;
    if (!strncasecmp(url, "mqtt://", 7)) {
        p = url + 7;
    } else if (!strncasecmp(url, "mqtts://", 8)) {
        p = url + 8;
        out->tls = true;
    } else {
        snprintf(err, errlen, "Error: Unsupported URL scheme in '%s' (use mqtt:// or mqtts://).",
                 url);
        return 1;
    }
    const char *slash = strchr(p, '/');
    if (!slash) {
        snprintf(err, errlen, "Error: Invalid URL for -L argument specified - topic missing.");
        return 1;
    }
    /* user:pass@ ends at the last '@' before the path, so a password may
     * itself contain '@'. */
    const char *auth_end = NULL;
    for (const char *q = p; q < slash; q++)
        if (*q == '@')
            auth_end = q;
    const char *hp = p;
    if (auth_end) {
        const char *colon = memchr(p, ':', (size_t)(auth_end - p));
        if (colon) {
            out->user = dup_range(p, (size_t)(colon - p));
            out->pass = dup_range(colon + 1, (size_t)(auth_end - colon - 1));
        } else {
            out->user = dup_range(p, (size_t)(auth_end - p));
        }
        hp = auth_end + 1;
    }
    const char *host_end = slash;
    const char *port_s = NULL;
    if (*hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(slash - hp));
        if (!rb) {
            snprintf(err, errlen, "Error: Invalid URL for -L argument specified - unclosed '['.");
            goto bad;
        }
        out->host = dup_range(hp + 1, (size_t)(rb - hp - 1));
        if (rb + 1 < slash) {
            if (rb[1] != ':') {
                snprintf(err, errlen, "Error: Invalid URL for -L argument specified.");
                goto bad;
            }
            port_s = rb + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', (size_t)(slash - hp));
        if (colon) {
            host_end = colon;
            port_s = colon + 1;
        }
        out->host = dup_range(hp, (size_t)(host_end - hp));
    }
    if (!out->host || !*out->host) {
        snprintf(err, errlen, "Error: Invalid URL for -L argument specified - host missing.");
        goto bad;
    }
    if (port_s) {
        char buf[8];
        size_t n = (size_t)(slash - port_s);
        long v;
        if (n == 0 || n >= sizeof buf) {
            snprintf(err, errlen, "Error: Invalid port in URL '%s'.", url);
            goto bad;
        }
        memcpy(buf, port_s, n);
        buf[n] = '\0';
        if (!parse_long(buf, 1, 65535, &v)) {
            snprintf(err, errlen, "Error: Invalid port in URL '%s'.", url);
            goto bad;
        }
        out->port = (int)v;
    }
    out->topic = dup_range(slash + 1, strlen(slash + 1));
    if ((auth_end && !out->user) || !out->topic) {
        snprintf(err, errlen, "Error: Out of memory.");
        goto bad;
    }
    return 0;
bad:
    tool_url_free(out);
    return 1;
}

/* ---- topics ---- */

bool tool_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t n;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            n = 1;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            n = 2;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            n = 3;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

bool tool_topic_pub_valid(const char *t)
{
    size_t len = strlen(t);
    if (len == 0 || len > 65535)
        return false;
    return strpbrk(t, "+#") == NULL;
}

bool tool_topic_sub_valid(const char *t)
{
    size_t len = strlen(t);
    if (len == 0 || len > 65535)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool level_start = i == 0 || t[i - 1] == '/';
        bool level_end = i == len - 1 || t[i + 1] == '/';
        if (t[i] == '+' && !(level_start && level_end))
            return false;
        if (t[i] == '#' && !(level_start && i == len - 1))
            return false;
    }
    return true;
}

bool tool_topic_matches(const char *filter, const char *topic)
{
    if ((filter[0] == '+' || filter[0] == '#') && topic[0] == '$')
        return false;
    const char *f = filter, *t = topic;
    for (;;) {
        const char *fe = strchr(f, '/'), *te = strchr(t, '/');
        size_t fl = fe ? (size_t)(fe - f) : strlen(f);
        size_t tl = te ? (size_t)(te - t) : strlen(t);
        if (fl == 1 && f[0] == '#')
            return true;
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
            return false;
        if (!fe && !te)
            return true;
        if (!te) /* "a/#" matches "a" */
            return fe && !strcmp(fe + 1, "#");
        if (!fe)
            return false;
        f = fe + 1;
        t = te + 1;
    }
}
