/*
 * Every mosquitto.conf directive midge knows, in one table: name, handler,
 * where its value goes, and whether midge supports it. Generic handlers
 * cover plain values; the few directives with their own grammar have their
 * own handler next to the table.
 */
#include "broker/config.h"
#include "broker/config_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *config__field(config_parse_t *p, const config_directive_t *d)
{
    char *base;
    switch (d->scope) {
    case CONFIG_SCOPE_LISTENER:
        base = (char *)config__current_listener(p);
        break;
    case CONFIG_SCOPE_SECURITY:
        base = (char *)config__current_security(p);
        break;
    default:
        base = (char *)p->cfg;
        break;
    }
    return base + d->offset;
}

/* The generic handler: one value of d->kind stored at d->offset. */
static int dir_value(config_parse_t *p, const config_directive_t *d, const char *name, char *args)
{
    void *field = config__field(p, d);
    long long n = 0;
    switch (d->kind) {
    case CONFIG_KIND_BOOL:
        return config__parse_bool(p, name, args, (bool *)field);
    case CONFIG_KIND_STRING:
    case CONFIG_KIND_PATH:
        return config__parse_string(p, name, args, (char **)field, d->kind == CONFIG_KIND_PATH);
    case CONFIG_KIND_INT:
    case CONFIG_KIND_U16:
    case CONFIG_KIND_U32:
    case CONFIG_KIND_U64:
        if (config__parse_integer(p, name, args, d->min, d->max, &n) != 0) {
            return -1;
        }
        if (d->kind == CONFIG_KIND_INT) {
            *(int *)field = (int)n;
        } else if (d->kind == CONFIG_KIND_U16) {
            *(uint16_t *)field = (uint16_t)n;
        } else if (d->kind == CONFIG_KIND_U32) {
            *(uint32_t *)field = (uint32_t)n;
        } else {
            *(uint64_t *)field = (uint64_t)n;
        }
        return 0;
    default:
        return config__fail(p, "internal: directive %s has no value kind", name);
    }
}

static int dir_allow_anonymous(config_parse_t *p, const config_directive_t *d, const char *name,
                               char *args)
{
    bool v;
    if (config__parse_bool(p, name, args, &v) != 0) {
        return -1;
    }
    config__current_security(p)->allow_anonymous = v ? 1 : 0;
    return 0;
}

/* Mosquitto: any negative max_connections means unlimited. */
static int dir_max_connections(config_parse_t *p, const config_directive_t *d, const char *name,
                               char *args)
{
    long long n;
    if (config__parse_integer(p, name, args, INT32_MIN, INT32_MAX, &n) != 0) {
        return -1;
    }
    config__current_listener(p)->max_connections = n < 0 ? -1 : (int)n;
    return 0;
}

static int dir_listener(config_parse_t *p, const config_directive_t *d, const char *name,
                        char *args)
{
    char *rest = args;
    char *port_s = config__next_token(&rest);
    if (port_s == NULL) {
        return config__fail(p, "listener needs a port");
    }
    char *bind = config__next_token(&rest);
    if (bind != NULL && bind[0] == '#') {
        bind = NULL;
    } else if (config__expect_end(p, name, rest) != 0) {
        return -1;
    }
    char *end = NULL;
    long port = strtol(port_s, &end, 10);
    if (end == port_s || *end != '\0' || port < 0 || port > 65535) {
        return config__fail(p, "invalid listener port '%s' (expected 1 to 65535)", port_s);
    }
    if (port == 0) {
        return config__fail(p, "listener port 0 (a unix socket) is not supported");
    }
    return config__add_listener(p, (uint16_t)port, bind);
}

/* The deprecated `port`: the default listener's port, the last one wins. */
static int dir_port(config_parse_t *p, const config_directive_t *d, const char *name, char *args)
{
    long long n;
    if (config__parse_integer(p, name, args, 1, 65535, &n) != 0) {
        return -1;
    }
    p->default_used = true;
    if (p->default_listener.port != 0) {
        config__warn(p, "default listener port given more than once; the last one is used");
    }
    p->default_listener.port = (uint16_t)n;
    return 0;
}

