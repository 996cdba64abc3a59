#include "conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "net_internal.h"
#include "ws_conn.h"

/* One piece of output: copied bytes (data[0..len)), then optionally a
 * shared payload that is released once written. */
struct out_chunk {
    out_chunk_t *next;
    const uint8_t *payload;
    size_t payload_len;
    conn_release_fn release;
    void *ref;
    size_t len, cap; /* data bytes used / allocated */
    size_t sent;     /* bytes of data + payload already written */
    uint8_t data[];
};

/* Chunks for copied writes are at least this big, so a stream of small
 * acks fills one allocation instead of one each. */
#define OUT_CHUNK_ALLOC 1024u
/* Payloads up to this size are copied instead of shared: a memcpy is
 * cheaper than the extra chunk, iovec and release call. */
#define OUT_COPY_MAX 512u
/* iovecs per sendmsg; each chunk uses at most two. */
#define OUT_IOV 64
/* Input buffers up to this size stay allocated between packets; larger
 * ones are freed once empty so idle connections hold little memory. */
#define IN_KEEP 4096u

static atomic_uint_fast64_t next_conn_id = 1;

static void peer_to_string(conn_t *c, const struct sockaddr *sa, socklen_t len)
{
    c->peer_host[0] = '\0';
    c->peer_port = 0;
    if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, c->peer_host, sizeof c->peer_host);
        c->peer_port = ntohs(in->sin_port);
    } else if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_host, sizeof c->peer_host);
        c->peer_port = ntohs(in6->sin6_port);
    } else {
        strcpy(c->peer_host, "local");
    }
}

conn_t *conn_create(worker_t *w, int fd, const listener_t *l, const listener_spec_t *spec,
                    const struct sockaddr *peer, socklen_t peer_len)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->worker = w;
    c->listener = l;
    c->id = atomic_fetch_add(&next_conn_id, 1);
    peer_to_string(c, peer, peer_len);
    c->last_rx_ms = w->now_ms;
    c->max_packet_size = CONN_PREAUTH_MAX_PACKET;
    c->out_limit = CONN_DEFAULT_OUT_LIMIT;
    if (spec && spec->tls && tls_conn_start(c, spec->tls) != 0) {
        free(c);
        return NULL;
    }
    if (spec && spec->websockets && ws_conn_start(c) != 0) {
        tls_conn_end(c, false);
        free(c);
        return NULL;
    }
    return c;
}

size_t conn_out_bytes(const conn_t *c)
{
    return c->out_bytes;
}

bool conn_is_closing(const conn_t *c)
{
    return (c->flags & CONN_F_CLOSING) != 0;
}

/* Only the owning worker's thread may touch a connection; another
 * worker's thread doing so is a race that would corrupt the queues. */
#define ASSERT_OWNER(c) assert(!worker_current() || worker_current() == (c)->worker)

void conn_close(conn_t *c, conn_close_reason_t reason)
{
    ASSERT_OWNER(c);
    if (c->flags & CONN_F_CLOSING)
        return;
    c->close_reason = reason;
    worker_mark_closing(c->worker, c);
}

void conn_want_flush(conn_t *c)
{
    ASSERT_OWNER(c);
    if (c->flags & CONN_F_CLOSING)
        return;
    if (c->flags & CONN_F_IN_FLUSH)
        c->flags |= CONN_F_AGAIN;
    else
        worker_mark_dirty(c->worker, c);
}

/* ---- output ---- */

static out_chunk_t *chunk_new(size_t cap)
{
    out_chunk_t *k = malloc(sizeof *k + cap);
    if (!k)
        return NULL;
    memset(k, 0, sizeof *k);
    k->cap = cap;
    return k;
}

static void chunk_free(out_chunk_t *k)
{
    if (k->release)
        k->release(k->ref);
    free(k);
}

static void chunk_append(conn_t *c, out_chunk_t *k)
{
    if (c->out_tail)
        c->out_tail->next = k;
    else
        c->out_head = k;
    c->out_tail = k;
}

/* Refuses a write that would pass out_limit, closing the connection: the
 * peer is not reading, and queueing more only moves the problem into
 * memory. */
