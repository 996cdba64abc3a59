/*
 * The broker configuration: Mosquitto's mosquitto.conf format, read into one
 * plain struct.
 *
 * Loading is all-or-nothing: config_load() fills a fresh config_t, or fails
 * with one message "file:line: reason" and leaves nothing allocated. On
 * SIGHUP the broker loads into a new config_t and swaps it in only on
 * success, so a broken file never replaces a working configuration.
 *
 * After config_load() the Mosquitto 2.0 rules are already applied:
 *   - no listener configured: one implicit listener on port 1883 bound to
 *     loopback only (local_only set), and anonymous clients allowed;
 *   - otherwise allow_anonymous is false wherever it was not set;
 *   - per_listener_settings false: every listener uses cfg->security;
 *     true: each listener its own (use config_security_for()).
 * Every path is made absolute against the working directory at load time
 * (Mosquitto opens relative paths from its working directory), so a later
 * chdir does not change what a reload opens.
 */
#ifndef MIDGE_BROKER_CONFIG_H
#define MIDGE_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CONFIG_PROTOCOL_MQTT = 0, CONFIG_PROTOCOL_WEBSOCKETS = 1 } config_protocol_t;

/* AF_UNSPEC-like default: both IPv4 and IPv6 when the bind address allows. */
typedef enum {
    CONFIG_DOMAIN_ANY = 0,
    CONFIG_DOMAIN_IPV4 = 1,
    CONFIG_DOMAIN_IPV6 = 2
} config_domain_t;

/* Minimum TLS version of a listener; Mosquitto's default allows 1.2 and 1.3. */
typedef enum { CONFIG_TLS_V1_2 = 0, CONFIG_TLS_V1_3 = 1 } config_tls_version_t;

/* log_dest bits. */
enum {
    CONFIG_LOG_DEST_STDOUT = 1u << 0,
    CONFIG_LOG_DEST_STDERR = 1u << 1,
    CONFIG_LOG_DEST_SYSLOG = 1u << 2,
    CONFIG_LOG_DEST_TOPIC = 1u << 3,
    CONFIG_LOG_DEST_FILE = 1u << 4,
};

/* log_type bits. */
enum {
    CONFIG_LOG_DEBUG = 1u << 0,
    CONFIG_LOG_ERROR = 1u << 1,
    CONFIG_LOG_WARNING = 1u << 2,
    CONFIG_LOG_NOTICE = 1u << 3,
    CONFIG_LOG_INFORMATION = 1u << 4,
    CONFIG_LOG_SUBSCRIBE = 1u << 5,
    CONFIG_LOG_UNSUBSCRIBE = 1u << 6,
    CONFIG_LOG_WEBSOCKETS = 1u << 7,
    CONFIG_LOG_ALL = 0xffu,
};

/*
 * The settings per_listener_settings moves between global and per listener.
 * allow_anonymous is -1 while unset; after config_load() it is 0 or 1.
 */
typedef struct config_security {
    int allow_anonymous;
    bool allow_zero_length_clientid; /* default true */
    char *password_file;             /* NULL: no password file */
    char *acl_file;                  /* NULL: no ACL, everything allowed */
    char *auto_id_prefix;            /* default "auto-" (never NULL after load) */
} config_security_t;

typedef struct config_listener {
    uint16_t port;      /* 1..65535 */
    char *bind_address; /* NULL: every address of the domain */
    bool local_only;    /* implicit listener: bind 127.0.0.1 and ::1 only */
    config_protocol_t protocol;
    config_domain_t socket_domain;
    int max_connections; /* -1: unlimited */
    int max_qos;         /* 0..2, default 2 */
    char *mount_point;   /* NULL: none */
    char *http_dir;      /* websockets: static files for plain HTTP GETs; NULL: none */

    /* TLS: the listener speaks TLS when certfile and keyfile are set. */
    char *cafile;
    char *capath;
    char *certfile;
    char *keyfile;
    char *crlfile;
    char *ciphers;
    char *ciphers_tls13; /* ciphers_tls1.3 */
    char *dhparamfile;
    config_tls_version_t tls_version;
    bool require_certificate;
    bool use_identity_as_username;
    bool use_subject_as_username;

    config_security_t security; /* meaningful when per_listener_settings */
    int line;                   /* where it was declared (0: implicit) */
    char *file;
} config_listener_t;

