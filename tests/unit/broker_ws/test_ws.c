/* RFC 6455 pieces of src/broker/ws.c: upgrade requests, the accept key,
 * and the frame decoder fed in every split. */
#include <stdlib.h>

#include "broker/ws.h"
#include "test.h"

#define REQ_HEAD                                                                                   \
    "GET /mqtt HTTP/1.1\r\n"                                                                       \
    "Host: 127.0.0.1:8080\r\n"
#define REQ_WS                                                                                     \
    "Upgrade: websocket\r\n"                                                                       \
    "Connection: Upgrade\r\n"                                                                      \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                                              \
    "Sec-WebSocket-Version: 13\r\n"

static int parse(const char *s, ws_request_t *r)
{
    return ws_parse_request(s, strlen(s), r);
}

/* RFC 6455 section 1.3's example (also checked with Python's hashlib). */
TEST(accept_key_rfc_example)
{
    char out[WS_ACCEPT_LEN + 1];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
}

TEST(request_complete_with_mqtt)
{
    const char *s = REQ_HEAD REQ_WS "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
    ws_request_t r;
    CHECK_EQ_INT(parse(s, &r), strlen(s));
    CHECK(strcmp(r.key, "dGhlIHNhbXBsZSBub25jZQ==") == 0);
    CHECK(r.subprotocol && strcmp(r.subprotocol, "mqtt") == 0);
    char buf[256];
    size_t n = ws_response(&r, buf, sizeof buf);
    CHECK(n > 0);
    buf[n] = '\0';
    CHECK(strncmp(buf, "HTTP/1.1 101 ", 13) == 0);
    CHECK(strstr(buf, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
    CHECK(strstr(buf, "\r\nSec-WebSocket-Protocol: mqtt\r\n") != NULL);
    CHECK(strstr(buf, "\r\nUpgrade: websocket\r\n") != NULL);
    CHECK(n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
}

TEST(request_bytes_after_it_are_not_counted)
{
    const char *s = REQ_HEAD REQ_WS "\r\n\x82\x80";
    ws_request_t r;
    CHECK_EQ_INT(parse(s, &r), strlen(s) - 2);
}

TEST(request_mqttv31_and_lists)
{
    ws_request_t r;
    CHECK(parse(REQ_HEAD REQ_WS "Sec-WebSocket-Protocol: mqttv3.1\r\n\r\n", &r) > 0);
    CHECK(strcmp(r.subprotocol, "mqttv3.1") == 0);
    CHECK(parse(REQ_HEAD REQ_WS "Sec-WebSocket-Protocol: chat, mqttv3.1 ,mqtt\r\n\r\n", &r) > 0);
    CHECK(strcmp(r.subprotocol, "mqtt") == 0);
    /* No subprotocol offered: MQTT assumed, none echoed. */
    CHECK(parse(REQ_HEAD REQ_WS "\r\n", &r) > 0);
    CHECK(r.subprotocol == NULL);
    char buf[256];
    size_t n = ws_response(&r, buf, sizeof buf);
    buf[n] = '\0';
    CHECK(strstr(buf, "Sec-WebSocket-Protocol") == NULL);
    /* Subprotocols offered, none of them MQTT. */
    CHECK_EQ_INT(parse(REQ_HEAD REQ_WS "Sec-WebSocket-Protocol: chat, MQTT\r\n\r\n", &r), -400);
}

TEST(request_headers_case_and_token_lists)
{
    ws_request_t r;
    const char *s = "GET / HTTP/1.1\r\n"
                    "hOsT: x\r\n"
                    "UPGRADE:WebSocket\r\n"
                    "connection: keep-alive, UpGrAdE\r\n"
                    "sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
                    "SEC-WEBSOCKET-VERSION: 13\r\n"
                    "X-Other: whatever\r\n"
                    "\r\n";
    CHECK_EQ_INT(parse(s, &r), strlen(s));
    CHECK(strcmp(r.key, "dGhlIHNhbXBsZSBub25jZQ==") == 0);
}

TEST(request_incomplete_needs_more)
{
    const char *s = REQ_HEAD REQ_WS "\r\n";
    ws_request_t r;
    for (size_t i = 0; i < strlen(s); i++)
        CHECK_EQ_INT(ws_parse_request(s, i, &r), 0);
}

TEST(request_refusals)
{
    ws_request_t r;
    /* Not HTTP at all (an MQTT CONNECT): refused from the first byte. */
    CHECK_EQ_INT(ws_parse_request("\x10\x0c", 2, &r), -400);
    CHECK_EQ_INT(ws_parse_request("G", 1, &r), 0);
    CHECK_EQ_INT(ws_parse_request("GEX", 3, &r), -400);
    CHECK_EQ_INT(parse("POST / HTTP/1.1\r\n\r\n", &r), -400);
    CHECK_EQ_INT(parse("GET / HTTP/1.0\r\nHost: x\r\n" REQ_WS "\r\n", &r), -400);
    CHECK_EQ_INT(parse("GET  HTTP/1.1\r\nHost: x\r\n" REQ_WS "\r\n", &r), -400);
    /* Each required header missing. */
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\n" REQ_WS "\r\n", &r), -400);
    CHECK_EQ_INT(parse(REQ_HEAD "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n",
                       &r),
                 -400);
    CHECK_EQ_INT(parse(REQ_HEAD "Upgrade: websocket\r\nConnection: keep-alive\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n",
                       &r),
                 -400);
    CHECK_EQ_INT(parse(REQ_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n",
                       &r),
                 -400);
    CHECK_EQ_INT(parse(REQ_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                       &r),
                 -400);
    /* Wrong version: 426 so the client can retry with 13. */
    CHECK_EQ_INT(parse(REQ_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 8\r\n\r\n",
                       &r),
                 -426);
    /* Bad keys. */
    CHECK_EQ_INT(parse(REQ_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: short==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n",
                       &r),
                 -400);
    CHECK_EQ_INT(parse(REQ_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!=\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n",
                       &r),
                 -400);
    /* Malformed header lines: no colon, folded, bad name. */
    CHECK_EQ_INT(parse(REQ_HEAD "Broken line\r\n" REQ_WS "\r\n", &r), -400);
    CHECK_EQ_INT(parse(REQ_HEAD " folded\r\n" REQ_WS "\r\n", &r), -400);
    CHECK_EQ_INT(parse(REQ_HEAD "Bad Name: x\r\n" REQ_WS "\r\n", &r), -400);
    CHECK_EQ_INT(parse(REQ_HEAD "Host: twice\r\n" REQ_WS "\r\n", &r), -400);
}

TEST(request_too_large)
{
    size_t n = WS_MAX_REQUEST + 100;
    char *s = malloc(n);
    CHECK(s != NULL);
    memset(s, 'a', n);
    memcpy(s, "GET / HTTP/1.1\r\nX-Pad: ", 23);
    ws_request_t r;
    CHECK_EQ_INT(ws_parse_request(s, WS_MAX_REQUEST - 1, &r), 0);
    int rc1 = ws_parse_request(s, WS_MAX_REQUEST, &r);
    int rc2 = ws_parse_request(s, n, &r);
    free(s);
    CHECK_EQ_INT(rc1, -431);
    CHECK_EQ_INT(rc2, -431);
}

TEST(error_responses)
{
    char buf[256];
    size_t n = ws_error_response(426, buf, sizeof buf);
    CHECK(n > 0);
    buf[n] = '\0';
    CHECK(strncmp(buf, "HTTP/1.1 426 ", 13) == 0);
    CHECK(strstr(buf, "Sec-WebSocket-Version: 13\r\n") != NULL);
    n = ws_error_response(431, buf, sizeof buf);
    buf[n] = '\0';
    CHECK(strncmp(buf, "HTTP/1.1 431 ", 13) == 0);
    n = ws_error_response(400, buf, sizeof buf);
    buf[n] = '\0';
    CHECK(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
    CHECK(ws_error_response(400, buf, 10) == 0);
}

/* ---- frames ---- */

typedef struct {
    uint8_t data[200000];
    size_t len;
    uint8_t ctl_op[8];
    uint8_t ctl[8][125];
    size_t ctl_len[8];
    int nctl;
    int stop_after_data; /* > 0: stop after that many on_data calls */
    int ndata;
} sink_t;

static bool sink_data(void *ctx, const uint8_t *d, size_t n)
{
    sink_t *s = ctx;
    if (s->len + n <= sizeof s->data)
        memcpy(s->data + s->len, d, n);
    s->len += n;
    s->ndata++;
    return !(s->stop_after_data && s->ndata >= s->stop_after_data);
}

static bool sink_control(void *ctx, uint8_t op, const uint8_t *p, size_t n)
{
    sink_t *s = ctx;
    if (s->nctl < 8) {
        s->ctl_op[s->nctl] = op;
        memcpy(s->ctl[s->nctl], p, n);
        s->ctl_len[s->nctl] = n;
    }
    s->nctl++;
    return op != WS_OP_CLOSE;
}

/* A client frame: masked with a fixed key. */
static size_t client_frame(uint8_t *out, uint8_t b0, const uint8_t *payload, uint64_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = ws_frame_header(out, 0, len);
    out[0] = b0;
    out[1] |= 0x80;
    memcpy(out + h, key, 4);
    h += 4;
    for (uint64_t i = 0; i < len; i++)
        out[h + i] = payload[i] ^ key[i & 3];
    return h + (size_t)len;
}

static sink_t *sink_new(void)
{
    return calloc(1, sizeof(sink_t));
}

/* Decodes buf in pieces of `step` bytes (a copy, since decoding unmasks
 * in place); returns the first nonzero status. */
static int decode_steps(ws_decoder_t *d, sink_t *s, const uint8_t *buf, size_t len, size_t step)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    ws_handler_t h = {.on_data = sink_data, .on_control = sink_control, .ctx = s};
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i += step)
        rc = ws_decode(d, copy + i, len - i < step ? len - i : step, &h);
    free(copy);
    return rc;
}

TEST(frame_binary_any_split)
{
    uint8_t payload[300], buf[400];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    size_t n = client_frame(buf, 0x82, payload, sizeof payload);
    CHECK_EQ_INT(n, 4 + 4 + 300);
    for (size_t step = 1; step <= n; step += (step < 16 ? 1 : 37)) {
        ws_decoder_t d;
        ws_decoder_init(&d, 1000);
        sink_t *s = sink_new();
        int rc = decode_steps(&d, s, buf, n, step);
        bool ok = rc == 0 && s->len == sizeof payload && memcmp(s->data, payload, s->len) == 0;
        free(s);
        CHECK(ok);
    }
}

TEST(frame_lengths_7_16_64)
{
    static uint8_t payload[70000], buf[70100];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i ^ (i >> 8));
    const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 70000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        size_t n = client_frame(buf, 0x82, payload, lens[k]);
        size_t hl = lens[k] <= 125 ? 6 : lens[k] <= 65535 ? 8 : 14;
        CHECK_EQ_INT(n, hl + lens[k]);
        ws_decoder_t d;
        ws_decoder_init(&d, 100000);
        sink_t *s = sink_new();
        int rc = decode_steps(&d, s, buf, n, 4096);
        bool ok = rc == 0 && s->len == lens[k] && memcmp(s->data, payload, lens[k]) == 0;
        free(s);
        CHECK(ok);
    }
}

