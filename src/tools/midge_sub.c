/* midge_sub: subscribe and print what arrives. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool_client.h"

typedef struct {
    tool_ctx_t t;
    long count;
    bool suback_seen;
    bool unsuback_pending;
    int sub_mid;
} sub_t;

static void maybe_exit_after_sub(sub_t *s)
{
    if (s->t.cfg->exit_after_sub && s->suback_seen && !s->unsuback_pending)
        tool_finish(&s->t, 0);
}

static void on_subscribe(midge_client_t *c, void *ud, int mid, size_t count, const uint8_t *granted,
                         const midge_props_t *props)
{
    tool_ctx_t *t = ud;
    sub_t *s = t->tool;
    (void)c;
    (void)props;
    (void)mid;
    size_t denied = 0;
    for (size_t i = 0; i < count; i++) {
        if (granted[i] < 0x80)
            continue;
        denied++;
        const char *topic = i < t->cfg->topic_count ? t->cfg->topics[i] : "?";
        tool_errf(t, "Warning: Subscription to '%s' was denied: %s.\n", topic,
                  t->cfg->protocol == 5 ? midge_reason_string(granted[i]) : "Failure");
    }
    s->suback_seen = true;
    if (count && denied == count) {
        tool_errf(t, "All subscription requests were denied.\n");
        tool_finish(t, 1);
        return;
    }
    maybe_exit_after_sub(s);
}

static void on_unsubscribe(midge_client_t *c, void *ud, int mid, size_t count,
                           const uint8_t *reasons, const midge_props_t *props)
{
    tool_ctx_t *t = ud;
    sub_t *s = t->tool;
    (void)c;
    (void)mid;
    (void)count;
    (void)reasons;
    (void)props;
    s->unsuback_pending = false;
    if (!t->cfg->topic_count)
        s->suback_seen = true;
    maybe_exit_after_sub(s);
}

static bool filtered_out(const tool_cfg_t *cfg, const char *topic)
{
    for (size_t i = 0; i < cfg->filter_out_count; i++)
        if (tool_topic_matches(cfg->filter_outs[i], topic))
            return true;
    return false;
}

static void on_message(midge_client_t *c, void *ud, const midge_message_t *msg)
{
    tool_ctx_t *t = ud;
    sub_t *s = t->tool;
    const tool_cfg_t *cfg = t->cfg;
    if (t->finishing || t->done)
        return;
    if (filtered_out(cfg, msg->topic))
        return;
    if (cfg->remove_retained && msg->retain)
        midge_publish(c, NULL, msg->topic, NULL, 0, 1, true, NULL);
    if (cfg->no_retain && msg->retain)
        return;
    if (cfg->retained_only && !msg->retain) {
        tool_finish(t, 0);
        return;
    }
    if (cfg->random_filter < 10000 && rand() % 10000 >= cfg->random_filter)
        return;
    tool_msg_t m;
    tool_msg_from(t, msg, &m);
    tool_print_message(t, &m);
    s->count++;
    if (cfg->msg_count && s->count >= cfg->msg_count)
        tool_finish(t, 0);
}

int main(int argc, char **argv)
{
    static sub_t s;
    tool_cfg_t cfg;
    int rc = tool_cfg_parse(&cfg, TOOL_SUB, argc, argv);
    if (rc) {
        rc = tool_report_parse(&cfg, rc, tool_usage_sub);
        tool_cfg_free(&cfg);
        return rc;
    }
    srand((unsigned)time(NULL) ^ (unsigned)clock());
    tool_catch_signals();
    s.t.cfg = &cfg;
    s.t.tool = &s;
    midge_callbacks_t cbs = {
        .on_message = on_message,
        .on_subscribe = on_subscribe,
        .on_unsubscribe = on_unsubscribe,
    };
    rc = tool_setup(&s.t, &cfg, &cbs, true);
    int *opts = NULL;
    midge_props_t *sp = NULL, *up = NULL;
    bool failed = false;
    if (!rc && cfg.protocol == 5) {
        sp = tool_props_for(&s.t, TOOL_CMD_SUBSCRIBE, &failed);
        if (!failed)
            up = tool_props_for(&s.t, TOOL_CMD_UNSUBSCRIBE, &failed);
        rc = failed;
    }
    if (!rc && cfg.topic_count) {
        opts = calloc(cfg.topic_count, sizeof *opts);
        if (!opts) {
            tool_errf(&s.t, "Error: Out of memory.\n");
            rc = 1;
        }
        for (size_t i = 0; !rc && i < cfg.topic_count; i++) {
            opts[i] = cfg.qos;
            if (cfg.no_retain)
                opts[i] |= MIDGE_SUB_RETAIN_HANDLING(2);
            if (cfg.retain_as_published)
                opts[i] |= MIDGE_SUB_RETAIN_AS_PUBLISHED;
        }
        /* Queued now, sent right after CONNACK. */
        midge_err_t e = rc ? MIDGE_OK
                           : midge_subscribe_many(s.t.client, &s.sub_mid, cfg.topic_count,
                                                  (const char *const *)cfg.topics, opts, sp);
        if (e != MIDGE_OK) {
            tool_errf(&s.t, "Error: Problem subscribing: %s.\n", midge_strerror(e));
            rc = 1;
        }
    }
    if (!rc && cfg.unsub_count) {
        s.unsuback_pending = true;
        midge_err_t e = midge_unsubscribe_many(s.t.client, NULL, cfg.unsub_count,
                                               (const char *const *)cfg.unsub_topics, up);
        if (e != MIDGE_OK) {
            tool_errf(&s.t, "Error: Problem unsubscribing: %s.\n", midge_strerror(e));
            rc = 1;
        }
    }
    if (!rc)
        rc = tool_connect(&s.t);
    if (!rc)
        rc = tool_run(&s.t, cfg.timeout ? tool_now_ms() + (long long)cfg.timeout * 1000 : 0);
    free(opts);
    midge_props_free(sp);
    midge_props_free(up);
    tool_cleanup(&s.t);
    tool_cfg_free(&cfg);
    return rc;
}
