/* The protocol layer's calls into the security snapshot. See security_hooks.h. */
#include "broker/security_hooks.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/listener.h"
#include "broker/log.h"
#include "broker/memuse.h"
#include "broker/security.h"
#include "broker/server.h"
#include "broker/tls.h"
#include "broker/worker.h"

/* A reloaded configuration with its security snapshot: the conf of one
 * server generation (server.h), so each worker switches listener
 * settings, config listeners and password/ACL files in one step. */
typedef struct sechook_snap {
    atomic_int refs;
    config_t cfg;
    security_t *sec;
} sechook_snap_t;

static void sechook__snap_ref(void *p)
{
    atomic_fetch_add(&((sechook_snap_t *)p)->refs, 1);
}

static void sechook__snap_unref(void *p)
{
    sechook_snap_t *s = p;
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    security_unref(s->sec);
    config_free(&s->cfg);
    free(s);
}

int sechook_init(broker_t *b, const config_t *cfg, const char *path, char *err, size_t errlen)
{
    b->config = cfg;
    b->config_path = path;
    b->security = security_load(cfg, err, errlen);
    if (b->security == NULL) {
        return -1;
    }
    b->security_ready = true;
    memuse_set_limit(cfg->memory_limit);
    return 0;
}

void sechook_destroy(broker_t *b)
{
    security_unref(b->security);
    b->security = NULL;
    b->security_ready = false;
}

void sechook_reload(void *ctx)
{
    broker_t *b = ctx;
    if (b->config_path == NULL || !b->security_ready) {
        return;
    }
    mlog(MLOG_NOTICE, "Reloading config.");
    sechook_snap_t *snap = calloc(1, sizeof(*snap));
    if (snap == NULL) {
        mlog(MLOG_ERROR, "Error: out of memory; keeping the previous configuration.");
        return;
    }
    atomic_init(&snap->refs, 1);
    char err[512];
    if (config_load(&snap->cfg, b->config_path, err, sizeof(err), NULL, NULL) != 0) {
        mlog(MLOG_ERROR, "Error: %s; keeping the previous configuration.", err);
        free(snap);
        return;
    }
    mlog_reload(&snap->cfg);
    snap->sec = security_load(&snap->cfg, err, sizeof(err));
    if (snap->sec == NULL) {
        mlog(MLOG_ERROR, "Error: %s; keeping the previous configuration.", err);
        sechook__snap_unref(snap);
        return;
    }
    if (b->server == NULL) {
        sechook__snap_unref(snap);
        return;
    }
    /* The TLS files are read here, before anything changes. */
    server_config_t ns;
    server_config_init(&ns);
    if (server_config_from_config(&ns, &snap->cfg, 0) != 0) {
        /* The cause (a TLS file and OpenSSL's reason) is logged already. */
        mlog(MLOG_ERROR, "Error: the listeners cannot be set up; keeping the previous "
                         "configuration.");
        sechook__snap_unref(snap);
        return;
    }
    ns.conf = snap;
    ns.conf_ref = sechook__snap_ref;
    ns.conf_unref = sechook__snap_unref;
    server_reload_stats_t st;
    if (server_reconfigure(b->server, &ns, &st) != 0) {
        mlog(MLOG_ERROR, "Error: the configuration could not be applied; keeping the previous "
                         "one.");
        return;
    }
    /* The new limit applies to the next PUBLISH; nothing already held is
     * dropped. */
    memuse_set_limit(snap->cfg.memory_limit);
    mlog(MLOG_NOTICE,
         "Configuration reloaded: %u listener%s kept, %u opened, %u closed, %u failed to open.",
         st.kept, st.kept == 1 ? "" : "s", st.opened, st.closed, st.failed);
}

/*
 * What a client checks against: its worker's configuration (the one that
 * worker's listener settings came with), or the start-up one until the
 * first reload. It changes only between callbacks, at a safe point of the
 * worker's loop, so pointers into it stay valid for the current callback.
 */
static const config_t *sechook__view(const client_t *c, const security_t **sec)
{
    const broker_t *b = c->b;
    const sechook_snap_t *snap =
        c->conn != NULL && c->conn->worker != NULL ? worker_conf(c->conn->worker) : NULL;
    if (snap != NULL) {
        *sec = snap->sec;
        return &snap->cfg;
    }
    *sec = b->security;
    return b->config;
}

/* The config listener of the client's connection in cfg: the user pointer
 * of the settings its worker applies to the connection's listener.
 * Connections without a listener (adopted sockets) or from a -p listener
 * use the first. NULL: the listener was removed by a reload (the
 * connection is being closed) or the connection is gone. */
static const config_listener_t *sechook__listener(const client_t *c, const config_t *cfg)
{
    if (cfg == NULL || cfg->listener_count == 0 || c->conn == NULL) {
        return NULL;
    }
    const conn_t *conn = c->conn;
    if (conn->listener == NULL) {
        return &cfg->listeners[0];
    }
    const listener_spec_t *spec = worker_listener_settings(conn->worker, conn->listener);
    if (spec == NULL) {
        return NULL;
    }
    const config_listener_t *l = spec->user;
    if (l == NULL) {
        return &cfg->listeners[0];
    }
    if (l < cfg->listeners || l >= cfg->listeners + cfg->listener_count) {
        return NULL;
    }
    return l;
}