/* The deprecated `bind_address`: always the default listener's address. */
static int dir_bind_address(config_parse_t *p, const config_directive_t *d, const char *name,
                            char *args)
{
    p->default_used = true;
    return config__parse_string(p, name, args, &p->default_listener.bind_address, false);
}

static int dir_per_listener_settings(config_parse_t *p, const config_directive_t *d,
                                     const char *name, char *args)
{
    bool v;
    if (config__parse_bool(p, name, args, &v) != 0) {
        return -1;
    }
    if (v && p->security_touched) {
        return config__fail(p, "per_listener_settings must be set before any other security "
                               "settings");
    }
    p->cfg->per_listener_settings = v;
    return 0;
}

static int dir_protocol(config_parse_t *p, const config_directive_t *d, const char *name,
                        char *args)
{
    char *v;
    if (config__one_value(p, name, args, &v) != 0) {
        return -1;
    }
    config_listener_t *l = config__current_listener(p);
    if (strcmp(v, "mqtt") == 0) {
        l->protocol = CONFIG_PROTOCOL_MQTT;
    } else if (strcmp(v, "websockets") == 0) {
        l->protocol = CONFIG_PROTOCOL_WEBSOCKETS;
    } else {
        return config__fail(p, "invalid protocol value '%s' (expected mqtt or websockets)", v);
    }
    return 0;
}

static int dir_socket_domain(config_parse_t *p, const config_directive_t *d, const char *name,
                             char *args)
{
    char *v;
    if (config__one_value(p, name, args, &v) != 0) {
        return -1;
    }
    config_listener_t *l = config__current_listener(p);
    if (strcmp(v, "ipv4") == 0) {
        l->socket_domain = CONFIG_DOMAIN_IPV4;
    } else if (strcmp(v, "ipv6") == 0) {
        l->socket_domain = CONFIG_DOMAIN_IPV6;
    } else {
        return config__fail(p, "invalid socket_domain value '%s' (expected ipv4 or ipv6)", v);
    }
    return 0;
}

static int dir_tls_version(config_parse_t *p, const config_directive_t *d, const char *name,
                           char *args)
{
    char *v;
    if (config__one_value(p, name, args, &v) != 0) {
        return -1;
    }
    config_listener_t *l = config__current_listener(p);
    if (strcmp(v, "tlsv1.2") == 0) {
        l->tls_version = CONFIG_TLS_V1_2;
    } else if (strcmp(v, "tlsv1.3") == 0) {
        l->tls_version = CONFIG_TLS_V1_3;
    } else if (strcmp(v, "tlsv1.1") == 0 || strcmp(v, "tlsv1") == 0) {
        return config__fail(p, "tls_version %s is refused: midge needs TLS 1.2 or later", v);
    } else {
        return config__fail(p, "invalid tls_version value '%s' (expected tlsv1.2 or tlsv1.3)", v);
    }
    return 0;
}

static int dir_mount_point(config_parse_t *p, const config_directive_t *d, const char *name,
                           char *args)
{
    char *v = config__trim(args);
    if (strpbrk(v, "+#") != NULL) {
        return config__fail(p, "invalid mount_point '%s': it contains a wildcard", v);
    }
    return config__parse_string(p, name, v, &config__current_listener(p)->mount_point, false);
}

static int dir_max_packet_size(config_parse_t *p, const config_directive_t *d, const char *name,
                               char *args)
{
    long long n;
    if (config__parse_integer(p, name, args, 20, 268435455, &n) != 0) {
        return -1;
    }
    p->cfg->max_packet_size = (uint32_t)n;
    return 0;
}

/* Mosquitto's duration: a count and a unit, h(ours), d(ays), w(eeks),
 * m(onths of 30 days) or y(ears of 365 days); midge also takes s(econds),
 * which Mosquitto refuses. */
static int dir_persistent_client_expiration(config_parse_t *p, const config_directive_t *d,
                                            const char *name, char *args)
{
    (void)d;
    char *v = config__trim(args);
    size_t len = strlen(v);
    static const struct {
        char unit;
        uint32_t seconds;
    } units[] = {{'s', 1},         {'h', 3600},       {'d', 86400},
                 {'w', 7 * 86400}, {'m', 30 * 86400}, {'y', 365 * 86400}};
    uint32_t scale = 0;
    for (size_t i = 0; len > 1 && i < sizeof(units) / sizeof(units[0]); i++) {
        if (v[len - 1] == units[i].unit)
            scale = units[i].seconds;
    }
    if (scale == 0) {
        return config__fail(p, "invalid %s '%s' (expected a number and s, h, d, w, m or y, as 2d)",
                            name, v);
    }
    v[len - 1] = '\0';
    long long n;
    if (config__parse_integer(p, name, v, 1, UINT32_MAX / scale, &n) != 0) {
        return -1;
    }
    p->cfg->persistent_client_expiration = (uint32_t)n * scale;
    return 0;
}

