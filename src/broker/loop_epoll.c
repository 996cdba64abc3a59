#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EV_BATCH 256

struct ev_backend {
    int epfd;
    struct epoll_event events[EV_BATCH];
};

ev_backend_t *ev_backend_create(void)
{
    ev_backend_t *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        free(b);
        return NULL;
    }
    return b;
}

void ev_backend_destroy(ev_backend_t *b)
{
    if (!b)
        return;
    close(b->epfd);
    free(b);
}

static int ctl(ev_backend_t *b, int op, int fd, uint32_t mask, void *ptr)
{
    struct epoll_event ev = {0};
    ev.events = (mask & EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (mask & EV_WRITE ? EPOLLOUT : 0);
    ev.data.ptr = ptr;
    return epoll_ctl(b->epfd, op, fd, &ev);
}

int ev_add(ev_backend_t *b, int fd, uint32_t mask, void *ptr)
{
    return ctl(b, EPOLL_CTL_ADD, fd, mask, ptr);
}

int ev_mod(ev_backend_t *b, int fd, uint32_t mask, void *ptr)
{
    return ctl(b, EPOLL_CTL_MOD, fd, mask, ptr);
}

int ev_del(ev_backend_t *b, int fd)
{
    struct epoll_event ev = {0};
    return epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, &ev);
}

int ev_wait(ev_backend_t *b, ev_event_t *out, int max, int timeout_ms)
{
    if (max > EV_BATCH)
        max = EV_BATCH;
    int n = epoll_wait(b->epfd, b->events, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        uint32_t e = b->events[i].events;
        out[i].ptr = b->events[i].data.ptr;
        out[i].mask = (e & (EPOLLIN | EPOLLRDHUP) ? EV_READ : 0) | (e & EPOLLOUT ? EV_WRITE : 0) |
                      (e & (EPOLLERR | EPOLLHUP) ? EV_ERROR : 0);
    }
    return n;
}