TEST(frame_too_big_1009)
{
    uint8_t buf[16] = {0x82, 0x80 | 126, 0x04, 0x01, 1, 2, 3, 4};
    ws_decoder_t d;
    ws_decoder_init(&d, 1024);
    sink_t *s = sink_new();
    int rc = decode_steps(&d, s, buf, 8, 8);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_TOO_BIG);
    /* A 64-bit length with the top bit set is malformed. */
    uint8_t b2[14] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    ws_decoder_init(&d, UINT64_MAX);
    s = sink_new();
    rc = decode_steps(&d, s, b2, sizeof b2, 3);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_PROTOCOL);
    /* 2^32 + 1 against a max packet size limit. */
    uint8_t b3[14] = {0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4};
    ws_decoder_init(&d, 268435460u);
    s = sink_new();
    rc = decode_steps(&d, s, b3, sizeof b3, 14);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_TOO_BIG);
}

TEST(frame_unmasked_1002)
{
    uint8_t buf[] = {0x82, 0x02, 0x10, 0x00};
    ws_decoder_t d;
    ws_decoder_init(&d, 1024);
    sink_t *s = sink_new();
    int rc = decode_steps(&d, s, buf, sizeof buf, 1);
    size_t got = s->len;
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_PROTOCOL);
    CHECK_EQ_INT(got, 0);
}

