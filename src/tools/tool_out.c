/* Message rendering for midge_sub and midge_rr (see tool_out.h). */
#include "tool_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool_cfg.h"

/* ---- buffer ---- */

static bool buf_reserve(tool_buf_t *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void tool_buf_put(tool_buf_t *b, const void *p, size_t n)
{
    if (n == 0 || !buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tool_buf_putc(tool_buf_t *b, char c)
{
    tool_buf_put(b, &c, 1);
}

void tool_buf_puts(tool_buf_t *b, const char *s)
{
    tool_buf_put(b, s, strlen(s));
}

void tool_buf_printf(tool_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0 || !buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void buf_fill(tool_buf_t *b, char c, long n)
{
    if (n <= 0 || !buf_reserve(b, (size_t)n))
        return;
    memset(b->data + b->len, c, (size_t)n);
    b->len += (size_t)n;
    b->data[b->len] = '\0';
}

void tool_buf_reset(tool_buf_t *b)
{
    b->len = 0;
    b->oom = false;
    if (b->data)
        b->data[0] = '\0';
}

void tool_buf_free(tool_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void tool_base64(tool_buf_t *b, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!buf_reserve(b, (n + 2) / 3 * 4))
        return;
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

/* ---- JSON writer ----
 * Compact, or --pretty in the layout of mosquitto_sub's cJSON output:
 * one member per line, tab-indented, a tab after the colon. */

typedef struct {
    tool_buf_t *b;
    bool pretty;
    int depth;
    bool first;
} jw_t;

static void jw_indent(jw_t *w)
{
    tool_buf_putc(w->b, '\n');
    buf_fill(w->b, '\t', w->depth);
}

static void jw_open(jw_t *w)
{
    tool_buf_putc(w->b, '{');
    w->depth++;
    w->first = true;
}

static void jw_close(jw_t *w)
{
    w->depth--;
    if (w->pretty)
        jw_indent(w);
    tool_buf_putc(w->b, '}');
    w->first = false;
}

static void jw_str(jw_t *w, const uint8_t *s, size_t n)
{
    tool_buf_putc(w->b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        const char *esc = NULL;
        char ubuf[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
                esc = ubuf;
            }
        }
        if (esc) {
            tool_buf_put(w->b, s + run, i - run);
            tool_buf_puts(w->b, esc);
            run = i + 1;
        }
    }
    tool_buf_put(w->b, s + run, n - run);
    tool_buf_putc(w->b, '"');
}

static void jw_key(jw_t *w, const char *k, size_t n)
{
    if (!w->first)
        tool_buf_putc(w->b, ',');
    w->first = false;
    if (w->pretty)
        jw_indent(w);
    jw_str(w, (const uint8_t *)k, n);
    tool_buf_putc(w->b, ':');
    if (w->pretty)
        tool_buf_putc(w->b, '\t');
}

static void jw_k(jw_t *w, const char *k)
{
    jw_key(w, k, strlen(k));
}

static void jw_kstr(jw_t *w, const char *k, const void *s, size_t n)
{
    jw_k(w, k);
    jw_str(w, s, n);
}

static void jw_kuint(jw_t *w, const char *k, unsigned long v)
{
    jw_k(w, k);
    tool_buf_printf(w->b, "%lu", v);
}

static void jw_sep(jw_t *w, size_t i)
{
    if (i)
        tool_buf_puts(w->b, w->pretty ? ", " : ",");
}

/* ---- JSON validation for %J ---- */

typedef struct {
    const uint8_t *p, *end;
} jr_t;

static void jr_ws(jr_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool jr_lit(jr_t *r, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n))
        return false;
    r->p += n;
    return true;
}

static bool jr_string(jr_t *r)
{
    if (r->p >= r->end || *r->p != '"')
        return false;
    r->p++;
    while (r->p < r->end) {
        uint8_t c = *r->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (r->p >= r->end)
                return false;
            c = *r->p++;
            if (c == 'u') {
                for (int k = 0; k < 4; k++, r->p++)
                    if (r->p >= r->end || !strchr("0123456789abcdefABCDEF", *r->p) || !*r->p)
                        return false;
            } else if (!strchr("\"\\/bfnrt", c) || !c) {
                return false;
            }
        }
    }
    return false;
}

static bool jr_digits(jr_t *r)
{
    const uint8_t *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > s;
}

static bool jr_number(jr_t *r)
{
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++;
    else if (!jr_digits(r))
        return false;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (!jr_digits(r))
            return false;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!jr_digits(r))
            return false;
    }
    return true;
}

