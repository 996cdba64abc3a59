/*
 * A slow, obviously-correct UTF-8 check written from the rules, code point
 * by code point, to test mqtt_utf8_valid (and its fast path) against.
 */
#ifndef MIDGE_TEST_UTF8_REF_H
#define MIDGE_TEST_UTF8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static bool utf8_ref_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], min;
        size_t extra;
        if (c < 0x80) {
            extra = 0;
            min = 0;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            c &= 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            c &= 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            c &= 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= extra)
            return false;
        for (size_t j = 1; j <= extra; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (s[i + j] & 0x3Fu);
        }
        if (c < min || c > 0x10FFFF)
            return false; /* overlong or out of range */
        if (c >= 0xD800 && c <= 0xDFFF)
            return false; /* surrogate */
        if (c <= 0x1F || (c >= 0x7F && c <= 0x9F))
            return false; /* U+0000 and control characters */
        if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE)
            return false; /* non-characters */
        i += extra + 1;
    }
    return true;
}

#endif