static bool admit(conn_t *c, size_t len)
{
    ASSERT_OWNER(c);
    if ((c->flags & (CONN_F_CLOSING | CONN_F_FINAL)) == CONN_F_CLOSING)
        return false;
    if (len > c->out_limit || c->out_bytes > c->out_limit - len) {
        mlog(MLOG_NOTICE, "Client %s:%u: output queue over %zu bytes, disconnecting.", c->peer_host,
             c->peer_port, c->out_limit);
        conn_close(c, CONN_CLOSE_OUTPUT_LIMIT);
        return false;
    }
    return true;
}

/* Copies data into the queue; false (nothing queued) if out of memory. */
static bool append_copy(conn_t *c, const uint8_t *data, size_t len)
{
    out_chunk_t *t = c->out_tail;
    size_t room = t && !t->payload ? t->cap - t->len : 0;
    size_t first = len < room ? len : room;
    size_t rest = len - first;
    out_chunk_t *k = NULL;
    if (rest) {
        size_t min = OUT_CHUNK_ALLOC - sizeof(out_chunk_t);
        k = chunk_new(rest > min ? rest : min);
        if (!k)
            return false;
    }
    if (first) {
        memcpy(t->data + t->len, data, first);
        t->len += first;
    }
    if (k) {
        memcpy(k->data, data + first, rest);
        k->len = rest;
        chunk_append(c, k);
    }
    c->out_bytes += len;
    return true;
}

int conn_write(conn_t *c, const void *data, size_t len)
{
    uint8_t wsh[10];
    size_t wsh_len = c->ws && len ? ws_conn_frame_header(c, len, wsh) : 0;
    if (len > SIZE_MAX - wsh_len || !admit(c, wsh_len + len))
        return -1;
    if (len == 0)
        return 0;
    if ((wsh_len && !append_copy(c, wsh, wsh_len)) || !append_copy(c, data, len)) {
        conn_close(c, CONN_CLOSE_NOMEM);
        return -1;
    }
    conn_want_flush(c);
    return 0;
}

int conn_write_ref(conn_t *c, const void *head, size_t head_len, const void *payload,
                   size_t payload_len, conn_release_fn release, void *ref)
{
    uint8_t wsh[10];
    size_t wsh_len = c->ws && head_len <= SIZE_MAX - payload_len
                         ? ws_conn_frame_header(c, head_len + payload_len, wsh)
                         : 0;
    if (head_len > SIZE_MAX - payload_len - wsh_len ||
        !admit(c, wsh_len + head_len + payload_len)) {
        if (release)
            release(ref);
        return -1;
    }
    if (payload_len <= OUT_COPY_MAX) {
        bool ok = (!wsh_len || append_copy(c, wsh, wsh_len)) && append_copy(c, head, head_len);
        if (ok && !append_copy(c, payload, payload_len)) {
            /* The head alone must not go out: it announces the payload. */
            ok = false;
        }
        if (release)
            release(ref);
        if (!ok) {
            conn_close(c, CONN_CLOSE_NOMEM);
            return -1;
        }
        conn_want_flush(c);
        return 0;
    }
    out_chunk_t *t = c->out_tail;
    if (!t || t->payload || t->cap - t->len < wsh_len + head_len) {
        t = chunk_new(wsh_len + head_len);
        if (!t) {
            if (release)
                release(ref);
            conn_close(c, CONN_CLOSE_NOMEM);
            return -1;
        }
        chunk_append(c, t);
    }
    memcpy(t->data + t->len, wsh, wsh_len);
    memcpy(t->data + t->len + wsh_len, head, head_len);
    t->len += wsh_len + head_len;
    t->payload = payload;
    t->payload_len = payload_len;
    t->release = release;
    t->ref = ref;
    c->out_bytes += wsh_len + head_len + payload_len;
    conn_want_flush(c);
    return 0;
}

/* Registers the events the connection's state calls for. A paused
 * connection must not stay registered for reading: level-triggered
 * readiness would wake the loop for it on every iteration. */
static void update_events(conn_t *c, unsigned old_flags)
{
    unsigned relevant = CONN_F_WANT_OUT | CONN_F_PAUSED;
    if ((old_flags & relevant) == (c->flags & relevant))
        return;
    uint32_t mask =
        (c->flags & CONN_F_PAUSED ? 0 : EV_READ) | (c->flags & CONN_F_WANT_OUT ? EV_WRITE : 0);
    if (ev_mod(c->worker->ev, c->fd, mask, c) != 0)
        c->flags = (c->flags & ~relevant) | (old_flags & relevant);
}