static int dir_log_dest(config_parse_t *p, const config_directive_t *d, const char *name,
                        char *args)
{
    config_t *cfg = p->cfg;
    char *rest = args;
    char *v = config__next_token(&rest);
    if (v == NULL) {
        return config__fail(p, "log_dest needs a value");
    }
    if (!p->log_dest_set) {
        cfg->log_dest = 0;
        p->log_dest_set = true;
    }
    if (strcmp(v, "file") == 0) {
        char *path = config__trim(rest);
        if (*path == '\0') {
            return config__fail(p, "log_dest file needs a file name");
        }
        if (cfg->log_file != NULL) {
            return config__fail(p, "only one log_dest file may be given");
        }
        cfg->log_dest |= CONFIG_LOG_DEST_FILE;
        return config__parse_string(p, "log_dest file", path, &cfg->log_file, true);
    }
    if (config__expect_end(p, name, rest) != 0) {
        return -1;
    }
    static const struct {
        const char *name;
        unsigned bit;
    } dests[] = {{"stdout", CONFIG_LOG_DEST_STDOUT},
                 {"stderr", CONFIG_LOG_DEST_STDERR},
                 {"syslog", CONFIG_LOG_DEST_SYSLOG},
                 {"topic", CONFIG_LOG_DEST_TOPIC},
                 {"none", 0}};
    for (size_t i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
        if (strcmp(v, dests[i].name) == 0) {
            if (dests[i].bit == 0) {
                cfg->log_dest = 0;
            } else {
                cfg->log_dest |= dests[i].bit;
            }
            return 0;
        }
    }
    if (strcmp(v, "dlt") == 0) {
        config__warn(p, "log_dest dlt is not supported by midge; ignored");
        return 0;
    }
    return config__fail(p, "invalid log_dest value '%s'", v);
}

static int dir_log_type(config_parse_t *p, const config_directive_t *d, const char *name,
                        char *args)
{
    char *v;
    if (config__one_value(p, name, args, &v) != 0) {
        return -1;
    }
    static const struct {
        const char *name;
        unsigned bits;
    } types[] = {{"debug", CONFIG_LOG_DEBUG},
                 {"error", CONFIG_LOG_ERROR},
                 {"warning", CONFIG_LOG_WARNING},
                 {"notice", CONFIG_LOG_NOTICE},
                 {"information", CONFIG_LOG_INFORMATION},
                 {"subscribe", CONFIG_LOG_SUBSCRIBE},
                 {"unsubscribe", CONFIG_LOG_UNSUBSCRIBE},
                 {"websockets", CONFIG_LOG_WEBSOCKETS},
                 {"all", CONFIG_LOG_ALL},
                 {"none", 0}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(v, types[i].name) == 0) {
            if (!p->log_type_set) {
                p->cfg->log_type = 0;
                p->log_type_set = true;
            }
            if (types[i].bits == 0) {
                p->cfg->log_type = 0;
            } else {
                p->cfg->log_type |= types[i].bits;
            }
            return 0;
        }
    }
    return config__fail(p, "invalid log_type value '%s'", v);
}

static int dir_include_dir(config_parse_t *p, const config_directive_t *d, const char *name,
                           char *args)
{
    return config__include_dir(p, args);
}

static int dir_unsupported(config_parse_t *p, const config_directive_t *d, const char *name,
                           char *args)
{
    if (d->status == CONFIG_REFUSED) {
        return config__fail(p,
                            "'%s' is not supported by midge; refusing to start, since ignoring "
                            "it would weaken the security it configures",
                            name);
    }
    config__warn(p, "'%s' is not supported by midge yet; ignored", name);
    return 0;
}

