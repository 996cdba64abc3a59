/* -D / --property parsing and -F format checking (see tool_cfg.h). */
#include "tool_cfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define C(cmd) (1u << (cmd))

/* Which packets a client may attach each property to. Properties only a
 * server sends (assigned-client-identifier, maximum-qos, ...) have no
 * client packet and are refused with a message naming the packet. */
typedef struct {
    const char *name;
    uint8_t id;
    tool_prop_type_t type;
    unsigned cmds;
} prop_def_t;

static const prop_def_t prop_defs[] = {
    {"payload-format-indicator", 0x01, TOOL_PT_BYTE, C(TOOL_CMD_PUBLISH) | C(TOOL_CMD_WILL)},
    {"message-expiry-interval", 0x02, TOOL_PT_INT32, C(TOOL_CMD_PUBLISH) | C(TOOL_CMD_WILL)},
    {"content-type", 0x03, TOOL_PT_STRING, C(TOOL_CMD_PUBLISH) | C(TOOL_CMD_WILL)},
    {"response-topic", 0x08, TOOL_PT_STRING, C(TOOL_CMD_PUBLISH) | C(TOOL_CMD_WILL)},
    {"correlation-data", 0x09, TOOL_PT_BINARY, C(TOOL_CMD_PUBLISH) | C(TOOL_CMD_WILL)},
    {"subscription-identifier", 0x0B, TOOL_PT_VARINT, C(TOOL_CMD_SUBSCRIBE)},
    {"session-expiry-interval", 0x11, TOOL_PT_INT32, C(TOOL_CMD_CONNECT) | C(TOOL_CMD_DISCONNECT)},
    {"assigned-client-identifier", 0x12, TOOL_PT_STRING, 0},
    {"server-keep-alive", 0x13, TOOL_PT_INT16, 0},
    {"authentication-method", 0x15, TOOL_PT_STRING, C(TOOL_CMD_CONNECT) | C(TOOL_CMD_AUTH)},
    {"authentication-data", 0x16, TOOL_PT_BINARY, C(TOOL_CMD_CONNECT) | C(TOOL_CMD_AUTH)},
    {"request-problem-information", 0x17, TOOL_PT_BYTE, C(TOOL_CMD_CONNECT)},
    {"will-delay-interval", 0x18, TOOL_PT_INT32, C(TOOL_CMD_WILL)},
    {"request-response-information", 0x19, TOOL_PT_BYTE, C(TOOL_CMD_CONNECT)},
    {"response-information", 0x1A, TOOL_PT_STRING, 0},
    {"server-reference", 0x1C, TOOL_PT_STRING, C(TOOL_CMD_DISCONNECT)},
    {"reason-string", 0x1F, TOOL_PT_STRING,
     C(TOOL_CMD_PUBACK) | C(TOOL_CMD_PUBREC) | C(TOOL_CMD_PUBREL) | C(TOOL_CMD_PUBCOMP) |
         C(TOOL_CMD_DISCONNECT) | C(TOOL_CMD_AUTH)},
    {"receive-maximum", 0x21, TOOL_PT_INT16, C(TOOL_CMD_CONNECT)},
    {"topic-alias-maximum", 0x22, TOOL_PT_INT16, C(TOOL_CMD_CONNECT)},
    {"topic-alias", 0x23, TOOL_PT_INT16, C(TOOL_CMD_PUBLISH)},
    {"maximum-qos", 0x24, TOOL_PT_BYTE, 0},
    {"retain-available", 0x25, TOOL_PT_BYTE, 0},
    {"user-property", 0x26, TOOL_PT_PAIR, 0xffffffffu},
    {"maximum-packet-size", 0x27, TOOL_PT_INT32, C(TOOL_CMD_CONNECT)},
    {"wildcard-subscription-available", 0x28, TOOL_PT_BYTE, 0},
    {"subscription-identifier-available", 0x29, TOOL_PT_BYTE, 0},
    {"shared-subscription-available", 0x2A, TOOL_PT_BYTE, 0},
};