static void set_want_out(conn_t *c, bool on)
{
    unsigned old = c->flags;
    if (on)
        c->flags |= CONN_F_WANT_OUT;
    else
        c->flags &= ~CONN_F_WANT_OUT;
    update_events(c, old);
}

size_t conn_out_gather(const conn_t *c, uint8_t *dst, size_t max)
{
    size_t n = 0;
    for (const out_chunk_t *k = c->out_head; k && n < max; k = k->next) {
        size_t sent = k->sent;
        if (sent < k->len) {
            size_t take = k->len - sent < max - n ? k->len - sent : max - n;
            memcpy(dst + n, k->data + sent, take);
            n += take;
            sent = k->len;
        }
        size_t poff = sent - k->len;
        if (n < max && k->payload_len > poff) {
            size_t take = k->payload_len - poff < max - n ? k->payload_len - poff : max - n;
            memcpy(dst + n, k->payload + poff, take);
            n += take;
        }
    }
    return n;
}

void conn_out_consume(conn_t *c, size_t n)
{
    c->out_bytes -= n;
    c->tx_bytes += n;
    while (n && c->out_head) {
        out_chunk_t *k = c->out_head;
        size_t left = k->len + k->payload_len - k->sent;
        if (n < left) {
            k->sent += n;
            return;
        }
        n -= left;
        c->out_head = k->next;
        if (!c->out_head)
            c->out_tail = NULL;
        chunk_free(k);
    }
}

/* Writes as much of the queue as the socket takes. Returns false if the
 * socket failed; the caller decides what that means. */
static bool write_out(conn_t *c)
{
    if (c->tls)
        return tls_conn_write_out(c, c->worker->scratch);
    /* Bounded: each round either empties up to OUT_IOV chunks or stops at
     * a partial write. */
    for (int round = 0; round < 64 && c->out_head; round++) {
        struct iovec iov[OUT_IOV];
        int n = 0;
        size_t want = 0;
        for (out_chunk_t *k = c->out_head; k && n + 2 <= OUT_IOV; k = k->next) {
            if (k->sent < k->len) {
                iov[n].iov_base = k->data + k->sent;
                iov[n].iov_len = k->len - k->sent;
                want += iov[n++].iov_len;
            }
            size_t poff = k->sent > k->len ? k->sent - k->len : 0;
            if (k->payload_len > poff) {
                iov[n].iov_base = (void *)(k->payload + poff);
                iov[n].iov_len = k->payload_len - poff;
                want += iov[n++].iov_len;
            }
        }
        if (want == 0)
            break;
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        conn_out_consume(c, (size_t)w);
        if ((size_t)w < want)
            return true;
    }
    return true;
}

void conn_flush(conn_t *c)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    worker_t *w = c->worker;
    c->flags |= CONN_F_IN_FLUSH;
    if (w->proto.on_flush)
        w->proto.on_flush(w->proto.ctx, c);
    if (c->ws)
        ws_conn_flush(c); /* a plain HTTP response (http_dir) streams its file */
    c->flags &= ~CONN_F_IN_FLUSH;
    if (c->flags & CONN_F_CLOSING)
        return;
    if (!write_out(c)) {
        conn_close(c, CONN_CLOSE_IO_ERROR);
        return;
    }
    if (c->out_head) {
        /* The socket is full: wait for writability rather than spin, even
         * if on_flush has more to give. (A TLS write waiting on a read is
         * resumed by readability instead.) */
        c->flags &= ~CONN_F_AGAIN;
        set_want_out(c, !(c->flags & CONN_F_TLS_WANT_READ));
        return;
    }
    set_want_out(c, (c->flags & CONN_F_TLS_WANT_WRITE) != 0);
    if (c->flags & CONN_F_AGAIN) {
        c->flags &= ~CONN_F_AGAIN;
        worker_mark_dirty(w, c);
    }
}

void conn_on_writable(conn_t *c)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    worker_mark_dirty(c->worker, c);
    if (c->flags & CONN_F_TLS_WANT_WRITE)
        conn_on_readable(c);
}

/* ---- input ---- */

/* Grows the input buffer to hold at least `need` bytes, by doubling but
 * never past `limit` (the size of the packet being assembled). */
