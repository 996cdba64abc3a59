/*
 * Command-line configuration shared by midge_pub, midge_sub and midge_rr.
 *
 * Parsing never exits and never prints on its own: tool_cfg_parse() fills
 * a tool_cfg_t or returns an error code with the message in cfg->err, so
 * the same code is unit-tested and used by the executables. The flags and
 * their messages follow Mosquitto's clients, so scripts and habits carry
 * over.
 */
#ifndef MIDGE_TOOL_CFG_H
#define MIDGE_TOOL_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TOOL_PUB = 1,
    TOOL_SUB = 2,
    TOOL_RR = 4,
} tool_kind_t;

typedef enum {
    TOOL_MSG_NONE,
    TOOL_MSG_CMD,   /* -m */
    TOOL_MSG_FILE,  /* -f */
    TOOL_MSG_LINES, /* -l */
    TOOL_MSG_STDIN, /* -s */
    TOOL_MSG_NULL,  /* -n */
} tool_msg_mode_t;

/* Packets a -D property may be attached to. */
typedef enum {
    TOOL_CMD_CONNECT,
    TOOL_CMD_PUBLISH,
    TOOL_CMD_PUBACK,
    TOOL_CMD_PUBREC,
    TOOL_CMD_PUBREL,
    TOOL_CMD_PUBCOMP,
    TOOL_CMD_SUBSCRIBE,
    TOOL_CMD_UNSUBSCRIBE,
    TOOL_CMD_DISCONNECT,
    TOOL_CMD_AUTH,
    TOOL_CMD_WILL,
    TOOL_CMD_COUNT
} tool_cmd_t;

typedef enum {
    TOOL_PT_BYTE,
    TOOL_PT_INT16,
    TOOL_PT_INT32,
    TOOL_PT_VARINT,
    TOOL_PT_STRING,
    TOOL_PT_BINARY,
    TOOL_PT_PAIR,
} tool_prop_type_t;

/* One -D property. Strings point into argv (which outlives the config). */
typedef struct {
    tool_cmd_t cmd;
    uint8_t id;
    tool_prop_type_t type;
    uint32_t value;
    const char *str;  /* string, binary, or the name of a user property */
    const char *str2; /* value of a user property */
} tool_prop_t;

/* Exit codes of argument errors: mosquitto's clients exit 1. */
#define TOOL_EXIT_USAGE 1
/* tool_cfg_parse() results besides 0 and TOOL_EXIT_USAGE. */
#define TOOL_CFG_HELP    -1
#define TOOL_CFG_VERSION -2

#define TOOL_PORT_UNSET -1
#define TOOL_ERR_MAX    512

typedef struct {
    tool_kind_t kind;
    const char *prog; /* "midge_pub", ... for messages */

    /* connection */
    const char *host;
    int port;
    const char *bind_address;
    const char *unix_path;
    const char *username;
    const char *password;
    const char *id;
    const char *id_prefix;
    int keepalive;
    bool clean_session;
    int64_t session_expiry; /* -1: not given */
    int protocol;           /* 3, 4 or 5 (codec protocol level) */
    bool protocol_given;    /* -V seen */
    bool nodelay;
    unsigned max_inflight;

    /* TLS */
    const char *cafile;
    const char *capath;
    const char *certfile;
    const char *keyfile;
    const char *keyform;
    const char *ciphers;
    const char *tls_version;
    const char *tls_alpn;
    const char *tls_engine;
    const char *tls_engine_kpass_sha1;
    const char *psk;
    const char *psk_identity;
    const char *proxy;
    bool insecure;
    bool tls_use_os_certs;
    bool url_tls; /* -L mqtts:// */

    /* will */
    const char *will_topic;
    const char *will_payload;
    int will_qos;
    bool will_retain;

    /* publish (pub, rr) */
    const char *topic;
    tool_msg_mode_t msg_mode;
    const char *message;
    const char *file;
    int qos;
    bool retain;
    long repeat_count;
    double repeat_delay; /* seconds */

    /* subscribe (sub) */
    const char **topics;
    size_t topic_count;
    const char **filter_outs;
    size_t filter_out_count;
    const char **unsub_topics;
    size_t unsub_count;
    long msg_count;     /* -C; 0 = unlimited */
    unsigned timeout;   /* -W seconds; 0 = none */
    bool no_retain;     /* -R */
    bool retained_only; /* --retained-only */
    bool remove_retained;
    bool retain_as_published;
    bool exit_after_sub; /* -E */
    int random_filter;   /* per 10000 */

    /* rr */
    const char *response_topic; /* -e */

    /* output */
    bool debug;
    bool quiet;
    bool verbose;
    bool eol; /* false with -N */
    bool pretty;
    bool json; /* --json: one JSON object per message */
    const char *format;

    /* -D properties */
    tool_prop_t *props;
    size_t prop_count;

    /* defaults from $XDG_CONFIG_HOME/<prog> (or ~/.config/<prog>) */
    bool in_file;
    bool topic_from_file;
    bool msg_mode_from_file;

    /* owned copies made while parsing (-L pieces, the config file) */
    char **owned;
    size_t owned_count;

    char err[TOOL_ERR_MAX];
    bool err_usage_hint; /* append "Use '<prog> --help' to see usage." */
} tool_cfg_t;

