/* The HTTP side of websockets listeners (src/broker/http_static.c): the
 * request parser, the path sanitizer that keeps requests inside http_dir,
 * content types, and http_open on a real directory tree. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/http_static.h"
#include "test.h"

static int sanitize(const char *target, char *out)
{
    return http_path_sanitize(target, strlen(target), out, HTTP_PATH_MAX);
}

#define CHECK_PATH(target, want)                                                                   \
    do {                                                                                           \
        char out_[HTTP_PATH_MAX];                                                                  \
        CHECK_EQ_INT(sanitize(target, out_), 0);                                                   \
        CHECK(strcmp(out_, want) == 0);                                                            \
    } while (0)

TEST(path_plain_and_root)
{
    CHECK_PATH("/", "");
    CHECK_PATH("/index.html", "index.html");
    CHECK_PATH("/js/app.js", "js/app.js");
    CHECK_PATH("/dir/", "dir");
    CHECK_PATH("//a///b//", "a/b");
    CHECK_PATH("/a/./b/.", "a/b");
    CHECK_PATH("/./", "");
    CHECK_PATH("/...", "...");
    CHECK_PATH("/.well-known/x", ".well-known/x");
    CHECK_PATH("/a..b/c..", "a..b/c..");
}

TEST(path_query_and_fragment_dropped)
{
    CHECK_PATH("/a.html?x=1", "a.html");
    CHECK_PATH("/a.html?../../etc/passwd", "a.html");
    CHECK_PATH("/a.html#../..", "a.html");
    CHECK_PATH("/?", "");
    CHECK_PATH("/a%3Fb", "a?b"); /* an escaped '?' is part of the name */
}

TEST(path_percent_decoding)
{
    CHECK_PATH("/hello%20world.txt", "hello world.txt");
    CHECK_PATH("/%41%62c", "Abc");
    CHECK_PATH("/a%2Fb", "a/b");
    /* An escaped slash at the start does not make the path absolute. */
    CHECK_PATH("/%2Fetc/passwd", "etc/passwd");
    CHECK_PATH("/%2f%2fetc", "etc");
    CHECK_PATH("/%c3%a9.txt", "\xc3\xa9.txt");
}

