#include "server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "net_internal.h"

struct server {
    server_config_t cfg;
    broker_proto_t proto;
    listener_t listeners[SERVER_MAX_LISTENERS];
    size_t nlisteners;
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
    s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->stop_fd < 0) {
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

    for (size_t i = 0; i < s->cfg.listener_count; i++) {
        const listener_spec_t *spec = &s->cfg.listeners[i];
        listener_t *l = &s->listeners[s->nlisteners];
        if (listener_open(l, spec, s->nworkers) != 0) {
            if (spec->optional)
                continue;
            return -1;
        }
        s->nlisteners++;
        mlog(MLOG_NOTICE, "Opening %s listen socket on %s.",
             l->family == AF_INET6 ? "ipv6" : "ipv4", l->addr);
    }
    if (s->nlisteners == 0) {
        mlog(MLOG_ERROR, "Error: no listener could be opened.");
        return -1;
    }
    if (s->cfg.after_listen && s->cfg.after_listen(s->cfg.after_listen_ctx) != 0)
        return -1;

    s->workers = calloc(s->nworkers, sizeof *s->workers);
    s->threads = calloc(s->nworkers, sizeof *s->threads);
    if (!s->workers || !s->threads)
        return -1;
    for (unsigned i = 0; i < s->nworkers; i++) {
        s->workers[i] = worker_create(i, &s->proto, s);
        if (!s->workers[i])
            return -1;
        for (size_t j = 0; j < s->nlisteners; j++) {
            listener_t *l = &s->listeners[j];
            if (worker_add_listener(s->workers[i], l, l->fds[i]) != 0) {
                mlog(MLOG_ERROR, "Error: cannot poll %s: %s.", l->addr, strerror(errno));
                return -1;
            }
        }
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
    for (size_t i = 0; i < s->nlisteners; i++)
        listener_close(&s->listeners[i]);
    /* TLS contexts are the server's; two specs may share one. */
    for (size_t i = 0; i < s->cfg.listener_count; i++) {
        tls_ctx_t *t = s->cfg.listeners[i].tls;
        if (!t)
            continue;
        for (size_t j = i; j < s->cfg.listener_count; j++)
            if (s->cfg.listeners[j].tls == t)
                s->cfg.listeners[j].tls = NULL;
        tls_ctx_free(t);
    }
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    close(s->stop_fd);
    free(s->workers);
    free(s->threads);
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
    return s->nlisteners;
}

const listener_t *server_listener(const server_t *s, size_t i)
{
    return i < s->nlisteners ? &s->listeners[i] : NULL;
}
