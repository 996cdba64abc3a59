/*
 * The store.h contract, run against every implementation (memory and
 * SQLite), plus what only a durable store promises: records survive a
 * reopen and a kill -9 of the writer, and a file of a newer format is
 * refused.
 */
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/store.h"
#include "broker/store_sqlite.h"
#include "test.h"

static char db_path[256];

static store_t *open_memory(void)
{
    return store_memory_open();
}

static store_t *open_sqlite(void)
{
    char err[256];
    store_t *st = store_sqlite_open(db_path, false, err, sizeof err);
    if (!st)
        fprintf(stderr, "store_sqlite_open: %s\n", err);
    return st;
}

static store_t *(*open_store)(void);

static void fresh_db_path(void)
{
    snprintf(db_path, sizeof db_path, "%s/midge-store-test-%d.db",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    char side[300];
    unlink(db_path);
    snprintf(side, sizeof side, "%s-wal", db_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db_path);
    unlink(side);
}

static mqtt_bytes_t B(const char *s)
{
    return (mqtt_bytes_t){(const uint8_t *)s, strlen(s)};
}

/* What a load saw, flattened to one line per record for easy checks. */
typedef struct {
    char lines[64][160];
    int n;
} seen_t;

static void add(seen_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(seen_t *s, const char *fmt, ...)
{
    if (s->n >= 64)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->lines[s->n++], sizeof s->lines[0], fmt, ap);
    va_end(ap);
}

static int ld_session(void *ctx, const store_session_t *r)
{
    add(ctx, "session %.*s exp=%u v=%u", (int)r->client_id.len, (const char *)r->client_id.data,
        r->expiry_interval, r->version);
    return 0;
}

static int ld_sub(void *ctx, mqtt_bytes_t id, mqtt_bytes_t f, uint8_t o, uint32_t sid)
{
    add(ctx, "sub %.*s %.*s o=%u sid=%u", (int)id.len, (const char *)id.data, (int)f.len,
        (const char *)f.data, o, sid);
    return 0;
}

static int ld_out(void *ctx, mqtt_bytes_t id, const store_out_t *o, const store_msg_t *m)
{
    char ids[64] = "";
    for (size_t i = 0; i < o->sub_id_count; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%u", i ? "," : "", o->sub_ids[i]);
    if (m)
        add(ctx, "out %.*s seq=%llu pid=%u q=%u st=%u r=%d d=%d ids=%s msg=%llu %.*s:%.*s",
            (int)id.len, (const char *)id.data, (unsigned long long)o->seq, o->packet_id, o->qos,
            o->state, o->retain, o->dup, ids, (unsigned long long)m->id, (int)m->topic.len,
            (const char *)m->topic.data, (int)m->payload.len, (const char *)m->payload.data);
    else
        add(ctx, "out %.*s seq=%llu pid=%u q=%u st=%u r=%d d=%d ids=%s nomsg", (int)id.len,
            (const char *)id.data, (unsigned long long)o->seq, o->packet_id, o->qos, o->state,
            o->retain, o->dup, ids);
    return 0;
}

static int ld_in(void *ctx, mqtt_bytes_t id, uint16_t pid)
{
    add(ctx, "in %.*s %u", (int)id.len, (const char *)id.data, pid);
    return 0;
}

static int ld_retained(void *ctx, const store_msg_t *m)
{
    add(ctx, "retained %.*s=%.*s q=%u props=%zu exp=%llu", (int)m->topic.len,
        (const char *)m->topic.data, (int)m->payload.len, (const char *)m->payload.data, m->qos,
        m->props.len, (unsigned long long)m->expiry_at);
    return 0;
}

static const store_loader_t loader = {ld_session, ld_sub, ld_out, ld_in, ld_retained};

static bool has(const seen_t *s, const char *line)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->lines[i], line) == 0)
            return true;
    fprintf(stderr, "missing: %s\n  loaded:\n", line);
    for (int i = 0; i < s->n; i++)
        fprintf(stderr, "    %s\n", s->lines[i]);
    return false;
}

static int load(store_t *st, seen_t *s)
{
    memset(s, 0, sizeof *s);
    return store_load(st, &loader, s);
}

static store_msg_t msg(uint64_t id, const char *topic, const char *payload)
{
    return (store_msg_t){.id = id, .topic = B(topic), .payload = B(payload), .qos = 1};
}