TEST(path_traversal_refused)
{
    char out[HTTP_PATH_MAX];
    const char *bad[] = {"/..",          "/../",      "/../etc/passwd", "/a/../b",
                         "/a/b/../../c", "/%2e%2e",   "/%2E%2e/x",      "/.%2e/x",
                         "/%2e./x",      "/..%2fetc", "/a%2f..%2fb",    "/a/%2e%2e%2f%2e%2e/x",
                         "//../x",       "/./../x",   "/a/..?x",        "/a/..#x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(sanitize(bad[i], out), 403);
}

TEST(path_malformed_refused)
{
    char out[HTTP_PATH_MAX];
    const char *bad[] = {"",         "a.html", "*",        "http://host/a", "\\a",  "/%00",
                         "/a%00.js", "/a%0a",  "/a%0d%0a", "/%7f",          "/%zz", "/%2",
                         "/%",       "/a%g0",  "/a\tb",    "/a\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(sanitize(bad[i], out), 400);
    /* NUL in the middle of the raw bytes (length given). */
    CHECK_EQ_INT(http_path_sanitize("/a\0b", 4, out, sizeof out), 400);
}

TEST(path_length_bounded)
{
    char target[3000];
    char out[64];
    target[0] = '/';
    memset(target + 1, 'a', sizeof target - 2);
    target[sizeof target - 1] = '\0';
    CHECK_EQ_INT(http_path_sanitize(target, strlen(target), out, sizeof out), 400);
    /* Exactly filling the buffer (63 bytes and the NUL) fits. */
    target[64] = '\0';
    CHECK_EQ_INT(http_path_sanitize(target, strlen(target), out, sizeof out), 0);
    CHECK(strlen(out) == 63);
    target[65] = '\0';
    target[64] = 'a';
    CHECK_EQ_INT(http_path_sanitize(target, strlen(target), out, sizeof out), 400);
    CHECK_EQ_INT(http_path_sanitize("/a", 2, out, 0), 400);
}

TEST(content_types)
{
    CHECK(strcmp(http_content_type("index.html"), "text/html; charset=utf-8") == 0);
    CHECK(strcmp(http_content_type("A.HTM"), "text/html; charset=utf-8") == 0);
    CHECK(strcmp(http_content_type("js/liveview.js"), "text/javascript; charset=utf-8") == 0);
    CHECK(strcmp(http_content_type("s.css"), "text/css; charset=utf-8") == 0);
    CHECK(strcmp(http_content_type("i.png"), "image/png") == 0);
    CHECK(strcmp(http_content_type("i.svg"), "image/svg+xml") == 0);
    CHECK(strcmp(http_content_type("d.json"), "application/json") == 0);
    CHECK(strcmp(http_content_type("r.txt"), "text/plain; charset=utf-8") == 0);
    CHECK(strcmp(http_content_type("favicon.ico"), "image/x-icon") == 0);
    CHECK(strcmp(http_content_type("a.tar.gz"), "application/octet-stream") == 0);
    CHECK(strcmp(http_content_type("README"), "application/octet-stream") == 0);
    CHECK(strcmp(http_content_type(".png"), "application/octet-stream") == 0);
    CHECK(strcmp(http_content_type("x.html/file"), "application/octet-stream") == 0);
    CHECK(strcmp(http_content_type("x.htmlx"), "application/octet-stream") == 0);
}

static int parse(const char *s, http_request_t *r)
{
    return http_parse_request(s, strlen(s), 8192, r);
}

TEST(request_methods_and_target)
{
    http_request_t r;
    const char *get = "GET /a.html?x HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK_EQ_INT(parse(get, &r), (int)strlen(get));
    CHECK(r.method == HTTP_GET && !r.upgrade);
    CHECK(r.target_len == 9 && memcmp(r.target, "/a.html?x", 9) == 0);
    CHECK(parse("HEAD / HTTP/1.0\r\n\r\n", &r) > 0 && r.method == HTTP_HEAD);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n", &r) > 0 && r.method == HTTP_OTHER);
    CHECK(parse("GETX / HTTP/1.1\r\n\r\n", &r) > 0 && r.method == HTTP_OTHER);
    CHECK(parse("GET / HTTP/1.1\r\nupgrade: websocket\r\n\r\n", &r) > 0 && r.upgrade);
    /* A body or a next request after the head is not part of it. */
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", &r), 18);
}

TEST(request_incomplete_and_refused)
{
    http_request_t r;
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nHost: h\r\n", &r), 0);
    CHECK_EQ_INT(parse("GE", &r), 0);
    CHECK_EQ_INT(parse("", &r), 0);
    const char *bad[] = {"get / HTTP/1.1\r\n\r\n",
                         "GET/ HTTP/1.1\r\n\r\n",
                         "GET  / HTTP/1.1\r\n\r\n",
                         "GET / HTTP/2.0\r\n\r\n",
                         "GET / HTTP/1.1x\r\n\r\n",
                         "GET /\x01 HTTP/1.1\r\n\r\n",
                         "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
                         "GET / HTTP/1.1\r\n: v\r\n\r\n",
                         "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
                         "\x16\x03\x01",
                         "ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(parse(bad[i], &r), -400);
    char big[300];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    CHECK_EQ_INT(http_parse_request(big, sizeof big, 256, &r), -431);
    CHECK_EQ_INT(http_parse_request(big, 255, 256, &r), 0);
}

TEST(plausible_start)
{
    CHECK(http_plausible_start("", 0));
    CHECK(http_plausible_start("G", 1));
    CHECK(http_plausible_start("OPTIONS ", 8));
    CHECK(!http_plausible_start(" GET", 4));
    CHECK(!http_plausible_start("\x10\x0c", 2));
    CHECK(!http_plausible_start("get ", 4));
    CHECK(!http_plausible_start("ABCDEFGHIJKLMNOPQ", 17));
}

TEST(responses)
{
    char buf[512];
    int codes[] = {400, 403, 404, 405, 431, 500, 123};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        size_t n = http_error_response(codes[i], buf, sizeof buf);
        CHECK(n > 0 && n < sizeof buf);
        buf[n] = '\0';
        int want = codes[i] == 123 ? 500 : codes[i];
        char line[32];
        snprintf(line, sizeof line, "HTTP/1.1 %d ", want);
        CHECK(strncmp(buf, line, strlen(line)) == 0);
        CHECK(strstr(buf, "Connection: close\r\n") != NULL);
        const char *cl = strstr(buf, "Content-Length: ");
        const char *body = strstr(buf, "\r\n\r\n");
        CHECK(cl && body);
        CHECK_EQ_INT(atoi(cl + 16), (int)strlen(body + 4));
        CHECK((strstr(buf, "Allow: GET, HEAD\r\n") != NULL) == (want == 405));
    }
    size_t n = http_ok_head("image/png", 1234567890123ull, buf, sizeof buf);
    CHECK(n > 0);
    buf[n] = '\0';
    CHECK(strstr(buf, "HTTP/1.1 200 OK\r\n") == buf);
    CHECK(strstr(buf, "Content-Type: image/png\r\n") != NULL);
    CHECK(strstr(buf, "Content-Length: 1234567890123\r\n") != NULL);
    CHECK(strstr(buf, "Connection: close\r\n\r\n") != NULL);
    CHECK_EQ_INT((int)http_error_response(404, buf, 10), 0);
}

/* ---- http_open on a real tree ---- */

static char root[PATH_MAX];

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void mk(const char *rel)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    mkdir(p, 0755);
}

static int open_rel(const char *rel, uint64_t *size, const char **type)
{
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/www", root);
    return http_open(dir, rel, true, size, type);
}

TEST(open_tree)
{
    char tmpl[] = "/tmp/midge-http-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    snprintf(root, sizeof root, "%s", tmpl);
    mk("www");
    mk("www/sub");
    mk("www/empty");
    put("www/index.html", "<p>hi</p>");
    put("www/sub/data.json", "{}");
    put("www/sub/index.html", "sub");
    put("secret.txt", "outside");
    char a[PATH_MAX + 64], b[PATH_MAX + 64];
    snprintf(a, sizeof a, "%s/secret.txt", root);
    snprintf(b, sizeof b, "%s/www/link.txt", root);
    CHECK(symlink(a, b) == 0);
    snprintf(a, sizeof a, "%s", root);
    snprintf(b, sizeof b, "%s/www/up", root);
    CHECK(symlink(a, b) == 0);
    snprintf(b, sizeof b, "%s/www/fifo", root);
    CHECK(mkfifo(b, 0644) == 0);

    uint64_t size = 0;
    const char *type = NULL;
    int fd = open_rel("", &size, &type);
    CHECK(fd >= 0);
    close(fd);
    CHECK(size == 9 && strcmp(type, "text/html; charset=utf-8") == 0);
    fd = open_rel("sub/data.json", &size, &type);
    CHECK(fd >= 0);
    close(fd);
    CHECK(size == 2 && strcmp(type, "application/json") == 0);
    fd = open_rel("sub", &size, &type);
    CHECK(fd >= 0);
    close(fd);
    CHECK(size == 3 && strcmp(type, "text/html; charset=utf-8") == 0);

    CHECK_EQ_INT(open_rel("missing.html", &size, &type), -404);
    CHECK_EQ_INT(open_rel("sub/missing/x", &size, &type), -404);
    CHECK_EQ_INT(open_rel("index.html/x", &size, &type), -404);
    CHECK_EQ_INT(open_rel("empty", &size, &type), -403); /* no listing */
    CHECK_EQ_INT(open_rel("link.txt", &size, &type), -403);
    CHECK(open_rel("up/secret.txt", &size, &type) < 0);
    CHECK(open_rel("up", &size, &type) < 0);
    CHECK_EQ_INT(open_rel("fifo", &size, &type), -403);
    CHECK_EQ_INT(http_open("/nonexistent-midge-dir", "", true, &size, &type), -404);
    /* A directory named without its slash is redirected; the root and
     * files are not. */
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/www", root);
    CHECK_EQ_INT(http_open(dir, "sub", false, &size, &type), -302);
    CHECK_EQ_INT(http_open(dir, "empty", false, &size, &type), -302);
    fd = http_open(dir, "", false, &size, &type);
    CHECK(fd >= 0);
    close(fd);
    fd = http_open(dir, "sub/data.json", false, &size, &type);
    CHECK(fd >= 0);
    close(fd);

    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

TEST(redirects)
{
    CHECK(http_target_has_slash("/a/", 3));
    CHECK(http_target_has_slash("/a/?x/", 6));
    CHECK(!http_target_has_slash("/a?x/", 5));
    CHECK(!http_target_has_slash("/a#/", 4));
    CHECK(!http_target_has_slash("", 0));
    char buf[300];
    const char *t = "/sub?v=1#frag";
    size_t n = http_redirect_response(t, strlen(t), buf, sizeof buf);
    CHECK(n > 0);
    buf[n] = '\0';
    CHECK(strncmp(buf, "HTTP/1.1 302 Found\r\n", 20) == 0);
    CHECK(strstr(buf, "\r\nLocation: /sub/?v=1\r\n") != NULL);
    CHECK(strstr(buf, "Content-Length: 6\r\n") != NULL && strstr(buf, "\r\n\r\nFound\n") != NULL);
    n = http_redirect_response("/a%20b", 6, buf, sizeof buf);
    buf[n] = '\0';
    CHECK(strstr(buf, "\r\nLocation: /a%20b/\r\n") != NULL);
    CHECK(http_redirect_response("/a", 2, buf, 20) == 0);
}

int main(void)
{
    RUN(path_plain_and_root);
    RUN(path_query_and_fragment_dropped);
    RUN(path_percent_decoding);
    RUN(path_traversal_refused);
    RUN(path_malformed_refused);
    RUN(path_length_bounded);
    RUN(content_types);
    RUN(request_methods_and_target);
    RUN(request_incomplete_and_refused);
    RUN(plausible_start);
    RUN(responses);
    RUN(open_tree);
    RUN(redirects);
    return TEST_REPORT();
}
