/*
 * CONNECT: client id rules, will, keep-alive, session takeover and resume,
 * CONNACK. Where the specification leaves a choice this follows Mosquitto
 * 2.0: the ids it assigns, the reason codes it refuses with, and the set and
 * order of CONNACK properties.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "broker/log.h"
#include "broker/mount.h"
#include "broker/proto.h"
#include "broker/security_hooks.h"
#include "broker/store.h"

/* Writes a CONNACK. v5 properties in Mosquitto 2.0's order: Topic Alias
 * Maximum, Server Keep Alive, Assigned Client Identifier, Retain Available,
 * Maximum Packet Size, Receive Maximum, Maximum QoS. */
static void send_connack(client_t *c, bool present, uint8_t rc, const char *assigned,
                         int server_keepalive)
{
    uint8_t p[512];
    size_t n = 0;
    broker_t *b = c->b;
    if (c->version == MQTT_V5 && rc < 0x80) {
        if (b->max_topic_alias) {
            p[n++] = MQTT_PROP_TOPIC_ALIAS_MAXIMUM;
            p[n++] = (uint8_t)(b->max_topic_alias >> 8);
            p[n++] = (uint8_t)b->max_topic_alias;
        }
        if (server_keepalive >= 0) {
            p[n++] = MQTT_PROP_SERVER_KEEP_ALIVE;
            p[n++] = (uint8_t)(server_keepalive >> 8);
            p[n++] = (uint8_t)server_keepalive;
        }
        if (assigned) {
            size_t len = strlen(assigned);
            p[n++] = MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER;
            p[n++] = (uint8_t)(len >> 8);
            p[n++] = (uint8_t)len;
            memcpy(p + n, assigned, len);
            n += len;
        }
        if (!b->retain_available) {
            p[n++] = MQTT_PROP_RETAIN_AVAILABLE;
            p[n++] = 0;
        }
        if (b->max_packet_size) {
            p[n++] = MQTT_PROP_MAXIMUM_PACKET_SIZE;
            p[n++] = (uint8_t)(b->max_packet_size >> 24);
            p[n++] = (uint8_t)(b->max_packet_size >> 16);
            p[n++] = (uint8_t)(b->max_packet_size >> 8);
            p[n++] = (uint8_t)b->max_packet_size;
        }
        if (b->max_inflight != 65535) {
            p[n++] = MQTT_PROP_RECEIVE_MAXIMUM;
            p[n++] = (uint8_t)(b->max_inflight >> 8);
            p[n++] = (uint8_t)b->max_inflight;
        }
        if (c->max_qos < 2) {
            p[n++] = MQTT_PROP_MAXIMUM_QOS;
            p[n++] = c->max_qos;
        }
    }
    uint8_t out[600];
    size_t o = 0;
    size_t rem = 2 + (c->version == MQTT_V5 ? mqtt_varint_size((uint32_t)n) + n : 0);
    out[o++] = 0x20;
    o += mqtt_varint_encode((uint32_t)rem, out + o);
    out[o++] = present ? 1 : 0;
    out[o++] = rc;
    if (c->version == MQTT_V5) {
        o += mqtt_varint_encode((uint32_t)n, out + o);
        memcpy(out + o, p, n);
        o += n;
    }
    atomic_fetch_add_explicit(&b->stats.msgs_sent, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->stats.bytes_sent, o, memory_order_relaxed);
    conn_write(c->conn, out, o);
}

/* Refuses the connection: CONNACK with a v5 reason or a 3.1.1 return code,
 * then close. */
static void refuse(client_t *c, uint8_t v5_reason, uint8_t v3_code, const char *why)
{
    mlog(MLOG_NOTICE, "Client on %s refused: %s.", c->conn->peer_host, why);
    send_connack(c, false, c->version == MQTT_V5 ? v5_reason : v3_code, NULL, -1);
    conn_close(c->conn, CONN_CLOSE_BY_PROTO);
}

