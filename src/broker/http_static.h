/*
 * Static files on websockets listeners with http_dir (Mosquitto serves
 * them through libwebsockets): a plain HTTP GET or HEAD that is not a
 * WebSocket upgrade gets a file from the directory, anything else a short
 * error, and the connection closes after the response. The request parser
 * and the path sanitizer are pure functions (unit-tested and fuzzed);
 * http_open is the only part that touches the file system.
 */
#ifndef MIDGE_BROKER_HTTP_STATIC_H
#define MIDGE_BROKER_HTTP_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest relative path http_path_sanitize produces, NUL included. */
#define HTTP_PATH_MAX 1024u

typedef enum { HTTP_GET, HTTP_HEAD, HTTP_OTHER } http_method_t;

typedef struct {
    http_method_t method;
    const char *target; /* the request-target, inside the parsed buffer */
    size_t target_len;
    bool upgrade; /* an Upgrade header field is present: a WebSocket attempt */
} http_request_t;

/* Whether buf (len bytes so far) can begin a request line: an upper-case
 * method of at most 16 letters, then a space. */
bool http_plausible_start(const char *buf, size_t len);

/*
 * Parses a request head (request line and header fields) at the start of
 * buf. Returns its length through the empty line, 0 if more bytes are
 * needed, -400 if it is malformed, -431 if no empty line comes within max
 * bytes.
 */
int http_parse_request(const char *buf, size_t len, size_t max, http_request_t *req);

/*
 * Turns a request-target into a path relative to the served directory:
 * the query and fragment are dropped, %XX is decoded, empty and "."
 * segments are skipped, so the result never starts with '/' and is ""
 * for the root. Returns 0, or the HTTP status to answer: 400 for a
 * target that is not an absolute path ("http://...", "*"), a bad or NUL
 * escape, a control character or a path longer than cap; 403 for a ".."
 * segment (whether written plainly or escaped).
 */
int http_path_sanitize(const char *target, size_t len, char *out, size_t cap);

/* The Content-Type for a file name, by its extension (case-blind);
 * application/octet-stream for anything unknown. */
const char *http_content_type(const char *name);

/*
 * Opens rel (from http_path_sanitize) under dir for reading, one
 * component at a time relative to the previous one and never following a
 * symbolic link, so nothing outside dir is reached whatever the path or a
 * concurrent change to the tree. A directory gives its index.html when
 * the request named it with a trailing slash (slash; the root always),
 * else -302 so the client's relative links resolve inside it. Returns the
 * descriptor of a regular file, its size and its Content-Type, or minus
 * an HTTP status: 302 (see above), 404 (missing), 403 (a symbolic link, a
 * directory without index.html, not a regular file, no permission), 500.
 */
int http_open(const char *dir, const char *rel, bool slash, uint64_t *size, const char **type);

/* Whether a request-target's path (before any '?' or '#') ends with '/'. */
bool http_target_has_slash(const char *target, size_t len);

/* A 302 to the target's path with '/' added (query kept, fragment
 * dropped); returns its length, 0 if cap is too small (len + 256 bytes
 * always suffice). target must be a parsed request-target (no controls,
 * no spaces). */
size_t http_redirect_response(const char *target, size_t len, char *buf, size_t cap);

/* A complete short response for an error status (400, 403, 404, 405,
 * 431, 500), with a text body and Connection: close; returns its length,
 * 0 if cap is too small (512 bytes always suffice). */
size_t http_error_response(int status, char *buf, size_t cap);

/* The head of a 200 response; returns its length, 0 if cap is too small
 * (512 bytes always suffice). */
size_t http_ok_head(const char *type, uint64_t length, char *buf, size_t cap);

#endif
