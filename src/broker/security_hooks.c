/* The protocol layer's calls into the security snapshot. See security_hooks.h. */
#include "broker/security_hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/listener.h"
#include "broker/log.h"
#include "broker/security.h"
#include "broker/tls.h"

int sechook_init(broker_t *b, const config_t *cfg, const char *path, char *err, size_t errlen)
{
    b->config = cfg;
    b->config_path = path;
    /* The broker does not apply mount points yet; running without one
     * would let a listener's clients see every other client's topics. */
    for (size_t i = 0; i < cfg->listener_count; i++) {
        const config_listener_t *l = &cfg->listeners[i];
        if (l->mount_point != NULL) {
            snprintf(err, errlen,
                     "%s:%d: mount_point is not supported by the broker yet; refusing to start "
                     "rather than run the listener without isolation",
                     l->file != NULL ? l->file : "config", l->line);
            return -1;
        }
    }
    b->security = security_load(cfg, err, errlen);
    if (b->security == NULL) {
        return -1;
    }
    pthread_mutex_init(&b->security_lock, NULL);
    atomic_init(&b->security_gen, 0);
    b->security_ready = true;
    return 0;
}

void sechook_destroy(broker_t *b)
{
    security_unref(b->security);
    b->security = NULL;
    if (b->security_ready) {
        pthread_mutex_destroy(&b->security_lock);
        b->security_ready = false;
    }
}

void sechook_reload(void *ctx)
{
    broker_t *b = ctx;
    if (b->config_path == NULL || !b->security_ready) {
        return;
    }
    mlog(MLOG_NOTICE, "Reloading config.");
    config_t nc;
    char err[512];
    if (config_load(&nc, b->config_path, err, sizeof(err), NULL, NULL) != 0) {
        mlog(MLOG_ERROR, "Error: %s; keeping the previous configuration.", err);
        return;
    }
    mlog_reload(&nc);
    if (nc.listener_count != b->config->listener_count ||
        nc.per_listener_settings != b->config->per_listener_settings) {
        mlog(MLOG_WARNING, "Warning: listeners and per_listener_settings are not reloaded; "
                           "keeping the previous password and ACL settings.");
        config_free(&nc);
        return;
    }
    security_t *fresh = security_load(&nc, err, sizeof(err));
    config_free(&nc);
    if (fresh == NULL) {
        mlog(MLOG_ERROR, "Error: %s; keeping the previous password and ACL files.", err);
        return;
    }
    pthread_mutex_lock(&b->security_lock);
    security_t *old = b->security;
    b->security = fresh;
    atomic_fetch_add(&b->security_gen, 1);
    pthread_mutex_unlock(&b->security_lock);
    security_unref(old);
}

/* The client's snapshot, moved to the broker's current one after a reload. */
static security_t *sechook__current(client_t *c)
{
    broker_t *b = c->b;
    if (!b->security_ready) {
        return b->security;
    }
    unsigned gen = atomic_load(&b->security_gen);
    if (c->security == NULL || c->security_gen != gen) {
        pthread_mutex_lock(&b->security_lock);
        security_t *s = security_ref(b->security);
        gen = atomic_load(&b->security_gen);
        pthread_mutex_unlock(&b->security_lock);
        security_unref(c->security);
        c->security = s;
        c->security_gen = gen;
    }
    return c->security;
}

/* The config listener a connection came in on: its spec.user, set from
 * cfg->listeners; connections of listeners made from -p ports have none
 * and use the first (the default configuration has exactly one). */
static size_t sechook__listener_index(const broker_t *b, const conn_t *conn)
{
    if (b->config == NULL || conn == NULL || conn->listener == NULL ||
        conn->listener->spec.user == NULL) {
        return 0;
    }
    const config_listener_t *l = conn->listener->spec.user;
    if (l < b->config->listeners || l >= b->config->listeners + b->config->listener_count) {
        return 0;
    }
    return (size_t)(l - b->config->listeners);
}

bool sechook_connect(client_t *c, const mqtt_connect_t *cn, const char *client_id)
{
    broker_t *b = c->b;
    security_t *sec = sechook__current(c);
    size_t idx = sechook__listener_index(b, c->conn);
    c->listener_index = idx;
    char name[1024];
    security_creds_t creds = {0};
    const char *username = NULL;
    size_t username_len = 0;
    if (security_identity_is_username(sec, idx)) {
        bool subject = !b->config->listeners[idx].use_identity_as_username;
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

bool sechook_will_allowed(client_t *c, const mqtt_connect_t *cn, const char *client_id)
{
    const acl_t *acl = security_acl(sechook__current(c), c->listener_index);
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
    return security_allow_zero_length_clientid(sechook__current(c),
                                               sechook__listener_index(c->b, c->conn));
}

const char *sechook_auto_id_prefix(client_t *c)
{
    if (c->b->security == NULL) {
        return c->b->auto_id_prefix;
    }
    return security_auto_id_prefix(sechook__current(c), sechook__listener_index(c->b, c->conn));
}

static const acl_t *sechook__acl(client_t *c)
{
    return security_acl(sechook__current(c), c->listener_index);
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

void sechook_client_free(client_t *c)
{
    free(c->username);
    c->username = NULL;
    security_unref(c->security);
    c->security = NULL;
}
