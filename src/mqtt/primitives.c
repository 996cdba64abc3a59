/* Wire primitives: variable byte integers, UTF-8 validation and the fixed
 * header. */
#include "internal.h"

mqtt_err_t mqtt_varint_decode(const uint8_t *buf, size_t len, uint32_t *value, size_t *used)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i >= len)
            return MQTT_ERR_NEED_MORE;
        v |= (uint32_t)(buf[i] & 0x7Fu) << (7 * i);
        if (!(buf[i] & 0x80u)) {
            *value = v;
            *used = i + 1;
            return MQTT_OK;
        }
    }
    return MQTT_ERR_VARINT;
}

size_t mqtt_varint_size(uint32_t value)
{
    if (value < 128u)
        return 1;
    if (value < 16384u)
        return 2;
    if (value < 2097152u)
        return 3;
    if (value <= MQTT_VARINT_MAX)
        return 4;
    return 0;
}

size_t mqtt_varint_encode(uint32_t value, uint8_t *buf)
{
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(value & 0x7Fu);
        value >>= 7;
        if (value)
            b |= 0x80u;
        buf[n++] = b;
    } while (value && n < 4);
    return n;
}

/*
 * RFC 3629 well-formedness (no overlong forms, no UTF-16 surrogates, nothing
 * above U+10FFFF) plus MQTT's rules: no U+0000, and, where the spec lets a
 * receiver choose, Mosquitto's choice: control characters U+0001..U+001F
 * and U+007F..U+009F and the Unicode non-characters are refused too.
 */
/* True if all 8 bytes at p are printable ASCII (0x20..0x7E). A word-wide
 * test: a set high bit flags a byte >= 0x7F or < 0x20. Carries and borrows
 * between bytes can only add flags where a real one exists, so "none
 * flagged" is exact. */
static inline bool ascii8_printable(const uint8_t *p)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t high_or_del = (w | (w + ones)) & highs;
    uint64_t below_space = (w - 0x20 * ones) & ~w & highs;
    return (high_or_del | below_space) == 0;
}

bool mqtt_utf8_valid(const uint8_t *s, size_t len)
{
    const uint8_t *p = s, *end = s + len;
    while (p < end) {
        if ((size_t)(end - p) >= 8) {
            if (ascii8_printable(p)) {
                p += 8;
                continue;
            }
        } else if (len >= 8 && ascii8_printable(end - 8)) {
            /* The last word, overlapping what is already checked, covers
             * the short tail from this character boundary on. */
            return true;
        }
        uint8_t c = *p;
        if (c >= 0x20 && c < 0x7F) {
            p++;
            continue;
        }
        size_t left = (size_t)(end - p);
        if (c >= 0xC2 && c <= 0xDF) {
            if (left < 2 || (p[1] & 0xC0) != 0x80)
                return false;
            if (c == 0xC2 && p[1] < 0xA0) /* U+0080..U+009F */
                return false;
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
                return false;
            if (c == 0xE0 && p[1] < 0xA0) /* overlong */
                return false;
            if (c == 0xED && p[1] >= 0xA0) /* U+D800..U+DFFF */
                return false;
            if (c == 0xEF && p[1] == 0xB7 && p[2] >= 0x90 && p[2] <= 0xAF) /* U+FDD0..U+FDEF */
                return false;
            if (c == 0xEF && p[1] == 0xBF && p[2] >= 0xBE) /* U+FFFE, U+FFFF */
                return false;
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
                return false;
            if (c == 0xF0 && p[1] < 0x90) /* overlong */
                return false;
            if (c == 0xF4 && p[1] >= 0x90) /* above U+10FFFF */
                return false;
            if ((p[1] & 0x0F) == 0x0F && p[2] == 0xBF && p[3] >= 0xBE) /* U+xFFFE, U+xFFFF */
                return false;
            p += 4;
        } else {
            /* U+0000 and other C0 controls, DEL, a stray continuation byte,
             * C0/C1 overlong leads, F5 and above. */
            return false;
        }
    }
    return true;
}

mqtt_err_t mqtt_fixed_header_decode(const uint8_t *buf, size_t len, mqtt_fixed_header_t *fh)
{
    if (len < 2)
        return MQTT_ERR_NEED_MORE;
    uint32_t remaining;
    size_t used;
    mqtt_err_t err = mqtt_varint_decode(buf + 1, len - 1, &remaining, &used);
    if (err != MQTT_OK)
        return err;
    fh->type = (uint8_t)(buf[0] >> 4);
    fh->flags = (uint8_t)(buf[0] & 0x0Fu);
    fh->header_len = (uint8_t)(1 + used);
    fh->remaining = remaining;
    return MQTT_OK;
}
