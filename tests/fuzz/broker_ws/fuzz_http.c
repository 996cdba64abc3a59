/*
 * The plain HTTP side of websockets listeners (http_dir) on hostile bytes:
 * the request parser at every prefix length, then the path sanitizer on
 * the target it found and on the raw input. Checks: a parse never claims
 * more bytes than given and its target lies inside them; a sanitized path
 * is NUL-terminated within its buffer, relative (no leading '/'), has no
 * empty, "." or ".." segment and no control character, so opening it
 * under the served directory can only name something below it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/http_static.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static void check_path(const char *t, size_t len)
{
    char out[256];
    int rc = http_path_sanitize(t, len, out, sizeof out);
    if (rc != 0) {
        REQUIRE(rc == 400 || rc == 403);
        return;
    }
    size_t n = strnlen(out, sizeof out);
    REQUIRE(n < sizeof out);
    if (n == 0)
        return;
    REQUIRE(out[0] != '/' && out[n - 1] != '/');
    const char *p = out;
    while (*p) {
        size_t s = strcspn(p, "/");
        REQUIRE(s > 0);
        REQUIRE(!(s == 1 && p[0] == '.'));
        REQUIRE(!(s == 2 && p[0] == '.' && p[1] == '.'));
        for (size_t i = 0; i < s; i++)
            REQUIRE((unsigned char)p[i] >= 0x20 && p[i] != 0x7f);
        p += s;
        if (*p == '/')
            p++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t max = 64 + (size ? data[0] : 0) * 16u;
    for (size_t len = 0; len <= size; len += 1 + len / 8) {
        http_request_t r;
        int rc = http_parse_request(buf, len, max, &r);
        REQUIRE(rc == 0 || rc == -400 || rc == -431 || (rc > 0 && (size_t)rc <= len));
        if (rc > 0) {
            REQUIRE(r.target >= buf && r.target + r.target_len <= buf + rc);
            check_path(r.target, r.target_len);
        }
    }
    check_path(buf, size);
    return 0;
}
