/*
 * memuse.h (the counter behind memory_limit and $SYS/broker/heap/...) and
 * the source a message keeps for check_retain_source: set by msg_new,
 * carried through both stores (SQLite's format 2, and the upgrade of a
 * format 1 file), refused when a stored source could name someone else.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/memuse.h"
#include "broker/message.h"
#include "broker/store.h"
#include "broker/store_sqlite.h"
#include "test.h"

static mqtt_bytes_t B(const char *s)
{
    return (mqtt_bytes_t){(const uint8_t *)s, strlen(s)};
}

static msg_t *publish(const char *topic, const char *payload, const char *origin, const char *user,
                      uint16_t port)
{
    msg_init_t in = {
        .topic = B(topic),
        .payload = B(payload),
        .qos = 1,
        .retain = true,
        .origin = B(origin),
        .from_client = true,
        .source_user = user ? B(user) : (mqtt_bytes_t){NULL, 0},
        .source_port = port,
        .now_ms = 1000,
    };
    return msg_new(&in);
}

TEST(memuse_counts_and_limits)
{
    memuse_set_limit(0);
    uint64_t base = memuse_current();
    CHECK(!memuse_would_exceed(SIZE_MAX));
    memuse_add(1000);
    CHECK_EQ_INT(memuse_current(), base + 1000);
    CHECK(memuse_maximum() >= base + 1000);
    memuse_sub(600);
    CHECK_EQ_INT(memuse_current(), base + 400);
    CHECK(memuse_maximum() >= base + 1000);

    memuse_set_limit(base + 1000);
    CHECK_EQ_INT(memuse_limit(), base + 1000);
    CHECK(!memuse_would_exceed(600));
    CHECK(memuse_would_exceed(601));
    CHECK(memuse_would_exceed(SIZE_MAX));
    /* Already past the limit (a reload lowered it): everything is refused. */
    memuse_set_limit(base + 100);
    CHECK(memuse_would_exceed(0) == false || memuse_current() > base + 100);
    CHECK(memuse_would_exceed(1));
    memuse_set_limit(0);
    memuse_sub(400);
    CHECK_EQ_INT(memuse_current(), base);
}

TEST(message_is_counted_until_last_unref)
{
    uint64_t base = memuse_current();
    msg_t *m = publish("a/b", "payload", "alice-pub", "alice", 1883);
    CHECK(m != NULL);
    CHECK(m->alloc_size >= sizeof(msg_t) + 3 + 7 + 9 + 5);
    CHECK_EQ_INT(memuse_current(), base + m->alloc_size);
    msg_ref(m);
    msg_unref(m);
    CHECK_EQ_INT(memuse_current(), base + m->alloc_size);
    msg_unref(m);
    CHECK_EQ_INT(memuse_current(), base);
}

TEST(message_keeps_its_source)
{
    msg_t *m = publish("a/b", "x", "alice-pub", "alice", 1883);
    CHECK(m != NULL);
    CHECK(m->from_client);
    CHECK(strcmp(m->origin, "alice-pub") == 0);
    CHECK(m->source_user != NULL && strcmp(m->source_user, "alice") == 0);
    CHECK_EQ_INT(m->source_user_len, 5);
    CHECK_EQ_INT(m->source_port, 1883);
    CHECK(strcmp(m->topic, "a/b") == 0 && memcmp(m->payload, "x", 1) == 0);
    msg_unref(m);

    m = publish("a/b", "x", "anon", NULL, 1883);
    CHECK(m != NULL && m->from_client && m->source_user == NULL);
    msg_unref(m);

    /* An empty username is a username, not anonymous. */
    m = publish("a/b", "x", "c", "", 1);
    CHECK(m != NULL && m->source_user != NULL && m->source_user[0] == 0);
    msg_unref(m);

    /* The broker's own messages carry no source, whatever it is given. */
    msg_init_t in = {
        .topic = B("$SYS/x"), .payload = B("1"), .source_user = B("bob"), .source_port = 7};
    m = msg_new(&in);
    CHECK(m != NULL && !m->from_client && m->source_user == NULL && m->source_port == 0);
    msg_unref(m);
}

/* ---- through the stores ---- */

static msg_t *loaded;

static int ld_retained(void *ctx, const store_msg_t *sm)
{
    (void)ctx;
    msg_unref(loaded);
    loaded = msg_from_store(sm, 5000, 1700000000000);
    return 0;
}

static const store_loader_t loader = {.retained = ld_retained};

static void put_retained(store_t *st, msg_t *m)
{
    store_msg_t v;
    msg_store_view(m, 1000, 1700000000000, &v);
    CHECK(st->ops->retained_put(st, &v) == 0);
}

static void check_round_trip(store_t *st)
{
    msg_t *m = publish("t/1", "kept", "alice-pub", "alice", 8883);
    put_retained(st, m);
    msg_unref(m);
    CHECK(store_load(st, &loader, NULL) == 0);
    CHECK(loaded != NULL);
    CHECK(loaded->from_client);
    CHECK(strcmp(loaded->origin, "alice-pub") == 0);
    CHECK(loaded->source_user != NULL && strcmp(loaded->source_user, "alice") == 0);
    CHECK_EQ_INT(loaded->source_port, 8883);

    m = publish("t/1", "kept", "anon-pub", NULL, 1883);
    put_retained(st, m);
    msg_unref(m);
    CHECK(store_load(st, &loader, NULL) == 0);
    CHECK(loaded != NULL && loaded->from_client && loaded->source_user == NULL);
    CHECK(strcmp(loaded->origin, "anon-pub") == 0);
    msg_unref(loaded);
    loaded = NULL;
}

