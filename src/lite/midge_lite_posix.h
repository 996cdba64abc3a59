/*
 * A midge-lite transport over POSIX TCP sockets (Linux, macOS, lwIP's
 * socket API), and a monotonic clock for it.
 */
#ifndef MIDGE_LITE_POSIX_H
#define MIDGE_LITE_POSIX_H

#include "lite/midge_lite.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *host; /* name or address; must outlive the transport */
    uint16_t port;
    int fd; /* -1 while closed */
} midge_lite_posix_t;

/* Fills t to use s (host and port set by the caller). */
void midge_lite_posix_transport(midge_lite_transport_t *t, midge_lite_posix_t *s);
/* Milliseconds from CLOCK_MONOTONIC (the io argument is unused). */
uint32_t midge_lite_posix_clock(void *io);

#ifdef __cplusplus
}
#endif
#endif
