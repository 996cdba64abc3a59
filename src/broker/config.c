/*
 * mosquitto.conf reader. The directives are one table (config_directives.c);
 * this file holds the line reader, the value parsers the table points to,
 * include_dir, and the Mosquitto 2.0 listener/anonymous rules.
 */
#include "broker/config.h"
#include "broker/config_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG__MAX_LINE         (64 * 1024)
#define CONFIG__MQTT_MAX_PAYLOAD 268435455u

static void config__security_init(config_security_t *s)
{
    memset(s, 0, sizeof(*s));
    s->allow_anonymous = -1;
    s->allow_zero_length_clientid = true;
}

static void config__security_free(config_security_t *s)
{
    free(s->password_file);
    free(s->acl_file);
    free(s->auto_id_prefix);
    config__security_init(s);
}

static void config__listener_init(config_listener_t *l)
{
    memset(l, 0, sizeof(*l));
    l->max_connections = -1;
    l->max_qos = 2;
    l->tls_version = CONFIG_TLS_V1_2;
    config__security_init(&l->security);
}

static void config__listener_free(config_listener_t *l)
{
    free(l->bind_address);
    free(l->mount_point);
    free(l->http_dir);
    free(l->cafile);
    free(l->capath);
    free(l->certfile);
    free(l->keyfile);
    free(l->crlfile);
    free(l->ciphers);
    free(l->ciphers_tls13);
    free(l->dhparamfile);
    free(l->file);
    config__security_free(&l->security);
    config__listener_init(l);
}

void config_init(config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    config__security_init(&cfg->security);
    cfg->max_inflight_messages = 20;
    cfg->max_queued_messages = 1000;
    cfg->max_keepalive = 65535;
    cfg->max_topic_alias = 10;
    cfg->retain_available = true;
    cfg->sys_interval = 10;
    cfg->autosave_interval = 1800;
    cfg->log_dest = CONFIG_LOG_DEST_STDERR;
    cfg->log_type =
        CONFIG_LOG_ERROR | CONFIG_LOG_WARNING | CONFIG_LOG_NOTICE | CONFIG_LOG_INFORMATION;
    cfg->log_timestamp = true;
    cfg->log_facility = -1;
    cfg->connection_messages = true;
}

void config_free(config_t *cfg)
{
    for (size_t i = 0; i < cfg->listener_count; i++) {
        config__listener_free(&cfg->listeners[i]);
    }
    free(cfg->listeners);
    config__security_free(&cfg->security);
    free(cfg->persistence_file);
    free(cfg->persistence_location);
    free(cfg->log_file);
    free(cfg->log_timestamp_format);
    free(cfg->pid_file);
    free(cfg->user);
    config__bridges_free(cfg);
    config_init(cfg);
}

const config_security_t *config_security_for(const config_t *cfg, const config_listener_t *listener)
{
    if (cfg->per_listener_settings && listener != NULL) {
        return &listener->security;
    }
    return &cfg->security;
}

/* ---- diagnostics ---------------------------------------------------------- */

int config__fail(config_parse_t *p, const char *fmt, ...)
{
    if (p->failed) {
        return -1;
    }
    p->failed = true;
    int n = 0;
    if (p->line > 0) {
        n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->line);
    } else {
        n = snprintf(p->err, p->errlen, "%s: ", p->file);
    }
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void config__warn(config_parse_t *p, const char *fmt, ...)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "%s:%d: warning: ", p->file, p->line);
    if (n < 0 || (size_t)n >= sizeof(msg)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    if (p->log != NULL) {
        p->log(p->log_ctx, CONFIG_WARNING, msg);
    } else {
        fprintf(stderr, "%s\n", msg);
    }
}

/* ---- tokens --------------------------------------------------------------- */

static bool config__is_blank(char c)
{
    return c == ' ' || c == '\t';
}

