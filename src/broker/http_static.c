#include "http_static.h"
#include "ws.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- request ---- */

#define METHOD_MAX 16

bool http_plausible_start(const char *buf, size_t len)
{
    for (size_t i = 0; i < len && i <= METHOD_MAX; i++) {
        if (buf[i] == ' ')
            return i > 0;
        if (buf[i] < 'A' || buf[i] > 'Z')
            return false;
    }
    return len <= METHOD_MAX;
}

int http_parse_request(const char *buf, size_t len, size_t max, http_request_t *req)
{
    if (!http_plausible_start(buf, len))
        return -400;
    size_t total = ws_http_head_len(buf, len, max);
    if (!total)
        return len >= max ? -431 : 0;

    memset(req, 0, sizeof *req);
    const char *end = buf + total - 2; /* the final empty line's CRLF */
    const char *line_end = ws_http_find_crlf(buf, end + 2);
    const char *sp = memchr(buf, ' ', (size_t)(line_end - buf));
    if (!sp)
        return -400;
    size_t mlen = (size_t)(sp - buf);
    req->method = mlen == 3 && memcmp(buf, "GET", 3) == 0    ? HTTP_GET
                  : mlen == 4 && memcmp(buf, "HEAD", 4) == 0 ? HTTP_HEAD
                                                             : HTTP_OTHER;
    const char *target = sp + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(line_end - target));
    if (!sp2 || sp2 == target)
        return -400;
    for (const char *p = target; p < sp2; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -400;
    const char *ver = sp2 + 1;
    if (line_end - ver != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || ver[7] < '0' || ver[7] > '9')
        return -400;
    req->target = target;
    req->target_len = (size_t)(sp2 - target);

    const char *p = line_end + 2;
    while (p < end) {
        const char *e = ws_http_find_crlf(p, end + 2);
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (!colon || colon == p)
            return -400; /* also refuses obsolete line folding */
        for (const char *q = p; q < colon; q++)
            if (!ws_http_tchar(*q))
                return -400;
        for (const char *q = colon + 1; q < e; q++)
            if (*q == '\0' || *q == '\r' || *q == '\n')
                return -400;
        if (ws_http_ieq(p, (size_t)(colon - p), "upgrade"))
            req->upgrade = true;
        p = e + 2;
    }
    return (int)total;
}

/* ---- path ---- */

static int hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int http_path_sanitize(const char *target, size_t len, char *out, size_t cap)
{
    if (cap == 0)
        return 400;
    if (len == 0 || target[0] != '/')
        return 400;
    size_t o = 0;   /* bytes written to out */
    size_t seg = 0; /* where the current segment starts in out */
    for (size_t i = 0; i <= len; i++) {
        char ch;
        bool sep;
        if (i == len || target[i] == '?' || target[i] == '#') {
            ch = '/';
            sep = true;
            i = len; /* the query and fragment are not part of the path */
        } else if (target[i] == '%') {
            int hi = i + 2 < len ? hex(target[i + 1]) : -1;
            int lo = hi >= 0 ? hex(target[i + 2]) : -1;
            if (lo < 0)
                return 400;
            ch = (char)(hi * 16 + lo);
            i += 2;
            sep = ch == '/';
        } else {
            ch = target[i];
            sep = ch == '/';
        }
        if (ch == '\0' || (unsigned char)ch < 0x20 || ch == 0x7f)
            return 400;
        if (!sep) {
            if (o + 1 >= cap)
                return 400;
            out[o++] = ch;
            continue;
        }
        /* The end of a segment: out[seg..o) holds it. */
        size_t n = o - seg;
        if (n == 2 && out[seg] == '.' && out[seg + 1] == '.')
            return 403;
        if (n == 0 || (n == 1 && out[seg] == '.')) {
            o = seg; /* empty or "." segment: nothing */
        } else {
            /* Room is certain: a character is only added with one byte to
             * spare, and the last '/' becomes the NUL. */
            out[o++] = '/';
            seg = o;
        }
    }
    if (o > 0)
        o--; /* the separator after the last segment */
    out[o] = '\0';
    return 0;
}

const char *http_content_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"png", "image/png"},
        {"svg", "image/svg+xml"},
        {"json", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"ico", "image/x-icon"},
    };
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (ws_http_ieq(dot + 1, strlen(dot + 1), types[i].ext))
                return types[i].type;
    }
    return "application/octet-stream";
}

/* ---- files ---- */

static int errno_status(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case ELOOP: /* O_NOFOLLOW met a symbolic link */
    case EACCES:
    case EPERM:
    case ENXIO: /* a socket or a FIFO without a writer */
        return 403;
    default:
        return 500;
    }
}

/* O_NONBLOCK: opening a FIFO or a device never blocks the worker; only a
 * regular file is ever read, after fstat. */
#define OPEN_FILE (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

bool http_target_has_slash(const char *target, size_t len)
{
    size_t n = 0;
    while (n < len && target[n] != '?' && target[n] != '#')
        n++;
    return n > 0 && target[n - 1] == '/';
}

size_t http_redirect_response(const char *target, size_t len, char *buf, size_t cap)
{
    size_t path = 0;
    while (path < len && target[path] != '?' && target[path] != '#')
        path++;
    size_t query = path;
    while (query < len && target[query] != '#')
        query++;
    int n = snprintf(buf, cap,
                     "HTTP/1.1 302 Found\r\n"
                     "Location: %.*s/%.*s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: 6\r\n"
                     "Connection: close\r\n"
                     "\r\n"
                     "Found\n",
                     (int)path, target, (int)(query - path), target + path);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int http_open(const char *dir, const char *rel, bool slash, uint64_t *size, const char **type)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno_status(errno);
    const char *name = "index.html";
    char comp[256];
    const char *p = rel;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n >= sizeof comp) {
            close(dfd);
            return -404;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        bool last = *p == '\0';
        if (!last)
            p++;
        int fd =
            openat(dfd, comp, last ? OPEN_FILE : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(dfd);
        if (fd < 0)
            return -errno_status(e);
        dfd = fd;
        name = rel;
    }
    struct stat st;
    if (fstat(dfd, &st) != 0) {
        close(dfd);
        return -500;
    }
    if (S_ISDIR(st.st_mode) && !slash && *rel) {
        close(dfd);
        return -302;
    }
    if (S_ISDIR(st.st_mode)) {
        /* No listings: a directory is served only through its index. */
        int fd = openat(dfd, "index.html", OPEN_FILE);
        int e = errno;
        close(dfd);
        if (fd < 0)
            return e == ENOENT ? -403 : -errno_status(e);
        dfd = fd;
        name = "index.html";
        if (fstat(dfd, &st) != 0) {
            close(dfd);
            return -500;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        close(dfd);
        return -403;
    }
    *size = (uint64_t)st.st_size;
    *type = http_content_type(name);
    return dfd;
}

/* ---- responses ---- */

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Internal Server Error";
    }
}

size_t http_error_response(int status, char *buf, size_t cap)
{
    if (status != 400 && status != 403 && status != 404 && status != 405 && status != 431)
        status = 500;
    const char *r = reason(status);
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Connection: close\r\n"
                     "\r\n"
                     "%s\n",
                     status, r, strlen(r) + 1, status == 405 ? "Allow: GET, HEAD\r\n" : "", r);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t http_ok_head(const char *type, uint64_t length, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %llu\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Connection: close\r\n"
                     "\r\n",
                     type, (unsigned long long)length);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