/* A wrong password is answered only after this long, so guessing costs
 * the guesser time; the wait is a timer on the worker, never a sleep, so
 * the worker's other clients do not notice. */
#define LOGIN_FAIL_DELAY_MS 1000u

static void refuse_login_now(worker_t *w, wtimer_t *t, void *arg)
{
    client_t *c = arg;
    (void)w;
    (void)t;
    if (!c->conn)
        return;
    send_connack(c, false,
                 c->version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED
                                       : MQTT_CONNACK_REFUSED_NOT_AUTHORIZED,
                 NULL, -1);
    conn_close(c->conn, CONN_CLOSE_BY_PROTO);
}

/* The refusal of a failed login, delayed. The client's timer (the CONNECT
 * deadline until now) carries it, so on_close cancels it if the client
 * goes first; packets it sends meanwhile are ignored (proto.c). */
static void refuse_login(client_t *c)
{
    mlog(MLOG_NOTICE, "Client on %s refused: not authorised.", c->conn->peer_host);
    c->login_refused = true;
    if (wtimer_start(c->worker, &c->timer, LOGIN_FAIL_DELAY_MS, refuse_login_now, c) != 0)
        refuse_login_now(c->worker, &c->timer, c);
}

/* "auto-" and a random UUID in upper-case hex, as Mosquitto assigns. */
static void assign_id(const char *prefix, char *out, size_t cap)
{
    uint8_t r[16];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        /* Uniqueness matters, not secrecy: fall back to the clock. */
        uint64_t t = mono_ms() ^ (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (uint8_t)(t >> ((i % 8) * 8)) ^ (uint8_t)(i * 37u);
    }
    snprintf(out, cap, "%s%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
             prefix, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
             r[12], r[13], r[14], r[15]);
}

/* On the old connection's worker: tell it the session moved, and close. */
static void takeover_job(worker_t *w, void *arg)
{
    client_t *old = arg;
    if (old->conn && !conn_is_closing(old->conn)) {
        old->taken_over = true;
        mlog_conn(MLOG_NOTICE, "Client %s already connected, closing old connection.",
                  old->session ? old->session->client_id : "?");
        proto_disconnect(old, MQTT_RC_SESSION_TAKEN_OVER);
    }
    client_release(old);
}

/* Binds c to its session (new, resumed, or taken over). Returns the
 * session present flag, or -1 on allocation failure. */
static int bind_session(client_t *c, const char *id, size_t len, bool clean_start, uint32_t expiry)
{
    broker_t *b = c->b;
    session_table_t *t = &b->sessions;
    session_t *ended = NULL;
    client_t *old_client = NULL;
    bool present = false;

    pthread_mutex_lock(&t->lock);
    session_t *s = session_find_locked(t, id, len);
    if (s) {
        pthread_mutex_lock(&s->lock);
        old_client = s->conn;
        s->conn = NULL; /* the old client's close must not touch it now */
        will_cancel_locked(s);
        /* A session that lives only as long as its connection (clean
         * session, or expiry 0) ends with it, here as on close: a takeover
         * that races the old client's close must not resume it (Mosquitto
         * resumes only sessions with an expiry). */
        bool ends_with_connection = s->expiry_interval == 0;
        pthread_mutex_unlock(&s->lock);
        if (clean_start || ends_with_connection) {
            session_ref(s);
            ended = s;
            session_remove_locked(t, s);
            s = NULL;
        } else {
            session_ref(s);
            present = true;
            if (!old_client)
                atomic_fetch_sub_explicit(&b->stats.sessions_disconnected, 1, memory_order_relaxed);
        }
    }
    if (!s)
        s = session_create_locked(t, id, len);
    if (!s) {
        pthread_mutex_unlock(&t->lock);
        if (ended) {
            tt_remove_session(b->tree, ended);
            session_release(ended);
        }
        if (old_client)
            client_release(old_client);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    client_ref(c); /* the session's reference to its bound client */
    s->conn = c;
    s->worker = (int)worker_id(c->worker);
    s->version = c->version;
    s->max_qos = c->max_qos;
    s->expiry_interval = expiry;
    s->epoch++;
    atomic_store_explicit(&s->online, true, memory_order_relaxed);
    session_out_resume(s, c->client_receive_max);
    if (session_store(s))
        store_session_save(session_store(s), s);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&t->lock);

    c->session = s; /* the reference from find or create */
    if (ended) {
        tt_remove_session(b->tree, ended);
        session_release(ended);
    }
    if (old_client) {
        /* The session's reference to the old client moves into the job. */
        if (worker_post(old_client->worker, takeover_job, old_client) != 0)
            client_release(old_client);
    }
    return present ? 1 : 0;
}