char *config__trim(char *s)
{
    while (config__is_blank(*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (config__is_blank(s[n - 1]) || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    return s;
}

char *config__next_token(char **rest)
{
    char *s = *rest;
    while (config__is_blank(*s)) {
        s++;
    }
    if (*s == '\0') {
        *rest = s;
        return NULL;
    }
    char *start = s;
    while (*s != '\0' && !config__is_blank(*s)) {
        s++;
    }
    if (*s != '\0') {
        *s++ = '\0';
    }
    *rest = s;
    return start;
}

/*
 * Mosquitto ignores whatever follows a scalar value; midge accepts only a
 * trailing comment there, so "max_connections 10 0" is an error, not 10.
 */
int config__expect_end(config_parse_t *p, const char *name, char *rest)
{
    char *extra = config__next_token(&rest);
    if (extra != NULL && extra[0] != '#') {
        return config__fail(p, "unexpected '%s' after the value of %s", extra, name);
    }
    return 0;
}

int config__one_value(config_parse_t *p, const char *name, char *args, char **value)
{
    char *rest = args;
    *value = config__next_token(&rest);
    if (*value == NULL) {
        return config__fail(p, "%s needs a value", name);
    }
    return config__expect_end(p, name, rest);
}

/* ---- value parsers the directive table points at ------------------------- */

int config__parse_bool(config_parse_t *p, const char *name, char *args, bool *out)
{
    char *v;
    if (config__one_value(p, name, args, &v) != 0) {
        return -1;
    }
    if (strcmp(v, "true") == 0) {
        *out = true;
    } else if (strcmp(v, "false") == 0) {
        *out = false;
    } else {
        return config__fail(p, "invalid %s value '%s' (expected true or false)", name, v);
    }
    return 0;
}

int config__parse_integer(config_parse_t *p, const char *name, char *args, long long min,
                          long long max, long long *out)
{
    char *v;
    if (config__one_value(p, name, args, &v) != 0) {
        return -1;
    }
    errno = 0;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
        return config__fail(p, "invalid %s value '%s' (expected an integer from %lld to %lld)",
                            name, v, min, max);
    }
    *out = n;
    return 0;
}

/* Absolute form of a path as Mosquitto would open it: from the working dir. */
static char *config__absolute(const char *path)
{
    if (path[0] == '/') {
        return strdup(path);
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return strdup(path);
    }
    size_t n = strlen(cwd) + 1 + strlen(path) + 1;
    char *out = malloc(n);
    if (out != NULL) {
        snprintf(out, n, "%s/%s", cwd, path);
    }
    return out;
}

int config__parse_string(config_parse_t *p, const char *name, char *args, char **out, bool is_path)
{
    char *v = config__trim(args);
    if (*v == '\0') {
        return config__fail(p, "empty %s value", name);
    }
    if (*out != NULL) {
        return config__fail(p, "duplicate %s value", name);
    }
    *out = is_path ? config__absolute(v) : strdup(v);
    if (*out == NULL) {
        return config__fail(p, "out of memory");
    }
    return 0;
}

/* ---- listeners ------------------------------------------------------------ */

config_listener_t *config__current_listener(config_parse_t *p)
{
    if (p->cfg->listener_count == 0) {
        p->default_used = true;
        return &p->default_listener;
    }
    return &p->cfg->listeners[p->cfg->listener_count - 1];
}

config_security_t *config__current_security(config_parse_t *p)
{
    p->security_touched = true;
    if (p->cfg->per_listener_settings) {
        return &config__current_listener(p)->security;
    }
    return &p->cfg->security;
}

int config__add_listener(config_parse_t *p, uint16_t port, const char *bind)
{
    config_t *cfg = p->cfg;
    config_listener_t *grown =
        realloc(cfg->listeners, (cfg->listener_count + 1) * sizeof(*cfg->listeners));
    if (grown == NULL) {
        return config__fail(p, "out of memory");
    }
    cfg->listeners = grown;
    config_listener_t *l = &cfg->listeners[cfg->listener_count];
    config__listener_init(l);
    l->port = port;
    l->line = p->line;
    l->file = strdup(p->file);
    l->bind_address = bind != NULL ? strdup(bind) : NULL;
    cfg->listener_count++;
    if (l->file == NULL || (bind != NULL && l->bind_address == NULL)) {
        return config__fail(p, "out of memory");
    }
    return 0;
}

/* ---- include_dir ordering ------------------------------------------------- */

/*
 * Mosquitto's documented include_dir order: letters compare case-blind
 * first, and on a tie the upper case letter comes first (A.conf, a.conf,
 * B.conf, b.conf); digits and the rest by byte value.
 */
int config__include_order(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        int ua = toupper((unsigned char)*a);
        int ub = toupper((unsigned char)*b);
        if (ua != ub) {
            return ua - ub;
        }
        if (*a != *b) {
            return (unsigned char)*a - (unsigned char)*b;
        }
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int config__include_cmp(const void *x, const void *y)
{
    return config__include_order(*(char *const *)x, *(char *const *)y);
}

static int config__read_file(config_parse_t *p, const char *path, int level);

int config__include_dir(config_parse_t *p, char *args)
{
    char *dir = config__trim(args);
    if (*dir == '\0') {
        return config__fail(p, "empty include_dir value");
    }
    if (p->level > 0) {
        config__warn(p, "include_dir is only read in the main configuration file; ignored");
        return 0;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        return config__fail(p, "cannot open include_dir '%s': %s", dir, strerror(errno));
    }
    char **names = NULL;
    size_t count = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".conf") != 0) {
            continue;
        }
        size_t plen = strlen(dir) + 1 + len + 1;
        char *full = malloc(plen);
        char **grown = realloc(names, (count + 1) * sizeof(*names));
        if (full == NULL || grown == NULL) {
            free(full);
            if (grown != NULL) {
                names = grown;
            }
            rc = config__fail(p, "out of memory");
            break;
        }
        names = grown;
        snprintf(full, plen, "%s/%s", dir, e->d_name);
        names[count++] = full;
    }
    closedir(d);
    /* Sort by the file name alone; every entry shares the directory prefix. */
    if (rc == 0 && count > 1) {
        qsort(names, count, sizeof(*names), config__include_cmp);
    }
    const char *saved_file = p->file;
    int saved_line = p->line;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = config__read_file(p, names[i], p->level + 1);
        p->file = saved_file;
        p->line = saved_line;
    }
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- the reader ----------------------------------------------------------- */

