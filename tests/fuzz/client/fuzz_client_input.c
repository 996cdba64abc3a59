/*
 * libFuzzer: the bytes a server sends, through a real loopback connection
 * into libmidge. Input byte 0 picks the protocol version (3, 4, 5); the
 * rest is written after a valid CONNACK for that version, then the server
 * closes. The client must end the connection on its own without reading
 * outside its buffers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "midge/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lfd = -1, port;
static volatile uint8_t sink_byte;

static void on_message(midge_client_t *c, void *ud, const midge_message_t *m)
{
    uint8_t s = 0;
    for (size_t i = 0; i < m->payload_len; i++)
        s ^= ((const uint8_t *)m->payload)[i];
    midge_prop_t p;
    for (size_t i = 0; midge_props_get(m->props, i, &p); i++)
        for (size_t k = 0; k < p.len; k++)
            s ^= (uint8_t)p.data[k];
    sink_byte = s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    if (lfd < 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(a);
        lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 8) ||
            getsockname(lfd, (struct sockaddr *)&a, &l))
            return 0;
        port = ntohs(a.sin_port);
    }
    int version = 3 + data[0] % 3;
    midge_client_t *c = midge_client_new("fuzz", NULL);
    midge_callbacks_t cb = {.on_message = on_message};
    midge_set_callbacks(c, &cb);
    midge_set_version(c, version);
    midge_set_reconnect(c, false, 0, 0);
    midge_set_max_packet_size(c, 1 << 16);
    if (version == 5) {
        midge_props_t *p = midge_props_new();
        midge_props_add_int(p, MIDGE_PROP_TOPIC_ALIAS_MAXIMUM, 4);
        midge_set_connect_props(c, p);
        midge_props_free(p);
    }
    midge_subscribe(c, NULL, "#", 2, NULL);
    midge_publish(c, NULL, "q/1", "one", 3, 1, false, NULL);
    midge_publish(c, NULL, "q/2", "two", 3, 2, false, NULL);
    if (midge_connect(c, "127.0.0.1", port) != MIDGE_OK) {
        midge_client_destroy(c);
        return 0;
    }
    int sfd = accept(lfd, NULL, NULL);
    static const uint8_t ack4[] = {0x20, 0x02, 0x00, 0x00}, ack5[] = {0x20, 0x03, 0x00, 0x00, 0x00};
    if (write(sfd, version == 5 ? ack5 : ack4, version == 5 ? sizeof(ack5) : sizeof(ack4)) < 0 ||
        write(sfd, data + 1, size - 1) < 0) {
        /* the client closed early: fine */
    }
    shutdown(sfd, SHUT_WR);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        midge_err_t e = midge_loop(c, 10);
        char sink[4096];
        while (recv(sfd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
        }
        if (e == MIDGE_ERR_NO_CONN)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 3)
            __builtin_trap(); /* the client never gave up a closed connection */
    }
    close(sfd);
    midge_client_destroy(c);
    return 0;
}