/* The settings of the client's listener it keeps for its connection. -1:
 * out of memory, or the listener is gone. */
static int copy_listener_settings(client_t *c)
{
    const config_listener_t *l = sechook_listener(c);
    c->max_qos = 2;
    if (!l)
        return c->b->config ? -1 : 0; /* its listener was removed by a reload */
    if (l->max_qos >= 0 && l->max_qos < 2)
        c->max_qos = (uint8_t)l->max_qos;
    if (l->mount_point && l->mount_point[0] && !c->mount_point) {
        c->mount_len = strlen(l->mount_point);
        c->mount_point = malloc(c->mount_len + 1);
        if (!c->mount_point) {
            c->mount_len = 0;
            return -1;
        }
        memcpy(c->mount_point, l->mount_point, c->mount_len + 1);
    }
    return 0;
}

static void connect_rest(client_t *c, const mqtt_connect_t *cn, const char *id, size_t id_len,
                         const char *assigned);

void handle_connect(client_t *c, const mqtt_fixed_header_t *fh, const uint8_t *body)
{
    mqtt_packet_t pkt;
    mqtt_err_t err = mqtt_decode_body(fh, body, MQTT_V311, &pkt);
    mqtt_connect_t *cn = &pkt.u.connect;
    if (err == MQTT_ERR_PROTOCOL_VERSION) {
        /* Answered in 3.1.1 form: the client's version is unknown. */
        c->version = MQTT_V311;
        refuse(c, 0, MQTT_CONNACK_REFUSED_PROTOCOL_VERSION, "unsupported protocol version");
        return;
    }
    if (err != MQTT_OK) {
        /* Closed without an answer in every version, as Mosquitto does. */
        mlog(MLOG_NOTICE, "Client on %s sent a bad CONNECT: %s.", c->conn->peer_host,
             mqtt_err_str(err));
        conn_close(c->conn, CONN_CLOSE_BY_PROTO);
        return;
    }
    c->version = cn->version;
    bool v5 = c->version == MQTT_V5;
    c->bridge = cn->bridge && !v5;
    if (copy_listener_settings(c) != 0) {
        refuse(c, MQTT_RC_SERVER_UNAVAILABLE, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
               "listener settings unavailable");
        return;
    }

    /* Client id. */
    char idbuf[128];
    const char *id = (const char *)cn->client_id.data;
    size_t id_len = cn->client_id.len;
    const char *assigned = NULL;
    if (id_len == 0) {
        if (c->version == MQTT_V31 || (c->version == MQTT_V311 && !cn->clean_start) ||
            !sechook_allow_zero_length_clientid(c)) {
            refuse(c, MQTT_RC_CLIENT_ID_NOT_VALID, MQTT_CONNACK_REFUSED_IDENTIFIER_REJECTED,
                   "empty client id");
            return;
        }
        assign_id(sechook_auto_id_prefix(c), idbuf, sizeof(idbuf));
        id = idbuf;
        id_len = strlen(idbuf);
        if (v5)
            assigned = idbuf;
    }

    /* Checked as the will is read, before the login, as Mosquitto does: a
     * v5 client gets CONNACK 0x9B, an older one is closed without one. */
    if (cn->will_flag && cn->will_qos > c->max_qos) {
        if (v5) {
            refuse(c, MQTT_RC_QOS_NOT_SUPPORTED, 0, "will QoS over the listener's max_qos");
        } else {
            mlog(MLOG_NOTICE, "Client on %s refused: will QoS over the listener's max_qos.",
                 c->conn->peer_host);
            conn_close(c->conn, CONN_CLOSE_BY_PROTO);
        }
        return;
    }
    /* The will's topic under the listener's mount point. */
    char will_small[256];
    char *will_topic = NULL;
    mqtt_connect_t will_cn;
    if (cn->will_flag && c->mount_point) {
        size_t n = mount_size(c->mount_len, cn->will_topic);
        if (n == 0) {
            refuse(c, MQTT_RC_TOPIC_NAME_INVALID, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
                   "will topic too long under the mount point");
            return;
        }
        will_topic = n <= sizeof(will_small) ? will_small : malloc(n);
        if (!will_topic) {
            refuse(c, MQTT_RC_UNSPECIFIED_ERROR, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
                   "out of memory");
            return;
        }
        will_cn = *cn;
        will_cn.will_topic.data = (const uint8_t *)will_topic;
        will_cn.will_topic.len =
            mount_topic(c->mount_point, c->mount_len, cn->will_topic, will_topic);
        cn = &will_cn;
    }
    connect_rest(c, cn, id, id_len, assigned);
    if (will_topic && will_topic != will_small)
        free(will_topic);
}