static int config__handle_line(config_parse_t *p, char *line)
{
    char *rest = line;
    char *name = config__next_token(&rest);
    if (name == NULL || name[0] == '#') {
        return 0;
    }
    const config_directive_t *d = config__find_directive(name);
    if (d == NULL) {
        return config__fail(p, "unknown configuration directive '%s'", name);
    }
    return d->handler(p, d, name, rest);
}

static int config__read_file(config_parse_t *p, const char *path, int level)
{
    p->file = path;
    p->line = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return config__fail(p, "cannot open: %s", strerror(errno));
    }
    int saved_level = p->level;
    p->level = level;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&buf, &cap, f)) >= 0) {
        p->line++;
        if ((size_t)n > CONFIG__MAX_LINE) {
            rc = config__fail(p, "line longer than %d bytes", CONFIG__MAX_LINE);
            break;
        }
        if ((size_t)n != strlen(buf)) {
            rc = config__fail(p, "NUL byte in line");
            break;
        }
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            buf[--n] = '\0';
        }
        rc = config__handle_line(p, buf);
    }
    if (rc == 0 && ferror(f)) {
        rc = config__fail(p, "read error");
    }
    free(buf);
    fclose(f);
    p->level = saved_level;
    return rc;
}

/* ---- Mosquitto 2.0 rules after reading ------------------------------------ */

static int config__dup_default(char **field, const char *value)
{
    if (*field == NULL) {
        *field = strdup(value);
        if (*field == NULL) {
            return -1;
        }
    }
    return 0;
}

static int config__check_listener(config_parse_t *p, config_listener_t *l)
{
    p->file = l->file != NULL ? l->file : p->main_file;
    p->line = l->line;
    if ((l->certfile == NULL) != (l->keyfile == NULL)) {
        return config__fail(p, "listener on port %u: certfile and keyfile must be given together",
                            l->port);
    }
    bool tls = l->certfile != NULL;
    if (tls && l->require_certificate && l->cafile == NULL && l->capath == NULL) {
        return config__fail(p, "listener on port %u: require_certificate needs cafile or capath",
                            l->port);
    }
    if (!tls &&
        (l->require_certificate || l->cafile != NULL || l->capath != NULL || l->crlfile != NULL ||
         l->ciphers != NULL || l->ciphers_tls13 != NULL || l->dhparamfile != NULL)) {
        return config__fail(
            p, "listener on port %u: TLS options given without certfile and keyfile", l->port);
    }
    if (l->http_dir != NULL && l->protocol != CONFIG_PROTOCOL_WEBSOCKETS) {
        config__warn(p,
                     "listener on port %u: http_dir only applies to websockets listeners; "
                     "ignored",
                     l->port);
    }
    if ((l->use_identity_as_username || l->use_subject_as_username) && !l->require_certificate) {
        return config__fail(p,
                            "listener on port %u: use_identity_as_username and "
                            "use_subject_as_username need require_certificate true",
                            l->port);
    }
    return 0;
}

