/*
 * The readiness backend under each worker's loop: register file
 * descriptors, wait for events. One small file per backend (loop_epoll.c
 * today), so the loop logic in worker.c and conn.c never names epoll.
 * Registrations are level-triggered: a connection left with unread bytes
 * (read budget spent) is reported again on the next wait.
 */
#ifndef MIDGE_BROKER_LOOP_H
#define MIDGE_BROKER_LOOP_H

#include <stdint.h>

#define EV_READ  0x1u
#define EV_WRITE 0x2u
#define EV_ERROR 0x4u /* error or hang-up: the handler reads to find out */

typedef struct ev_backend ev_backend_t;

typedef struct {
    void *ptr;
    uint32_t mask;
} ev_event_t;

ev_backend_t *ev_backend_create(void);
void ev_backend_destroy(ev_backend_t *b);
/* All return 0, or -1 with errno set. */
int ev_add(ev_backend_t *b, int fd, uint32_t mask, void *ptr);
int ev_mod(ev_backend_t *b, int fd, uint32_t mask, void *ptr);
int ev_del(ev_backend_t *b, int fd);
/* Waits up to timeout_ms (-1: forever); returns events stored (0 on
 * timeout or EINTR), -1 on error. */
int ev_wait(ev_backend_t *b, ev_event_t *out, int max, int timeout_ms);

#endif