TEST(frame_reserved_bits_and_opcodes_1002)
{
    const uint8_t bad[] = {0xC2, 0xA2, 0x92, 0x83, 0x84, 0x85, 0x86,
                           0x87, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x80 /* continuation, no message */};
    for (size_t i = 0; i < sizeof bad; i++) {
        uint8_t buf[8] = {bad[i], 0x80, 1, 2, 3, 4};
        ws_decoder_t d;
        ws_decoder_init(&d, 1024);
        sink_t *s = sink_new();
        int rc = decode_steps(&d, s, buf, 6, 6);
        free(s);
        CHECK_EQ_INT(rc, WS_CLOSE_PROTOCOL);
    }
}

TEST(frame_text_1003)
{
    uint8_t buf[16];
    size_t n = client_frame(buf, 0x81, (const uint8_t *)"hi", 2);
    ws_decoder_t d;
    ws_decoder_init(&d, 1024);
    sink_t *s = sink_new();
    int rc = decode_steps(&d, s, buf, n, n);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_UNSUPPORTED);
}

TEST(frame_bad_control_frames_1002)
{
    uint8_t payload[126] = {0};
    uint8_t buf[200];
    ws_decoder_t d;
    sink_t *s;
    int rc;
    /* Control frame longer than 125. */
    size_t n = client_frame(buf, 0x89, payload, 126);
    ws_decoder_init(&d, 1024);
    s = sink_new();
    rc = decode_steps(&d, s, buf, n, n);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_PROTOCOL);
    /* Fragmented control frame. */
    n = client_frame(buf, 0x09, payload, 1);
    ws_decoder_init(&d, 1024);
    s = sink_new();
    rc = decode_steps(&d, s, buf, n, n);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_PROTOCOL);
    /* Close with a one-byte body, and with a reserved status. */
    n = client_frame(buf, 0x88, payload, 1);
    ws_decoder_init(&d, 1024);
    s = sink_new();
    rc = decode_steps(&d, s, buf, n, n);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_PROTOCOL);
    const uint8_t st[2] = {0x03, 0xed}; /* 1005 may not be sent */
    n = client_frame(buf, 0x88, st, 2);
    ws_decoder_init(&d, 1024);
    s = sink_new();
    rc = decode_steps(&d, s, buf, n, n);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_PROTOCOL);
}

