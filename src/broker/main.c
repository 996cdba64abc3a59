/*
 * midge: options and configuration, then the network layer started with
 * the protocol layer's callbacks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/bridge.h"
#include "broker/config.h"
#include "broker/log.h"
#include "broker/options.h"
#include "broker/privdrop.h"
#include "broker/proto.h"
#include "broker/security_hooks.h"
#include "broker/server.h"

#ifndef MIDGE_VERSION
#define MIDGE_VERSION "0.1.0"
#endif

/* The pid file lets init scripts and tests find the broker, daemonised
 * or not. Like Mosquitto, a pid file that cannot be written stops the
 * start. */
static int write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    bool ok = f && fprintf(f, "%ld\n", (long)getpid()) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok) {
        mlog(MLOG_ERROR, "Error: unable to write pid file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int drop_root(void *user)
{
    return privdrop_to_user(user);
}

int main(int argc, char **argv)
{
    broker_options_t opt;
    options_result_t r = options_parse(&opt, argc, argv, stderr);
    if (r == OPTIONS_EXIT)
        return 0;
    if (r == OPTIONS_ERROR)
        return 1;
    if (opt.verbose)
        mlog_set_verbose(true); /* every log_type, as Mosquitto's -v */

    config_t cfg;
    char err[512];
    if (opt.config_file) {
        if (config_load(&cfg, opt.config_file, err, sizeof(err), NULL, NULL) != 0) {
            mlog(MLOG_ERROR, "Error: %s", err);
            return 1;
        }
    } else if (config_load_default(&cfg, opt.port_count ? opt.ports[0] : 1883) != 0) {
        mlog(MLOG_ERROR, "Error: cannot build the default configuration.");
        return 1;
    }
    /* Before anything else logs, so every line goes where the file says.
     * Mosquitto keeps running on stderr when its log file cannot be
     * opened; midge refuses to start, as for any other file it is given. */
    if (mlog_configure(&cfg, err, sizeof(err)) != 0) {
        mlog(MLOG_ERROR, "Error: %s", err);
        config_free(&cfg);
        return 1;
    }

    server_config_t scfg;
    server_config_init(&scfg);
    scfg.handle_signals = true;
    scfg.threads = options_thread_count(&opt);
    int rc = 1;
    if (opt.config_file || opt.port_count <= 1)
        rc = server_config_from_config(&scfg, &cfg, scfg.threads);
    else
        rc = server_config_from_options(&scfg, &opt); /* several -p ports */
    scfg.handle_signals = true;
    if (rc != 0) {
        mlog(MLOG_ERROR, "Error: cannot set up the listeners.");
        config_free(&cfg);
        return 1;
    }

    static broker_t broker;
    if (broker_init(&broker, &cfg) != 0) {
        mlog(MLOG_ERROR, "Error: out of memory.");
        config_free(&cfg);
        return 1;
    }
    if (sechook_init(&broker, &cfg, opt.config_file, err, sizeof(err)) != 0) {
        mlog(MLOG_ERROR, "Error: %s", err);
        broker_destroy(&broker);
        config_free(&cfg);
        return 1;
    }
    /* -d detaches here: after every file that can refuse the start has been
     * read (so its error still reaches the terminal), before the
     * persistence database is opened and before any thread exists (a
     * SQLite connection or a thread does not survive fork). stderr stays
     * open, so `midge -d 2>>file` keeps a log. */
    if (opt.daemon && daemon(1, 1) != 0) {
        mlog(MLOG_ERROR, "Error: cannot run in the background: %s", strerror(errno));
        broker_destroy(&broker);
        config_free(&cfg);
        return 1;
    }
    if (cfg.pid_file && write_pid_file(cfg.pid_file) != 0) {
        broker_destroy(&broker);
        config_free(&cfg);
        return 1;
    }
    if (persist_open(&broker, &cfg) != 0) {
        broker_destroy(&broker);
        config_free(&cfg);
        return 1;
    }
    /* Bridges read their TLS files here, before root is given up. */
    if (bridges_create(&broker, &cfg) != 0) {
        broker_destroy(&broker);
        persist_close(&broker);
        config_free(&cfg);
        return 1;
    }
    /* Root is given up once the listeners are bound (server_start), after
     * the certificates, password/ACL files and persistence database were
     * opened above. */
    scfg.after_listen = drop_root;
    scfg.after_listen_ctx = cfg.user;
    broker_proto_t ops;
    proto_ops_init(&ops, &broker);
    if (!ops.on_reload)
        ops.on_reload = sechook_reload; /* SIGHUP: listeners, TLS, password and ACL files */
    mlog(MLOG_NOTICE, "midge version %s starting", MIDGE_VERSION);
    server_t *s = server_create(&scfg, &ops);
    broker.server = s;
    rc = 1;
    if (s && server_start(s) == 0) {
        bridges_start(&broker);
        server_run(s);
        bridges_stop(&broker);
        rc = 0;
    }
    /* The log's topic waker names worker 0, which goes away here. */
    mlog_topic_attach(NULL, NULL);
    if (s)
        server_destroy(s);
    bridges_free(&broker);
    mlog(MLOG_NOTICE, "midge version %s terminating", MIDGE_VERSION);
    broker_destroy(&broker);
    persist_close(&broker);
    if (cfg.pid_file)
        unlink(cfg.pid_file);
    config_free(&cfg);
    mlog_shutdown();
    return rc;
}