/* ---- Bridges (bridge_config.c): one `connection` section each. ---- */

enum { CONFIG_BRIDGE_OUT = 1, CONFIG_BRIDGE_IN = 2, CONFIG_BRIDGE_BOTH = 3 };

/* One `topic` line. local_topic / remote_topic are the full filters on
 * each side: prefix + pattern (for an empty pattern, the prefix alone). */
typedef struct config_bridge_topic {
    char *pattern;       /* "" for the "" place marker */
    char *local_prefix;  /* "" when none */
    char *remote_prefix; /* "" when none */
    char *local_topic;
    char *remote_topic;
    int direction; /* CONFIG_BRIDGE_* bits */
    int qos;
} config_bridge_topic_t;

typedef struct config_bridge_address {
    char *host;
    uint16_t port;
} config_bridge_address_t;

typedef struct config_bridge {
    char *name;
    config_bridge_address_t *addresses;
    size_t address_count;
    config_bridge_topic_t *topics;
    size_t topic_count;
    char *remote_clientid;    /* default "<hostname>.<name>" after load */
    char *remote_username;    /* NULL: none */
    char *remote_password;    /* NULL: none */
    char *notification_topic; /* default "$SYS/broker/connection/<remote_clientid>/state" */
    bool cleansession;        /* default false */
    bool try_private;         /* default true */
    bool notifications;       /* default true */
    bool notifications_local_only;
    bool outgoing_retain;     /* default true */
    bool attempt_unsubscribe; /* default true: UNSUBSCRIBE out-only topics on the remote */
    bool round_robin;         /* default false: addresses[0] is the primary */
    bool start_once;          /* start_type once: no reconnection */
    char *local_clientid;     /* default "local.<remote_clientid>" */
    char *alpn;               /* bridge_alpn; NULL: none */
    int protocol_version;     /* 3, 4 (default) or 5 */
    uint16_t keepalive;       /* seconds, default 60, at least 5 */
    uint32_t restart_base;    /* seconds: backoff from base to cap, default 5 and 30 */
    uint32_t restart_cap;     /* 0: restart_base is a constant delay */
    uint32_t max_packet_size; /* 0: no limit of ours */
    /* TLS to the remote: on when cafile or capath is set. */
    char *cafile;
    char *capath;
    char *certfile;
    char *keyfile;
    char *tls_version; /* "tlsv1.2" / "tlsv1.3"; NULL: 1.2 or newer */
    bool insecure;
    int line; /* of its `connection` line */
    char *file;
} config_bridge_t;

