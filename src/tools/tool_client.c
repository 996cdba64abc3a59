/* The libmidge side shared by the tools (see tool_client.h). */
#include "tool_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MIDGE_VERSION_STRING
#define MIDGE_VERSION_STRING "0.1.0"
#endif

long long tool_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tool_set_timer(tool_ctx_t *t, long long at_ms, tool_timer_fn fn)
{
    t->timer_at_ms = at_ms;
    t->on_timer = fn;
}

void tool_errf(const tool_ctx_t *t, const char *fmt, ...)
{
    if (t->cfg && t->cfg->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

int tool_report_parse(const tool_cfg_t *cfg, int rc, const char *usage)
{
    if (rc == TOOL_CFG_HELP) {
        fputs(usage, stdout);
        return 0;
    }
    if (rc == TOOL_CFG_VERSION) {
        printf("%s version %s\n", cfg->prog, MIDGE_VERSION_STRING);
        return 0;
    }
    fprintf(stderr, "%s\n", cfg->err);
    if (cfg->err_usage_hint)
        fprintf(stderr, "Use '%s --help' to see usage.\n", cfg->prog);
    return TOOL_EXIT_USAGE;
}

/* ---- properties ---- */

midge_props_t *tool_props_for(tool_ctx_t *t, tool_cmd_t cmd, bool *failed)
{
    midge_props_t *p = NULL;
    *failed = false;
    for (size_t i = 0; i < t->cfg->prop_count; i++) {
        const tool_prop_t *d = &t->cfg->props[i];
        if (d->cmd != cmd)
            continue;
        if (!p && !(p = midge_props_new())) {
            tool_errf(t, "Error: Out of memory.\n");
            *failed = true;
            return NULL;
        }
        midge_err_t e;
        switch (d->type) {
        case TOOL_PT_STRING:
            e = midge_props_add_string(p, d->id, d->str);
            break;
        case TOOL_PT_BINARY:
            e = midge_props_add_binary(p, d->id, d->str, strlen(d->str));
            break;
        case TOOL_PT_PAIR:
            e = midge_props_add_user(p, d->str, d->str2);
            break;
        default:
            e = midge_props_add_int(p, d->id, d->value);
            break;
        }
        if (e != MIDGE_OK) {
            tool_errf(t, "Error in %s properties: %s: %s.\n", tool_cmd_name(cmd),
                      tool_prop_name(d->id), midge_strerror(e));
            midge_props_free(p);
            *failed = true;
            return NULL;
        }
    }
    return p;
}

/* ---- callbacks wrapped for every tool ---- */

static void send_disconnect(tool_ctx_t *t);

static void wrap_connect(midge_client_t *c, void *ud, uint8_t code, bool sp,
                         const midge_props_t *props)
{
    tool_ctx_t *t = ud;
    if (code != 0) {
        tool_errf(t, "Connection error: %s\n", midge_connack_string(t->cfg->protocol, code));
        if (t->cfg->kind == TOOL_PUB)
            tool_errf(t, "Error: The connection was refused.\n");
        t->exit_code = code;
        t->done = true;
        midge_disconnect(c);
        return;
    }
    t->connected_once = true;
    midge_prop_t mp;
    t->server_max_packet = 0;
    if (midge_props_find(props, MIDGE_PROP_MAXIMUM_PACKET_SIZE, &mp))
        t->server_max_packet = mp.num;
    if (t->user_cbs.on_connect)
        t->user_cbs.on_connect(c, ud, code, sp, props);
}

static void wrap_disconnect(midge_client_t *c, void *ud, midge_err_t err, const char *detail,
                            bool reconnecting)
{
    tool_ctx_t *t = ud;
    if (t->done) {
        /* already finished: a refusal or a count reached */
    } else if (err == MIDGE_OK) {
        t->done = true;
    } else if (!t->connected_once || !reconnecting) {
        /* The first connection failing is fatal, as with mosquitto's
         * tools; later losses are retried when the tool asked for it. */
        const char *why = detail && *detail ? detail : midge_strerror(err);
        if (err == MIDGE_ERR_DNS) {
            tool_errf(t, "Unable to connect (%s).\n", why);
        } else if (t->connected_once) {
            /* mosquitto's tools exit with MOSQ_ERR_CONN_LOST here */
            tool_errf(t, "Error: The connection was lost (%s).\n", why);
            if (t->exit_code == 0)
                t->exit_code = TOOL_EXIT_CONN_LOST;
        } else {
            tool_errf(t, "Error: %s\n", why);
        }
        if (t->exit_code == 0)
            t->exit_code = 1;
        t->done = true;
        if (reconnecting)
            midge_disconnect(c);
    } else if (t->cfg->debug) {
        printf("Connection lost (%s), reconnecting.\n",
               detail && *detail ? detail : midge_strerror(err));
        fflush(stdout);
    }
    if (t->user_cbs.on_disconnect)
        t->user_cbs.on_disconnect(c, ud, err, detail, reconnecting);
}

static void wrap_log(midge_client_t *c, void *ud, const char *line)
{
    tool_ctx_t *t = ud;
    (void)c;
    if (t->cfg->debug) {
        printf("%s\n", line);
        fflush(stdout);
    }
}

static int unsupported(tool_ctx_t *t, const char *flag)
{
    tool_errf(t, "Error: %s is not supported by %s.\n", flag, t->cfg->prog);
    return 1;
}

int tool_setup(tool_ctx_t *t, tool_cfg_t *cfg, const midge_callbacks_t *cbs, bool reconnect)
{
    t->cfg = cfg;
    if (cbs)
        t->user_cbs = *cbs;
    /* Options libmidge has no transport for. */
    if (cfg->bind_address)
        return unsupported(t, "-A (bind address)");
    if (cfg->unix_path)
        return unsupported(t, "--unix");
    if (cfg->psk)
        return unsupported(t, "--psk (TLS-PSK)");
    if (cfg->proxy)
        return unsupported(t, "--proxy (SOCKS5)");
    if (cfg->tls_engine || cfg->keyform || cfg->tls_engine_kpass_sha1)
        return unsupported(t, "--tls-engine/--keyform (OpenSSL engines)");
    if (cfg->password && !cfg->username && cfg->protocol != 5) {
        tool_errf(t, "Error: Problem setting username and/or password: MQTT v3.1.x needs a "
                     "username (-u) with a password (-P).\n");
        return 1;
    }

    char idbuf[128];
    const char *id = cfg->id;
    if (cfg->id_prefix) {
        snprintf(idbuf, sizeof idbuf, "%.100s%d", cfg->id_prefix, (int)getpid());
        id = idbuf;
    }
    t->client = midge_client_new(id, t);
    if (!t->client) {
        tool_errf(t, "Error: Out of memory.\n");
        return 1;
    }
    midge_client_t *c = t->client;
    midge_callbacks_t w = t->user_cbs;
    w.on_connect = wrap_connect;
    w.on_disconnect = wrap_disconnect;
    w.on_log = wrap_log;
    midge_set_callbacks(c, &w);

    if (midge_set_version(c, cfg->protocol) != MIDGE_OK ||
        midge_set_clean(c, cfg->clean_session) != MIDGE_OK ||
        midge_set_keepalive(c, (unsigned)cfg->keepalive) != MIDGE_OK ||
        midge_set_max_inflight(c, cfg->max_inflight) != MIDGE_OK ||
        midge_set_reconnect(c, reconnect, 500, 8000) != MIDGE_OK) {
        tool_errf(t, "Error: Problem setting client options.\n");
        return 1;
    }
    if ((cfg->username || cfg->password) &&
        midge_set_credentials(c, cfg->username, cfg->password,
                              cfg->password ? strlen(cfg->password) : 0) != MIDGE_OK) {
        tool_errf(t, "Error: Problem setting username and/or password.\n");
        return 1;
    }

    bool failed;
    if (cfg->will_topic) {
        midge_props_t *wp = tool_props_for(t, TOOL_CMD_WILL, &failed);
        if (failed)
            return 1;
        size_t wl = cfg->will_payload ? strlen(cfg->will_payload) : 0;
        midge_err_t e = midge_set_will(c, cfg->will_topic, cfg->will_payload, wl, cfg->will_qos,
                                       cfg->will_retain, wp);
        midge_props_free(wp);
        if (e != MIDGE_OK) {
            tool_errf(t, "Error: Problem setting will: %s.\n", midge_strerror(e));
            return 1;
        }
    }

    if (cfg->protocol == 5) {
        midge_props_t *cp = tool_props_for(t, TOOL_CMD_CONNECT, &failed);
        if (failed)
            return 1;
        bool need = cfg->session_expiry > 0 || (cfg->msg_count > 0 && cfg->msg_count < 20);
        if (!cp && need && !(cp = midge_props_new())) {
            tool_errf(t, "Error: Out of memory.\n");
            return 1;
        }
        midge_prop_t have;
        if (cfg->session_expiry > 0 &&
            !midge_props_find(cp, MIDGE_PROP_SESSION_EXPIRY_INTERVAL, &have))
            midge_props_add_int(cp, MIDGE_PROP_SESSION_EXPIRY_INTERVAL,
                                (uint32_t)cfg->session_expiry);
        /* Like mosquitto_sub: a small -C also limits how many messages the
         * broker sends before we can stop. */
        if (cfg->msg_count > 0 && cfg->msg_count < 20 &&
            !midge_props_find(cp, MIDGE_PROP_RECEIVE_MAXIMUM, &have))
            midge_props_add_int(cp, MIDGE_PROP_RECEIVE_MAXIMUM, (uint32_t)cfg->msg_count);
        midge_err_t e = cp ? midge_set_connect_props(c, cp) : MIDGE_OK;
        midge_props_free(cp);
        if (e != MIDGE_OK) {
            tool_errf(t, "Error in CONNECT properties: %s.\n", midge_strerror(e));
            return 1;
        }
    }

    if (tool_cfg_tls(cfg)) {
        midge_tls_t tls = {
            .cafile = cfg->cafile,
            .capath = cfg->capath,
            .certfile = cfg->certfile,
            .keyfile = cfg->keyfile,
            .tls_version = cfg->tls_version,
            .ciphers = cfg->ciphers,
            .alpn = cfg->tls_alpn,
            .insecure = cfg->insecure,
        };
        if (midge_set_tls(c, &tls) != MIDGE_OK) {
            char why[256];
            midge_last_error(c, why, sizeof why);
            tool_errf(t, "Error: Problem setting TLS options: %s.\n", why);
            return 1;
        }
    }
    return 0;
}

int tool_connect(tool_ctx_t *t)
{
    const char *host = t->cfg->host;
    /* "localhost" may resolve to ::1 first where the broker only listens
     * on IPv4; mosquitto's tools try every address, and so does libmidge. */
    midge_err_t e = midge_connect(t->client, host, tool_cfg_port(t->cfg));
    if (e == MIDGE_OK)
        return 0;
    char why[256];
    midge_last_error(t->client, why, sizeof why);
    if (!*why)
        snprintf(why, sizeof why, "%s", midge_strerror(e));
    if (e == MIDGE_ERR_DNS)
        tool_errf(t, "Unable to connect (%s).\n", why);
    else
        tool_errf(t, "Error: %s\n", why);
    return 1;
}

static volatile sig_atomic_t tool_signalled;

static void on_signal(int sig)
{
    (void)sig;
    tool_signalled = 1;
}

void tool_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: poll() returns EINTR and the loop sees the flag */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int tool_run(tool_ctx_t *t, long long deadline_ms)
{
    while (!t->done) {
        long long now = tool_now_ms();
        if (deadline_ms && now >= deadline_ms && !t->finishing) {
            /* As mosquitto_sub on -W or a signal: a DISCONNECT that in
             * MQTT v5 still asks for the will (reason 0x04). */
            tool_errf(t, "Timed out\n");
            t->disconnect_reason = 0x04;
            tool_finish(t, TOOL_EXIT_TIMEOUT);
            continue;
        }
        if (tool_signalled && !t->finishing) {
            if (!t->connected_once) {
                t->exit_code = 1;
                break;
            }
            t->disconnect_reason = 0x04;
            tool_finish(t, 0);
            continue;
        }
        if (t->finishing && !t->disconnect_sent &&
            (midge_queued_count(t->client) == 0 || now >= t->finish_deadline_ms)) {
            send_disconnect(t);
            continue;
        }
        if (t->timer_at_ms && now >= t->timer_at_ms) {
            tool_timer_fn fn = t->on_timer;
            t->timer_at_ms = 0;
            if (fn)
                fn(t);
            continue;
        }
        struct pollfd fds[2];
        int n = 0, sock_i = -1, in_i = -1;
        int sock = midge_socket(t->client);
        if (sock >= 0) {
            fds[n].fd = sock;
            fds[n].events = POLLIN | (midge_want_write(t->client) ? POLLOUT : 0);
            fds[n].revents = 0;
            sock_i = n++;
        }
        if (t->watch_stdin && t->on_stdin) {
            fds[n].fd = STDIN_FILENO;
            fds[n].events = POLLIN;
            fds[n].revents = 0;
            in_i = n++;
        }
        long long wait = 1000;
        int lib = midge_timeout_ms(t->client);
        if (lib >= 0 && lib < wait)
            wait = lib;
        if (t->finishing && !t->disconnect_sent)
            wait = 20;
        if (deadline_ms && deadline_ms - now < wait)
            wait = deadline_ms - now;
        if (t->timer_at_ms && t->timer_at_ms - now < wait)
            wait = t->timer_at_ms - now;
        if (wait < 0)
            wait = 0;
        int r = poll(fds, (nfds_t)n, (int)wait);
        if (r < 0 && errno != EINTR) {
            tool_errf(t, "Error: poll: %s\n", strerror(errno));
            t->exit_code = 1;
            break;
        }
        (void)sock_i;
        if (in_i >= 0 && fds[in_i].revents)
            t->on_stdin(t);
        if (midge_step(t->client) == MIDGE_ERR_NO_CONN)
            break;
    }
    /* A tool that finished asked for DISCONNECT: let it reach the socket. */
    long long drain_until = tool_now_ms() + 2000;
    while (midge_socket(t->client) >= 0 && tool_now_ms() < drain_until)
        if (midge_loop(t->client, 50) == MIDGE_ERR_NO_CONN)
            break;
    return t->exit_code;
}

void tool_cleanup(tool_ctx_t *t)
{
    midge_client_destroy(t->client);
    t->client = NULL;
    free(t->users);
    free(t->sub_ids);
    tool_buf_free(&t->out);
    tool_buf_free(&t->err);
}

/* ---- received messages ---- */

static void set_bytes(mqtt_bytes_t *b, const midge_prop_t *p)
{
    b->data = (const uint8_t *)p->data;
    b->len = p->len;
}

void tool_msg_from(tool_ctx_t *t, const midge_message_t *in, tool_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->topic = in->topic;
    m->topic_len = in->topic_len;
    m->payload = in->payload ? in->payload : (const void *)"";
    m->payload_len = in->payload_len;
    m->qos = in->qos;
    m->retain = in->retain;
    m->mid = (unsigned)in->mid;
    if (t->cfg->protocol != 5)
        return;

    mqtt_props_t *p = &t->props;
    memset(p, 0, sizeof *p);
    size_t n = midge_props_count(in->props);
    if (n > t->users_cap) {
        mqtt_user_prop_t *u = realloc(t->users, n * sizeof *u);
        uint32_t *s = realloc(t->sub_ids, n * sizeof *s);
        if (u)
            t->users = u;
        if (s)
            t->sub_ids = s;
        if (!u || !s) {
            m->props = NULL;
            return;
        }
        t->users_cap = t->sub_ids_cap = n;
    }
    size_t norder = 0;
    uint64_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        midge_prop_t mp;
        if (!midge_props_get(in->props, i, &mp))
            break;
        if (mp.id > 0 && mp.id < 64 && !(seen >> mp.id & 1) && norder < sizeof t->prop_order) {
            seen |= 1ull << mp.id;
            t->prop_order[norder++] = (uint8_t)mp.id;
        }
        switch (mp.id) {
        case MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR:
            p->payload_format_indicator = (uint8_t)mp.num;
            break;
        case MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL:
            p->message_expiry_interval = mp.num;
            break;
        case MIDGE_PROP_TOPIC_ALIAS:
            p->topic_alias = (uint16_t)mp.num;
            break;
        case MIDGE_PROP_CONTENT_TYPE:
            set_bytes(&p->content_type, &mp);
            break;
        case MIDGE_PROP_RESPONSE_TOPIC:
            set_bytes(&p->response_topic, &mp);
            break;
        case MIDGE_PROP_CORRELATION_DATA:
            set_bytes(&p->correlation_data, &mp);
            break;
        case MIDGE_PROP_SUBSCRIPTION_IDENTIFIER:
            t->sub_ids[p->sub_id_count++] = mp.num;
            continue;
        case MIDGE_PROP_USER_PROPERTY:
            t->users[p->user_count].key = (mqtt_bytes_t){(const uint8_t *)mp.data, mp.len};
            t->users[p->user_count].value = (mqtt_bytes_t){(const uint8_t *)mp.value, mp.value_len};
            p->user_count++;
            continue;
        default:
            continue;
        }
        MQTT_PROP_SET(p, mp.id);
    }
    p->user = t->users;
    p->sub_ids = t->sub_ids;
    m->props = p;
    m->prop_order = t->prop_order;
    m->prop_order_len = norder;
}

void tool_print_message(tool_ctx_t *t, const tool_msg_t *m)
{
    const tool_cfg_t *cfg = t->cfg;
    tool_out_opts_t o = {
        .format = cfg->format,
        .verbose = cfg->verbose,
        .eol = cfg->eol,
        .pretty = cfg->pretty,
        .json = cfg->json,
    };
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    tool_buf_reset(&t->out);
    tool_buf_reset(&t->err);
    tool_render(&t->out, &t->err, &o, m, &now);
    if (t->out.len)
        fwrite(t->out.data, 1, t->out.len, stdout);
    fflush(stdout);
    if (t->err.len && !cfg->quiet)
        fwrite(t->err.data, 1, t->err.len, stderr);
    if (t->out.oom)
        tool_errf(t, "Error: Out of memory while printing a message.\n");
}

static void send_disconnect(tool_ctx_t *t)
{
    t->disconnect_sent = true;
    bool failed = false;
    midge_props_t *p =
        t->cfg->protocol == 5 ? tool_props_for(t, TOOL_CMD_DISCONNECT, &failed) : NULL;
    if (t->cfg->protocol == 5 && (p || t->disconnect_reason))
        midge_disconnect_v5(t->client, t->disconnect_reason, p);
    else
        midge_disconnect(t->client);
    midge_props_free(p);
}

void tool_finish(tool_ctx_t *t, int code)
{
    if (t->finishing)
        return;
    t->finishing = true;
    t->exit_code = code;
    /* Messages the tool published on its way out (--remove-retained's
     * clearing publishes) are delivered first, for a bounded time. */
    t->finish_deadline_ms = tool_now_ms() + 5000;
    if (midge_queued_count(t->client) == 0)
        send_disconnect(t);
}

#define TOOL_PAYLOAD_MAX 268435455u

static int read_all(tool_ctx_t *t, int fd, uint8_t **out, size_t *len, const char *what)
{
    size_t cap = 65536, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) {
        tool_errf(t, "Error: Out of memory.\n");
        return 1;
    }
    for (;;) {
        if (n == cap) {
            if (cap > TOOL_PAYLOAD_MAX) {
                free(b);
                tool_errf(t, "Error: %s must be less than %u bytes (the largest MQTT payload).\n",
                          what, TOOL_PAYLOAD_MAX);
                return 1;
            }
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                tool_errf(t, "Error: Out of memory.\n");
                return 1;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(b);
            tool_errf(t, "Error: reading %s: %s\n", what, strerror(errno));
            return 1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > TOOL_PAYLOAD_MAX) {
        free(b);
        tool_errf(t, "Error: %s must be less than %u bytes (the largest MQTT payload).\n", what,
                  TOOL_PAYLOAD_MAX);
        return 1;
    }
    *out = b;
    *len = n;
    return 0;
}

int tool_load_payload(tool_ctx_t *t, uint8_t **out, size_t *len)
{
    const tool_cfg_t *cfg = t->cfg;
    *out = NULL;
    *len = 0;
    switch (cfg->msg_mode) {
    case TOOL_MSG_CMD: {
        size_t n = strlen(cfg->message);
        if (n > TOOL_PAYLOAD_MAX) {
            tool_errf(t, "Error: Message length must be less than %u bytes.\n", TOOL_PAYLOAD_MAX);
            return 1;
        }
        *out = malloc(n ? n : 1);
        if (!*out) {
            tool_errf(t, "Error: Out of memory.\n");
            return 1;
        }
        memcpy(*out, cfg->message, n);
        *len = n;
        return 0;
    }
    case TOOL_MSG_FILE: {
        int fd = open(cfg->file, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
            int e = fd < 0 ? errno : EISDIR;
            if (fd >= 0)
                close(fd);
            tool_errf(t, "Error: Unable to open file \"%s\": %s.\n", cfg->file, strerror(e));
            tool_errf(t, "Error loading input file \"%s\".\n", cfg->file);
            return 1;
        }
        if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > TOOL_PAYLOAD_MAX) {
            close(fd);
            tool_errf(t,
                      "Error: File must be less than %u bytes (the largest MQTT payload); "
                      "\"%s\" has %lld.\n",
                      TOOL_PAYLOAD_MAX, cfg->file, (long long)st.st_size);
            tool_errf(t, "Error loading input file \"%s\".\n", cfg->file);
            return 1;
        }
        int rc = read_all(t, fd, out, len, "File");
        close(fd);
        if (rc)
            tool_errf(t, "Error loading input file \"%s\".\n", cfg->file);
        return rc;
    }
    case TOOL_MSG_STDIN:
        return read_all(t, STDIN_FILENO, out, len, "Message from stdin");
    default:
        *out = malloc(1);
        return *out ? 0 : 1;
    }
}

void tool_publish_error(tool_ctx_t *t, midge_err_t e, size_t len)
{
    if (e == MIDGE_ERR_PACKET_TOO_LARGE) {
        if (t->server_max_packet)
            tool_errf(t,
                      "Error: Message of %zu bytes is too large for the broker's maximum "
                      "packet size of %u bytes.\n",
                      len, t->server_max_packet);
        else
            tool_errf(t,
                      "Error: Message of %zu bytes is too large for an MQTT packet (at most "
                      "268435455 bytes).\n",
                      len);
        return;
    }
    char why[256];
    midge_last_error(t->client, why, sizeof why);
    tool_errf(t, "Error: Publish failed: %s%s%s.\n", midge_strerror(e), *why ? ": " : "", why);
}