static bool jr_value(jr_t *r, int depth)
{
    if (depth > 512)
        return false;
    jr_ws(r);
    if (r->p >= r->end)
        return false;
    switch (*r->p) {
    case '{':
        r->p++;
        jr_ws(r);
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            return true;
        }
        for (;;) {
            jr_ws(r);
            if (!jr_string(r))
                return false;
            jr_ws(r);
            if (r->p >= r->end || *r->p++ != ':')
                return false;
            if (!jr_value(r, depth + 1))
                return false;
            jr_ws(r);
            if (r->p >= r->end)
                return false;
            if (*r->p == '}') {
                r->p++;
                return true;
            }
            if (*r->p++ != ',')
                return false;
        }
    case '[':
        r->p++;
        jr_ws(r);
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            return true;
        }
        for (;;) {
            if (!jr_value(r, depth + 1))
                return false;
            jr_ws(r);
            if (r->p >= r->end)
                return false;
            if (*r->p == ']') {
                r->p++;
                return true;
            }
            if (*r->p++ != ',')
                return false;
        }
    case '"':
        return jr_string(r);
    case 't':
        return jr_lit(r, "true");
    case 'f':
        return jr_lit(r, "false");
    case 'n':
        return jr_lit(r, "null");
    default:
        return jr_number(r);
    }
}

bool tool_json_valid(const uint8_t *p, size_t n)
{
    jr_t r = {p, p + n};
    if (!jr_value(&r, 0))
        return false;
    jr_ws(&r);
    return r.p == r.end;
}

/* ---- %j / %J: mosquitto_sub's JSON ---- */

static bool has(const mqtt_props_t *p, uint8_t id)
{
    return p && MQTT_PROP_HAS(p, id);
}

static bool any_props(const mqtt_props_t *p)
{
    return p && (p->present || p->user_count || p->sub_id_count);
}

static void tst(tool_buf_t *b, const struct tm *tm, long ns)
{
    char buf[64];
    char zone[16];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", tm);
    strftime(zone, sizeof zone, "%z", tm);
    /* mosquitto_sub writes microseconds, then "Z", then the offset. */
    tool_buf_printf(b, "%s.%06ldZ%s", buf, ns / 1000, zone);
}

/* One property of %j's "properties" object, under mosquitto_sub's name. */
static void mosq_prop(jw_t *w, const mqtt_props_t *p, uint8_t id)
{
    switch (id) {
    case MQTT_PROP_USER_PROPERTY:
        if (!p->user_count || !p->user)
            return;
        jw_k(w, "user-properties");
        jw_open(w);
        for (size_t i = 0; i < p->user_count; i++) {
            jw_key(w, (const char *)p->user[i].key.data, p->user[i].key.len);
            jw_str(w, p->user[i].value.data, p->user[i].value.len);
        }
        jw_close(w);
        return;
    case MQTT_PROP_SUBSCRIPTION_IDENTIFIER:
        if (p->sub_id_count && p->sub_ids)
            jw_kuint(w, "subscription-identifier", p->sub_ids[0]);
        return;
    default:
        break;
    }
    if (!has(p, id))
        return;
    switch (id) {
    case MQTT_PROP_CONTENT_TYPE:
        jw_kstr(w, "content-type", p->content_type.data, p->content_type.len);
        break;
    case MQTT_PROP_CORRELATION_DATA:
        jw_kstr(w, "correlation-data", p->correlation_data.data, p->correlation_data.len);
        break;
    case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
        jw_kuint(w, "payload-format-indicator", p->payload_format_indicator);
        break;
    case MQTT_PROP_RESPONSE_TOPIC:
        jw_kstr(w, "response-topic", p->response_topic.data, p->response_topic.len);
        break;
    case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL:
        jw_kuint(w, "message-expiry-interval", p->message_expiry_interval);
        break;
    case MQTT_PROP_TOPIC_ALIAS:
        jw_kuint(w, "topic-alias", p->topic_alias);
        break;
    default:
        break;
    }
}