/* CONNECT after the client id and the will's QoS: login, will, keep-alive,
 * session, CONNACK. cn's will topic is already under the mount point. */
static void connect_rest(client_t *c, const mqtt_connect_t *cn, const char *id, size_t id_len,
                         const char *assigned)
{
    broker_t *b = c->b;
    bool v5 = c->version == MQTT_V5;
    const mqtt_props_t *props = &cn->props;

    if (v5 && MQTT_PROP_HAS(props, MQTT_PROP_AUTHENTICATION_METHOD)) {
        refuse(c, MQTT_RC_BAD_AUTHENTICATION_METHOD, 0, "no authentication method configured");
        return;
    }
    if (!sechook_connect(c, cn, id)) {
        refuse_login(c);
        return;
    }

    /* Will. */
    if (cn->will_flag && sechook_will_allowed(c, cn, id)) {
        if (cn->will_retain && !b->retain_available) {
            refuse(c, MQTT_RC_RETAIN_NOT_SUPPORTED, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
                   "retain not available");
            return;
        }
        msg_init_t wi = {
            .topic = cn->will_topic,
            .payload = cn->will_payload,
            .qos = cn->will_qos,
            .retain = cn->will_retain,
            .props = v5 ? &cn->will_props : NULL,
            .origin = {(const uint8_t *)id, id_len},
            /* Mosquitto checks a retained will against its client too. */
            .from_client = true,
            .source_user = {(const uint8_t *)c->username, c->username ? strlen(c->username) : 0},
            .now_ms = msg_now_ms(),
        };
        const config_listener_t *wl = cn->will_retain ? sechook_listener(c) : NULL;
        wi.source_port = wl != NULL ? wl->port : 0;
        c->will = msg_new(&wi);
        if (!c->will) {
            refuse(c, MQTT_RC_UNSPECIFIED_ERROR, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
                   "out of memory");
            return;
        }
        if (v5 && MQTT_PROP_HAS(&cn->will_props, MQTT_PROP_WILL_DELAY_INTERVAL))
            c->will_delay = cn->will_props.will_delay_interval;
    }

    /* Keep-alive: v5 clients asking for none or more than our maximum are
     * told our maximum; 3.1.1 clients are refused only if the maximum was
     * lowered by configuration, as in Mosquitto. */
    int server_keepalive = -1;
    c->keepalive = cn->keep_alive;
    if (b->max_keepalive && (cn->keep_alive > b->max_keepalive || cn->keep_alive == 0)) {
        if (v5) {
            c->keepalive = b->max_keepalive;
            server_keepalive = b->max_keepalive;
        } else if (b->max_keepalive < 65535) {
            refuse(c, 0, MQTT_CONNACK_REFUSED_IDENTIFIER_REJECTED, "keep-alive over maximum");
            return;
        }
    }

    /* What the client accepts. */
    uint32_t expiry;
    if (v5) {
        c->client_receive_max =
            MQTT_PROP_HAS(props, MQTT_PROP_RECEIVE_MAXIMUM) ? props->receive_maximum : 65535;
        c->client_max_packet =
            MQTT_PROP_HAS(props, MQTT_PROP_MAXIMUM_PACKET_SIZE) ? props->maximum_packet_size : 0;
        c->client_alias_max =
            MQTT_PROP_HAS(props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM) ? props->topic_alias_maximum : 0;
        if (MQTT_PROP_HAS(props, MQTT_PROP_REQUEST_PROBLEM_INFORMATION))
            c->request_problem_info = props->request_problem_information != 0;
        expiry = MQTT_PROP_HAS(props, MQTT_PROP_SESSION_EXPIRY_INTERVAL)
                     ? props->session_expiry_interval
                     : 0;
    } else {
        c->client_receive_max = 0;
        expiry = cn->clean_start ? 0 : UINT32_MAX;
    }
    c->session_expiry = expiry;
    if (b->max_topic_alias) {
        c->alias_in = calloc((size_t)b->max_topic_alias + 1, sizeof(alias_t));
        if (!c->alias_in) {
            refuse(c, MQTT_RC_UNSPECIFIED_ERROR, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
                   "out of memory");
            return;
        }
    }
    if (c->client_alias_max) {
        c->alias_out = calloc((size_t)c->client_alias_max + 1, sizeof(alias_t));
        if (!c->alias_out)
            c->client_alias_max = 0; /* we just send topics in full */
    }

    int present = bind_session(c, id, id_len, cn->clean_start, expiry);
    if (present < 0) {
        refuse(c, MQTT_RC_SERVER_UNAVAILABLE, MQTT_CONNACK_REFUSED_SERVER_UNAVAILABLE,
               "out of memory");
        return;
    }
    c->connected = true;
    wtimer_stop(c->worker, &c->timer);
    c->conn->max_packet_size = b->max_packet_size ? b->max_packet_size : MQTT_VARINT_MAX + 5;

    long now_connected =
        atomic_fetch_add_explicit(&b->stats.clients_connected, 1, memory_order_relaxed) + 1;
    long max = atomic_load_explicit(&b->stats.clients_maximum, memory_order_relaxed);
    while (now_connected > max &&
           !atomic_compare_exchange_weak_explicit(&b->stats.clients_maximum, &max, now_connected,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }

    send_connack(c, present == 1 && c->version != MQTT_V31, 0, assigned, server_keepalive);
    proto_start_keepalive(c);
    if (mlog_enabled(MLOG_NOTICE) && mlog_connection_messages()) {
        /* Mosquitto's line: p1 3.1, p2 3.1.1, p5 5.0; u'name' with a user name. */
        mlog(MLOG_NOTICE, "New %s connected from %s:%u as %s (p%d, c%d, k%u%s%s%s).",
             c->bridge ? "bridge" : "client", c->conn->peer_host, c->conn->peer_port,
             c->session->client_id,
             c->version == MQTT_V31    ? 1
             : c->version == MQTT_V311 ? 2
                                       : 5,
             cn->clean_start ? 1 : 0, c->keepalive, c->username ? ", u'" : "",
             c->username ? c->username : "", c->username ? "'" : "");
    }
    deliver_resend_inflight(c);
    conn_want_flush(c->conn);
}