static char db_path[256];

static void fresh_db_path(void)
{
    snprintf(db_path, sizeof db_path, "%s/midge-limits-test-%d.db",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    char side[300];
    unlink(db_path);
    snprintf(side, sizeof side, "%s-wal", db_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db_path);
    unlink(side);
}

static store_t *open_sqlite(void)
{
    char err[256];
    store_t *st = store_sqlite_open(db_path, false, err, sizeof err);
    if (!st)
        fprintf(stderr, "store_sqlite_open: %s\n", err);
    return st;
}

TEST(memory_store_keeps_the_source)
{
    store_t *st = store_memory_open();
    CHECK(st != NULL);
    check_round_trip(st);
    store_close(st);
}

TEST(sqlite_store_keeps_the_source)
{
    fresh_db_path();
    store_t *st = open_sqlite();
    CHECK(st != NULL);
    check_round_trip(st);
    store_close(st);
    fresh_db_path();
}

/* A file written by format 1 (no source columns) opens, keeps its retained
 * messages (without a source, so never checked) and is format 2 after. */
TEST(sqlite_upgrades_format_1)
{
    fresh_db_path();
    sqlite3 *db;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE retained(topic BLOB PRIMARY KEY, id INTEGER NOT NULL, "
                       "payload BLOB NOT NULL, props BLOB NOT NULL, qos INTEGER NOT NULL, "
                       "expiry_at INTEGER NOT NULL);"
                       "INSERT INTO retained VALUES(CAST('old/t' AS BLOB), 3, "
                       "CAST('v1' AS BLOB), x'', 1, 0);"
                       "PRAGMA user_version=1;",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    store_t *st = open_sqlite();
    CHECK(st != NULL);
    CHECK(store_load(st, &loader, NULL) == 0);
    CHECK(loaded != NULL && strcmp(loaded->topic, "old/t") == 0);
    CHECK(!loaded->from_client && loaded->origin[0] == 0 && loaded->source_user == NULL);
    msg_unref(loaded);
    loaded = NULL;
    check_round_trip(st);
    store_close(st);

    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    sqlite3_stmt *q;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    int version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    CHECK_EQ_INT(version, 2);
    /* And it opens again as format 2. */
    st = open_sqlite();
    CHECK(st != NULL);
    store_close(st);
    fresh_db_path();
}

/* A stored source with a NUL inside would make an ACL lookup see another
 * name: the message is kept without a source. */
TEST(stored_source_with_nul_is_dropped)
{
    store_msg_t sm = {.topic = B("t"),
                      .payload = B("x"),
                      .qos = 0,
                      .retain = true,
                      .from_client = true,
                      .source_id = {(const uint8_t *)"ab\0c", 4},
                      .source_user = B("alice"),
                      .source_port = 1};
    msg_t *m = msg_from_store(&sm, 0, 0);
    CHECK(m != NULL && !m->from_client && m->source_user == NULL && m->origin[0] == 0);
    msg_unref(m);
    sm.source_id = B("ok");
    sm.source_user = (mqtt_bytes_t){(const uint8_t *)"al\0ice", 6};
    m = msg_from_store(&sm, 0, 0);
    CHECK(m != NULL && !m->from_client && m->source_user == NULL);
    msg_unref(m);
    sm.source_user = B("alice");
    m = msg_from_store(&sm, 0, 0);
    CHECK(m != NULL && m->from_client && strcmp(m->source_user, "alice") == 0);
    CHECK(strcmp(m->origin, "ok") == 0 && m->source_port == 1);
    msg_unref(m);
}

static int load_conf(config_t *c, const char *text, char *err, size_t errlen)
{
    char path[300];
    snprintf(path, sizeof path, "%s/midge-limits-%d.conf",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -2;
    fputs(text, f);
    fclose(f);
    int rc = config_load(c, path, err, errlen, NULL, NULL);
    unlink(path);
    return rc;
}

TEST(directives_parse)
{
    config_t c;
    char err[256];
    CHECK_EQ_INT(load_conf(&c, "listener 1883\n", err, sizeof err), 0);
    CHECK(!c.check_retain_source);
    CHECK_EQ_INT(c.memory_limit, 0);
    config_free(&c);
    CHECK_EQ_INT(
        load_conf(&c, "check_retain_source true\nmemory_limit 5000000000\n", err, sizeof err), 0);
    CHECK(c.check_retain_source);
    CHECK(c.memory_limit == 5000000000ull);
    config_free(&c);
    CHECK_EQ_INT(load_conf(&c, "memory_limit -1\n", err, sizeof err), -1);
    CHECK_EQ_INT(load_conf(&c, "check_retain_source maybe\n", err, sizeof err), -1);
}

int main(void)
{
    RUN(directives_parse);
    RUN(memuse_counts_and_limits);
    RUN(message_is_counted_until_last_unref);
    RUN(message_keeps_its_source);
    RUN(memory_store_keeps_the_source);
    RUN(sqlite_store_keeps_the_source);
    RUN(sqlite_upgrades_format_1);
    RUN(stored_source_with_nul_is_dropped);
    msg_unref(loaded);
    return TEST_REPORT();
}
