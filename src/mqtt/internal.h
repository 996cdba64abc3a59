/*
 * Internal helpers of the codec: the bounded reader and writer every
 * decoder and encoder goes through. Not part of the public API.
 */
#ifndef MIDGE_MQTT_INTERNAL_H
#define MIDGE_MQTT_INTERNAL_H

#include "mqtt/mqtt.h"

#include <string.h>

/* ---- Reader: every call checks against end and can fail ---- */

static inline size_t mqtt__left(const mqtt_reader_t *r)
{
    return (size_t)(r->end - r->pos);
}

static inline mqtt_err_t mqtt__read_u8(mqtt_reader_t *r, uint8_t *v)
{
    if (r->pos >= r->end)
        return MQTT_ERR_TRUNCATED;
    *v = *r->pos++;
    return MQTT_OK;
}

static inline mqtt_err_t mqtt__read_u16(mqtt_reader_t *r, uint16_t *v)
{
    if (mqtt__left(r) < 2)
        return MQTT_ERR_TRUNCATED;
    *v = (uint16_t)((r->pos[0] << 8) | r->pos[1]);
    r->pos += 2;
    return MQTT_OK;
}

static inline mqtt_err_t mqtt__read_u32(mqtt_reader_t *r, uint32_t *v)
{
    if (mqtt__left(r) < 4)
        return MQTT_ERR_TRUNCATED;
    *v = ((uint32_t)r->pos[0] << 24) | ((uint32_t)r->pos[1] << 16) | ((uint32_t)r->pos[2] << 8) |
         (uint32_t)r->pos[3];
    r->pos += 4;
    return MQTT_OK;
}

/* A variable byte integer inside a packet: running out of bytes is a
 * truncated field, not a reason to wait for more, and a non-minimal form
 * (a last byte of 0 after a continuation) is refused as the spec demands
 * and Mosquitto does. */
static inline mqtt_err_t mqtt__read_varint(mqtt_reader_t *r, uint32_t *v)
{
    size_t used;
    mqtt_err_t err = mqtt_varint_decode(r->pos, mqtt__left(r), v, &used);
    if (err == MQTT_ERR_NEED_MORE)
        return MQTT_ERR_TRUNCATED;
    if (err != MQTT_OK)
        return err;
    if (used > 1 && r->pos[used - 1] == 0)
        return MQTT_ERR_VARINT;
    r->pos += used;
    return MQTT_OK;
}

/* Two-byte length followed by that many bytes. */
static inline mqtt_err_t mqtt__read_binary(mqtt_reader_t *r, mqtt_bytes_t *out)
{
    uint16_t len;
    mqtt_err_t err = mqtt__read_u16(r, &len);
    if (err != MQTT_OK)
        return err;
    if (mqtt__left(r) < len)
        return MQTT_ERR_TRUNCATED;
    out->data = r->pos;
    out->len = len;
    r->pos += len;
    return MQTT_OK;
}

static inline mqtt_err_t mqtt__read_string(mqtt_reader_t *r, mqtt_bytes_t *out)
{
    mqtt_err_t err = mqtt__read_binary(r, out);
    if (err != MQTT_OK)
        return err;
    return mqtt_utf8_valid(out->data, out->len) ? MQTT_OK : MQTT_ERR_UTF8;
}

/* ---- Writer: bounded too; a write past end sets `overflow` ---- */

typedef struct {
    uint8_t *pos;
    uint8_t *end;
    bool overflow;
} mqtt__writer_t;

static inline void mqtt__write_u8(mqtt__writer_t *w, uint8_t v)
{
    if (w->pos >= w->end) {
        w->overflow = true;
        return;
    }
    *w->pos++ = v;
}

static inline void mqtt__write_u16(mqtt__writer_t *w, uint16_t v)
{
    if ((size_t)(w->end - w->pos) < 2) {
        w->overflow = true;
        return;
    }
    w->pos[0] = (uint8_t)(v >> 8);
    w->pos[1] = (uint8_t)v;
    w->pos += 2;
}

static inline void mqtt__write_u32(mqtt__writer_t *w, uint32_t v)
{
    if ((size_t)(w->end - w->pos) < 4) {
        w->overflow = true;
        return;
    }
    w->pos[0] = (uint8_t)(v >> 24);
    w->pos[1] = (uint8_t)(v >> 16);
    w->pos[2] = (uint8_t)(v >> 8);
    w->pos[3] = (uint8_t)v;
    w->pos += 4;
}

static inline void mqtt__write_varint(mqtt__writer_t *w, uint32_t v)
{
    size_t n = mqtt_varint_size(v);
    if (n == 0 || (size_t)(w->end - w->pos) < n) {
        w->overflow = true;
        return;
    }
    w->pos += mqtt_varint_encode(v, w->pos);
}

static inline void mqtt__write_raw(mqtt__writer_t *w, const uint8_t *data, size_t len)
{
    if ((size_t)(w->end - w->pos) < len) {
        w->overflow = true;
        return;
    }
    if (len)
        memcpy(w->pos, data, len);
    w->pos += len;
}

/* Length-prefixed string or binary data; the caller checked len <= 65535. */
static inline void mqtt__write_binary(mqtt__writer_t *w, mqtt_bytes_t b)
{
    mqtt__write_u16(w, (uint16_t)b.len);
    mqtt__write_raw(w, b.data, b.len);
}

/* ---- Shared between decode.c and encode.c (props.c) ---- */

/* Reads a property length and block, validating every property for ctx;
 * fills p, which the caller has zeroed (raw points at the block, without
 * its length). */
mqtt_err_t mqtt__props_decode(mqtt_reader_t *r, mqtt_props_context_t ctx, mqtt_props_t *p);
/* Checks that p can be encoded in ctx (allowed ids, value ranges, string
 * lengths) and gives the block's size, as mqtt_props_size would. */
bool mqtt__props_check(const mqtt_props_t *p, mqtt_props_context_t ctx, size_t *size);
/* Writes the property length and block (size from mqtt_props_size). */
void mqtt__props_encode(mqtt__writer_t *w, const mqtt_props_t *p, size_t size);
/* Property length prefix plus block. */
size_t mqtt__props_wire_size(const mqtt_props_t *p);

#endif
