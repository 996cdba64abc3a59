/* midge_rr: MQTT v5 request/response. Subscribes to the response topic,
 * publishes the request with a Response Topic property, prints the first
 * response. */
#include <stdlib.h>
#include <string.h>

#include "tool_client.h"

typedef struct {
    tool_ctx_t t;
    uint8_t *payload;
    size_t len;
    midge_props_t *props;    /* -D PUBLISH plus the response topic */
    const char *correlation; /* from -D PUBLISH correlation-data */
    bool requested;
    long count;
} rr_t;

static void on_subscribe(midge_client_t *c, void *ud, int mid, size_t count, const uint8_t *granted,
                         const midge_props_t *props)
{
    tool_ctx_t *t = ud;
    rr_t *r = t->tool;
    (void)mid;
    (void)props;
    if (r->requested)
        return;
    if (count < 1 || granted[0] >= 0x80) {
        tool_errf(t, "Error: Subscription to response topic '%s' was denied: %s.\n",
                  t->cfg->response_topic,
                  count < 1 ? "no answer" : midge_reason_string(granted[0]));
        tool_finish(t, 1);
        return;
    }
    r->requested = true;
    midge_err_t e =
        midge_publish(c, NULL, t->cfg->topic, r->payload, r->len, t->cfg->qos, false, r->props);
    if (e != MIDGE_OK) {
        tool_publish_error(t, e, r->len);
        tool_finish(t, 1);
    }
}

static void on_message(midge_client_t *c, void *ud, const midge_message_t *msg)
{
    tool_ctx_t *t = ud;
    rr_t *r = t->tool;
    (void)c;
    if (t->finishing || t->done)
        return;
    if (t->cfg->no_retain && msg->retain)
        return;
    /* With our own correlation data, a response carrying different data
     * answers someone else's request on a shared response topic. */
    midge_prop_t cd;
    if (r->correlation && midge_props_find(msg->props, MIDGE_PROP_CORRELATION_DATA, &cd) &&
        (cd.len != strlen(r->correlation) || memcmp(cd.data, r->correlation, cd.len)))
        return;
    tool_msg_t m;
    tool_msg_from(t, msg, &m);
    tool_print_message(t, &m);
    if (++r->count >= t->cfg->msg_count)
        tool_finish(t, 0);
}

int main(int argc, char **argv)
{
    static rr_t r;
    tool_cfg_t cfg;
    int rc = tool_cfg_parse(&cfg, TOOL_RR, argc, argv);
    if (rc) {
        rc = tool_report_parse(&cfg, rc, tool_usage_rr);
        tool_cfg_free(&cfg);
        return rc;
    }
    r.t.cfg = &cfg;
    r.t.tool = &r;
    tool_catch_signals();
    if (tool_load_payload(&r.t, &r.payload, &r.len)) {
        tool_cfg_free(&cfg);
        return 1;
    }
    for (size_t i = 0; i < cfg.prop_count; i++)
        if (cfg.props[i].cmd == TOOL_CMD_PUBLISH && cfg.props[i].id == MIDGE_PROP_CORRELATION_DATA)
            r.correlation = cfg.props[i].str;

    midge_callbacks_t cbs = {.on_message = on_message, .on_subscribe = on_subscribe};
    rc = tool_setup(&r.t, &cfg, &cbs, false);
    bool failed = false;
    if (!rc && cfg.protocol == 5) {
        r.props = tool_props_for(&r.t, TOOL_CMD_PUBLISH, &failed);
        if (!failed && !r.props && !(r.props = midge_props_new()))
            failed = true;
        if (!failed && midge_props_add_string(r.props, MIDGE_PROP_RESPONSE_TOPIC,
                                              cfg.response_topic) != MIDGE_OK) {
            tool_errf(&r.t, "Error: Invalid response topic '%s'.\n", cfg.response_topic);
            failed = true;
        }
        rc = failed;
    }
    bool sfail = false;
    midge_props_t *sp = rc ? NULL : tool_props_for(&r.t, TOOL_CMD_SUBSCRIBE, &sfail);
    if (!rc && sfail)
        rc = 1;
    if (!rc) {
        int opt = cfg.qos | (cfg.no_retain ? MIDGE_SUB_RETAIN_HANDLING(2) : 0) |
                  (cfg.retain_as_published ? MIDGE_SUB_RETAIN_AS_PUBLISHED : 0);
        midge_err_t e = midge_subscribe(r.t.client, NULL, cfg.response_topic, opt, sp);
        if (e != MIDGE_OK) {
            tool_errf(&r.t, "Error: Problem subscribing: %s.\n", midge_strerror(e));
            rc = 1;
        }
    }
    if (!rc)
        rc = tool_connect(&r.t);
    if (!rc)
        rc = tool_run(&r.t, cfg.timeout ? tool_now_ms() + (long long)cfg.timeout * 1000 : 0);
    midge_props_free(sp);
    midge_props_free(r.props);
    tool_cleanup(&r.t);
    free(r.payload);
    tool_cfg_free(&cfg);
    return rc;
}