static unsigned hex4(const uint8_t *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* A validated JSON string body (between the quotes) decoded and written
 * again with jw_str's escaping, as cJSON does: "\u00e9" comes out as the
 * UTF-8 bytes of e-acute, "\/" as "/". */
static void jc_string(jw_t *w, const uint8_t *p, const uint8_t *end)
{
    tool_buf_t d = {0};
    while (p < end) {
        if (*p != '\\') {
            tool_buf_putc(&d, (char)*p++);
            continue;
        }
        p++;
        uint8_t c = *p++;
        switch (c) {
        case 'b':
            tool_buf_putc(&d, '\b');
            break;
        case 'f':
            tool_buf_putc(&d, '\f');
            break;
        case 'n':
            tool_buf_putc(&d, '\n');
            break;
        case 'r':
            tool_buf_putc(&d, '\r');
            break;
        case 't':
            tool_buf_putc(&d, '\t');
            break;
        case 'u': {
            unsigned cp = hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = hex4(p + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            char u[4];
            size_t n;
            if (cp < 0x80) {
                u[0] = (char)cp;
                n = 1;
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | cp >> 6);
                u[1] = (char)(0x80 | (cp & 0x3F));
                n = 2;
            } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | cp >> 12);
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                n = 3;
            } else {
                u[0] = (char)(0xF0 | cp >> 18);
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                n = 4;
            }
            tool_buf_put(&d, u, n);
            break;
        }
        default:
            tool_buf_putc(&d, (char)c);
            break; /* " \\ / */
        }
    }
    jw_str(w, (const uint8_t *)(d.data ? d.data : ""), d.len);
    tool_buf_free(&d);
}

/* Re-emits a payload already accepted by tool_json_valid() in the
 * writer's layout, as mosquitto_sub's %J does (it parses the payload and
 * prints it again): compact, or indented with --pretty. Numbers are
 * copied as written. */
static void jc_value(jw_t *w, jr_t *r)
{
    jr_ws(r);
    if (r->p >= r->end)
        return;
    const uint8_t *s = r->p;
    if (*r->p == '{') {
        r->p++;
        jr_ws(r);
        jw_open(w);
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            jw_close(w);
            return;
        }
        while (r->p < r->end) {
            jr_ws(r);
            const uint8_t *k = r->p;
            if (!jr_string(r))
                return;
            if (!w->first)
                tool_buf_putc(w->b, ',');
            w->first = false;
            if (w->pretty)
                jw_indent(w);
            tool_buf_put(w->b, k, (size_t)(r->p - k));
            tool_buf_putc(w->b, ':');
            if (w->pretty)
                tool_buf_putc(w->b, '\t');
            jr_ws(r);
            r->p++; /* ':' */
            jc_value(w, r);
            jr_ws(r);
            if (r->p >= r->end || *r->p++ == '}')
                break;
        }
        jw_close(w);
    } else if (*r->p == '[') {
        r->p++;
        tool_buf_putc(w->b, '[');
        w->depth++; /* cJSON indents objects inside arrays one level more */
        jr_ws(r);
        if (r->p < r->end && *r->p == ']') {
            r->p++;
        } else {
            for (size_t i = 0; r->p < r->end; i++) {
                jw_sep(w, i);
                jc_value(w, r);
                jr_ws(r);
                if (r->p >= r->end || *r->p++ == ']')
                    break;
            }
        }
        w->depth--;
        tool_buf_putc(w->b, ']');
        w->first = false;
    } else if (*r->p == '"') {
        if (jr_string(r))
            jc_string(w, s + 1, r->p - 1);
    } else {
        while (r->p < r->end && !strchr(",]} \t\r\n", *r->p))
            r->p++;
        tool_buf_put(w->b, s, (size_t)(r->p - s));
    }
}

static void mosq_json(tool_buf_t *out, const tool_msg_t *m, const struct tm *tm, long ns,
                      bool escaped, bool pretty)
{
    static const uint8_t default_order[] = {
        MQTT_PROP_USER_PROPERTY,           MQTT_PROP_CONTENT_TYPE,
        MQTT_PROP_CORRELATION_DATA,        MQTT_PROP_PAYLOAD_FORMAT_INDICATOR,
        MQTT_PROP_RESPONSE_TOPIC,          MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
        MQTT_PROP_SUBSCRIPTION_IDENTIFIER, MQTT_PROP_TOPIC_ALIAS,
    };
    jw_t w = {out, pretty, 0, true};
    tool_buf_t t = {0};
    const mqtt_props_t *p = m->props;
    jw_open(&w);
    tst(&t, tm, ns);
    jw_kstr(&w, "tst", t.data ? t.data : "", t.len);
    tool_buf_free(&t);
    jw_kstr(&w, "topic", m->topic, m->topic_len);
    jw_kuint(&w, "qos", (unsigned long)m->qos);
    jw_kuint(&w, "retain", m->retain ? 1 : 0);
    jw_kuint(&w, "payloadlen", m->payload_len);
    if (m->qos > 0)
        jw_kuint(&w, "mid", m->mid);
    if (any_props(p)) {
        /* mosquitto_sub lists them in the order they came on the wire. */
        const uint8_t *order = m->prop_order ? m->prop_order : default_order;
        size_t n = m->prop_order ? m->prop_order_len : sizeof default_order;
        jw_k(&w, "properties");
        jw_open(&w);
        for (size_t i = 0; i < n; i++)
            mosq_prop(&w, p, order[i]);
        jw_close(&w);
    }
    jw_k(&w, "payload");
    if (m->payload_len == 0) {
        tool_buf_puts(out, "null");
    } else if (escaped) {
        jw_str(&w, m->payload, m->payload_len);
    } else {
        jr_t r = {m->payload, m->payload + m->payload_len};
        jc_value(&w, &r);
    }
    jw_close(&w);
}

