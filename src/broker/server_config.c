/* From config_t (security's mosquitto.conf reader) to listener specs. */
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "tls.h"

static int add(server_config_t *cfg, const listener_spec_t *spec)
{
    if (server_config_add_listener(cfg, spec) != 0) {
        mlog(MLOG_ERROR, "Error: more than %d listeners.", SERVER_MAX_LISTENERS);
        return -1;
    }
    return 0;
}

int server_config_from_config(server_config_t *cfg, const config_t *conf, unsigned threads)
{
    cfg->threads = threads;
    cfg->handle_signals = true;
    for (size_t i = 0; i < conf->listener_count; i++) {
        const config_listener_t *cl = &conf->listeners[i];
        listener_spec_t spec = {.port = cl->port,
                                .max_connections = cl->max_connections,
                                .tcp_nodelay = true,
                                .websockets = cl->protocol == CONFIG_PROTOCOL_WEBSOCKETS,
                                .user = (void *)cl};
        if (spec.websockets) {
            spec.ws_headers_max = conf->websockets_headers_size;
            spec.http_dir = cl->http_dir;
            struct stat st;
            if (cl->http_dir && (stat(cl->http_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
                mlog(MLOG_ERROR, "Error: %s:%d: http_dir %s of listener %u is not a directory.",
                     cl->file ? cl->file : "config", cl->line, cl->http_dir, cl->port);
                server_config_release(cfg);
                return -1;
            }
        }
        if (cl->certfile || cl->keyfile) {
            tls_settings_t ts = {.cafile = cl->cafile,
                                 .capath = cl->capath,
                                 .certfile = cl->certfile,
                                 .keyfile = cl->keyfile,
                                 .crlfile = cl->crlfile,
                                 .ciphers = cl->ciphers,
                                 .ciphers_tls13 = cl->ciphers_tls13,
                                 .dhparamfile = cl->dhparamfile,
                                 .tls13_only = cl->tls_version == CONFIG_TLS_V1_3,
                                 .require_certificate = cl->require_certificate};
            spec.tls = tls_ctx_new(&ts);
            if (!spec.tls) {
                mlog(MLOG_ERROR, "Error: %s:%d: the TLS settings of listener %u cannot be used.",
                     cl->file ? cl->file : "config", cl->line, cl->port);
                server_config_release(cfg);
                return -1;
            }
        }
        if (cl->local_only) {
            spec.host = "127.0.0.1";
            if (add(cfg, &spec) != 0) {
                tls_ctx_free(spec.tls);
                server_config_release(cfg);
                return -1;
            }
            spec.host = "::1";
            spec.optional = true;
            if (add(cfg, &spec) != 0) {
                server_config_release(cfg);
                return -1;
            }
            continue;
        }
        spec.host = cl->bind_address;
        if (cl->socket_domain == CONFIG_DOMAIN_IPV4)
            spec.family = AF_INET;
        else if (cl->socket_domain == CONFIG_DOMAIN_IPV6)
            spec.family = AF_INET6;
        if (add(cfg, &spec) != 0) {
            tls_ctx_free(spec.tls);
            server_config_release(cfg);
            return -1;
        }
    }
    return 0;
}
