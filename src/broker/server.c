#include "server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "net_internal.h"

/*
 * A generation: the listener specs of one configuration (holding a
 * reference on each distinct TLS context and on conf), the listeners
 * opened for them (NULL: not open), reference counted by the server
 * (current) and by each worker that applies it. Workers switch
 * generations at a safe point of their loop (apply_gen), so a worker's
 * settings never change under a callback and a TLS context or conf is
 * released only once no worker uses it.
 */
typedef struct server_gen {
    atomic_int refs;
    atomic_uint applied; /* workers that switched to it */
    listener_spec_t specs[SERVER_MAX_LISTENERS];
    listener_t *listeners[SERVER_MAX_LISTENERS];
    size_t n;
    void *conf;
    void (*conf_ref)(void *);
    void (*conf_unref)(void *);
} server_gen_t;

struct server {
    server_config_t cfg;
    broker_proto_t proto;
    server_gen_t *gen;   /* current */
    server_gen_t **wgen; /* per worker, the one it applied; its thread's */
    worker_t **workers;
    pthread_t *threads;
    unsigned nworkers;
    unsigned nthreads; /* started and not yet joined */
    int stop_fd;       /* eventfd written by server_stop */
    int sig_fd;        /* signalfd when handle_signals */
};

void server_config_init(server_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

/* Calls fn on each distinct TLS context of specs (two specs of one
 * config listener share one). */
static void each_tls(const listener_spec_t *specs, size_t n, tls_ctx_t *(*fn)(tls_ctx_t *))
{
    for (size_t i = 0; i < n; i++) {
        if (!specs[i].tls)
            continue;
        size_t j = 0;
        while (j < i && specs[j].tls != specs[i].tls)
            j++;
        if (j == i)
            fn(specs[i].tls);
    }
}

static tls_ctx_t *tls_unref(tls_ctx_t *t)
{
    tls_ctx_free(t);
    return NULL;
}

void server_config_release(server_config_t *cfg)
{
    each_tls(cfg->listeners, cfg->listener_count, tls_unref);
    for (size_t i = 0; i < cfg->listener_count; i++)
        cfg->listeners[i].tls = NULL;
    if (cfg->conf && cfg->conf_unref)
        cfg->conf_unref(cfg->conf);
    cfg->conf = NULL;
}

/* A generation of cfg's specs, no listener open yet. With take, the
 * references of cfg (TLS contexts, conf) pass to it; else it takes its
 * own. */
static server_gen_t *gen_new(const server_config_t *cfg, bool take)
{
    server_gen_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    atomic_init(&g->refs, 1);
    atomic_init(&g->applied, 0);
    g->n = cfg->listener_count;
    memcpy(g->specs, cfg->listeners, g->n * sizeof *g->specs);
    g->conf = cfg->conf;
    g->conf_ref = cfg->conf_ref;
    g->conf_unref = cfg->conf_unref;
    if (!take) {
        each_tls(g->specs, g->n, tls_ctx_ref);
        if (g->conf && g->conf_ref)
            g->conf_ref(g->conf);
    }
    return g;
}

static server_gen_t *gen_ref(server_gen_t *g)
{
    atomic_fetch_add(&g->refs, 1);
    return g;
}

static void gen_unref(server_gen_t *g)
{
    if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    each_tls(g->specs, g->n, tls_unref);
    for (size_t i = 0; i < g->n; i++)
        listener_unref(g->listeners[i]);
    if (g->conf && g->conf_unref)
        g->conf_unref(g->conf);
    free(g);
}

int server_config_add_listener(server_config_t *cfg, const listener_spec_t *spec)
{
    if (cfg->listener_count >= SERVER_MAX_LISTENERS)
        return -1;
    cfg->listeners[cfg->listener_count++] = *spec;
    return 0;
}

int server_config_from_options(server_config_t *cfg, const broker_options_t *opt)
{
    cfg->threads = opt->threads;
    cfg->handle_signals = true;
    size_t nports = opt->port_count ? opt->port_count : 1;
    for (size_t i = 0; i < nports; i++) {
        uint16_t port = opt->port_count ? opt->ports[i] : 1883;
        listener_spec_t v4 = {
            .host = "127.0.0.1", .port = port, .max_connections = -1, .tcp_nodelay = true};
        listener_spec_t v6 = v4;
        v6.host = "::1";
        v6.optional = true;
        if (server_config_add_listener(cfg, &v4) != 0 || server_config_add_listener(cfg, &v6) != 0)
            return -1;
    }
    return 0;
}

server_t *server_create(const server_config_t *cfg, const broker_proto_t *proto)
{
    server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->proto = *proto;
    s->sig_fd = -1;
    s->gen = gen_new(cfg, true);
    s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->stop_fd < 0 || !s->gen) {
        if (s->stop_fd >= 0)
            close(s->stop_fd);
        if (s->gen)
            gen_unref(s->gen);
        else
            server_config_release(&s->cfg);
        free(s);
        return NULL;
    }
    return s;
}

