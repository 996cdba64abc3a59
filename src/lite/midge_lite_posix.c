#include "lite/midge_lite_posix.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void posix_close(void *io)
{
    midge_lite_posix_t *s = io;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static int posix_open(void *io)
{
    midge_lite_posix_t *s = io;
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char port[8];
    posix_close(s);
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%u", (unsigned)s->port);
    if (getaddrinfo(s->host, port, &hints, &res) != 0)
        return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), one = 1;
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            s->fd = fd;
            break;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return s->fd >= 0 ? 0 : -1;
}

/* 1 when fd is ready for `events`, 0 on timeout, -1 on error. */
static int wait_fd(int fd, short events, uint32_t timeout_ms)
{
    struct pollfd p = {fd, events, 0};
    int r;
    do {
        r = poll(&p, 1, (int)(timeout_ms > 0x7fffffffu ? 0x7fffffff : timeout_ms));
    } while (r < 0 && errno == EINTR);
    return r;
}

static int posix_send(void *io, const uint8_t *buf, size_t len, uint32_t timeout_ms)
{
    midge_lite_posix_t *s = io;
    ssize_t n;
    int r;
    if (s->fd < 0)
        return -1;
    r = wait_fd(s->fd, POLLOUT, timeout_ms);
    if (r <= 0)
        return r;
    do {
        n = send(s->fd, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : (int)n;
}

static int posix_recv(void *io, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
    midge_lite_posix_t *s = io;
    ssize_t n;
    int r;
    if (s->fd < 0)
        return -1;
    r = wait_fd(s->fd, POLLIN, timeout_ms);
    if (r <= 0)
        return r;
    do {
        n = recv(s->fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    return n <= 0 ? -1 : (int)n;
}

static void posix_sleep(void *io, uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    (void)io;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

void midge_lite_posix_transport(midge_lite_transport_t *t, midge_lite_posix_t *s)
{
    s->fd = -1;
    t->open = posix_open;
    t->close = posix_close;
    t->send = posix_send;
    t->recv = posix_recv;
    t->sleep_ms = posix_sleep;
    t->io = s;
}

uint32_t midge_lite_posix_clock(void *io)
{
    struct timespec ts;
    (void)io;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}