/* ---- --json: midge's own, binary-safe ---- */

static void kbytes(jw_t *w, const char *key, const char *enc_key, const uint8_t *s, size_t n)
{
    bool text = tool_utf8_valid(s, n);
    jw_k(w, key);
    if (text) {
        jw_str(w, s, n);
    } else {
        tool_buf_putc(w->b, '"');
        tool_base64(w->b, s, n);
        tool_buf_putc(w->b, '"');
    }
    if (enc_key)
        jw_kstr(w, enc_key, text ? "utf8" : "base64", text ? 4 : 6);
}

static void midge_json(tool_buf_t *out, const tool_msg_t *m, bool pretty)
{
    jw_t w = {out, pretty, 0, true};
    const mqtt_props_t *p = m->props;
    jw_open(&w);
    jw_kstr(&w, "topic", m->topic, m->topic_len);
    jw_kuint(&w, "qos", (unsigned long)m->qos);
    jw_k(&w, "retain");
    tool_buf_puts(out, m->retain ? "true" : "false");
    if (m->qos > 0)
        jw_kuint(&w, "mid", m->mid);
    jw_kuint(&w, "payloadlen", m->payload_len);
    if (any_props(p)) {
        jw_k(&w, "properties");
        jw_open(&w);
        if (has(p, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR))
            jw_kuint(&w, "payload-format-indicator", p->payload_format_indicator);
        if (has(p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL))
            jw_kuint(&w, "message-expiry-interval", p->message_expiry_interval);
        if (has(p, MQTT_PROP_CONTENT_TYPE))
            jw_kstr(&w, "content-type", p->content_type.data, p->content_type.len);
        if (has(p, MQTT_PROP_RESPONSE_TOPIC))
            jw_kstr(&w, "response-topic", p->response_topic.data, p->response_topic.len);
        if (has(p, MQTT_PROP_CORRELATION_DATA))
            kbytes(&w, "correlation-data", "correlation-data-encoding", p->correlation_data.data,
                   p->correlation_data.len);
        if (has(p, MQTT_PROP_TOPIC_ALIAS))
            jw_kuint(&w, "topic-alias", p->topic_alias);
        if (p->sub_id_count && p->sub_ids) {
            jw_k(&w, "subscription-identifiers");
            tool_buf_putc(out, '[');
            for (size_t i = 0; i < p->sub_id_count; i++) {
                jw_sep(&w, i);
                tool_buf_printf(out, "%lu", (unsigned long)p->sub_ids[i]);
            }
            tool_buf_putc(out, ']');
        }
        if (p->user_count && p->user) {
            /* An array of pairs: keys may repeat and order matters. */
            jw_k(&w, "user-properties");
            tool_buf_putc(out, '[');
            for (size_t i = 0; i < p->user_count; i++) {
                jw_sep(&w, i);
                tool_buf_putc(out, '[');
                jw_str(&w, p->user[i].key.data, p->user[i].key.len);
                jw_sep(&w, 1);
                jw_str(&w, p->user[i].value.data, p->user[i].value.len);
                tool_buf_putc(out, ']');
            }
            tool_buf_putc(out, ']');
        }
        jw_close(&w);
    }
    kbytes(&w, "payload", NULL, m->payload, m->payload_len);
    jw_kstr(&w, "payload_encoding", tool_utf8_valid(m->payload, m->payload_len) ? "utf8" : "base64",
            tool_utf8_valid(m->payload, m->payload_len) ? 4 : 6);
    jw_close(&w);
}

/* ---- -F ---- */

typedef struct {
    char align; /* '-' or 0 */
    char pad;   /* '0' or ' ' */
    long width;
    long precision; /* -1: none */
} spec_t;

