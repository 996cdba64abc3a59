/*
 * WebSockets (RFC 6455) for MQTT listeners, as pure functions: the HTTP
 * upgrade request parser, the Sec-WebSocket-Accept computation, and a
 * streaming frame decoder and encoder. No sockets here: ws_conn.c puts
 * this between the transport (plain or TLS) and the MQTT framing.
 *
 * To MQTT the WebSocket layer is a byte stream: one MQTT packet may span
 * several frames and one frame may carry several packets, so the decoder
 * hands out payload bytes as they come and never assembles messages.
 */
#ifndef MIDGE_BROKER_WS_H
#define MIDGE_BROKER_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The whole upgrade request must fit here unless websockets_headers_size
 * says otherwise (Mosquitto's libwebsockets default is smaller); a longer
 * one is refused with 431. */
#define WS_MAX_REQUEST 8192u

/* Sec-WebSocket-Accept: base64 of a SHA-1, 28 characters and a NUL. */
#define WS_ACCEPT_LEN 28

/* Close status codes (RFC 6455 7.4.1). */
#define WS_CLOSE_NORMAL       1000
#define WS_CLOSE_GOING_AWAY   1001
#define WS_CLOSE_PROTOCOL     1002
#define WS_CLOSE_UNSUPPORTED  1003
#define WS_CLOSE_TOO_BIG      1009
#define WS_CLOSE_SERVER_ERROR 1011

/* Opcodes */
#define WS_OP_CONT   0x0
#define WS_OP_TEXT   0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE  0x8
#define WS_OP_PING   0x9
#define WS_OP_PONG   0xA

typedef struct {
    char key[25];            /* Sec-WebSocket-Key, 24 base64 characters */
    const char *subprotocol; /* "mqtt", "mqttv3.1", or NULL if none was offered */
} ws_request_t;

/*
 * Parses an upgrade request at the start of buf. Returns the length of the
 * request (through the empty line) when it is complete and acceptable, 0 if
 * more bytes are needed, or minus an HTTP status when it is refused:
 * -400 (not a WebSocket upgrade, malformed, no mqtt subprotocol offered),
 * -426 (Sec-WebSocket-Version is not 13), -431 (longer than
 * WS_MAX_REQUEST). Bytes that cannot begin "GET " are refused at once.
 */
int ws_parse_request(const char *buf, size_t len, ws_request_t *req);
/* The same with the limit max instead of WS_MAX_REQUEST. */
int ws_parse_request_max(const char *buf, size_t len, size_t max, ws_request_t *req);

/* HTTP/1.1 pieces shared with the static file server (http_static.c):
 * the length of the request head (through the empty line) within the
 * first max bytes, or 0 if it is not complete there; the first CRLF in
 * [p, end); a token character (RFC 9110); a header name equal to the
 * lower-case `b`, ignoring case. */
size_t ws_http_head_len(const char *buf, size_t len, size_t max);
const char *ws_http_find_crlf(const char *p, const char *end);
bool ws_http_tchar(char ch);
bool ws_http_ieq(const char *a, size_t alen, const char *b);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + RFC 6455 GUID)). */
void ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* The 101 response for req; returns its length, or 0 if cap is too small
 * (256 bytes always suffice). */
size_t ws_response(const ws_request_t *req, char *buf, size_t cap);

/* A refusal with the given status (400, 426, 431) that closes the
 * connection; returns its length, or 0 if cap is too small (256 bytes
 * always suffice). */
size_t ws_error_response(int status, char *buf, size_t cap);

/* ---- frames ---- */

typedef struct {
    /* Called with each run of unmasked binary payload (pointing into the
     * buffer given to ws_decode). Returns false to stop decoding. */
    bool (*on_data)(void *ctx, const uint8_t *data, size_t len);
    /* Called with a complete ping, pong or close frame (payload <= 125
     * bytes). Returns false to stop decoding. */
    bool (*on_control)(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len);
    void *ctx;
} ws_handler_t;

typedef struct {
    uint64_t remaining; /* payload bytes left in the current frame */
    uint64_t max_frame; /* refuse data frames longer than this (1009) */
    uint8_t hdr[14];    /* a frame header split across buffers */
    uint8_t hdr_len;
    uint8_t mask[4];
    uint8_t mask_pos;
    uint8_t opcode;   /* of the current frame */
    bool in_header;   /* between frames: reading a header */
    bool in_message;  /* a fragmented binary message awaits continuation */
    uint8_t ctl[125]; /* payload of the current control frame */
    uint8_t ctl_len;
} ws_decoder_t;

void ws_decoder_init(ws_decoder_t *d, uint64_t max_frame);

/*
 * Decodes len bytes from the client, unmasking payload in place (buf is
 * modified). Returns 0 when all bytes were consumed or a handler asked to
 * stop, or a close status (1002 protocol error: unmasked frame, reserved
 * bits or opcode, bad fragmentation or control frame; 1003: text frame;
 * 1009: a frame longer than max_frame) after which the stream is dead.
 */
int ws_decode(ws_decoder_t *d, uint8_t *buf, size_t len, const ws_handler_t *h);

/* Writes a server frame header (FIN set, unmasked) for a payload of len
 * bytes; returns its length (2, 4 or 10). */
size_t ws_frame_header(uint8_t out[10], uint8_t opcode, uint64_t len);

/* A close frame with a status code; returns its length (4). */
size_t ws_close_frame(uint8_t out[4], uint16_t status);

#endif
