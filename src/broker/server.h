/*
 * The broker's network side as a whole: listeners, worker threads, signal
 * handling. main.c does:
 *
 *   server_config_t cfg;
 *   server_config_init(&cfg);
 *   server_config_from_options(&cfg, &opt);   // or listeners from -c
 *   server_t *s = server_create(&cfg, &proto_ops);
 *   if (!s || server_start(s) != 0) exit(1);  // bind errors are logged
 *   server_run(s);                            // until SIGINT/SIGTERM
 *   server_destroy(s);
 *
 * Tests run the same without signals: server_start, then server_stop()
 * from any thread and server_run() returns.
 */
#ifndef MIDGE_BROKER_SERVER_H
#define MIDGE_BROKER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "listener.h"
#include "options.h"
#include "proto_ops.h"
#include "worker.h"

#define SERVER_MAX_LISTENERS 32

typedef struct {
    listener_spec_t listeners[SERVER_MAX_LISTENERS];
    size_t listener_count;
    unsigned threads; /* 0: one per online core */
    /* Block SIGINT/SIGTERM/SIGHUP in every thread and take them in
     * server_run (SIGINT/SIGTERM stop, SIGHUP calls on_reload). Tests leave
     * it false. SIGPIPE is ignored either way. */
    bool handle_signals;
    /* Called by server_start once every listener is bound, before any
     * worker thread exists: the point to give up root (privdrop.h).
     * Non-zero stops the start. NULL: nothing. */
    int (*after_listen)(void *ctx);
    void *after_listen_ctx;
    /* The protocol layer's object describing this configuration (what
     * listener_spec_t.user points into), given to the server with the
     * config: each worker sees it as worker_conf() together with these
     * listener settings, and conf_unref runs once no worker uses it any
     * more (after a later reload, or at server_destroy). NULL: none. */
    void *conf;
    void (*conf_ref)(void *conf);
    void (*conf_unref)(void *conf);
} server_config_t;

void server_config_init(server_config_t *cfg);
/* Drops what cfg holds (its TLS contexts, conf) when it is not handed to
 * server_create or server_reconfigure. */
void server_config_release(server_config_t *cfg);
/* Appends a listener; -1 if SERVER_MAX_LISTENERS are already set. */
int server_config_add_listener(server_config_t *cfg, const listener_spec_t *spec);
/* Mosquitto's behaviour without a config file: 127.0.0.1 and ::1 (the
 * latter optional) on each -p port, default 1883; threads from --threads;
 * handle_signals on. */
int server_config_from_options(server_config_t *cfg, const broker_options_t *opt);

struct config;
/*
 * Listeners from a loaded configuration (config.h), Mosquitto's way:
 * the implicit listener binds 127.0.0.1 and ::1; `listener PORT [ADDR]`
 * binds ADDR or every address (socket_domain restricts the family);
 * max_connections; certfile/keyfile make a TLS listener (its context is
 * built here, so bad TLS files fail here, logged). TCP_NODELAY is always
 * on: output is already batched per loop iteration, so Nagle would only
 * add delay. spec.user points at the config_listener_t, which must
 * outlive the server (or the generation: server_config_t.conf). Returns 0
 * or -1 (logged as "file:line: ...", the TLS contexts already built are
 * released). `protocol websockets`
 * listeners speak MQTT over WebSockets (ws_conn.h), over TLS when it is
 * configured.
 */
int server_config_from_config(server_config_t *cfg, const struct config *conf, unsigned threads);

/* Takes cfg's TLS contexts and conf (released with the server, also when
 * this fails). */
server_t *server_create(const server_config_t *cfg, const broker_proto_t *proto);
/* Binds every listener and starts the workers; connections are accepted
 * when it returns. Returns 0, or -1 after logging why (nothing running). */
int server_start(server_t *s);
/* Blocks until SIGINT/SIGTERM (with handle_signals) or server_stop(); then
 * stops the workers, each closing its connections, and joins them. */
int server_run(server_t *s);
/* Any thread, or a signal handler: makes server_run return promptly. */
void server_stop(server_t *s);
/* Frees everything; stops and joins the workers first if still running. */
void server_destroy(server_t *s);

/*
 * Reload (SIGHUP), from the thread running server_run, while the workers
 * run. ncfg's listeners are matched to the open ones by identity
 * (listener_same: bind address, port, family restriction, protocol):
 *   - a matched listener keeps its sockets and connections and takes
 *     ncfg's settings (TLS context, max_connections, user) for the
 *     connections it accepts from then on; connections already open keep
 *     their TLS session (OpenSSL keeps the old context alive for them);
 *   - an unmatched open listener is closed, with its connections, first,
 *     so that a new listener may bind its address;
 *   - an unmatched new spec is bound; a failure is logged and that
 *     listener skipped, the others applied.
 * Each worker switches at a safe point of its loop, listener settings and
 * ncfg->conf in one step; this returns once all have (waiting at most a
 * few seconds for a busy one). ncfg's threads, handle_signals and after_listen
 * are ignored. The server takes ncfg's TLS contexts and conf in every case.
 * Returns 0, or -1 (logged, nothing changed) when the server is not
 * running or memory runs out.
 */
typedef struct {
    unsigned kept, opened, closed, failed;
} server_reload_stats_t;
int server_reconfigure(server_t *s, server_config_t *ncfg, server_reload_stats_t *stats);

unsigned server_worker_count(const server_t *s);
worker_t *server_worker(const server_t *s, unsigned i);
size_t server_listener_count(const server_t *s);
const listener_t *server_listener(const server_t *s, size_t i);

#endif