TEST(sessions_and_subscriptions)
{
    store_t *st = open_store();
    CHECK(st);
    store_session_t a = {B("alpha"), 3600, 5};
    CHECK(st->ops->session_put(st, &a) == 0);
    a.expiry_interval = 7200;
    CHECK(st->ops->session_put(st, &a) == 0);
    CHECK(st->ops->sub_put(st, B("alpha"), B("a/#"), 1, 0) == 0);
    CHECK(st->ops->sub_put(st, B("alpha"), B("b/+"), 2, 9) == 0);
    CHECK(st->ops->sub_put(st, B("alpha"), B("a/#"), 2, 4) == 0); /* update in place */
    CHECK(st->ops->sub_delete(st, B("alpha"), B("nope")) == 0);
    seen_t s;
    CHECK(load(st, &s) == 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK(strcmp(s.lines[0], "session alpha exp=7200 v=5") == 0);
    CHECK(strcmp(s.lines[1], "sub alpha a/# o=2 sid=4") == 0); /* order kept */
    CHECK(strcmp(s.lines[2], "sub alpha b/+ o=2 sid=9") == 0);
    CHECK(st->ops->sub_delete(st, B("alpha"), B("a/#")) == 0);
    CHECK(load(st, &s) == 0);
    CHECK_EQ_INT(s.n, 2);
    store_close(st);
}

TEST(outgoing_messages_in_seq_order_sharing_one_message)
{
    store_t *st = open_store();
    CHECK(st);
    store_session_t a = {B("a"), 60, 4}, b = {B("b"), 60, 5};
    st->ops->session_put(st, &a);
    st->ops->session_put(st, &b);
    store_msg_t m = msg(7, "t/1", "hello");
    uint32_t ids[2] = {3, 11};
    store_out_t o2 = {2, 10, 1, 1, false, false, NULL, 0};
    store_out_t o1 = {1, 11, 2, 0, true, false, ids, 2};
    CHECK(st->ops->out_put(st, B("a"), &o2, &m) == 0);
    CHECK(st->ops->out_put(st, B("a"), &o1, &m) == 0);
    CHECK(st->ops->out_put(st, B("b"), &o2, &m) == 0);
    o1.dup = true;
    o1.state = 2;
    CHECK(st->ops->out_put(st, B("a"), &o1, NULL) == 0); /* update keeps the message */
    seen_t s;
    CHECK(load(st, &s) == 0);
    CHECK(has(&s, "out a seq=1 pid=11 q=2 st=2 r=1 d=1 ids=3,11 msg=7 t/1:hello"));
    CHECK(has(&s, "out a seq=2 pid=10 q=1 st=1 r=0 d=0 ids= msg=7 t/1:hello"));
    CHECK(has(&s, "out b seq=2 pid=10 q=1 st=1 r=0 d=0 ids= msg=7 t/1:hello"));
    int first = -1, second = -1;
    for (int i = 0; i < s.n; i++) {
        if (strncmp(s.lines[i], "out a seq=1", 11) == 0)
            first = i;
        if (strncmp(s.lines[i], "out a seq=2", 11) == 0)
            second = i;
    }
    CHECK(first >= 0 && second > first);
    /* Deleting one session's reference keeps the other's message. */
    CHECK(st->ops->out_delete(st, B("a"), 1) == 0);
    CHECK(st->ops->out_delete(st, B("a"), 2) == 0);
    CHECK(load(st, &s) == 0);
    CHECK(has(&s, "out b seq=2 pid=10 q=1 st=1 r=0 d=0 ids= msg=7 t/1:hello"));
    CHECK(!(s.n > 2 + 1));
    store_close(st);
}

TEST(incoming_qos2_ids)
{
    store_t *st = open_store();
    CHECK(st);
    store_session_t a = {B("c"), 0, 4};
    st->ops->session_put(st, &a);
    CHECK(st->ops->in_put(st, B("c"), 5) == 0);
    CHECK(st->ops->in_put(st, B("c"), 5) == 0); /* idempotent */
    CHECK(st->ops->in_put(st, B("c"), 6) == 0);
    CHECK(st->ops->in_delete(st, B("c"), 5) == 0);
    seen_t s;
    CHECK(load(st, &s) == 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK(has(&s, "in c 6"));
    store_close(st);
}

TEST(session_delete_removes_everything_it_owns)
{
    store_t *st = open_store();
    CHECK(st);
    store_session_t a = {B("gone"), 10, 4}, k = {B("kept"), 10, 4};
    st->ops->session_put(st, &a);
    st->ops->session_put(st, &k);
    store_msg_t m = msg(1, "x", "y");
    store_out_t o = {1, 1, 1, 1, false, false, NULL, 0};
    st->ops->sub_put(st, B("gone"), B("x"), 1, 0);
    st->ops->out_put(st, B("gone"), &o, &m);
    st->ops->in_put(st, B("gone"), 9);
    st->ops->sub_put(st, B("kept"), B("k"), 0, 0);
    CHECK(st->ops->session_delete(st, B("gone")) == 0);
    seen_t s;
    CHECK(load(st, &s) == 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK(has(&s, "session kept exp=10 v=4"));
    CHECK(has(&s, "sub kept k o=0 sid=0"));
    store_close(st);
}

TEST(records_without_session_put_load_without_a_session_record)
{
    store_t *st = open_store();
    CHECK(st);
    store_msg_t m = msg(2, "q", "w");
    store_out_t o = {4, 2, 1, 0, false, false, NULL, 0};
    CHECK(st->ops->out_put(st, B("anon"), &o, &m) == 0);
    seen_t s;
    CHECK(load(st, &s) == 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK(has(&s, "out anon seq=4 pid=2 q=1 st=0 r=0 d=0 ids= msg=2 q:w"));
    store_close(st);
}

TEST(retained_set_replace_clear)
{
    store_t *st = open_store();
    CHECK(st);
    store_msg_t r = msg(1, "home/t", "20");
    r.retain = true;
    r.expiry_at = 123;
    uint8_t props[] = {0x01, 0x01};
    r.props = (mqtt_bytes_t){props, sizeof props};
    CHECK(st->ops->retained_put(st, &r) == 0);
    r.payload = B("21");
    CHECK(st->ops->retained_put(st, &r) == 0);
    store_msg_t e = msg(2, "home/h", "");
    e.retain = true;
    e.qos = 0;
    CHECK(st->ops->retained_put(st, &e) == 0); /* empty payload is a value, not NULL */
    seen_t s;
    CHECK(load(st, &s) == 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK(has(&s, "retained home/t=21 q=1 props=2 exp=123"));
    CHECK(has(&s, "retained home/h= q=0 props=0 exp=0"));
    CHECK(st->ops->retained_delete(st, B("home/t")) == 0);
    CHECK(load(st, &s) == 0);
    CHECK_EQ_INT(s.n, 1);
    store_close(st);
}

static int ld_session_stop(void *ctx, const store_session_t *r)
{
    ld_session(ctx, r);
    return 7;
}

TEST(a_loader_error_stops_the_load)
{
    store_t *st = open_store();
    CHECK(st);
    store_session_t a = {B("a"), 0, 4}, b = {B("b"), 0, 4};
    st->ops->session_put(st, &a);
    st->ops->session_put(st, &b);
    st->ops->sub_put(st, B("a"), B("x"), 0, 0);
    st->ops->sub_put(st, B("b"), B("y"), 0, 0);
    store_loader_t stop = loader;
    stop.session = ld_session_stop;
    seen_t s;
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(store_load(st, &stop, &s), 7);
    CHECK_EQ_INT(s.n, 1); /* one session seen, nothing after it */
    store_close(st);
}

/* ---- SQLite only ---- */

TEST(sqlite_survives_reopen)
{
    fresh_db_path();
    store_t *st = open_sqlite();
    CHECK(st);
    store_session_t a = {B("dev1"), 86400, 5};
    st->ops->session_put(st, &a);
    st->ops->sub_put(st, B("dev1"), B("cmd/#"), 1, 0);
    store_msg_t m = msg(99, "cmd/x", "go");
    store_out_t o = {1, 1, 1, 0, false, false, NULL, 0};
    st->ops->out_put(st, B("dev1"), &o, &m);
    store_msg_t r = msg(100, "status", "on");
    st->ops->retained_put(st, &r);
    store_close(st);

    st = open_sqlite();
    CHECK(st);
    seen_t s;
    CHECK(load(st, &s) == 0);
    CHECK_EQ_INT(s.n, 4);
    CHECK(has(&s, "session dev1 exp=86400 v=5"));
    CHECK(has(&s, "sub dev1 cmd/# o=1 sid=0"));
    CHECK(has(&s, "out dev1 seq=1 pid=1 q=1 st=0 r=0 d=0 ids= msg=99 cmd/x:go"));
    CHECK(has(&s, "retained status=on q=1 props=0 exp=0"));
    store_close(st);
    fresh_db_path();
}

/* The writer acknowledges each record through a pipe only after the store
 * call returned; it is then killed with SIGKILL mid-stream. Every
 * acknowledged record must be in the database. */
TEST(sqlite_keeps_every_acknowledged_record_across_kill_9)
{
    fresh_db_path();
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        store_t *st = open_sqlite();
        if (!st)
            _exit(3);
        store_session_t a = {B("k9"), 3600, 4};
        st->ops->session_put(st, &a);
        for (uint64_t i = 1; i <= 100000; i++) {
            char payload[32];
            snprintf(payload, sizeof payload, "m%llu", (unsigned long long)i);
            store_msg_t m = msg(i, "t", payload);
            store_out_t o = {i, (uint16_t)i, 1, 0, false, false, NULL, 0};
            if (st->ops->out_put(st, B("k9"), &o, &m) != 0)
                _exit(4);
            uint32_t n = (uint32_t)i;
            if (write(fds[1], &n, sizeof n) != (ssize_t)sizeof n)
                _exit(5);
        }
        _exit(0);
    }
    close(fds[1]);
    uint32_t acked = 0, n;
    while (acked < 300 && read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
        acked = n;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    while (read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
        acked = n; /* acknowledgements already in the pipe count too */
    close(fds[0]);
    CHECK(acked >= 300);

    store_t *st = open_sqlite();
    CHECK(st);
    seen_t s;
    CHECK(load(st, &s) == 0);
    CHECK(has(&s, "session k9 exp=3600 v=4"));
    char want[160];
    snprintf(want, sizeof want, "out k9 seq=%u pid=%u q=1 st=0 r=0 d=0 ids= msg=%u t:m%u", 1, 1, 1,
             1);
    CHECK(has(&s, want));
    store_close(st);

    /* Count the out rows directly: the seen_t keeps only 64 lines. */
    sqlite3 *db;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    sqlite3_stmt *q;
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*), max(seq) FROM outs", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    long long rows = sqlite3_column_int64(q, 0), maxseq = sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
    CHECK(rows >= (long long)acked);
    CHECK_EQ_INT(rows, maxseq); /* no holes: seq 1..rows all present */
    fresh_db_path();
}

TEST(sqlite_refuses_a_newer_format)
{
    fresh_db_path();
    sqlite3 *db;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    char err[256] = "";
    store_t *st = store_sqlite_open(db_path, false, err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, "newer") != NULL);
    fresh_db_path();
}

TEST(sqlite_reports_an_unopenable_path)
{
    char err[256] = "";
    store_t *st = store_sqlite_open("/nonexistent-dir-midge/x.db", false, err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, "cannot open") != NULL);
}

static void run_contract(const char *name)
{
    fprintf(stderr, "-- %s store\n", name);
    RUN(sessions_and_subscriptions);
    fresh_db_path();
    RUN(outgoing_messages_in_seq_order_sharing_one_message);
    fresh_db_path();
    RUN(incoming_qos2_ids);
    fresh_db_path();
    RUN(session_delete_removes_everything_it_owns);
    fresh_db_path();
    RUN(records_without_session_put_load_without_a_session_record);
    fresh_db_path();
    RUN(retained_set_replace_clear);
    fresh_db_path();
    RUN(a_loader_error_stops_the_load);
    fresh_db_path();
}

int main(void)
{
    open_store = open_memory;
    run_contract("memory");
    open_store = open_sqlite;
    fresh_db_path();
    run_contract("sqlite");
    RUN(sqlite_survives_reopen);
    RUN(sqlite_keeps_every_acknowledged_record_across_kill_9);
    RUN(sqlite_refuses_a_newer_format);
    RUN(sqlite_reports_an_unopenable_path);
    return TEST_REPORT();
}