static const char *const cmd_names[TOOL_CMD_COUNT] = {
    "CONNECT",   "PUBLISH",     "PUBACK",     "PUBREC", "PUBREL", "PUBCOMP",
    "SUBSCRIBE", "UNSUBSCRIBE", "DISCONNECT", "AUTH",   "WILL",
};

const char *tool_cmd_name(tool_cmd_t cmd)
{
    return (unsigned)cmd < TOOL_CMD_COUNT ? cmd_names[cmd] : "?";
}

const char *tool_prop_name(uint8_t id)
{
    for (size_t i = 0; i < sizeof prop_defs / sizeof prop_defs[0]; i++)
        if (prop_defs[i].id == id)
            return prop_defs[i].name;
    return NULL;
}

static int perr(tool_cfg_t *cfg, const char *msg, const char *a, const char *b)
{
    snprintf(cfg->err, sizeof cfg->err, msg, a, b);
    cfg->err_usage_hint = true;
    return TOOL_EXIT_USAGE;
}

int tool_prop_parse(tool_cfg_t *cfg, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        return perr(cfg, "Error: --property argument given but not enough arguments specified.",
                    NULL, NULL);
    const char *cmd_s = argv[*i];
    const char *name = argv[*i + 1];
    int cmd = -1;
    for (int c = 0; c < TOOL_CMD_COUNT; c++)
        if (!strcasecmp(cmd_s, cmd_names[c]))
            cmd = c;
    if (cmd < 0)
        return perr(cfg,
                    "Error: Invalid command '%s' given in --property argument (use CONNECT, "
                    "PUBLISH, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, WILL, ...).",
                    cmd_s, NULL);
    const prop_def_t *def = NULL;
    for (size_t k = 0; k < sizeof prop_defs / sizeof prop_defs[0]; k++)
        if (!strcasecmp(name, prop_defs[k].name))
            def = &prop_defs[k];
    if (!def)
        return perr(cfg, "Error: Invalid property name '%s' given in --property argument.", name,
                    NULL);
    if (!(def->cmds & C(cmd)))
        return perr(cfg, "Error: %s property not allowed for %s in --property argument.", def->name,
                    cmd_names[cmd]);
    int need = def->type == TOOL_PT_PAIR ? 3 : 2;
    if (*i + need >= argc)
        return perr(cfg, "Error: --property argument given but not enough arguments specified.",
                    NULL, NULL);

    tool_prop_t p = {.cmd = (tool_cmd_t)cmd, .id = def->id, .type = def->type};
    const char *value = argv[*i + 2];
    switch (def->type) {
    case TOOL_PT_BYTE:
    case TOOL_PT_INT16:
    case TOOL_PT_INT32:
    case TOOL_PT_VARINT: {
        unsigned long max = def->type == TOOL_PT_BYTE    ? 0xffUL
                            : def->type == TOOL_PT_INT16 ? 0xffffUL
                            : def->type == TOOL_PT_INT32 ? 0xffffffffUL
                                                         : 268435455UL;
        char *end;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-' || v > max)
            return perr(cfg, "Error: Property value (%s) out of range for property %s.", value,
                        def->name);
        /* Values the specification forbids, caught here rather than by a
         * broker that would close the connection. */
        if ((def->id == 0x01 || def->id == 0x17 || def->id == 0x19) && v > 1)
            return perr(cfg, "Error: Property value (%s) out of range for property %s.", value,
                        def->name);
        if ((def->id == 0x21 || def->id == 0x27 || def->id == 0x0B || def->id == 0x23) && v == 0)
            return perr(cfg, "Error: Property value (%s) out of range for property %s.", value,
                        def->name);
        p.value = (uint32_t)v;
        break;
    }
    case TOOL_PT_STRING:
    case TOOL_PT_BINARY:
        if (strlen(value) > 65535)
            return perr(cfg, "Error: Property value for %s longer than 65535 bytes.%s", def->name,
                        "");
        if (def->type == TOOL_PT_STRING && !tool_utf8_valid((const uint8_t *)value, strlen(value)))
            return perr(cfg, "Error: Malformed UTF-8 in %s property.%s", def->name, "");
        if (def->id == 0x08 && !tool_topic_pub_valid(value))
            return perr(cfg, "Error: Invalid response topic '%s', does it contain '+' or '#'?",
                        value, NULL);
        p.str = value;
        break;
    case TOOL_PT_PAIR:
        p.str = value;
        p.str2 = argv[*i + 3];
        if (strlen(p.str) > 65535 || strlen(p.str2) > 65535)
            return perr(cfg, "Error: Property value for %s longer than 65535 bytes.%s", def->name,
                        "");
        if (!tool_utf8_valid((const uint8_t *)p.str, strlen(p.str)) ||
            !tool_utf8_valid((const uint8_t *)p.str2, strlen(p.str2)))
            return perr(cfg, "Error: Malformed UTF-8 in %s property.%s", def->name, "");
        break;
    }
    if (def->type != TOOL_PT_PAIR) {
        /* Only user properties (and subscription identifiers, one per
         * SUBSCRIBE here) may repeat. */
        for (size_t k = 0; k < cfg->prop_count; k++)
            if (cfg->props[k].cmd == p.cmd && cfg->props[k].id == p.id)
                return perr(cfg, "Error: Duplicate %s property for %s in --property argument.",
                            def->name, cmd_names[cmd]);
    }
    tool_prop_t *n = realloc(cfg->props, (cfg->prop_count + 1) * sizeof *n);
    if (!n)
        return perr(cfg, "Error: Out of memory.", NULL, NULL);
    n[cfg->prop_count++] = p;
    cfg->props = n;
    *i += need;
    return 0;
}