static bool in_reserve(conn_t *c, size_t need, size_t limit)
{
    if (need <= c->in_cap)
        return true;
    size_t cap = c->in_cap ? c->in_cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > limit)
        cap = limit > need ? limit : need;
    uint8_t *p = realloc(c->in, cap);
    if (!p)
        return false;
    c->in = p;
    c->in_cap = cap;
    return true;
}

static void in_release(conn_t *c)
{
    c->in_len = 0;
    if (c->in_cap > IN_KEEP) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

static void protocol_error(conn_t *c, mqtt_err_t err)
{
    worker_t *w = c->worker;
    mlog(MLOG_NOTICE, "Client %s:%u: %s, disconnecting.", c->peer_host, c->peer_port,
         mqtt_err_str(err));
    if (w->proto.on_protocol_error)
        w->proto.on_protocol_error(w->proto.ctx, c, err);
    conn_close(c, CONN_CLOSE_PROTOCOL);
}

/*
 * Frames the start of buf. Returns the size of the whole packet starting
 * there (which may exceed len), 0 if the fixed header itself is incomplete,
 * or -1 after a framing error (connection closing).
 */
static long long frame(conn_t *c, const uint8_t *buf, size_t len, mqtt_fixed_header_t *fh)
{
    mqtt_err_t err = mqtt_fixed_header_decode(buf, len, fh);
    if (err == MQTT_ERR_NEED_MORE)
        return 0;
    if (err != MQTT_OK) {
        protocol_error(c, err);
        return -1;
    }
    uint64_t total = (uint64_t)fh->header_len + fh->remaining;
    if (total > c->max_packet_size) {
        protocol_error(c, MQTT_ERR_PACKET_TOO_LARGE);
        return -1;
    }
    return (long long)total;
}

static void dispatch(conn_t *c, const mqtt_fixed_header_t *fh, const uint8_t *packet)
{
    worker_t *w = c->worker;
    if (c->budget)
        c->budget--;
    if (w->proto.on_packet)
        w->proto.on_packet(w->proto.ctx, c, fh, packet + fh->header_len, fh->remaining);
}

/* Whether another packet may be handed over now. */
static bool may_dispatch(const conn_t *c)
{
    return c->budget > 0 && !(c->flags & (CONN_F_PAUSED | CONN_F_CLOSING));
}

/* Keeps bytes that cannot be handed over now (budget spent, or paused)
 * for conn_process_pending. At most one read's worth: nothing more is read
 * until they are processed. */
static void hold(conn_t *c, const uint8_t *data, size_t n)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    if (n) {
        if (!in_reserve(c, c->in_len + n, c->in_len + n)) {
            conn_close(c, CONN_CLOSE_NOMEM);
            return;
        }
        memcpy(c->in + c->in_len, data, n);
        c->in_len += n;
    }
    if (!(c->flags & CONN_F_PAUSED))
        worker_mark_pending(c->worker, c);
}

/*
 * Feeds freshly read bytes. Whole packets in `data` are handed over
 * straight from it; only a packet split across reads is copied into the
 * connection's buffer, and only the bytes that belong to it, so outside
 * of hold() the buffer never holds more than one packet
 * (<= max_packet_size).
 */
static void feed(conn_t *c, const uint8_t *data, size_t n)
{
    mqtt_fixed_header_t fh;
    /* More bytes after a hold in the same read (further WebSocket frames):
     * they queue behind the held ones. */
    if (c->flags & (CONN_F_PENDING | CONN_F_PAUSED)) {
        hold(c, data, n);
        return;
    }
    while (n && !(c->flags & CONN_F_CLOSING)) {
        if (c->in_len) {
            /* Complete the pending packet; its header first, byte by byte
             * (at most 5), so no byte of the next packet is taken. */
            long long total = frame(c, c->in, c->in_len, &fh);
            if (total < 0)
                return;
            size_t take = total == 0 ? 1 : (size_t)total - c->in_len;
            if (take > n)
                take = n;
            if (!in_reserve(c, c->in_len + take, total ? (size_t)total : 5)) {
                conn_close(c, CONN_CLOSE_NOMEM);
                return;
            }
            memcpy(c->in + c->in_len, data, take);
            c->in_len += take;
            data += take;
            n -= take;
            if (total == 0 || c->in_len < (size_t)total)
                continue;
            if (!may_dispatch(c)) {
                hold(c, data, n);
                return;
            }
            dispatch(c, &fh, c->in);
            in_release(c);
            continue;
        }
        long long total = frame(c, data, n, &fh);
        if (total < 0)
            return;
        if (total > 0 && (size_t)total <= n) {
            if (!may_dispatch(c)) {
                hold(c, data, n);
                return;
            }
            dispatch(c, &fh, data);
            data += total;
            n -= (size_t)total;
            continue;
        }
        if (!in_reserve(c, n, total ? (size_t)total : 5)) {
            conn_close(c, CONN_CLOSE_NOMEM);
            return;
        }
        memcpy(c->in, data, n);
        c->in_len = n;
        return;
    }
}