static void put_int(tool_buf_t *b, unsigned long v, const spec_t *s)
{
    if (s->width == 0)
        tool_buf_printf(b, "%lu", v);
    else if (s->align == '-')
        tool_buf_printf(b, "%-*lu", (int)s->width, v);
    else if (s->pad == '0')
        tool_buf_printf(b, "%0*lu", (int)s->width, v);
    else
        tool_buf_printf(b, "%*lu", (int)s->width, v);
}

static void put_str(tool_buf_t *b, const void *p, size_t n, const spec_t *s)
{
    if (s->precision >= 0 && n > (size_t)s->precision)
        n = (size_t)s->precision;
    long padn = s->width - (long)n;
    if (s->align != '-')
        buf_fill(b, ' ', padn);
    tool_buf_put(b, p, n);
    if (s->align == '-')
        buf_fill(b, ' ', padn);
}

/* The payload as %p, %x or %X print it: a field width also caps the
 * payload (in hex, to width/2 bytes), as mosquitto_sub does. */
static void put_payload(tool_buf_t *b, const tool_msg_t *m, int hex, const spec_t *s)
{
    size_t n = m->payload_len;
    long padn;
    if (s->width > 0) {
        if (n > (size_t)s->width)
            n = (size_t)s->width;
        if (hex) {
            n /= 2;
            padn = s->width - (long)n * 2;
        } else {
            padn = s->width - (long)n;
        }
    } else {
        padn = 0;
    }
    if (s->align != '-')
        buf_fill(b, s->pad, padn);
    if (!hex) {
        tool_buf_put(b, m->payload, n);
    } else {
        static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
        const char *d = hex == 1 ? lo : up;
        if (buf_reserve(b, n * 2)) {
            for (size_t i = 0; i < n; i++) {
                b->data[b->len++] = d[m->payload[i] >> 4];
                b->data[b->len++] = d[m->payload[i] & 15];
            }
            b->data[b->len] = '\0';
        }
    }
    if (s->align == '-')
        buf_fill(b, ' ', padn);
}

static void percent(tool_buf_t *out, tool_buf_t *err, const tool_out_opts_t *o, const tool_msg_t *m,
                    const struct tm *tm, long ns, long long secs, char c, const spec_t *s)
{
    const mqtt_props_t *p = m->props;
    char buf[128];
    switch (c) {
    case '%':
        tool_buf_putc(out, '%');
        break;
    case 'A':
        if (has(p, MQTT_PROP_TOPIC_ALIAS))
            put_int(out, p->topic_alias, s);
        else
            buf_fill(out, s->pad, s->width);
        break;
    case 'C':
        if (has(p, MQTT_PROP_CONTENT_TYPE))
            put_str(out, p->content_type.data, p->content_type.len, s);
        else
            buf_fill(out, ' ', s->width);
        break;
    case 'D':
        if (has(p, MQTT_PROP_CORRELATION_DATA))
            tool_buf_put(out, p->correlation_data.data, p->correlation_data.len);
        break;
    case 'E':
        if (has(p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL))
            put_int(out, p->message_expiry_interval, s);
        else
            buf_fill(out, s->pad, s->width);
        break;
    case 'F':
        if (has(p, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR))
            put_int(out, p->payload_format_indicator, s);
        else
            buf_fill(out, s->pad, s->width);
        break;
    case 'I': {
        size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", tm);
        if (n)
            put_str(out, buf, n, s);
        else
            buf_fill(out, ' ', s->width);
        break;
    }
    case 'j':
    case 'J':
        if (c == 'J' && m->payload_len && !tool_json_valid(m->payload, m->payload_len)) {
            tool_buf_printf(err, "Error: Message payload is not valid JSON on topic %.*s.\n",
                            (int)m->topic_len, m->topic);
            break;
        }
        mosq_json(out, m, tm, ns, c == 'j', o->pretty);
        break;
    case 'l':
        put_int(out, m->payload_len, s);
        break;
    case 'm':
        put_int(out, m->mid, s);
        break;
    case 'P':
        if (p && p->user) {
            for (size_t i = 0; i < p->user_count; i++) {
                if (i)
                    tool_buf_putc(out, ' ');
                tool_buf_put(out, p->user[i].key.data, p->user[i].key.len);
                tool_buf_putc(out, ':');
                tool_buf_put(out, p->user[i].value.data, p->user[i].value.len);
            }
        }
        break;
    case 'p':
        put_payload(out, m, 0, s);
        break;
    case 'q':
        tool_buf_putc(out, (char)('0' + m->qos));
        break;
    case 'R':
        if (has(p, MQTT_PROP_RESPONSE_TOPIC))
            put_str(out, p->response_topic.data, p->response_topic.len, s);
        break;
    case 'r':
        tool_buf_putc(out, m->retain ? '1' : '0');
        break;
    case 'S':
        if (p && p->sub_id_count && p->sub_ids)
            put_int(out, p->sub_ids[0], s);
        else
            buf_fill(out, s->pad, s->width);
        break;
    case 't':
        put_str(out, m->topic, m->topic_len, s);
        break;
    case 'U':
        tool_buf_printf(out, "%lld.%09ld", secs, ns);
        break;
    case 'x':
        put_payload(out, m, 1, s);
        break;
    case 'X':
        put_payload(out, m, 2, s);
        break;
    default:
        break; /* refused by tool_format_check() */
    }
}

