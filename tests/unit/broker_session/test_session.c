#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/session.h"
#include "broker/store.h"
#include "test.h"

/* A stand-in for the broker's refcounted message. */
typedef struct {
    int refs;
    uint64_t id;
    const char *topic;
} fake_msg_t;

static int live_msgs;

static fake_msg_t *msg_new(uint64_t id, const char *topic)
{
    fake_msg_t *m = calloc(1, sizeof(*m));
    m->refs = 1;
    m->id = id;
    m->topic = topic;
    live_msgs++;
    return m;
}

static void msg_release(void *p)
{
    fake_msg_t *m = p;
    if (--m->refs == 0) {
        free(m);
        live_msgs--;
    }
}

static void msg_view(const void *p, store_msg_t *out)
{
    const fake_msg_t *m = p;
    memset(out, 0, sizeof(*out));
    out->id = m->id;
    out->topic = (mqtt_bytes_t){(const uint8_t *)m->topic, strlen(m->topic)};
    out->payload = (mqtt_bytes_t){(const uint8_t *)"pay", 3};
    out->qos = 1;
}

static session_limits_t limits(uint16_t inflight, uint32_t queued, uint64_t bytes)
{
    session_limits_t l = {.max_inflight = inflight,
                          .max_queued_messages = queued,
                          .max_queued_bytes = bytes,
                          .max_online_queued = 100};
    return l;
}

static session_t *open_session(session_table_t *t, const char *id)
{
    pthread_mutex_lock(&t->lock);
    session_t *s = session_create_locked(t, id, strlen(id));
    pthread_mutex_unlock(&t->lock);
    return s;
}

static bool push(session_t *s, uint64_t id, uint8_t qos, size_t bytes)
{
    return session_out_push(s, session_out_new(msg_new(id, "t"), qos, false, bytes, 0));
}

TEST(table_find_create_remove)
{
    session_table_t t;
    session_limits_t l = limits(20, 1000, 0);
    CHECK(session_table_init(&t, &l, msg_release, NULL) == 0);
    CHECK(session_find(&t, "a", 1) == NULL);
    session_t *a = open_session(&t, "a");
    CHECK(a != NULL);
    CHECK(strcmp(a->client_id, "a") == 0);
    session_t *f = session_find(&t, "a", 1);
    CHECK(f == a);
    session_release(f);
    /* many sessions force the table to grow and rehash */
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "client-%d", i);
        session_release(open_session(&t, id));
    }
    CHECK_EQ_INT(t.count, 5001);
    session_t *g = session_find(&t, "client-4321", 11);
    CHECK(g != NULL);
    pthread_mutex_lock(&t.lock);
    session_remove_locked(&t, g);
    pthread_mutex_unlock(&t.lock);
    CHECK(g->ended);
    session_release(g);
    CHECK(session_find(&t, "client-4321", 11) == NULL);
    CHECK_EQ_INT(t.count, 5000);
    session_release(a);
    session_table_destroy(&t);
}