#define G(field) CONFIG_SCOPE_GLOBAL, offsetof(config_t, field)
#define L(field) CONFIG_SCOPE_LISTENER, offsetof(config_listener_t, field)
#define S(field) CONFIG_SCOPE_SECURITY, offsetof(config_security_t, field)
#define B        CONFIG_KIND_BOOL
#define STR      CONFIG_KIND_STRING
#define PATH     CONFIG_KIND_PATH

/* A directive with its own handler, which finds its own field. */
#define SPECIAL(name, handler, scope)                                                              \
    {                                                                                              \
        name, handler, CONFIG_SCOPE_##scope, 0, CONFIG_KIND_NONE, 0, 0, CONFIG_SUPPORTED           \
    }
#define WARNED(name)                                                                               \
    {                                                                                              \
        name, dir_unsupported, CONFIG_SCOPE_GLOBAL, 0, CONFIG_KIND_NONE, 0, 0, CONFIG_WARNED       \
    }
#define REFUSED(name)                                                                              \
    {                                                                                              \
        name, dir_unsupported, CONFIG_SCOPE_GLOBAL, 0, CONFIG_KIND_NONE, 0, 0, CONFIG_REFUSED      \
    }

static const config_directive_t config__directives[] = {
    /* Listeners. */
    SPECIAL("listener", dir_listener, LISTENER),
    SPECIAL("port", dir_port, LISTENER),
    SPECIAL("bind_address", dir_bind_address, LISTENER),
    SPECIAL("protocol", dir_protocol, LISTENER),
    SPECIAL("socket_domain", dir_socket_domain, LISTENER),
    SPECIAL("max_connections", dir_max_connections, LISTENER),
    {"max_qos", dir_value, L(max_qos), CONFIG_KIND_INT, 0, 2, CONFIG_SUPPORTED},
    {"maximum_qos", dir_value, L(max_qos), CONFIG_KIND_INT, 0, 2, CONFIG_SUPPORTED},
    SPECIAL("mount_point", dir_mount_point, LISTENER),
    {"http_dir", dir_value, L(http_dir), PATH, 0, 0, CONFIG_SUPPORTED},
    /* Global in Mosquitto too (a libwebsockets context setting). */
    {"websockets_headers_size", dir_value, G(websockets_headers_size), CONFIG_KIND_U32, 0, 65535,
     CONFIG_SUPPORTED},
    /* TLS, per listener. */
    {"cafile", dir_value, L(cafile), PATH, 0, 0, CONFIG_SUPPORTED},
    {"capath", dir_value, L(capath), PATH, 0, 0, CONFIG_SUPPORTED},
    {"certfile", dir_value, L(certfile), PATH, 0, 0, CONFIG_SUPPORTED},
    {"keyfile", dir_value, L(keyfile), PATH, 0, 0, CONFIG_SUPPORTED},
    {"crlfile", dir_value, L(crlfile), PATH, 0, 0, CONFIG_SUPPORTED},
    {"ciphers", dir_value, L(ciphers), STR, 0, 0, CONFIG_SUPPORTED},
    {"ciphers_tls1.3", dir_value, L(ciphers_tls13), STR, 0, 0, CONFIG_SUPPORTED},
    {"dhparamfile", dir_value, L(dhparamfile), PATH, 0, 0, CONFIG_SUPPORTED},
    SPECIAL("tls_version", dir_tls_version, LISTENER),
    {"require_certificate", dir_value, L(require_certificate), B, 0, 0, CONFIG_SUPPORTED},
    {"use_identity_as_username", dir_value, L(use_identity_as_username), B, 0, 0, CONFIG_SUPPORTED},
    {"use_subject_as_username", dir_value, L(use_subject_as_username), B, 0, 0, CONFIG_SUPPORTED},
    /* Security: global, or per listener with per_listener_settings. */
    SPECIAL("per_listener_settings", dir_per_listener_settings, GLOBAL),
    SPECIAL("allow_anonymous", dir_allow_anonymous, SECURITY),
    {"password_file", dir_value, S(password_file), PATH, 0, 0, CONFIG_SUPPORTED},
    {"acl_file", dir_value, S(acl_file), PATH, 0, 0, CONFIG_SUPPORTED},
    {"allow_zero_length_clientid", dir_value, S(allow_zero_length_clientid), B, 0, 0,
     CONFIG_SUPPORTED},
    {"auto_id_prefix", dir_value, S(auto_id_prefix), STR, 0, 0, CONFIG_SUPPORTED},
    /* Limits. */
    SPECIAL("max_packet_size", dir_max_packet_size, GLOBAL),
    {"message_size_limit", dir_value, G(message_size_limit), CONFIG_KIND_U32, 0, 268435455,
     CONFIG_SUPPORTED},
    {"max_inflight_messages", dir_value, G(max_inflight_messages), CONFIG_KIND_U32, 0, 65535,
     CONFIG_SUPPORTED},
    {"max_inflight_bytes", dir_value, G(max_inflight_bytes), CONFIG_KIND_U64, 0, INT64_MAX,
     CONFIG_SUPPORTED},
    {"max_queued_messages", dir_value, G(max_queued_messages), CONFIG_KIND_U32, 0, INT32_MAX,
     CONFIG_SUPPORTED},
    {"max_queued_bytes", dir_value, G(max_queued_bytes), CONFIG_KIND_U64, 0, INT64_MAX,
     CONFIG_SUPPORTED},
    {"max_keepalive", dir_value, G(max_keepalive), CONFIG_KIND_U16, 0, 65535, CONFIG_SUPPORTED},
    {"retain_available", dir_value, G(retain_available), B, 0, 0, CONFIG_SUPPORTED},
    {"upgrade_outgoing_qos", dir_value, G(upgrade_outgoing_qos), B, 0, 0, CONFIG_SUPPORTED},
    {"check_retain_source", dir_value, G(check_retain_source), B, 0, 0, CONFIG_SUPPORTED},
    {"memory_limit", dir_value, G(memory_limit), CONFIG_KIND_U64, 0, INT64_MAX, CONFIG_SUPPORTED},
    {"set_tcp_nodelay", dir_value, G(set_tcp_nodelay), B, 0, 0, CONFIG_SUPPORTED},
    {"sys_interval", dir_value, G(sys_interval), CONFIG_KIND_U32, 0, 65535, CONFIG_SUPPORTED},
    {"max_topic_alias", dir_value, G(max_topic_alias), CONFIG_KIND_U16, 0, 65535, CONFIG_SUPPORTED},
    {"queue_qos0_messages", dir_value, G(queue_qos0_messages), B, 0, 0, CONFIG_SUPPORTED},
    SPECIAL("persistent_client_expiration", dir_persistent_client_expiration, GLOBAL),
    /* Persistence. */
    {"persistence", dir_value, G(persistence), B, 0, 0, CONFIG_SUPPORTED},
    {"persistence_file", dir_value, G(persistence_file), STR, 0, 0, CONFIG_SUPPORTED},
    {"persistence_location", dir_value, G(persistence_location), PATH, 0, 0, CONFIG_SUPPORTED},
    {"autosave_interval", dir_value, G(autosave_interval), CONFIG_KIND_U32, 0, INT32_MAX,
     CONFIG_SUPPORTED},
    {"autosave_on_changes", dir_value, G(autosave_on_changes), B, 0, 0, CONFIG_SUPPORTED},
    /* Logging and process. */
    SPECIAL("log_dest", dir_log_dest, GLOBAL),
    SPECIAL("log_type", dir_log_type, GLOBAL),
    {"log_timestamp", dir_value, G(log_timestamp), B, 0, 0, CONFIG_SUPPORTED},
    {"log_timestamp_format", dir_value, G(log_timestamp_format), STR, 0, 0, CONFIG_SUPPORTED},
    {"log_facility", dir_value, G(log_facility), CONFIG_KIND_INT, 0, 7, CONFIG_SUPPORTED},
    {"connection_messages", dir_value, G(connection_messages), B, 0, 0, CONFIG_SUPPORTED},
    {"pid_file", dir_value, G(pid_file), PATH, 0, 0, CONFIG_SUPPORTED},
    {"user", dir_value, G(user), STR, 0, 0, CONFIG_SUPPORTED},
    SPECIAL("include_dir", dir_include_dir, GLOBAL),

    /* Recognised, not supported: ignoring these widens access or exposure,
     * so midge refuses to start rather than run a weaker server. */
    REFUSED("auth_plugin"),
    REFUSED("plugin"),
    REFUSED("auth_opt_*"),
    REFUSED("plugin_opt_*"),
    REFUSED("psk_file"),
    REFUSED("psk_hint"),
    REFUSED("bind_interface"),
    REFUSED("clientid_prefixes"),
    REFUSED("use_username_as_clientid"),
    REFUSED("tls_engine"),
    REFUSED("tls_engine_kpass_sha1"),
    REFUSED("tls_keyform"),

    /* Recognised, not supported yet: ignored with a warning. */
    WARNED("allow_duplicate_messages"),
    WARNED("auth_plugin_deny_special_chars"),
    WARNED("websockets_log_level"),
    WARNED("retry_interval"),
    WARNED("store_clean_interval"),
    /* Bridges. */
    SPECIAL("connection", config__dir_bridge, GLOBAL),
    SPECIAL("address", config__dir_bridge, GLOBAL),
    SPECIAL("addresses", config__dir_bridge, GLOBAL),
    SPECIAL("bridge_attempt_unsubscribe", config__dir_bridge, GLOBAL),
    WARNED("bridge_bind_address"),
    SPECIAL("bridge_max_packet_size", config__dir_bridge, GLOBAL),
    SPECIAL("bridge_outgoing_retain", config__dir_bridge, GLOBAL),
    SPECIAL("bridge_protocol_version", config__dir_bridge, GLOBAL),
    SPECIAL("bridge_alpn", config__dir_bridge, GLOBAL),
    SPECIAL("bridge_cafile", config__dir_bridge, GLOBAL),
    SPECIAL("bridge_capath", config__dir_bridge, GLOBAL),
    SPECIAL("bridge_certfile", config__dir_bridge, GLOBAL),
    REFUSED("bridge_identity"),
    SPECIAL("bridge_insecure", config__dir_bridge, GLOBAL),
    SPECIAL("bridge_keyfile", config__dir_bridge, GLOBAL),
    REFUSED("bridge_psk"),
    REFUSED("bridge_require_ocsp"),
    SPECIAL("bridge_tls_version", config__dir_bridge, GLOBAL),
    SPECIAL("cleansession", config__dir_bridge, GLOBAL),
    WARNED("local_cleansession"),
    SPECIAL("keepalive_interval", config__dir_bridge, GLOBAL),
    WARNED("idle_timeout"),
    SPECIAL("local_clientid", config__dir_bridge, GLOBAL),
    WARNED("local_password"),
    WARNED("local_username"),
    SPECIAL("notifications", config__dir_bridge, GLOBAL),
    SPECIAL("notifications_local_only", config__dir_bridge, GLOBAL),
    SPECIAL("notification_topic", config__dir_bridge, GLOBAL),
    SPECIAL("remote_clientid", config__dir_bridge, GLOBAL),
    SPECIAL("remote_password", config__dir_bridge, GLOBAL),
    SPECIAL("remote_username", config__dir_bridge, GLOBAL),
    SPECIAL("clientid", config__dir_bridge, GLOBAL),
    SPECIAL("username", config__dir_bridge, GLOBAL),
    SPECIAL("password", config__dir_bridge, GLOBAL),
    SPECIAL("restart_timeout", config__dir_bridge, GLOBAL),
    SPECIAL("round_robin", config__dir_bridge, GLOBAL),
    SPECIAL("start_type", config__dir_bridge, GLOBAL),
    WARNED("threshold"),
    SPECIAL("topic", config__dir_bridge, GLOBAL),
    SPECIAL("try_private", config__dir_bridge, GLOBAL),
};

const config_directive_t *config__find_directive(const char *name)
{
    size_t n = sizeof(config__directives) / sizeof(config__directives[0]);
    for (size_t i = 0; i < n; i++) {
        const char *dn = config__directives[i].name;
        size_t len = strlen(dn);
        if (len > 0 && dn[len - 1] == '*') {
            if (strncmp(name, dn, len - 1) == 0) {
                return &config__directives[i];
            }
        } else if (strcmp(name, dn) == 0) {
            return &config__directives[i];
        }
    }
    return NULL;
}

int config_directive_status(const char *name)
{
    const config_directive_t *d = config__find_directive(name);
    return d == NULL ? -1 : (int)d->status;
}
