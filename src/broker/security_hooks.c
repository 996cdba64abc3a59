/* The protocol layer's calls into the security snapshot. See security_hooks.h. */
#include "broker/security_hooks.h"

#include <stdlib.h>
#include <string.h>

#include "broker/conn.h"
#include "broker/listener.h"
#include "broker/log.h"
#include "broker/security.h"
#include "broker/tls.h"

int sechook_init(broker_t *b, const config_t *cfg, char *err, size_t errlen)
{
    b->config = cfg;
    b->security = security_load(cfg, err, errlen);
    return b->security != NULL ? 0 : -1;
}

void sechook_destroy(broker_t *b)
{
    security_unref(b->security);
    b->security = NULL;
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
    size_t idx = sechook__listener_index(b, c->conn);
    c->listener_index = idx;
    char name[1024];
    security_creds_t creds = {0};
    const char *username = NULL;
    size_t username_len = 0;
    if (security_identity_is_username(b->security, idx)) {
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
    if (!security_authenticate(b->security, idx, &creds)) {
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
    const acl_t *acl = security_acl(c->b->security, c->listener_index);
    if (acl != NULL && !acl_check(acl, client_id, c->username, (const char *)cn->will_topic.data,
                                  cn->will_topic.len, ACL_WRITE)) {
        mlog(MLOG_NOTICE, "Denied will topic %.*s of client %s: the will is dropped.",
             (int)cn->will_topic.len, (const char *)cn->will_topic.data, client_id);
        return false;
    }
    return true;
}

static const acl_t *sechook__acl(const client_t *c)
{
    return c->b->security != NULL ? security_acl(c->b->security, c->listener_index) : NULL;
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
}