static void config__settle_security(config_security_t *s, bool local_only)
{
    if (s->allow_anonymous < 0) {
        s->allow_anonymous = local_only ? 1 : 0;
    }
}

static int config__finish(config_parse_t *p)
{
    config_t *cfg = p->cfg;
    /* Options given before the first `listener` configure Mosquitto's
     * default listener, which exists only if one of them was given. */
    if (p->default_used) {
        config_listener_t *grown =
            realloc(cfg->listeners, (cfg->listener_count + 1) * sizeof(*cfg->listeners));
        if (grown == NULL) {
            config__listener_free(&p->default_listener);
            return config__fail(p, "out of memory");
        }
        cfg->listeners = grown;
        memmove(&cfg->listeners[1], &cfg->listeners[0],
                cfg->listener_count * sizeof(*cfg->listeners));
        cfg->listeners[0] = p->default_listener;
        config__listener_init(&p->default_listener);
        p->default_used = false;
        if (cfg->listeners[0].port == 0) {
            cfg->listeners[0].port = 1883;
        }
        cfg->listener_count++;
    }
    if (cfg->listener_count == 0) {
        if (config__add_listener(p, 1883, NULL) != 0) {
            return -1;
        }
        cfg->listeners[0].local_only = true;
        cfg->listeners[0].line = 0;
        cfg->local_only = true;
    }
    for (size_t i = 0; i < cfg->listener_count; i++) {
        config_listener_t *l = &cfg->listeners[i];
        if (config__check_listener(p, l) != 0) {
            return -1;
        }
        config__settle_security(&l->security, cfg->local_only);
        if (config__dup_default(&l->security.auto_id_prefix, "auto-") != 0) {
            return config__fail(p, "out of memory");
        }
    }
    config__settle_security(&cfg->security, cfg->local_only);
    if (config__dup_default(&cfg->security.auto_id_prefix, "auto-") != 0 ||
        config__dup_default(&cfg->persistence_file, "mosquitto.db") != 0 ||
        config__dup_default(&cfg->user, "mosquitto") != 0) {
        return config__fail(p, "out of memory");
    }
    return config__bridges_finish(p);
}

int config_load(config_t *cfg, const char *path, char *err, size_t errlen, config_log_fn log,
                void *log_ctx)
{
    config_init(cfg);
    config_parse_t p;
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    p.err = err;
    p.errlen = errlen;
    p.log = log;
    p.log_ctx = log_ctx;
    p.main_file = path;
    config__listener_init(&p.default_listener);
    if (errlen > 0) {
        err[0] = '\0';
    }
    int rc = config__read_file(&p, path, 0);
    if (rc == 0) {
        p.file = path;
        p.line = 0;
        rc = config__finish(&p);
    }
    config__listener_free(&p.default_listener);
    if (rc != 0) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

int config_load_default(config_t *cfg, uint16_t port)
{
    config_init(cfg);
    config_parse_t p;
    char err[64];
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    p.err = err;
    p.errlen = sizeof(err);
    p.file = "(defaults)";
    p.main_file = p.file;
    config__listener_init(&p.default_listener);
    if (config__finish(&p) != 0) {
        config_free(cfg);
        return -1;
    }
    if (port != 0) {
        cfg->listeners[0].port = port;
    }
    return 0;
}

int config_persistence_path(const config_t *cfg, char *buf, size_t len)
{
    const char *file = cfg->persistence_file != NULL ? cfg->persistence_file : "mosquitto.db";
    int n;
    if (cfg->persistence_location == NULL || cfg->persistence_location[0] == '\0') {
        n = snprintf(buf, len, "%s", file);
    } else {
        size_t l = strlen(cfg->persistence_location);
        const char *sep = cfg->persistence_location[l - 1] == '/' ? "" : "/";
        n = snprintf(buf, len, "%s%s%s", cfg->persistence_location, sep, file);
    }
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}
