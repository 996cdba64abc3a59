/*
 * $SYS/broker/... topics, as Mosquitto publishes them: retained, QoS 0,
 * refreshed every sys_interval seconds by a timer on worker 0.
 *
 * Also the log's topic destination: mlog queues lines (it may run inside
 * routing, so it never publishes) and wakes worker 0, which publishes them
 * here as Mosquitto does: $SYS/broker/log/<type>, QoS 2, not retained,
 * expiring after 20 seconds.
 */
#include <stdio.h>
#include <string.h>

#include "broker/log.h"
#include "broker/memuse.h"
#include "broker/proto.h"

#ifndef MIDGE_VERSION
#define MIDGE_VERSION "0.1.0"
#endif

static void publish(broker_t *b, const char *topic, const char *value)
{
    msg_init_t in = {
        .topic = {(const uint8_t *)topic, strlen(topic)},
        .payload = {(const uint8_t *)value, strlen(value)},
        .qos = 0,
        .retain = true,
        .now_ms = msg_now_ms(),
    };
    msg_t *m = msg_new(&in);
    if (m) {
        deliver_publish(b, m, NULL);
        msg_unref(m);
    }
}

static void publish_u(broker_t *b, const char *topic, unsigned long long v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", v);
    publish(b, topic, buf);
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

void sys_publish_now(broker_t *b)
{
    broker_stats_t *st = &b->stats;
    char buf[64];
    long long up = (msg_now_ms() - b->start_ms) / 1000;
    snprintf(buf, sizeof(buf), "%lld seconds", up);
    publish(b, "$SYS/broker/uptime", buf);
    long connected = atomic_load_explicit(&st->clients_connected, memory_order_relaxed);
    long disconnected = atomic_load_explicit(&st->sessions_disconnected, memory_order_relaxed);
    if (connected < 0)
        connected = 0;
    if (disconnected < 0)
        disconnected = 0;
    publish_u(b, "$SYS/broker/clients/connected", (unsigned long long)connected);
    publish_u(b, "$SYS/broker/clients/active", (unsigned long long)connected);
    publish_u(b, "$SYS/broker/clients/disconnected", (unsigned long long)disconnected);
    publish_u(b, "$SYS/broker/clients/inactive", (unsigned long long)disconnected);
    publish_u(b, "$SYS/broker/clients/total", (unsigned long long)(connected + disconnected));
    publish_u(b, "$SYS/broker/clients/maximum", LOAD(st->clients_maximum));
    publish_u(b, "$SYS/broker/messages/received", LOAD(st->msgs_received));
    publish_u(b, "$SYS/broker/messages/sent", LOAD(st->msgs_sent));
    publish_u(b, "$SYS/broker/publish/messages/received", LOAD(st->pub_msgs_received));
    publish_u(b, "$SYS/broker/publish/messages/sent", LOAD(st->pub_msgs_sent));
    publish_u(b, "$SYS/broker/publish/messages/dropped", LOAD(st->msgs_dropped));
    publish_u(b, "$SYS/broker/publish/bytes/received", LOAD(st->pub_bytes_received));
    publish_u(b, "$SYS/broker/publish/bytes/sent", LOAD(st->pub_bytes_sent));
    publish_u(b, "$SYS/broker/bytes/received", LOAD(st->bytes_received));
    publish_u(b, "$SYS/broker/bytes/sent", LOAD(st->bytes_sent));
    publish_u(b, "$SYS/broker/subscriptions/count", tt_subscription_count(b->tree));
    publish_u(b, "$SYS/broker/retained messages/count", retain_count(b->retain));
    publish_u(b, "$SYS/broker/store/messages/bytes", retain_payload_bytes(b->retain));
    /* What memory_limit is checked against (memuse.h), not the whole heap. */
    publish_u(b, "$SYS/broker/heap/current", memuse_current());
    publish_u(b, "$SYS/broker/heap/maximum", memuse_maximum());
}

static void sys_tick(worker_t *w, wtimer_t *t, void *arg)
{
    wctx_t *wc = arg;
    sys_publish_now(wc->b);
    wtimer_start(w, t, (uint64_t)wc->b->sys_interval * 1000u, sys_tick, wc);
}

static void retain_tick(worker_t *w, wtimer_t *t, void *arg)
{
    wctx_t *wc = arg;
    retain_expire(wc->b->retain, msg_now_ms());
    wtimer_start(w, t, 60000u, retain_tick, wc);
}

/* ---- the log's topic destination ---- */

#define LOG_TOPIC_EXPIRY_S 20
#define LOG_DRAIN_BATCH    16

static worker_t *log_worker;

static void log_publish(broker_t *b, const mlog_entry_t *e)
{
    const char *topic = mlog_topic_name(e->type);
    if (!topic)
        return;
    mqtt_props_t props;
    memset(&props, 0, sizeof(props));
    props.message_expiry_interval = LOG_TOPIC_EXPIRY_S;
    MQTT_PROP_SET(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    msg_init_t in = {
        .topic = {(const uint8_t *)topic, strlen(topic)},
        .payload = {(const uint8_t *)e->text, e->len},
        .qos = 2,
        .retain = false,
        .props = &props,
        .now_ms = msg_now_ms(),
    };
    msg_t *m = msg_new(&in);
    if (m) {
        deliver_publish(b, m, NULL);
        msg_unref(m);
    }
}

static void log_drain(worker_t *w, void *arg)
{
    broker_t *b = arg;
    mlog_topic_drain_begin();
    if (worker_stopping(w))
        return;
    /* What routing logs while publishing a line stays off the topics:
     * a log line must not make more log lines to publish. */
    mlog_topic_mute(true);
    mlog_entry_t batch[LOG_DRAIN_BATCH];
    size_t n;
    /* Bounded: lines queued after drain_begin have woken another drain. */
    for (int round = 0; round < 64 && (n = mlog_topic_take(batch, LOG_DRAIN_BATCH)) > 0; round++) {
        for (size_t i = 0; i < n; i++)
            log_publish(b, &batch[i]);
    }
    uint64_t dropped = mlog_topic_dropped();
    if (dropped > 0)
        mlog(MLOG_WARNING,
             "Warning: %llu log lines were not published on $SYS/broker/log: "
             "too many at once.",
             (unsigned long long)dropped);
    mlog_topic_mute(false);
}

/* mlog's waker: any thread. */
static int log_wake(void *arg)
{
    return worker_post(log_worker, log_drain, arg);
}

void sys_start(wctx_t *wc)
{
    broker_t *b = wc->b;
    log_worker = wc->w;
    mlog_topic_attach(log_wake, b);
    /* Published once: it never changes. */
    publish(b, "$SYS/broker/version", "midge version " MIDGE_VERSION);
    wtimer_start(wc->w, &wc->retain_timer, 60000u, retain_tick, wc);
    if (b->sys_interval == 0)
        return;
    sys_publish_now(b);
    wtimer_start(wc->w, &wc->sys_timer, (uint64_t)b->sys_interval * 1000u, sys_tick, wc);
}
