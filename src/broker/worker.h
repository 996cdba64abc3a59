/*
 * A worker: one thread, one event loop, the connections it accepted.
 *
 * One loop iteration (worker_run_once):
 *   1. wait for I/O, at most until the next timer (not at all if work is
 *      pending);
 *   2. accept; read every readable connection and hand each whole packet
 *      to on_packet;
 *   3. run what other threads posted to the inbox;
 *   4. run due timers;
 *   5. on_worker_tick;
 *   6. flush: on_flush + one writev for every connection with output;
 *   7. close and free the connections closed during this iteration.
 * Steps 3-7 are the "safe point": no handler is running for any connection.
 */
#ifndef MIDGE_BROKER_WORKER_H
#define MIDGE_BROKER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "listener.h"
#include "proto_ops.h"
#include "timer.h"

typedef struct server server_t;

/* A job for another worker's thread. */
typedef void (*worker_fn)(worker_t *w, void *arg);

/*
 * Runs fn(w, arg) on w's thread at its next safe point. Callable from any
 * thread, including w's own (then it runs in this iteration's step 3 or the
 * next one). The eventfd is written only when the inbox goes from empty to
 * non-empty, so a burst of posts costs the target one wake-up.
 * Returns 0, or -1 if out of memory (fn will not run; the caller keeps arg).
 * Jobs still queued when the server is destroyed run then, with
 * worker_stopping(w) true, so they can release arg.
 */
int worker_post(worker_t *w, worker_fn fn, void *arg);

/* The worker whose thread is calling, NULL on other threads. */
worker_t *worker_current(void);
unsigned worker_id(const worker_t *w);
/* The server owning w; NULL for a worker created alone (tests). */
server_t *worker_server(const worker_t *w);
/* Monotonic clock in ms, read once per loop iteration (cheap). */
uint64_t worker_now_ms(const worker_t *w);
/* True once shutdown has begun. */
bool worker_stopping(const worker_t *w);
/* Per-worker storage of the protocol layer (set in on_worker_start). */
void worker_set_proto(worker_t *w, void *data);
void *worker_proto(const worker_t *w);
/* Connections currently owned by w. */
unsigned worker_conn_count(const worker_t *w);

/* The settings of listener l as w applies them now (see server.h on
 * reload): what l's connections on w were accepted with was what this
 * returned then; it changes only between callbacks, at a reload. NULL
 * when w no longer polls l (a reload removed it: its connections are
 * being closed) or l is NULL. */
const listener_spec_t *worker_listener_settings(const worker_t *w, const listener_t *l);
/* The configuration object that goes with those settings (server.h:
 * server_config_t.conf), replaced in the same step; NULL until a reload
 * gives one. */
void *worker_conf(const worker_t *w);

/* Monotonic clock in ms, read now. */
uint64_t mono_ms(void);

/* ---- Lifecycle: used by server.c, and by tests to drive one worker on
 * the test's own thread ---- */

worker_t *worker_create(unsigned id, const broker_proto_t *proto, server_t *server);
/* Accepts connections from fd (one of l's sockets) on this worker, with
 * the settings spec (copied; its TLS context must outlive its use here). */
int worker_add_listener(worker_t *w, listener_t *l, int fd, const listener_spec_t *spec);
/* Makes a connection of an already connected socket (made nonblocking
 * here) with l's settings on w (or l's own spec when w does not poll l);
 * calls on_accept. Returns NULL if refused or out of memory (fd is
 * closed then). */
conn_t *worker_adopt(worker_t *w, int fd, const listener_t *l);
/* One loop iteration, waiting at most max_wait_ms (-1: until the next
 * timer or event). */
void worker_run_once(worker_t *w, int max_wait_ms);
/* The thread body: on_worker_start, iterations until stopped, then
 * worker_shutdown. */
void worker_run(worker_t *w);
/* Thread-safe and async-signal-safe: ends worker_run soon. */
void worker_request_stop(worker_t *w);
/* Stops accepting, closes every connection (on_close with
 * CONN_CLOSE_SHUTDOWN after a last flush), runs on_worker_stop. */
void worker_shutdown(worker_t *w);
/* Frees w; runs any inbox jobs left (worker_stopping() is true). */
void worker_destroy(worker_t *w);

#endif