TEST(frame_fragmented_message_with_ping_between)
{
    /* An MQTT PUBLISH split over three fragments, a ping in the middle,
     * followed by a second message holding two packets. */
    const uint8_t pub[] = {0x30, 0x07, 0x00, 0x01, 't', 'a', 'b', 'c', 'd'};
    const uint8_t two[] = {0xc0, 0x00, 0xc0, 0x00};
    uint8_t buf[200];
    size_t n = 0;
    n += client_frame(buf + n, 0x02, pub, 3);
    n += client_frame(buf + n, 0x89, (const uint8_t *)"ping!", 5);
    n += client_frame(buf + n, 0x00, pub + 3, 4);
    n += client_frame(buf + n, 0x80, pub + 7, 2);
    n += client_frame(buf + n, 0x82, two, 4);
    for (size_t step = 1; step <= n; step++) {
        ws_decoder_t d;
        ws_decoder_init(&d, 1024);
        sink_t *s = sink_new();
        int rc = decode_steps(&d, s, buf, n, step);
        bool ok = rc == 0 && s->len == 13 && memcmp(s->data, pub, 9) == 0 &&
                  memcmp(s->data + 9, two, 4) == 0 && s->nctl == 1 && s->ctl_op[0] == WS_OP_PING &&
                  s->ctl_len[0] == 5 && memcmp(s->ctl[0], "ping!", 5) == 0;
        free(s);
        CHECK(ok);
    }
}

TEST(frame_binary_inside_fragmented_message_1002)
{
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x02, (const uint8_t *)"ab", 2);
    n += client_frame(buf + n, 0x82, (const uint8_t *)"cd", 2);
    ws_decoder_t d;
    ws_decoder_init(&d, 1024);
    sink_t *s = sink_new();
    int rc = decode_steps(&d, s, buf, n, n);
    free(s);
    CHECK_EQ_INT(rc, WS_CLOSE_PROTOCOL);
}