#define FMT_WIDTH_MAX 65535

int tool_format_check(const char *fmt, char *err, size_t errlen)
{
    size_t len = strlen(fmt);
    for (size_t i = 0; i < len; i++) {
        if (fmt[i] == '%') {
            i++;
            if (i < len && fmt[i] == '-')
                i++;
            if (i < len && fmt[i] == '0')
                i++;
            unsigned long w = 0;
            while (i < len && fmt[i] >= '0' && fmt[i] <= '9') {
                w = w * 10 + (unsigned long)(fmt[i++] - '0');
                if (w > FMT_WIDTH_MAX) {
                    snprintf(err, errlen, "Error: Field width in format larger than %d.",
                             FMT_WIDTH_MAX);
                    return 1;
                }
            }
            if (i < len && fmt[i] == '.') {
                i++;
                w = 0;
                while (i < len && fmt[i] >= '0' && fmt[i] <= '9') {
                    w = w * 10 + (unsigned long)(fmt[i++] - '0');
                    if (w > FMT_WIDTH_MAX) {
                        snprintf(err, errlen, "Error: Precision in format larger than %d.",
                                 FMT_WIDTH_MAX);
                        return 1;
                    }
                }
            }
            if (i >= len) {
                snprintf(err, errlen, "Error: Incomplete format specifier.");
                return 1;
            }
            if (!strchr("%ACDEFIjJlmPpqRrStUxX", fmt[i]) || fmt[i] == '\0') {
                snprintf(err, errlen, "Error: Invalid format specifier '%c'.", fmt[i]);
                return 1;
            }
        } else if (fmt[i] == '@') {
            if (i == len - 1) {
                snprintf(err, errlen, "Error: Incomplete format specifier.");
                return 1;
            }
            i++;
        } else if (fmt[i] == '\\') {
            if (i == len - 1) {
                snprintf(err, errlen, "Error: Incomplete escape specifier.");
                return 1;
            }
            i++;
            if (!strchr("\\0aenrtv", fmt[i])) {
                snprintf(err, errlen, "Error: Invalid escape specifier '%c'.", fmt[i]);
                return 1;
            }
        }
    }
    return 0;
}
