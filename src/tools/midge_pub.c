/* midge_pub: publish one message, a file, stdin, or stdin line by line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool_client.h"

typedef struct {
    tool_ctx_t t;
    uint8_t *payload;
    size_t len;
    midge_props_t *props; /* -D PUBLISH */
    long sent;            /* messages handed to libmidge */
    bool started;
    bool input_done; /* every message handed over (-l: stdin at EOF) */
    /* -l */
    char *line;
    size_t line_len;
    size_t line_cap;
} pub_t;

/* Stop reading stdin while this many messages wait, so a fast producer
 * never grows the queue without bound; resume below half. */
#define LINES_HIGH_WATER 20000

static void check_done(pub_t *p)
{
    if (p->input_done && !p->t.finishing && midge_queued_count(p->t.client) == 0)
        tool_finish(&p->t, 0);
}

static bool publish(pub_t *p, const void *data, size_t len)
{
    tool_ctx_t *t = &p->t;
    midge_err_t e = midge_publish(t->client, NULL, t->cfg->topic, data, len, t->cfg->qos,
                                  t->cfg->retain, p->props);
    if (e != MIDGE_OK) {
        tool_publish_error(t, e, len);
        p->input_done = true;
        t->watch_stdin = false;
        tool_finish(t, 1);
        return false;
    }
    p->sent++;
    return true;
}

static void repeat_next(tool_ctx_t *t)
{
    pub_t *p = t->tool;
    if (t->finishing)
        return;
    if (!publish(p, p->payload, p->len))
        return;
    if (p->sent < t->cfg->repeat_count)
        tool_set_timer(t, tool_now_ms() + (long long)(t->cfg->repeat_delay * 1000.0), repeat_next);
    else
        p->input_done = true;
    check_done(p);
}

static void on_stdin(tool_ctx_t *t)
{
    pub_t *p = t->tool;
    if (p->line_cap - p->line_len < 16384) {
        size_t cap = p->line_cap ? p->line_cap * 2 : 65536;
        if (cap > 268435456u + 65536) {
            tool_errf(t, "Error: Input line longer than 268435455 bytes.\n");
            t->watch_stdin = false;
            p->input_done = true;
            tool_finish(t, 1);
            return;
        }
        char *n = realloc(p->line, cap);
        if (!n) {
            tool_errf(t, "Error: Out of memory.\n");
            tool_finish(t, 1);
            return;
        }
        p->line = n;
        p->line_cap = cap;
    }
    ssize_t r = read(STDIN_FILENO, p->line + p->line_len, 16384);
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return;
        tool_errf(t, "Error: reading stdin: %s\n", strerror(errno));
        r = 0;
    }
    if (r == 0) {
        /* A last line without a newline is still a message. */
        if (p->line_len)
            publish(p, p->line, p->line_len);
        p->line_len = 0;
        t->watch_stdin = false;
        p->input_done = true;
        check_done(p);
        return;
    }
    p->line_len += (size_t)r;
    size_t start = 0;
    for (size_t i = p->line_len - (size_t)r; i < p->line_len; i++) {
        if (p->line[i] != '\n')
            continue;
        if (!publish(p, p->line + start, i - start))
            return;
        start = i + 1;
    }
    memmove(p->line, p->line + start, p->line_len - start);
    p->line_len -= start;
    if (midge_queued_count(t->client) >= LINES_HIGH_WATER)
        t->watch_stdin = false;
}

static void on_connect(midge_client_t *c, void *ud, uint8_t code, bool sp,
                       const midge_props_t *props)
{
    tool_ctx_t *t = ud;
    pub_t *p = t->tool;
    (void)c;
    (void)code;
    (void)sp;
    (void)props;
    if (p->started)
        return; /* a reconnect (-l): libmidge resends what is pending */
    p->started = true;
    if (t->cfg->msg_mode == TOOL_MSG_LINES) {
        t->watch_stdin = true;
        return;
    }
    repeat_next(t);
}

static void on_publish(midge_client_t *c, void *ud, int mid, uint8_t reason,
                       const midge_props_t *props)
{
    tool_ctx_t *t = ud;
    pub_t *p = t->tool;
    (void)mid;
    (void)props;
    if (reason >= 0x80) {
        tool_errf(t, "Warning: Publish %d failed: %s.\n", mid, midge_reason_string(reason));
        if (t->exit_code == 0)
            t->exit_code = 1;
    }
    if (t->cfg->msg_mode == TOOL_MSG_LINES && !p->input_done && !t->finishing &&
        midge_queued_count(c) < LINES_HIGH_WATER / 2)
        t->watch_stdin = true;
    check_done(p);
}

static void on_disconnect(midge_client_t *c, void *ud, midge_err_t err, const char *detail,
                          bool reconnecting)
{
    tool_ctx_t *t = ud;
    pub_t *p = t->tool;
    (void)detail;
    /* MQTT 3.1.x brokers announce no size limit; one that closes the
     * connection on a big message leaves only this hint. */
    if (err != MIDGE_OK && !reconnecting && t->connected_once && t->cfg->protocol != 5 &&
        p->len > 65536 && midge_queued_count(c) > 0)
        tool_errf(t,
                  "Error: The broker closed the connection while a message of %zu bytes was "
                  "being sent; it may refuse packets that large.\n",
                  p->len);
}

int main(int argc, char **argv)
{
    static pub_t p;
    tool_cfg_t cfg;
    int rc = tool_cfg_parse(&cfg, TOOL_PUB, argc, argv);
    if (rc) {
        rc = tool_report_parse(&cfg, rc, tool_usage_pub);
        tool_cfg_free(&cfg);
        return rc;
    }
    p.t.cfg = &cfg;
    p.t.tool = &p;
    p.t.on_stdin = on_stdin;
    if (cfg.msg_mode != TOOL_MSG_LINES && tool_load_payload(&p.t, &p.payload, &p.len)) {
        tool_cfg_free(&cfg);
        return 1;
    }
    midge_callbacks_t cbs = {
        .on_connect = on_connect, .on_publish = on_publish, .on_disconnect = on_disconnect};
    rc = tool_setup(&p.t, &cfg, &cbs, cfg.msg_mode == TOOL_MSG_LINES);
    bool failed = false;
    if (!rc && cfg.protocol == 5) {
        p.props = tool_props_for(&p.t, TOOL_CMD_PUBLISH, &failed);
        rc = failed;
    }
    if (!rc && cfg.msg_mode == TOOL_MSG_LINES)
        midge_set_queue_limits(p.t.client, 65535, (size_t)512 << 20);
    if (!rc)
        rc = tool_connect(&p.t);
    if (!rc)
        rc = tool_run(&p.t, 0);
    midge_props_free(p.props);
    tool_cleanup(&p.t);
    free(p.payload);
    free(p.line);
    tool_cfg_free(&cfg);
    return rc;
}