typedef struct config {
    config_listener_t *listeners;
    size_t listener_count;

    bool per_listener_settings;
    config_security_t security; /* used when !per_listener_settings */

    /* Limits (0 = no limit where Mosquitto says so). */
    uint32_t max_packet_size;         /* 0: none; else >= 20 */
    uint32_t message_size_limit;      /* 0: none; payload bytes */
    uint32_t max_inflight_messages;   /* default 20; 0: none */
    uint64_t max_inflight_bytes;      /* default 0 */
    uint32_t max_queued_messages;     /* default 1000; 0: none */
    uint64_t max_queued_bytes;        /* default 0 */
    uint16_t max_keepalive;           /* default 65535 */
    bool retain_available;            /* default true */
    bool upgrade_outgoing_qos;        /* default false */
    bool set_tcp_nodelay;             /* default false */
    uint32_t sys_interval;            /* seconds, default 10; 0: no $SYS */
    uint32_t websockets_headers_size; /* upgrade request bytes; 0: midge's default */
    uint16_t max_topic_alias;         /* v5 aliases a client may set; default 10 */
    bool queue_qos0_messages;         /* default false: QoS 0 is not queued offline */
    /* Seconds a session that would never expire (3.1.1 clean session
     * false, v5 0xFFFFFFFF) or expire later is kept offline; 0: forever. */
    uint32_t persistent_client_expiration;
    bool check_retain_source; /* default false */
    uint64_t memory_limit;    /* bytes of messages (memuse.h); 0: none */

    /* Persistence. */
    bool persistence;           /* default false */
    char *persistence_file;     /* default "mosquitto.db" (a file name) */
    char *persistence_location; /* default NULL: working directory */
    uint32_t autosave_interval; /* seconds, default 1800 */
    bool autosave_on_changes;   /* default false */

    /* Logging. */
    unsigned log_dest;  /* CONFIG_LOG_DEST_*, default stderr; 0 = "none" */
    char *log_file;     /* with CONFIG_LOG_DEST_FILE */
    unsigned log_type;  /* CONFIG_LOG_*, default error|warning|notice|information */
    bool log_timestamp; /* default true */

    /* Logging, continued. */
    char *log_timestamp_format; /* strftime format; NULL: seconds since the epoch */
    int log_facility;           /* 0..7 for LOG_LOCAL0..7; -1 (default): LOG_DAEMON */
    bool connection_messages;   /* default true */

    char *pid_file; /* NULL: none */
    char *user;     /* default "mosquitto" */

    /* Set when the implicit loopback listener was created. */
    bool local_only;

    config_bridge_t *bridges; /* in file order */
    size_t bridge_count;
} config_t;

/*
 * The topic a message gets on the other side of bridge `br`: `outgoing`
 * maps a local topic for the remote (first out/both line whose local
 * filter matches it), else a remote topic for here (first in/both line).
 * The matching line's prefix is taken off and the other side's put on.
 * Returns a new string (free it) and the line's QoS in *qos, or NULL when
 * no line matches (or out of memory).
 */
char *config_bridge_map(const config_bridge_t *br, bool outgoing, const char *topic, size_t len,
                        int *qos);

typedef enum { CONFIG_WARNING, CONFIG_INFO } config_level_t;

/* Receives warnings ("file:line: ..."); NULL sink prints them to stderr. */
typedef void (*config_log_fn)(void *ctx, config_level_t level, const char *msg);

/* Fills cfg with Mosquitto 2.0's defaults and no listener. */
void config_init(config_t *cfg);

/*
 * Reads `path` into cfg (which config_load initialises itself) and applies
 * the Mosquitto 2.0 listener and anonymous rules. Returns 0, or -1 with
 * "file:line: reason" (or "file: reason") in err, cfg left empty. Warnings
 * about directives midge recognises but does not support go to log.
 */
int config_load(config_t *cfg, const char *path, char *err, size_t errlen, config_log_fn log,
                void *log_ctx);

/*
 * The no-file configuration (`midge` without -c): defaults plus the implicit
 * loopback listener on `port` (1883 when 0), anonymous allowed.
 */
int config_load_default(config_t *cfg, uint16_t port);

/*
 * The persistence database path: persistence_location joined with
 * persistence_file (a '/' is added when the location lacks one, where
 * Mosquitto would glue the two together). -1 when it does not fit.
 */
int config_persistence_path(const config_t *cfg, char *buf, size_t len);

/* Frees what cfg owns; cfg is left as after config_init(). */
void config_free(config_t *cfg);

/* The security settings that apply to clients of `listener`. */
const config_security_t *config_security_for(const config_t *cfg,
                                             const config_listener_t *listener);

/* A directive's status, for docs and tests. */
typedef enum {
    CONFIG_SUPPORTED = 0,
    CONFIG_WARNED = 1, /* recognised, ignored with a warning */
    CONFIG_REFUSED = 2 /* recognised, refused: ignoring it would weaken security */
} config_status_t;

/* Status of a directive name, or -1 when it is not a Mosquitto directive. */
int config_directive_status(const char *name);

#endif