void conn_process_pending(conn_t *c)
{
    c->budget = NET_PACKET_BUDGET;
    size_t off = 0;
    mqtt_fixed_header_t fh;
    while (may_dispatch(c)) {
        long long total = frame(c, c->in + off, c->in_len - off, &fh);
        if (total <= 0 || (size_t)total > c->in_len - off)
            break;
        dispatch(c, &fh, c->in + off);
        off += (size_t)total;
    }
    if (c->flags & CONN_F_CLOSING)
        return;
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    /* Whole packets left (budget spent): next iteration. Otherwise at most
     * a partial packet remains and reading takes over again. */
    if (c->in_len && !(c->flags & CONN_F_PAUSED)) {
        if (mqtt_fixed_header_decode(c->in, c->in_len, &fh) == MQTT_OK &&
            (uint64_t)fh.header_len + fh.remaining <= c->in_len)
            worker_mark_pending(c->worker, c);
    }
    if (!c->in_len)
        in_release(c);
}

void conn_pause_read(conn_t *c)
{
    ASSERT_OWNER(c);
    if (c->flags & (CONN_F_PAUSED | CONN_F_CLOSING))
        return;
    unsigned old = c->flags;
    c->flags |= CONN_F_PAUSED;
    worker_unmark_pending(c->worker, c);
    update_events(c, old);
}

void conn_resume_read(conn_t *c)
{
    ASSERT_OWNER(c);
    if (!(c->flags & CONN_F_PAUSED) || (c->flags & CONN_F_CLOSING))
        return;
    unsigned old = c->flags;
    c->flags &= ~CONN_F_PAUSED;
    update_events(c, old);
    /* Buffered whole packets go first, at the next safe point. */
    if (c->in_len)
        worker_mark_pending(c->worker, c);
}

/* Bytes still missing from a pending packet whose header is known, or 0.
 * The header is framed (checked against max_packet_size) here too: when its
 * last byte ended the previous read, nothing has checked it yet, and the
 * direct read below would otherwise buffer whatever length it claims. */
static size_t pending_need(conn_t *c, mqtt_fixed_header_t *fh)
{
    if (!c->in_len)
        return 0;
    long long total = frame(c, c->in, c->in_len, fh);
    if (total <= 0)
        return 0; /* incomplete header, or a framing error: closing */
    return (size_t)total > c->in_len ? (size_t)total - c->in_len : 0;
}

