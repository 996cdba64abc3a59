/*
 * Shared by config.c (reader, value parsers) and config_directives.c (the
 * table). Not for the rest of the broker: use config.h.
 */
#ifndef MIDGE_BROKER_CONFIG_INTERNAL_H
#define MIDGE_BROKER_CONFIG_INTERNAL_H

#include "broker/config.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct config_parse {
    config_t *cfg;
    config_listener_t default_listener; /* options before the first `listener` */
    bool default_used;
    bool security_touched; /* for "per_listener_settings must come first" */
    bool log_dest_set;     /* the first log_dest/log_type replaces the default */
    bool log_type_set;
    const char *main_file;
    const char *file;
    int line;
    int level; /* 0: main file; 1: a file of include_dir */
    bool failed;
    char *err;
    size_t errlen;
    config_log_fn log;
    void *log_ctx;
} config_parse_t;

/* Where a directive's field lives. */
typedef enum {
    CONFIG_SCOPE_GLOBAL,   /* config_t */
    CONFIG_SCOPE_LISTENER, /* the listener being configured (or the default one) */
    CONFIG_SCOPE_SECURITY  /* config_security_t: global or per listener */
} config_scope_t;

typedef enum {
    CONFIG_KIND_NONE,
    CONFIG_KIND_BOOL,
    CONFIG_KIND_INT, /* int */
    CONFIG_KIND_U16,
    CONFIG_KIND_U32,
    CONFIG_KIND_U64,
    CONFIG_KIND_STRING,
    CONFIG_KIND_PATH /* string made absolute against the working directory */
} config_kind_t;

typedef struct config_directive config_directive_t;

typedef int (*config_handler_fn)(config_parse_t *p, const config_directive_t *d, const char *name,
                                 char *args);

struct config_directive {
    const char *name; /* a trailing '*' matches a prefix (auth_opt_*) */
    config_handler_fn handler;
    config_scope_t scope;
    size_t offset;
    config_kind_t kind;
    long long min, max; /* integer range */
    config_status_t status;
};

const config_directive_t *config__find_directive(const char *name);

int config__fail(config_parse_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void config__warn(config_parse_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *config__trim(char *s);
char *config__next_token(char **rest);
int config__expect_end(config_parse_t *p, const char *name, char *rest);
int config__one_value(config_parse_t *p, const char *name, char *args, char **value);
int config__parse_bool(config_parse_t *p, const char *name, char *args, bool *out);
int config__parse_integer(config_parse_t *p, const char *name, char *args, long long min,
                          long long max, long long *out);
int config__parse_string(config_parse_t *p, const char *name, char *args, char **out, bool is_path);
config_listener_t *config__current_listener(config_parse_t *p);
config_security_t *config__current_security(config_parse_t *p);
int config__add_listener(config_parse_t *p, uint16_t port, const char *bind);
int config__include_dir(config_parse_t *p, char *args);
int config__include_order(const char *a, const char *b);

/* Bridges (bridge_config.c). */
int config__dir_bridge(config_parse_t *p, const config_directive_t *d, const char *name,
                       char *args);
int config__bridges_finish(config_parse_t *p);
void config__bridges_free(config_t *cfg);

#endif