/* Index of the client's listener for the security calls; out of range
 * (refused, deny-all ACL) when it has none. */
static size_t sechook__index(const client_t *c, const config_t *cfg)
{
    const config_listener_t *l = sechook__listener(c, cfg);
    return l != NULL ? (size_t)(l - cfg->listeners) : SIZE_MAX;
}

const config_listener_t *sechook_listener(client_t *c)
{
    const security_t *sec;
    return sechook__listener(c, sechook__view(c, &sec));
}

bool sechook_connect(client_t *c, const mqtt_connect_t *cn, const char *client_id)
{
    (void)client_id;
    const security_t *sec;
    const config_t *cfg = sechook__view(c, &sec);
    size_t idx = sechook__index(c, cfg);
    c->listener_index = idx;
    char name[1024];
    security_creds_t creds = {0};
    const char *username = NULL;
    size_t username_len = 0;
    if (security_identity_is_username(sec, idx)) {
        bool subject = !cfg->listeners[idx].use_identity_as_username;
        if (conn_tls_peer_name(c->conn, subject, name, sizeof(name)) == 0) {
            creds.cert_identity = name;
            username = name;
            username_len = strlen(name);
        }
    } else {
        if (cn->username_flag) {
            creds.username = (const char *)cn->username.data;
            creds.username_len = cn->username.len;
            username = creds.username;
            username_len = creds.username_len;
        }
        if (cn->password_flag) {
            creds.password = cn->password.data != NULL ? cn->password.data : (const uint8_t *)"";
            creds.password_len = cn->password.len;
        }
    }
    if (!security_authenticate(sec, idx, &creds)) {
        return false;
    }
    free(c->username);
    c->username = NULL;
    if (username != NULL) {
        c->username = malloc(username_len + 1);
        if (c->username == NULL) {
            return false;
        }
        memcpy(c->username, username, username_len);
        c->username[username_len] = '\0';
        /* A NUL inside an MQTT username would make ACL lookups see another
         * name; such a client gets no ACL identity at all. */
        if (strlen(c->username) != username_len) {
            return false;
        }
    }
    return true;
}

/* The ACL for the client's listener in its worker's current snapshot. */
static const acl_t *sechook__acl(client_t *c)
{
    const security_t *sec;
    const config_t *cfg = sechook__view(c, &sec);
    return security_acl(sec, sechook__index(c, cfg));
}

bool sechook_will_allowed(client_t *c, const mqtt_connect_t *cn, const char *client_id)
{
    const acl_t *acl = sechook__acl(c);
    if (acl != NULL && !acl_check(acl, client_id, c->username, (const char *)cn->will_topic.data,
                                  cn->will_topic.len, ACL_WRITE)) {
        mlog(MLOG_NOTICE, "Denied will topic %.*s of client %s: the will is dropped.",
             (int)cn->will_topic.len, (const char *)cn->will_topic.data, client_id);
        return false;
    }
    return true;
}

bool sechook_allow_zero_length_clientid(client_t *c)
{
    if (c->b->security == NULL) {
        return c->b->allow_zero_length_clientid;
    }
    const security_t *sec;
    const config_t *cfg = sechook__view(c, &sec);
    return security_allow_zero_length_clientid(sec, sechook__index(c, cfg));
}

const char *sechook_auto_id_prefix(client_t *c)
{
    if (c->b->security == NULL) {
        return c->b->auto_id_prefix;
    }
    const security_t *sec;
    const config_t *cfg = sechook__view(c, &sec);
    return security_auto_id_prefix(sec, sechook__index(c, cfg));
}

static const char *sechook__client_id(const client_t *c)
{
    return c->session != NULL ? c->session->client_id : "";
}

bool sechook_can_publish(client_t *c, const char *topic, size_t len)
{
    const acl_t *acl = sechook__acl(c);
    return acl == NULL || acl_check(acl, sechook__client_id(c), c->username, topic, len, ACL_WRITE);
}

bool sechook_can_subscribe(client_t *c, mqtt_bytes_t filter)
{
    const acl_t *acl = sechook__acl(c);
    return acl == NULL || acl_check_subscribe(acl, sechook__client_id(c), c->username,
                                              (const char *)filter.data, filter.len);
}

bool sechook_can_receive(client_t *c, const char *topic, size_t len)
{
    const acl_t *acl = sechook__acl(c);
    return acl == NULL || acl_check(acl, sechook__client_id(c), c->username, topic, len, ACL_READ);
}

bool sechook_retain_source_allowed(client_t *c, const msg_t *m)
{
    const security_t *sec;
    const config_t *cfg = sechook__view(c, &sec);
    if (cfg == NULL || !cfg->check_retain_source || !m->from_client) {
        return true;
    }
    size_t idx = cfg->per_listener_settings ? SIZE_MAX : 0;
    for (size_t i = 0; i < cfg->listener_count; i++) {
        if (cfg->listeners[i].port == m->source_port) {
            idx = i;
            break;
        }
    }
    const acl_t *acl = security_acl(sec, idx);
    return acl == NULL ||
           acl_check(acl, m->origin, m->source_user, m->topic, m->topic_len, ACL_WRITE);
}

void sechook_client_free(client_t *c)
{
    free(c->username);
    c->username = NULL;
}
