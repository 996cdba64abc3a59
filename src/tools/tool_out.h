/*
 * Rendering received messages: payload only, -v, -F format strings
 * (mosquitto_sub's specifiers, flags, widths, @strftime and \escapes), and
 * midge's --json. Everything renders into a growable buffer so tests can
 * compare bytes; the time is passed in so output is reproducible.
 */
#ifndef MIDGE_TOOL_OUT_H
#define MIDGE_TOOL_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mqtt/mqtt.h"

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool oom; /* an append failed; data holds what fitted */
} tool_buf_t;

void tool_buf_put(tool_buf_t *b, const void *p, size_t n);
void tool_buf_putc(tool_buf_t *b, char c);
void tool_buf_puts(tool_buf_t *b, const char *s);
void tool_buf_printf(tool_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tool_buf_free(tool_buf_t *b);
void tool_buf_reset(tool_buf_t *b);

/* RFC 4648 base64 with padding. */
void tool_base64(tool_buf_t *b, const uint8_t *p, size_t n);

/*
 * A received message as the printers see it. `props` is NULL for MQTT
 * v3; for v5 its repeating properties must be given as arrays
 * (props->user / props->sub_ids), not as a raw block.
 */
typedef struct {
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    int qos;
    bool retain;
    unsigned mid;
    const mqtt_props_t *props;
    /* Property ids in the order they arrived (each id once), so %j lists
     * them as mosquitto_sub does; NULL for a fixed order. */
    const uint8_t *prop_order;
    size_t prop_order_len;
} tool_msg_t;

typedef struct {
    const char *format; /* -F, or NULL */
    bool verbose;       /* -v */
    bool eol;           /* false with -N */
    bool pretty;        /* --pretty */
    bool json;          /* --json */
} tool_out_opts_t;

/*
 * Appends the rendering of one message to out. Problems that affect one
 * message only (%J with a payload that is not JSON) are appended to err
 * as a line, and the rest is still rendered, as mosquitto_sub does.
 */
void tool_render(tool_buf_t *out, tool_buf_t *err, const tool_out_opts_t *o, const tool_msg_t *m,
                 const struct timespec *now);

/* True if p is one complete JSON value (surrounding whitespace allowed).
 * Nesting deeper than 512 levels is refused rather than recursed into. */
bool tool_json_valid(const uint8_t *p, size_t n);

#endif