static void formatted(tool_buf_t *out, tool_buf_t *err, const tool_out_opts_t *o,
                      const tool_msg_t *m, const struct timespec *now)
{
    const char *f = o->format;
    size_t len = strlen(f);
    struct tm tm;
    time_t secs = now->tv_sec;
    localtime_r(&secs, &tm);
    long ns = now->tv_nsec;

    for (size_t i = 0; i < len; i++) {
        char c = f[i];
        if (c == '%') {
            spec_t s = {0, ' ', 0, -1};
            if (++i >= len)
                break;
            if (f[i] == '-') {
                s.align = '-';
                if (++i >= len)
                    break;
            }
            if (f[i] == '0') {
                s.pad = '0';
                if (++i >= len)
                    break;
            }
            while (i < len && f[i] >= '0' && f[i] <= '9' && s.width <= 65535)
                s.width = s.width * 10 + (f[i++] - '0');
            if (i < len && f[i] == '.') {
                s.precision = 0;
                i++;
                while (i < len && f[i] >= '0' && f[i] <= '9' && s.precision <= 65535)
                    s.precision = s.precision * 10 + (f[i++] - '0');
            }
            if (i >= len)
                break;
            percent(out, err, o, m, &tm, ns, (long long)secs, f[i], &s);
        } else if (c == '@') {
            if (++i >= len)
                break;
            if (f[i] == '@') {
                tool_buf_putc(out, '@');
            } else if (f[i] == 'N') {
                tool_buf_printf(out, "%09ld", ns);
            } else {
                char sf[3] = {'%', f[i], '\0'};
                char buf[128];
                size_t n = strftime(buf, sizeof buf, sf, &tm);
                tool_buf_put(out, buf, n);
            }
        } else if (c == '\\') {
            if (++i >= len)
                break;
            switch (f[i]) {
            case '\\':
                tool_buf_putc(out, '\\');
                break;
            case '0':
                tool_buf_putc(out, '\0');
                break;
            case 'a':
                tool_buf_putc(out, '\a');
                break;
            case 'e':
                tool_buf_putc(out, '\033');
                break;
            case 'n':
                tool_buf_putc(out, '\n');
                break;
            case 'r':
                tool_buf_putc(out, '\r');
                break;
            case 't':
                tool_buf_putc(out, '\t');
                break;
            case 'v':
                tool_buf_putc(out, '\v');
                break;
            default:
                break;
            }
        } else {
            tool_buf_putc(out, c);
        }
    }
    if (o->eol)
        tool_buf_putc(out, '\n');
}

void tool_render(tool_buf_t *out, tool_buf_t *err, const tool_out_opts_t *o, const tool_msg_t *m,
                 const struct timespec *now)
{
    if (o->json) {
        midge_json(out, m, o->pretty);
        tool_buf_putc(out, '\n');
    } else if (o->format) {
        formatted(out, err, o, m, now);
    } else if (o->verbose) {
        /* mosquitto_sub -v prints an empty payload as "(null)". */
        if (m->payload_len) {
            tool_buf_put(out, m->topic, m->topic_len);
            tool_buf_putc(out, ' ');
            tool_buf_put(out, m->payload, m->payload_len);
            if (o->eol)
                tool_buf_putc(out, '\n');
        } else if (o->eol) {
            tool_buf_put(out, m->topic, m->topic_len);
            tool_buf_puts(out, " (null)\n");
        }
    } else if (m->payload_len) {
        tool_buf_put(out, m->payload, m->payload_len);
        if (o->eol)
            tool_buf_putc(out, '\n');
    }
}