TEST(qos0_dropped_offline_sent_online)
{
    session_table_t t;
    session_limits_t l = limits(20, 1000, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    CHECK(!push(s, 1, 0, 3)); /* offline */
    CHECK_EQ_INT(live_msgs, 0);
    s->conn = s; /* any non-NULL connection */
    CHECK(push(s, 2, 0, 3));
    session_out_t *e = session_out_next(s, 0);
    CHECK(e != NULL);
    CHECK_EQ_INT(e->qos, 0);
    CHECK_EQ_INT(e->packet_id, 0);
    session_out_free(&t, e);
    CHECK(session_out_next(s, 0) == NULL);
    CHECK_EQ_INT(live_msgs, 0);
    session_release(s);
    session_table_destroy(&t);
}

TEST(qos1_window_and_puback)
{
    session_table_t t;
    session_limits_t l = limits(2, 1000, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    s->conn = s;
    for (int i = 0; i < 4; i++)
        CHECK(push(s, (uint64_t)i, 1, 1));
    session_out_t *a = session_out_next(s, 0);
    session_out_t *b = session_out_next(s, 0);
    CHECK(a && b);
    CHECK_EQ_INT(a->packet_id, 1);
    CHECK_EQ_INT(b->packet_id, 2);
    CHECK_EQ_INT(a->state, OUT_WAIT_PUBACK);
    CHECK(session_out_next(s, 0) == NULL); /* window of 2 is full */
    CHECK(session_out_puback(s, 7) == NULL);
    session_out_t *x = session_out_puback(s, 2); /* out of order ack is fine */
    CHECK(x == b);
    session_out_free(&t, x);
    CHECK(session_out_puback(s, 2) == NULL); /* a second ack is ignored */
    session_out_t *c = session_out_next(s, 0);
    CHECK(c != NULL);
    CHECK_EQ_INT(c->packet_id, 3);
    CHECK_EQ_INT(((fake_msg_t *)c->msg)->id, 2); /* in order */
    CHECK(session_out_next(s, 0) == NULL);
    session_out_clear(s);
    CHECK_EQ_INT(live_msgs, 0);
    session_release(s);
    session_table_destroy(&t);
}

TEST(packet_ids_skip_in_use_and_wrap)
{
    session_table_t t;
    session_limits_t l = limits(3, 0, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    s->conn = s;
    s->next_packet_id = 65535;
    for (int i = 0; i < 3; i++)
        push(s, (uint64_t)i, 1, 1);
    session_out_t *a = session_out_next(s, 0);
    session_out_t *b = session_out_next(s, 0);
    session_out_t *c = session_out_next(s, 0);
    CHECK_EQ_INT(a->packet_id, 65535);
    CHECK_EQ_INT(b->packet_id, 1);
    CHECK_EQ_INT(c->packet_id, 2);
    session_out_free(&t, session_out_puback(s, 1));
    s->next_packet_id = 65535; /* 65535 and 2 are still in flight */
    push(s, 9, 1, 1);
    session_out_t *d = session_out_next(s, 0);
    CHECK_EQ_INT(d->packet_id, 1);
    session_out_clear(s);
    session_release(s);
    session_table_destroy(&t);
    CHECK_EQ_INT(live_msgs, 0);
}

TEST(qos2_outgoing_states)
{
    session_table_t t;
    session_limits_t l = limits(20, 0, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    s->conn = s;
    push(s, 1, 2, 5);
    push(s, 2, 2, 5);
    session_out_t *a = session_out_next(s, 0);
    session_out_t *b = session_out_next(s, 0);
    CHECK_EQ_INT(a->state, OUT_WAIT_PUBREC);
    CHECK(session_out_pubcomp(s, a->packet_id) == NULL); /* wrong state */
    CHECK(session_out_puback(s, a->packet_id) == NULL);
    CHECK(session_out_pubrec(s, a->packet_id, 0) == a);
    CHECK_EQ_INT(a->state, OUT_WAIT_PUBCOMP);
    CHECK(a->msg == NULL); /* payload released once PUBREC arrives */
    CHECK_EQ_INT(live_msgs, 1);
    CHECK(session_out_pubrec(s, a->packet_id, 0) == NULL);
    session_out_free(&t, session_out_pubcomp(s, a->packet_id));
    /* a v5 PUBREC with an error ends the exchange without PUBREL */
    session_out_t *x = session_out_pubrec(s, b->packet_id, 0x97);
    CHECK(x == b);
    session_out_free(&t, x);
    CHECK_EQ_INT(s->inflight.count, 0);
    CHECK_EQ_INT(live_msgs, 0);
    session_release(s);
    session_table_destroy(&t);
}

TEST(resume_marks_dup_and_drops_qos0_offline)
{
    session_table_t t;
    session_limits_t l = limits(20, 0, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    s->conn = s;
    push(s, 1, 1, 1);
    push(s, 2, 2, 1);
    push(s, 3, 2, 1);
    session_out_t *a = session_out_next(s, 0);
    session_out_t *b = session_out_next(s, 0);
    session_out_t *c = session_out_next(s, 0);
    session_out_pubrec(s, c->packet_id, 0);
    push(s, 4, 0, 1);
    push(s, 5, 1, 1);
    s->conn = NULL;
    session_out_offline(s);
    CHECK_EQ_INT(s->queue.count, 1); /* the QoS 1 message stays queued */
    session_out_resume(s, 5);
    CHECK_EQ_INT(s->window, 5);
    CHECK(a->dup && b->dup);
    CHECK(!c->dup);
    CHECK_EQ_INT(c->state, OUT_WAIT_PUBCOMP);
    CHECK(s->inflight.head == a && a->next == b && b->next == c);
    session_out_resume(s, 0); /* no Receive Maximum: ours applies */
    CHECK_EQ_INT(s->window, 20);
    session_out_clear(s);
    session_release(s);
    session_table_destroy(&t);
    CHECK_EQ_INT(live_msgs, 0);
}

TEST(queue_limits_messages_and_bytes)
{
    session_table_t t;
    session_limits_t l = limits(2, 3, 0);
    l.max_online_queued = 4;
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    /* offline: the limit counts every queued message */
    for (int i = 0; i < 3; i++)
        CHECK(push(s, (uint64_t)i, 1, 10));
    CHECK(!push(s, 9, 2, 10));
    CHECK_EQ_INT(s->dropped, 1);
    /* online: what fits the window of 2 does not count */
    s->conn = s;
    CHECK(push(s, 10, 1, 10));
    CHECK(push(s, 11, 1, 10));
    CHECK(!push(s, 12, 1, 10)); /* never acknowledged: Mosquitto's bound */
    /* a client acknowledging right now may queue up to the online bound */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->acked_at = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    CHECK(push(s, 13, 1, 10));
    CHECK(!push(s, 14, 1, 10));
    CHECK_EQ_INT(s->queue.count, 6);
    session_out_clear(s);
    session_release(s);
    session_table_destroy(&t);

    l = limits(1, 0, 25);
    session_table_init(&t, &l, msg_release, NULL);
    s = open_session(&t, "c");
    CHECK(push(s, 1, 1, 10)); /* fits the window */
    CHECK(push(s, 2, 1, 10));
    CHECK(push(s, 3, 1, 5));
    CHECK(!push(s, 4, 1, 1)); /* 26 bytes queued would exceed 25 */
    session_out_clear(s);
    session_release(s);
    session_table_destroy(&t);
    CHECK_EQ_INT(live_msgs, 0);
}

TEST(expired_queued_messages_are_dropped)
{
    session_table_t t;
    session_limits_t l = limits(20, 0, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    session_out_push(s, session_out_new(msg_new(1, "t"), 1, false, 1, 1000));
    session_out_push(s, session_out_new(msg_new(2, "t"), 1, false, 1, 5000));
    session_out_t *e = session_out_next(s, 2000);
    CHECK(e != NULL);
    CHECK_EQ_INT(((fake_msg_t *)e->msg)->id, 2);
    CHECK_EQ_INT(live_msgs, 1);
    session_out_clear(s);
    session_release(s);
    session_table_destroy(&t);
}

TEST(ended_session_refuses)
{
    session_table_t t;
    session_limits_t l = limits(20, 0, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    pthread_mutex_lock(&t.lock);
    session_remove_locked(&t, s);
    pthread_mutex_unlock(&t.lock);
    CHECK(!push(s, 1, 1, 1));
    CHECK_EQ_INT(live_msgs, 0);
    session_release(s);
    session_table_destroy(&t);
}

TEST(incoming_qos2)
{
    session_table_t t;
    session_limits_t l = limits(20, 0, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    CHECK_EQ_INT(session_in_qos2_add(s, 10, 2), 1);
    CHECK_EQ_INT(session_in_qos2_add(s, 10, 2), 0); /* resend: no second delivery */
    CHECK_EQ_INT(session_in_qos2_add(s, 11, 2), 1);
    CHECK_EQ_INT(session_in_qos2_add(s, 12, 2), -1); /* receive maximum 2 */
    CHECK(session_in_qos2_release(s, 10));
    CHECK(!session_in_qos2_release(s, 10));
    CHECK_EQ_INT(session_in_qos2_add(s, 12, 2), 1);
    for (uint16_t i = 100; i < 200; i++)
        CHECK_EQ_INT(session_in_qos2_add(s, i, 0), 1);
    session_release(s);
    session_table_destroy(&t);
}

/* ---- store ---- */

typedef struct {
    int sessions, subs, outs, ins, retained;
    uint64_t seqs[8];
    uint8_t states[8];
    char last_filter[32];
} load_seen_t;

static int ld_session(void *ctx, const store_session_t *s)
{
    ((load_seen_t *)ctx)->sessions++;
    return 0;
}

static int ld_sub(void *ctx, mqtt_bytes_t id, mqtt_bytes_t filter, uint8_t o, uint32_t sid)
{
    load_seen_t *seen = ctx;
    seen->subs++;
    memcpy(seen->last_filter, filter.data, filter.len < 31 ? filter.len : 31);
    seen->last_filter[filter.len < 31 ? filter.len : 31] = 0;
    return 0;
}

static int ld_out(void *ctx, mqtt_bytes_t id, const store_out_t *o, const store_msg_t *m)
{
    load_seen_t *seen = ctx;
    if (seen->outs < 8) {
        seen->seqs[seen->outs] = o->seq;
        seen->states[seen->outs] = o->state;
    }
    seen->outs++;
    return 0;
}

static int ld_in(void *ctx, mqtt_bytes_t id, uint16_t pid)
{
    ((load_seen_t *)ctx)->ins++;
    return 0;
}

static int ld_retained(void *ctx, const store_msg_t *m)
{
    ((load_seen_t *)ctx)->retained++;
    return 0;
}

static const store_loader_t loader = {ld_session, ld_sub, ld_out, ld_in, ld_retained};

TEST(store_journals_session_state)
{
    store_t *st = store_memory_open();
    CHECK(st != NULL);
    st->msg_view = msg_view;
    session_table_t t;
    session_limits_t l = limits(1, 0, 0);
    session_table_init(&t, &l, msg_release, st);
    session_t *s = open_session(&t, "c");
    s->expiry_interval = 60;
    store_session_save(st, s);
    mqtt_bytes_t cid = {(const uint8_t *)"c", 1};
    st->ops->sub_put(st, cid, (mqtt_bytes_t){(const uint8_t *)"a/#", 3}, 1, 0);
    st->ops->sub_put(st, cid, (mqtt_bytes_t){(const uint8_t *)"b/+", 3}, 2, 7);
    st->ops->sub_delete(st, cid, (mqtt_bytes_t){(const uint8_t *)"a/#", 3});
    push(s, 1, 1, 1);
    push(s, 2, 2, 1);
    push(s, 3, 0, 1); /* offline QoS 0: dropped, never journalled */
    session_out_t *a = session_out_next(s, 0);
    session_in_qos2_add(s, 5, 0);
    session_in_qos2_add(s, 6, 0);
    session_in_qos2_release(s, 5);
    store_msg_t r = {.id = 42,
                     .topic = {(const uint8_t *)"r", 1},
                     .payload = {(const uint8_t *)"x", 1},
                     .qos = 1,
                     .retain = true};
    st->ops->retained_put(st, &r);
    r.payload = (mqtt_bytes_t){(const uint8_t *)"y", 1};
    st->ops->retained_put(st, &r); /* replaces */

    load_seen_t seen;
    memset(&seen, 0, sizeof(seen));
    CHECK(store_load(st, &loader, &seen) == 0);
    CHECK_EQ_INT(seen.sessions, 1);
    CHECK_EQ_INT(seen.subs, 1);
    CHECK(strcmp(seen.last_filter, "b/+") == 0);
    CHECK_EQ_INT(seen.outs, 2);
    CHECK_EQ_INT(seen.seqs[0], a->seq);
    CHECK_EQ_INT(seen.states[0], OUT_WAIT_PUBACK);
    CHECK_EQ_INT(seen.states[1], OUT_QUEUED);
    CHECK_EQ_INT(seen.ins, 1);
    CHECK_EQ_INT(seen.retained, 1);

    session_out_free(&t, session_out_puback(s, a->packet_id));
    memset(&seen, 0, sizeof(seen));
    store_load(st, &loader, &seen);
    CHECK_EQ_INT(seen.outs, 1);

    pthread_mutex_lock(&t.lock);
    session_remove_locked(&t, s);
    pthread_mutex_unlock(&t.lock);
    memset(&seen, 0, sizeof(seen));
    store_load(st, &loader, &seen);
    CHECK_EQ_INT(seen.sessions, 0);
    CHECK_EQ_INT(seen.outs, 0);
    CHECK_EQ_INT(seen.retained, 1);
    st->ops->retained_delete(st, (mqtt_bytes_t){(const uint8_t *)"r", 1});
    memset(&seen, 0, sizeof(seen));
    store_load(st, &loader, &seen);
    CHECK_EQ_INT(seen.retained, 0);
    session_release(s);
    session_table_destroy(&t);
    store_close(st);
    CHECK_EQ_INT(live_msgs, 0);
}

TEST(inflight_bytes_bound_the_window)
{
    session_table_t t;
    session_limits_t l = limits(20, 1000, 0);
    l.max_inflight_bytes = 100;
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    s->conn = s;
    CHECK(push(s, 1, 1, 40));
    CHECK(push(s, 2, 2, 40));
    CHECK(push(s, 3, 1, 40));
    CHECK(push(s, 4, 1, 40));
    /* Sent while below 100 bytes: 0, 40, 80; the third crosses it. */
    session_out_t *a = session_out_next(s, 0);
    session_out_t *b = session_out_next(s, 0);
    session_out_t *c = session_out_next(s, 0);
    CHECK(a && b && c);
    CHECK(session_out_next(s, 0) == NULL);
    CHECK_EQ_INT(s->inflight.bytes, 120);
    /* A QoS 2 message counts until PUBCOMP, its payload released or not. */
    CHECK(session_out_pubrec(s, b->packet_id, 0) == b);
    CHECK(b->msg == NULL);
    CHECK(session_out_next(s, 0) == NULL);
    session_out_t *x = session_out_pubcomp(s, b->packet_id);
    CHECK(x == b);
    session_out_free(&t, x);
    CHECK_EQ_INT(s->inflight.bytes, 80);
    session_out_t *d = session_out_next(s, 0);
    CHECK(d != NULL);
    CHECK_EQ_INT(((fake_msg_t *)d->msg)->id, 4);
    CHECK(session_out_next(s, 0) == NULL);
    /* One message of any size goes when nothing is in flight. */
    session_out_free(&t, session_out_puback(s, a->packet_id));
    session_out_free(&t, session_out_puback(s, c->packet_id));
    session_out_free(&t, session_out_puback(s, d->packet_id));
    CHECK_EQ_INT(s->inflight.bytes, 0);
    CHECK(push(s, 6, 1, 1000));
    CHECK(push(s, 7, 1, 1));
    CHECK(session_out_next(s, 0) != NULL);
    CHECK(session_out_next(s, 0) == NULL);
    session_out_clear(s);
    CHECK_EQ_INT(live_msgs, 0);
    session_release(s);
    session_table_destroy(&t);
}

TEST(qos0_backlog_does_not_cost_qos1)
{
    session_table_t t;
    session_limits_t l = limits(2, 3, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    s->conn = s;
    s->window = 2;
    for (uint64_t id = 1; id <= 50; id++)
        CHECK(push(s, id, 0, 1)); /* a QoS 0 burst the client has not read */
    /* the window (2) plus max_queued_messages (3) QoS 1 messages still fit */
    for (uint64_t id = 51; id <= 55; id++)
        CHECK(push(s, id, 1, 1));
    CHECK(!push(s, 56, 1, 1));
    CHECK_EQ_INT(s->queue.qos0_count, 50);
    session_out_clear(s);
    CHECK_EQ_INT(s->queue.qos0_count, 0);
    CHECK_EQ_INT(s->queue.qos0_bytes, 0);
    session_release(s);
    session_table_destroy(&t);
    CHECK_EQ_INT(live_msgs, 0);
}

TEST(incoming_qos2_many_open_ids)
{
    session_table_t t;
    session_limits_t l = limits(20, 0, 0);
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    /* every id open at once, as a 3.1.1 client may: past the list, the map */
    for (uint32_t id = 1; id <= 65535; id++)
        CHECK_EQ_INT(session_in_qos2_add(s, (uint16_t)id, 0), 1);
    CHECK(s->in_qos2_bits != NULL);
    CHECK_EQ_INT(s->in_qos2_count, 65535);
    CHECK_EQ_INT(session_in_qos2_add(s, 40000, 0), 0); /* a resend */
    CHECK(session_in_qos2_release(s, 40000));
    CHECK(!session_in_qos2_release(s, 40000));
    CHECK_EQ_INT(session_in_qos2_add(s, 40000, 0), 1);
    for (uint32_t id = 1; id <= 65535; id++)
        CHECK(session_in_qos2_release(s, (uint16_t)id));
    CHECK_EQ_INT(s->in_qos2_count, 0);
    CHECK(s->in_qos2_bits == NULL); /* given back once empty */
    /* the map with Receive Maximum: full is full */
    for (uint16_t id = 1; id <= 40; id++)
        CHECK_EQ_INT(session_in_qos2_add(s, id, 40), 1);
    CHECK_EQ_INT(session_in_qos2_add(s, 41, 40), -1);
    CHECK_EQ_INT(session_in_qos2_add(s, 7, 40), 0);
    session_release(s);
    session_table_destroy(&t);
}

TEST(queue_qos0_messages_keeps_qos0_offline_within_bounds)
{
    session_table_t t;
    session_limits_t l = limits(20, 2, 10);
    l.queue_qos0 = true;
    session_table_init(&t, &l, msg_release, NULL);
    session_t *s = open_session(&t, "c");
    s->conn = s;
    CHECK(push(s, 1, 0, 3)); /* queued online, kept when the client goes */
    s->conn = NULL;
    session_out_offline(s);
    CHECK_EQ_INT(s->queue.count, 1);
    CHECK(push(s, 2, 0, 3));  /* offline: kept */
    CHECK(!push(s, 3, 0, 3)); /* beyond max_queued_messages (2) */
    CHECK_EQ_INT(s->queue.count, 2);
    session_out_clear(s);
    CHECK(push(s, 4, 0, 6));
    CHECK(!push(s, 5, 0, 6)); /* beyond max_queued_bytes (10) */
    session_out_clear(s);
    session_release(s);
    session_table_destroy(&t);
    CHECK_EQ_INT(live_msgs, 0);
}

int main(void)
{
    RUN(table_find_create_remove);
    RUN(qos0_dropped_offline_sent_online);
    RUN(qos1_window_and_puback);
    RUN(packet_ids_skip_in_use_and_wrap);
    RUN(qos2_outgoing_states);
    RUN(resume_marks_dup_and_drops_qos0_offline);
    RUN(queue_limits_messages_and_bytes);
    RUN(expired_queued_messages_are_dropped);
    RUN(ended_session_refuses);
    RUN(incoming_qos2);
    RUN(store_journals_session_state);
    RUN(inflight_bytes_bound_the_window);
    RUN(queue_qos0_messages_keeps_qos0_offline_within_bounds);
    RUN(incoming_qos2_many_open_ids);
    RUN(qos0_backlog_does_not_cost_qos1);
    return TEST_REPORT();
}
