/*
 * Feeds two connections' byte streams to a real worker running the
 * protocol layer: framing, every handler, sessions, delivery between the
 * two clients, wills and takeover. The first input byte splits the rest
 * between the two connections. A fresh broker per input keeps runs
 * independent.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/log.h"
#include "broker/proto.h"

#define MAX_INPUT 65536

static void drain(int fd)
{
    uint8_t buf[4096];
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    /* The broker closes connections mid-stream; as in the server, a write
     * to a closed socket must be an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    mlog_set_level(MLOG_ERROR);
    config_t cfg;
    config_init(&cfg);
    static broker_t b;
    if (broker_init(&b, &cfg) != 0)
        return 0;
    broker_proto_t ops;
    proto_ops_init(&ops, &b);
    worker_t *w = worker_create(0, &ops, NULL);
    if (!w) {
        broker_destroy(&b);
        return 0;
    }
    ops.on_worker_start(ops.ctx, w);

    size_t split = 1 + ((size_t)data[0] * (size - 1)) / 255;
    const uint8_t *part[2] = {data + 1, data + split};
    size_t len[2] = {split - 1, size - split};
    int peer[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
            continue;
        if (!worker_adopt(w, sv[0], NULL)) {
            close(sv[1]);
            continue;
        }
        peer[i] = sv[1];
    }
    /* Interleave the two streams in small slices so packets of both
     * clients meet in one loop iteration. */
    size_t off[2] = {0, 0};
    for (int round = 0; round < 64 && (off[0] < len[0] || off[1] < len[1]); round++) {
        for (int i = 0; i < 2; i++) {
            if (peer[i] < 0 || off[i] >= len[i])
                continue;
            size_t n = len[i] - off[i] < 512 ? len[i] - off[i] : 512;
            ssize_t k = send(peer[i], part[i] + off[i], n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (k > 0)
                off[i] += (size_t)k;
        }
        worker_run_once(w, 0);
        for (int i = 0; i < 2; i++)
            if (peer[i] >= 0)
                drain(peer[i]);
    }
    for (int i = 0; i < 2; i++) {
        if (peer[i] >= 0)
            shutdown(peer[i], SHUT_WR);
    }
    for (int round = 0; round < 4; round++) {
        worker_run_once(w, 0);
        for (int i = 0; i < 2; i++)
            if (peer[i] >= 0)
                drain(peer[i]);
    }
    worker_shutdown(w);
    /* worker_shutdown calls on_worker_stop only for a worker_run thread. */
    ops.on_worker_stop(ops.ctx, w);
    worker_destroy(w);
    for (int i = 0; i < 2; i++)
        if (peer[i] >= 0)
            close(peer[i]);
    broker_destroy(&b);
    config_free(&cfg);
    return 0;
}