static void *worker_thread(void *arg)
{
    worker_run(arg);
    return NULL;
}

static int block_signals(server_t *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    /* Blocked before the workers exist, so they inherit the mask and every
     * such signal is taken by the signalfd in server_run. */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return s->sig_fd < 0 ? -1 : 0;
}

static void stop_threads(server_t *s)
{
    for (unsigned i = 0; i < s->nworkers && s->workers; i++)
        if (s->workers[i])
            worker_request_stop(s->workers[i]);
    for (unsigned i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    s->nthreads = 0;
}

int server_start(server_t *s)
{
    signal(SIGPIPE, SIG_IGN);
    if (s->cfg.handle_signals && block_signals(s) != 0) {
        mlog(MLOG_ERROR, "Error: cannot set up signal handling: %s.", strerror(errno));
        return -1;
    }
    broker_options_t none = {.threads = s->cfg.threads};
    s->nworkers = options_thread_count(&none);

    server_gen_t *g = s->gen;
    for (size_t i = 0; i < g->n; i++) {
        const listener_spec_t *spec = &g->specs[i];
        listener_t *l = listener_new(spec, s->nworkers);
        if (!l) {
            if (spec->optional)
                continue;
            return -1;
        }
        g->listeners[i] = l;
        mlog(MLOG_NOTICE, "Opening %s listen socket on %s.",
             l->family == AF_INET6 ? "ipv6" : "ipv4", l->addr);
    }
    if (server_listener_count(s) == 0) {
        mlog(MLOG_ERROR, "Error: no listener could be opened.");
        return -1;
    }
    if (s->cfg.after_listen && s->cfg.after_listen(s->cfg.after_listen_ctx) != 0)
        return -1;

    s->workers = calloc(s->nworkers, sizeof *s->workers);
    s->threads = calloc(s->nworkers, sizeof *s->threads);
    s->wgen = calloc(s->nworkers, sizeof *s->wgen);
    if (!s->workers || !s->threads || !s->wgen)
        return -1;
    for (unsigned i = 0; i < s->nworkers; i++) {
        s->workers[i] = worker_create(i, &s->proto, s);
        if (!s->workers[i])
            return -1;
        s->wgen[i] = gen_ref(g);
        for (size_t j = 0; j < g->n; j++) {
            listener_t *l = g->listeners[j];
            if (l && worker_add_listener(s->workers[i], l, l->fds[i], &g->specs[j]) != 0) {
                mlog(MLOG_ERROR, "Error: cannot poll %s: %s.", l->addr, strerror(errno));
                return -1;
            }
        }
        worker_sync_listeners(s->workers[i], g->listeners, g->specs, g->n, g->conf);
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->threads[i], NULL, worker_thread, s->workers[i]) != 0) {
            mlog(MLOG_ERROR, "Error: cannot start worker thread: %s.", strerror(errno));
            stop_threads(s);
            return -1;
        }
        s->nthreads++;
    }
    mlog(MLOG_INFO, "Running %u worker thread%s.", s->nworkers, s->nworkers == 1 ? "" : "s");
    return 0;
}

/* Returns true when the server should stop. */
static bool take_signal(server_t *s)
{
    struct signalfd_siginfo si;
    while (read(s->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            mlog(MLOG_NOTICE, "Received SIGHUP.");
            if (s->proto.on_reload)
                s->proto.on_reload(s->proto.ctx);
        } else {
            mlog(MLOG_NOTICE, "Received %s, shutting down.",
                 si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
            return true;
        }
    }
    return false;
}

int server_run(server_t *s)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = s->stop_fd, .events = POLLIN},
                              {.fd = s->sig_fd, .events = POLLIN}};
        int n = poll(p, s->sig_fd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (s->sig_fd >= 0 && p[1].revents && take_signal(s))
            break;
    }
    stop_threads(s);
    return 0;
}

void server_stop(server_t *s)
{
    uint64_t one = 1;
    ssize_t r = write(s->stop_fd, &one, sizeof one);
    (void)r;
}

void server_destroy(server_t *s)
{
    if (!s)
        return;
    stop_threads(s);
    for (unsigned i = 0; i < s->nworkers && s->workers; i++)
        if (s->workers[i])
            worker_shutdown(s->workers[i]);
    /* Jobs may post to other workers: drain every inbox until all are
     * quiet before freeing any worker they could post to. */
    for (int round = 0; round < 100 && s->workers; round++) {
        bool ran = false;
        for (unsigned i = 0; i < s->nworkers; i++)
            if (s->workers[i] && worker_run_inbox(s->workers[i]))
                ran = true;
        if (!ran)
            break;
    }
    for (unsigned i = 0; i < s->nworkers && s->workers; i++)
        worker_destroy(s->workers[i]);
    /* Connections are gone; the generations release the listeners (their
     * sockets), TLS contexts and confs. */
    for (unsigned i = 0; i < s->nworkers && s->wgen; i++)
        gen_unref(s->wgen[i]);
    gen_unref(s->gen);
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    close(s->stop_fd);
    free(s->workers);
    free(s->threads);
    free(s->wgen);
    free(s);
}