void conn_on_readable(conn_t *c)
{
    worker_t *w = c->worker;
    if (c->flags & CONN_F_TLS_WANT_READ)
        worker_mark_dirty(w, c); /* a TLS write was waiting for this */
    if (c->flags & (CONN_F_PAUSED | CONN_F_PENDING))
        return; /* buffered packets go first */
    c->budget = NET_PACKET_BUDGET;
    /* TLS may hold decrypted bytes the socket no longer signals: finish
     * them past the usual budget (at most one record). */
    for (int round = 0; !(c->flags & (CONN_F_CLOSING | CONN_F_PAUSED | CONN_F_PENDING)) &&
                        (round < NET_READ_ROUNDS || (c->tls && round < 64 && tls_conn_pending(c)));
         round++) {
        mqtt_fixed_header_t fh;
        size_t need = pending_need(c, &fh);
        if (c->flags & CONN_F_CLOSING)
            return;
        uint8_t *dst = w->scratch;
        size_t cap = NET_READ_CHUNK;
        bool direct = !c->ws && need >= NET_READ_CHUNK / 4;
        if (direct) {
            /* The rest of a big packet: read it in place, no extra copy;
             * the buffer grows with the bytes that actually arrive. */
            size_t step = need < NET_READ_CHUNK ? need : NET_READ_CHUNK;
            if (!in_reserve(c, c->in_len + step, c->in_len + need)) {
                conn_close(c, CONN_CLOSE_NOMEM);
                return;
            }
            dst = c->in + c->in_len;
            cap = c->in_cap - c->in_len < need ? c->in_cap - c->in_len : need;
        }
        ssize_t r = c->tls ? tls_conn_read(c, dst, cap) : read(c->fd, dst, cap);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_close(c, CONN_CLOSE_IO_ERROR);
            else if (c->flags & CONN_F_TLS_WANT_WRITE)
                set_want_out(c, true);
            return;
        }
        if (r == 0) {
            conn_close(c, CONN_CLOSE_PEER);
            return;
        }
        c->rx_bytes += (size_t)r;
        c->last_rx_ms = w->now_ms;
        if (direct) {
            c->in_len += (size_t)r;
            if ((size_t)r == need) {
                dispatch(c, &fh, c->in);
                in_release(c);
            }
        } else if (c->ws) {
            ws_conn_input(c, dst, (size_t)r, feed);
        } else {
            feed(c, dst, (size_t)r);
        }
        if (!c->tls && (size_t)r < cap)
            return; /* drained */
    }
}

/* ---- end of a connection ---- */

/* Reads and discards what the peer already sent, so that close() does not
 * answer unread input with a reset that could destroy our last packet
 * (a CONNACK refusal or DISCONNECT) before the peer reads it. */
static void drain_input(int fd, uint8_t *scratch)
{
    for (int i = 0; i < 4; i++) {
        ssize_t r = recv(fd, scratch, NET_READ_CHUNK, MSG_DONTWAIT);
        if (r <= 0)
            return;
    }
}

void conn_destroy(conn_t *c)
{
    worker_t *w = c->worker;
    /* Whether the socket can still carry a last packet: not after the
     * peer left or the socket failed, and not when the queue is what
     * overflowed. */
    bool usable = c->close_reason != CONN_CLOSE_PEER && c->close_reason != CONN_CLOSE_IO_ERROR &&
                  c->close_reason != CONN_CLOSE_OUTPUT_LIMIT;
    if (ws_conn_reply_pending(c))
        usable = true; /* the peer's WebSocket close awaits our reply */
    if (c->flags & CONN_F_ACCEPTED && w->proto.on_close) {
        if (usable)
            c->flags |= CONN_F_FINAL;
        w->proto.on_close(w->proto.ctx, c, c->close_reason);
        c->flags &= ~CONN_F_FINAL;
    }
    if (c->ws) {
        if (usable)
            c->flags |= CONN_F_FINAL;
        ws_conn_end(c, usable);
        c->flags &= ~CONN_F_FINAL;
    }
    if (usable && c->out_head) {
        /* One last nonblocking write, without on_flush: what the protocol
         * layer queued before or while closing (CONNACK with an error,
         * DISCONNECT). */
        write_out(c);
    }
    worker_unmark_dirty(w, c);
    worker_unmark_pending(w, c);
    ev_del(w->ev, c->fd);
    tls_conn_end(c, usable);
    if (usable) {
        shutdown(c->fd, SHUT_WR);
        drain_input(c->fd, w->scratch);
    }
    close(c->fd);
    worker_unlink_conn(w, c);
    while (c->out_head) {
        out_chunk_t *k = c->out_head;
        c->out_head = k->next;
        chunk_free(k);
    }
    free(c->in);
    free(c);
}

const char *conn_close_reason_str(conn_close_reason_t reason)
{
    switch (reason) {
    case CONN_CLOSE_PEER:
        return "closed by peer";
    case CONN_CLOSE_IO_ERROR:
        return "socket error";
    case CONN_CLOSE_PROTOCOL:
        return "protocol error";
    case CONN_CLOSE_OUTPUT_LIMIT:
        return "output limit exceeded";
    case CONN_CLOSE_BY_PROTO:
        return "closed by broker";
    case CONN_CLOSE_SHUTDOWN:
        return "broker shutting down";
    case CONN_CLOSE_NOMEM:
        return "out of memory";
    }
    return "unknown";
}