TEST(frame_close_stops_decoding)
{
    uint8_t buf[64];
    const uint8_t st[2] = {0x03, 0xe8};
    size_t n = client_frame(buf, 0x88, st, 2);
    n += client_frame(buf + n, 0x82, (const uint8_t *)"after", 5);
    ws_decoder_t d;
    ws_decoder_init(&d, 1024);
    sink_t *s = sink_new();
    int rc = decode_steps(&d, s, buf, n, n);
    bool ok = rc == 0 && s->nctl == 1 && s->ctl_op[0] == WS_OP_CLOSE && s->ctl_len[0] == 2 &&
              s->ctl[0][0] == 0x03 && s->ctl[0][1] == 0xe8 && s->len == 0;
    free(s);
    CHECK(ok);
}

TEST(frame_pong_and_empty_frames)
{
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x8A, NULL, 0);
    n += client_frame(buf + n, 0x82, NULL, 0);
    n += client_frame(buf + n, 0x82, (const uint8_t *)"x", 1);
    ws_decoder_t d;
    ws_decoder_init(&d, 1024);
    sink_t *s = sink_new();
    int rc = decode_steps(&d, s, buf, n, 1);
    bool ok =
        rc == 0 && s->nctl == 1 && s->ctl_op[0] == WS_OP_PONG && s->len == 1 && s->data[0] == 'x';
    free(s);
    CHECK(ok);
}

TEST(frame_handler_stop_keeps_state)
{
    /* The handler stops after the first piece; decoding resumes with the
     * rest of the same frame. */
    uint8_t payload[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, buf[32];
    size_t n = client_frame(buf, 0x82, payload, 10);
    ws_decoder_t d;
    ws_decoder_init(&d, 1024);
    sink_t *s = sink_new();
    s->stop_after_data = 1;
    ws_handler_t h = {.on_data = sink_data, .on_control = sink_control, .ctx = s};
    int rc = ws_decode(&d, buf, n - 4, &h);
    s->stop_after_data = 0;
    int rc2 = ws_decode(&d, buf + n - 4, 4, &h);
    bool ok = rc == 0 && rc2 == 0 && s->len == 10 && memcmp(s->data, payload, 10) == 0;
    free(s);
    CHECK(ok);
}

TEST(server_frame_headers)
{
    uint8_t h[10];
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_BINARY, 5), 2);
    CHECK(h[0] == 0x82 && h[1] == 5);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_BINARY, 125), 2);
    CHECK(h[1] == 125);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_BINARY, 126), 4);
    CHECK(h[1] == 126 && h[2] == 0 && h[3] == 126);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_BINARY, 65535), 4);
    CHECK(h[2] == 0xff && h[3] == 0xff);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_BINARY, 65536), 10);
    CHECK(h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_PONG, 0), 2);
    CHECK(h[0] == 0x8A && h[1] == 0);
    CHECK_EQ_INT(ws_close_frame(h, 1002), 4);
    CHECK(h[0] == 0x88 && h[1] == 2 && h[2] == 0x03 && h[3] == 0xea);
}

int main(void)
{
    RUN(accept_key_rfc_example);
    RUN(request_complete_with_mqtt);
    RUN(request_bytes_after_it_are_not_counted);
    RUN(request_mqttv31_and_lists);
    RUN(request_headers_case_and_token_lists);
    RUN(request_incomplete_needs_more);
    RUN(request_refusals);
    RUN(request_too_large);
    RUN(error_responses);
    RUN(frame_binary_any_split);
    RUN(frame_lengths_7_16_64);
    RUN(frame_too_big_1009);
    RUN(frame_unmasked_1002);
    RUN(frame_reserved_bits_and_opcodes_1002);
    RUN(frame_text_1003);
    RUN(frame_bad_control_frames_1002);
    RUN(frame_fragmented_message_with_ping_between);
    RUN(frame_binary_inside_fragmented_message_1002);
    RUN(frame_close_stops_decoding);
    RUN(frame_pong_and_empty_frames);
    RUN(frame_handler_stop_keeps_state);
    RUN(server_frame_headers);
    return TEST_REPORT();
}