/* Reads the defaults file $XDG_CONFIG_HOME/<prog> (else
 * $HOME/.config/<prog>) if there is one: one "-option value" per line, '#'
 * starts a comment, the value is the rest of the line (-D takes words).
 * Then parses argv (argv[0] is skipped), which overrides the file; -t of
 * midge_sub and -T add to it. Returns 0, TOOL_EXIT_USAGE with
 * cfg->err set, TOOL_CFG_HELP or TOOL_CFG_VERSION. The strings in cfg
 * point into argv or into cfg->owned: free with tool_cfg_free(). */
int tool_cfg_parse(tool_cfg_t *cfg, tool_kind_t kind, int argc, char **argv);
void tool_cfg_free(tool_cfg_t *cfg);

/* The port to connect to: -p, else the URL's, else 8883 with TLS, else
 * 1883. */
int tool_cfg_port(const tool_cfg_t *cfg);
/* True if the connection uses TLS. */
bool tool_cfg_tls(const tool_cfg_t *cfg);

/* -L: splits mqtt(s)://[user[:pass]@]host[:port]/topic. Host may be an
 * IPv6 literal in brackets. The out strings are malloc'd (caller frees);
 * port is -1 when absent. Returns 0 or writes a message to err. */
typedef struct {
    bool tls;
    char *user;
    char *pass;
    char *host;
    int port;
    char *topic;
} tool_url_t;
int tool_url_parse(const char *url, tool_url_t *out, char *err, size_t errlen);
void tool_url_free(tool_url_t *u);

/* -D: parses "command identifier value" or "command user-property name
 * value" starting at argv[*i] (the word after -D). Advances *i to the last
 * word consumed. */
int tool_prop_parse(tool_cfg_t *cfg, int argc, char **argv, int *i);
/* Name of a property id as -D spells it ("message-expiry-interval"),
 * NULL if unknown. */
const char *tool_prop_name(uint8_t id);
const char *tool_cmd_name(tool_cmd_t cmd);

/* -F: checks a format string; 0 or a message in err. */
int tool_format_check(const char *fmt, char *err, size_t errlen);

/* Topic checks with mosquitto's rules: a publish topic is valid UTF-8
 * without '+' or '#'; a filter has its wildcards alone in their level and
 * '#' last. Both 1..65535 bytes. */
bool tool_topic_pub_valid(const char *t);
bool tool_topic_sub_valid(const char *t);
/* Well-formed UTF-8 without surrogates, overlongs or U+0000. */
bool tool_utf8_valid(const uint8_t *s, size_t len);
/* True if topic matches filter (for -T). */
bool tool_topic_matches(const char *filter, const char *topic);

#endif