unsigned server_worker_count(const server_t *s)
{
    return s->nworkers;
}

worker_t *server_worker(const server_t *s, unsigned i)
{
    return i < s->nworkers && s->workers ? s->workers[i] : NULL;
}

size_t server_listener_count(const server_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->gen->n; i++)
        n += s->gen->listeners[i] != NULL;
    return n;
}

const listener_t *server_listener(const server_t *s, size_t i)
{
    for (size_t k = 0; k < s->gen->n; k++)
        if (s->gen->listeners[k] && i-- == 0)
            return s->gen->listeners[k];
    return NULL;
}

/* ---- reload ---- */

/* On worker w's thread, at a safe point: w takes generation g (the job's
 * reference) and drops the one it had. */
static void apply_gen(worker_t *w, void *arg)
{
    server_gen_t *g = arg;
    server_t *s = worker_server(w);
    if (!worker_stopping(w))
        worker_sync_listeners(w, g->listeners, g->specs, g->n, g->conf);
    unsigned id = worker_id(w);
    server_gen_t *old = s->wgen[id];
    s->wgen[id] = g;
    atomic_fetch_add(&g->applied, 1);
    gen_unref(old);
}

/* Makes g current (taking the caller's reference) and hands it to every
 * worker. Returns the number of workers it was posted to. */
static unsigned publish(server_t *s, server_gen_t *g)
{
    unsigned posted = 0;
    for (unsigned i = 0; i < s->nworkers; i++) {
        gen_ref(g);
        if (worker_post(s->workers[i], apply_gen, g) != 0) {
            gen_unref(g);
            mlog(MLOG_ERROR, "Error: out of memory: worker %u keeps its previous listeners.", i);
            continue;
        }
        posted++;
    }
    server_gen_t *old = s->gen;
    s->gen = g;
    gen_unref(old);
    return posted;
}

/* Bounded: a worker busy with a long callback only delays the reload. */
static void wait_applied(const server_gen_t *g, unsigned n)
{
    struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};
    for (int i = 0; i < 5000 && atomic_load(&g->applied) < n; i++)
        nanosleep(&ms, NULL);
}

int server_reconfigure(server_t *s, server_config_t *ncfg, server_reload_stats_t *st)
{
    server_reload_stats_t none;
    if (!st)
        st = &none;
    memset(st, 0, sizeof *st);
    if (s->nthreads != s->nworkers || s->nworkers == 0) {
        server_config_release(ncfg);
        return -1;
    }
    server_gen_t *old = s->gen;
    listener_t *match[SERVER_MAX_LISTENERS] = {0};
    bool used[SERVER_MAX_LISTENERS] = {false};
    for (size_t i = 0; i < ncfg->listener_count; i++)
        for (size_t k = 0; k < old->n && !match[i]; k++)
            if (old->listeners[k] && !used[k] &&
                listener_same(old->listeners[k], &ncfg->listeners[i])) {
                match[i] = old->listeners[k];
                used[k] = true;
                st->kept++;
            }
    for (size_t k = 0; k < old->n; k++)
        if (old->listeners[k] && !used[k]) {
            mlog(MLOG_NOTICE, "Closing listen socket on %s (removed from the configuration).",
                 old->listeners[k]->addr);
            st->closed++;
        }

    if (st->closed) {
        /* Removed listeners go first, so a new one may take their address
         * (a changed bind address or protocol on the same port). */
        server_gen_t *g1 = gen_new(ncfg, false);
        if (!g1) {
            server_config_release(ncfg);
            return -1;
        }
        for (size_t i = 0; i < g1->n; i++)
            g1->listeners[i] = listener_ref(match[i]);
        gen_ref(g1);
        wait_applied(g1, publish(s, g1));
        gen_unref(g1);
    }

    server_gen_t *g = gen_new(ncfg, true);
    if (!g) {
        server_config_release(ncfg);
        return -1;
    }
    for (size_t i = 0; i < g->n; i++) {
        const listener_spec_t *spec = &g->specs[i];
        if (match[i]) {
            g->listeners[i] = listener_ref(match[i]);
            continue;
        }
        listener_t *l = listener_new(spec, s->nworkers);
        if (!l) {
            if (!spec->optional) {
                mlog(MLOG_WARNING,
                     "Warning: listener on port %u not opened; the others are "
                     "applied.",
                     spec->port);
                st->failed++;
            }
            continue;
        }
        g->listeners[i] = l;
        st->opened++;
        mlog(MLOG_NOTICE, "Opening %s listen socket on %s.",
             l->family == AF_INET6 ? "ipv6" : "ipv4", l->addr);
    }
    /* Returning once the workers use it lets the caller's "reloaded"
     * mean in effect. */
    gen_ref(g);
    wait_applied(g, publish(s, g));
    gen_unref(g);
    return 0;
}
