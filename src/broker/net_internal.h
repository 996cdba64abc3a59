/*
 * Private to the network layer (conn.c, worker.c, timer.c, server.c):
 * the worker's state and the calls between those files. The protocol layer
 * uses worker.h and conn.h only.
 */
#ifndef MIDGE_BROKER_NET_INTERNAL_H
#define MIDGE_BROKER_NET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "conn.h"
#include "loop.h"
#include "timer.h"
#include "tls.h"
#include "worker.h"

/* Bytes read per read(2) into the worker's scratch buffer, and reads per
 * connection per wake-up: a fast sender cannot starve the others (the
 * level-triggered backend reports it again next iteration). */
#define NET_READ_CHUNK  (64u * 1024u)
#define NET_READ_ROUNDS 4
/* Packets handed to on_packet per connection per loop iteration: one
 * client flooding small packets cannot hold the worker for more than a
 * few hundred handler calls before the others get their turn. */
#define NET_PACKET_BUDGET 256

/* conn->flags */
#define CONN_F_CLOSING        0x01u  /* on the close list */
#define CONN_F_DIRTY          0x02u  /* on the flush list */
#define CONN_F_WANT_OUT       0x04u  /* registered for writability */
#define CONN_F_ACCEPTED       0x08u  /* on_accept kept it: on_close is owed */
#define CONN_F_AGAIN          0x10u  /* conn_want_flush during on_flush */
#define CONN_F_IN_FLUSH       0x20u  /* on_flush is running */
#define CONN_F_FINAL          0x40u  /* in on_close with a usable socket: writes allowed */
#define CONN_F_TLS_WANT_READ  0x80u  /* TLS output waits for readability */
#define CONN_F_TLS_WANT_WRITE 0x100u /* TLS input waits for writability */
#define CONN_F_PAUSED         0x200u /* conn_pause_read: no reading, no packets */
#define CONN_F_PENDING        0x400u /* whole packets buffered: on the pending list */

typedef struct job job_t;

/* One listening socket of one listener, polled by one worker. */
typedef struct {
    worker_t *worker;
    listener_t *listener;
    /* The listener's settings as this worker applies them (TLS context,
     * max_connections, the protocol layer's user pointer); replaced only
     * at a safe point by worker_sync_listeners, so they never change
     * during a callback. The TLS context is kept alive by the server's
     * generation this worker holds. */
    listener_spec_t spec;
    int fd;
    bool paused; /* out of descriptors: not polled until `resume` fires */
    wtimer_t resume;
} worker_listener_t;

struct worker {
    unsigned id;
    server_t *server;
    broker_proto_t proto;
    ev_backend_t *ev;
    int wake_fd; /* eventfd: inbox posts and stop requests */
    uint64_t now_ms;
    wtimer_heap_t timers;
    atomic_bool stop_requested;
    bool started; /* on_worker_start ran */
    bool stopping;
    void *proto_data;
    uint8_t *scratch; /* NET_READ_CHUNK bytes: every read lands here first */

    conn_t *conns; /* all connections, for shutdown */
    unsigned nconns;
    conn_t *dirty_head, *dirty_tail;
    conn_t *pending_head, *pending_tail;
    conn_t *close_head, *close_tail;

    pthread_mutex_t inbox_lock;
    job_t *inbox_head, *inbox_tail;

    worker_listener_t **listeners;
    size_t nlisteners;
    void *conf; /* worker_conf */
};

/* conn.c, called by worker.c */
conn_t *conn_create(worker_t *w, int fd, const listener_t *l, const listener_spec_t *spec,
                    const struct sockaddr *peer, socklen_t peer_len);
void conn_on_readable(conn_t *c);
void conn_on_writable(conn_t *c);
/* Hands over packets buffered while the budget was spent or reading was
 * paused; called for each connection on the pending list. */
void conn_process_pending(conn_t *c);
/* on_flush + write; called for each connection on the flush list. */
void conn_flush(conn_t *c);
/* The end of a closing connection: last write, on_close, free. */
void conn_destroy(conn_t *c);

/* conn.c, for tls.c: copies up to max queued bytes from the front of the
 * output queue (without removing them); drops n written bytes. */
size_t conn_out_gather(const conn_t *c, uint8_t *dst, size_t max);
void conn_out_consume(conn_t *c, size_t n);

/* tls.c, called by conn.c. Read and write follow read(2)'s conventions
 * (bytes, 0 at EOF, -1 with errno; EAGAIN also when the handshake waits
 * on the other direction, flagged with CONN_F_TLS_WANT_*). */
int tls_conn_start(conn_t *c, const tls_ctx_t *ctx);
ssize_t tls_conn_read(conn_t *c, void *buf, size_t cap);
bool tls_conn_pending(const conn_t *c);
/* Writes from the queue through `stage` (>= 16 KiB); false on failure. */
bool tls_conn_write_out(conn_t *c, uint8_t *stage);
void tls_conn_end(conn_t *c, bool usable);

/* worker.c, called by conn.c */
void worker_mark_dirty(worker_t *w, conn_t *c);
void worker_unmark_dirty(worker_t *w, conn_t *c);
void worker_mark_closing(worker_t *w, conn_t *c);
void worker_mark_pending(worker_t *w, conn_t *c);
void worker_unmark_pending(worker_t *w, conn_t *c);
void worker_unlink_conn(worker_t *w, conn_t *c);

/* server.c: runs the jobs queued on w so far; true if there were any. */
bool worker_run_inbox(worker_t *w);

/*
 * server.c, on w's thread at a safe point (a reload): makes w's listeners
 * exactly ls[0..n) (NULL entries skipped) with settings specs[i]. A
 * listener w polls that is not in ls is removed: its socket of this
 * worker is closed and every connection w accepted on it is closed (the
 * protocol layer sees an ordinary close, CONN_CLOSE_BY_PROTO). New ones
 * are polled on their socket ls[i]->fds[worker id]. Then worker_conf(w)
 * becomes conf. Failures to poll are logged and that listener skipped.
 */
void worker_sync_listeners(worker_t *w, listener_t *const *ls, const listener_spec_t *specs,
                           size_t n, void *conf);

#endif
