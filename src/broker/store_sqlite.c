/*
 * The durable store: the store.h journal kept in one SQLite database.
 *
 * Durability: WAL journal with synchronous=NORMAL. Every call is its own
 * transaction, committed before the call returns, so whatever the broker
 * acknowledged after a store call survives kill -9 of the broker (the WAL
 * is in the OS's hands). Only a power loss can take back the last commits;
 * `synchronous=FULL` would close that window at the cost of an fsync per
 * call, and is what store_sqlite_open's `fsync_each` selects.
 *
 * Format: versioned by `PRAGMA user_version` (STORE_SQLITE_FORMAT). A file
 * of a newer format is refused rather than misread.
 *
 * One connection, one mutex: calls come from every worker thread, and
 * SQLite serialises writers anyway.
 */
#include "broker/store_sqlite.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/limits.h"

/* 1: first format. 2: retained rows keep their publisher (client id,
 * username, listener port) for check_retain_source; a format 1 file is
 * upgraded in place, its retained messages without a source. */
#define STORE_SQLITE_FORMAT 2

enum {
    Q_SESSION_PUT,
    Q_SESSION_ENSURE,
    Q_SESSION_DELETE,
    Q_SUBS_DELETE_ALL,
    Q_OUTS_DELETE_ALL,
    Q_INS_DELETE_ALL,
    Q_SUB_PUT,
    Q_SUB_DELETE,
    Q_MSG_PUT,
    Q_OUT_PUT,
    Q_OUT_MSG_OF,
    Q_OUT_DELETE,
    Q_MSG_GC,
    Q_MSGS_GC_ALL,
    Q_IN_PUT,
    Q_IN_DELETE,
    Q_RETAINED_PUT,
    Q_RETAINED_DELETE,
    Q_COUNT
};

static const char *const query_sql[Q_COUNT] = {
    [Q_SESSION_PUT] = "INSERT INTO sessions(client_id, expiry_interval, version, saved) "
                      "VALUES(?1, ?2, ?3, 1) ON CONFLICT(client_id) DO UPDATE SET "
                      "expiry_interval = ?2, version = ?3, saved = 1",
    [Q_SESSION_ENSURE] = "INSERT OR IGNORE INTO sessions(client_id, expiry_interval, version, "
                         "saved) VALUES(?1, 0, 0, 0)",
    [Q_SESSION_DELETE] = "DELETE FROM sessions WHERE client_id = ?1",
    [Q_SUBS_DELETE_ALL] = "DELETE FROM subs WHERE client_id = ?1",
    [Q_OUTS_DELETE_ALL] = "DELETE FROM outs WHERE client_id = ?1",
    [Q_INS_DELETE_ALL] = "DELETE FROM ins WHERE client_id = ?1",
    [Q_SUB_PUT] = "INSERT INTO subs(client_id, filter, options, sub_id) VALUES(?1, ?2, ?3, ?4) "
                  "ON CONFLICT(client_id, filter) DO UPDATE SET options = ?3, sub_id = ?4",
    [Q_SUB_DELETE] = "DELETE FROM subs WHERE client_id = ?1 AND filter = ?2",
    [Q_MSG_PUT] = "INSERT OR IGNORE INTO msgs(id, topic, payload, props, qos, retain, expiry_at) "
                  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_OUT_PUT] = "INSERT INTO outs(client_id, seq, packet_id, qos, state, retain, dup, sub_ids, "
                  "msg_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                  "ON CONFLICT(client_id, seq) DO UPDATE SET packet_id = ?3, qos = ?4, "
                  "state = ?5, retain = ?6, dup = ?7, sub_ids = ?8, "
                  "msg_id = coalesce(?9, msg_id)",
    [Q_OUT_MSG_OF] = "SELECT msg_id FROM outs WHERE client_id = ?1 AND seq = ?2",
    [Q_OUT_DELETE] = "DELETE FROM outs WHERE client_id = ?1 AND seq = ?2",
    [Q_MSG_GC] = "DELETE FROM msgs WHERE id = ?1 AND NOT EXISTS "
                 "(SELECT 1 FROM outs WHERE msg_id = ?1)",
    [Q_MSGS_GC_ALL] = "DELETE FROM msgs WHERE id NOT IN (SELECT msg_id FROM outs "
                      "WHERE msg_id IS NOT NULL)",
    [Q_IN_PUT] = "INSERT OR IGNORE INTO ins(client_id, packet_id) VALUES(?1, ?2)",
    [Q_IN_DELETE] = "DELETE FROM ins WHERE client_id = ?1 AND packet_id = ?2",
    [Q_RETAINED_PUT] = "INSERT INTO retained(topic, id, payload, props, qos, expiry_at, "
                       "from_client, source_id, source_user, source_port) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(topic) DO "
                       "UPDATE SET id = ?2, payload = ?3, props = ?4, qos = ?5, expiry_at = ?6, "
                       "from_client = ?7, source_id = ?8, source_user = ?9, source_port = ?10",
    [Q_RETAINED_DELETE] = "DELETE FROM retained WHERE topic = ?1",
};

/* The columns format 2 added to `retained`; source_user NULL: anonymous. */
#define RETAINED_SOURCE_COLUMNS                                                                    \
    ", from_client INTEGER NOT NULL DEFAULT 0, source_id BLOB NOT NULL DEFAULT x'', "              \
    "source_user BLOB, source_port INTEGER NOT NULL DEFAULT 0"

static const char upgrade_1_to_2_sql[] =
    "BEGIN;"
    "ALTER TABLE retained ADD COLUMN from_client INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE retained ADD COLUMN source_id BLOB NOT NULL DEFAULT x'';"
    "ALTER TABLE retained ADD COLUMN source_user BLOB;"
    "ALTER TABLE retained ADD COLUMN source_port INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA user_version=2;"
    "COMMIT;";

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS sessions(client_id BLOB PRIMARY KEY, "
    "  expiry_interval INTEGER NOT NULL, version INTEGER NOT NULL, saved INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS subs(client_id BLOB NOT NULL, filter BLOB NOT NULL, "
    "  options INTEGER NOT NULL, sub_id INTEGER NOT NULL, PRIMARY KEY(client_id, filter));"
    "CREATE TABLE IF NOT EXISTS msgs(id INTEGER PRIMARY KEY, topic BLOB NOT NULL, "
    "  payload BLOB NOT NULL, props BLOB NOT NULL, qos INTEGER NOT NULL, "
    "  retain INTEGER NOT NULL, expiry_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outs(client_id BLOB NOT NULL, seq INTEGER NOT NULL, "
    "  packet_id INTEGER NOT NULL, qos INTEGER NOT NULL, state INTEGER NOT NULL, "
    "  retain INTEGER NOT NULL, dup INTEGER NOT NULL, sub_ids BLOB NOT NULL, msg_id INTEGER, "
    "  PRIMARY KEY(client_id, seq));"
    "CREATE INDEX IF NOT EXISTS outs_by_msg ON outs(msg_id);"
    "CREATE TABLE IF NOT EXISTS ins(client_id BLOB NOT NULL, packet_id INTEGER NOT NULL, "
    "  PRIMARY KEY(client_id, packet_id));"
    "CREATE TABLE IF NOT EXISTS retained(topic BLOB PRIMARY KEY, id INTEGER NOT NULL, "
    "  payload BLOB NOT NULL, props BLOB NOT NULL, qos INTEGER NOT NULL, "
    "  expiry_at INTEGER NOT NULL" RETAINED_SOURCE_COLUMNS ");";

typedef struct {
    store_t base;
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
} sql_store_t;

/* Binds a view as a blob; SQLite copies it (SQLITE_TRANSIENT) since views
 * die with the call. An empty view binds an empty blob, never NULL. */
static void bind_bytes(sqlite3_stmt *q, int i, mqtt_bytes_t b)
{
    sqlite3_bind_blob(q, i, b.len ? (const void *)b.data : "", (int)b.len, SQLITE_TRANSIENT);
}

static mqtt_bytes_t col_bytes(sqlite3_stmt *q, int i)
{
    const void *p = sqlite3_column_blob(q, i);
    int n = sqlite3_column_bytes(q, i);
    return (mqtt_bytes_t){p ? (const uint8_t *)p : (const uint8_t *)"", (size_t)n};
}

/* Runs a prepared statement that returns no rows and resets it. */
static int step_done(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int exec(sql_store_t *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Every journal call is one transaction: BEGIN IMMEDIATE so the write lock
 * is taken up front, COMMIT or ROLLBACK at the end. */
#define TX_BEGIN(st)                                                                               \
    sql_store_t *s = (sql_store_t *)(st);                                                          \
    pthread_mutex_lock(&s->lock);                                                                  \
    int rc = exec(s, "BEGIN IMMEDIATE")
#define TX_END()                                                                                   \
    do {                                                                                           \
        rc = rc == 0 ? exec(s, "COMMIT") : (exec(s, "ROLLBACK"), -1);                              \
        pthread_mutex_unlock(&s->lock);                                                            \
        return rc;                                                                                 \
    } while (0)

static int ensure_session(sql_store_t *s, mqtt_bytes_t id)
{
    sqlite3_stmt *q = s->q[Q_SESSION_ENSURE];
    bind_bytes(q, 1, id);
    return step_done(q);
}

static int by_id(sql_store_t *s, int which, mqtt_bytes_t id)
{
    sqlite3_stmt *q = s->q[which];
    bind_bytes(q, 1, id);
    return step_done(q);
}

static int sq_session_put(store_t *st, const store_session_t *rec)
{
    TX_BEGIN(st);
    if (rc == 0) {
        sqlite3_stmt *q = s->q[Q_SESSION_PUT];
        bind_bytes(q, 1, rec->client_id);
        sqlite3_bind_int64(q, 2, rec->expiry_interval);
        sqlite3_bind_int(q, 3, rec->version);
        rc = step_done(q);
    }
    TX_END();
}

static int sq_session_delete(store_t *st, mqtt_bytes_t id)
{
    TX_BEGIN(st);
    if (rc == 0)
        rc = by_id(s, Q_SUBS_DELETE_ALL, id);
    if (rc == 0)
        rc = by_id(s, Q_OUTS_DELETE_ALL, id);
    if (rc == 0)
        rc = by_id(s, Q_INS_DELETE_ALL, id);
    if (rc == 0)
        rc = by_id(s, Q_SESSION_DELETE, id);
    if (rc == 0)
        rc = step_done(s->q[Q_MSGS_GC_ALL]);
    TX_END();
}

static int sq_sub_put(store_t *st, mqtt_bytes_t id, mqtt_bytes_t filter, uint8_t options,
                      uint32_t sub_id)
{
    TX_BEGIN(st);
    if (rc == 0)
        rc = ensure_session(s, id);
    if (rc == 0) {
        sqlite3_stmt *q = s->q[Q_SUB_PUT];
        bind_bytes(q, 1, id);
        bind_bytes(q, 2, filter);
        sqlite3_bind_int(q, 3, options);
        sqlite3_bind_int64(q, 4, sub_id);
        rc = step_done(q);
    }
    TX_END();
}

static int sq_sub_delete(store_t *st, mqtt_bytes_t id, mqtt_bytes_t filter)
{
    TX_BEGIN(st);
    if (rc == 0) {
        sqlite3_stmt *q = s->q[Q_SUB_DELETE];
        bind_bytes(q, 1, id);
        bind_bytes(q, 2, filter);
        rc = step_done(q);
    }
    TX_END();
}

static void bind_out(sqlite3_stmt *q, mqtt_bytes_t id, const store_out_t *o)
{
    size_t n = o->sub_id_count < MIDGE_MAX_SUB_IDS ? o->sub_id_count : MIDGE_MAX_SUB_IDS;
    bind_bytes(q, 1, id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)o->seq);
    sqlite3_bind_int(q, 3, o->packet_id);
    sqlite3_bind_int(q, 4, o->qos);
    sqlite3_bind_int(q, 5, o->state);
    sqlite3_bind_int(q, 6, o->retain);
    sqlite3_bind_int(q, 7, o->dup);
    /* Subscription ids in host order: the file never leaves this machine's
     * architecture family in practice, and the format version guards it. */
    bind_bytes(q, 8, (mqtt_bytes_t){(const uint8_t *)o->sub_ids, n * sizeof(uint32_t)});
}

static int msg_put(sql_store_t *s, const store_msg_t *m)
{
    sqlite3_stmt *q = s->q[Q_MSG_PUT];
    sqlite3_bind_int64(q, 1, (sqlite3_int64)m->id);
    bind_bytes(q, 2, m->topic);
    bind_bytes(q, 3, m->payload);
    bind_bytes(q, 4, m->props);
    sqlite3_bind_int(q, 5, m->qos);
    sqlite3_bind_int(q, 6, m->retain);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)m->expiry_at);
    return step_done(q);
}

/* The message an out row points at, or -1 if none. */
static sqlite3_int64 out_msg_id(sql_store_t *s, mqtt_bytes_t id, uint64_t seq)
{
    sqlite3_stmt *q = s->q[Q_OUT_MSG_OF];
    bind_bytes(q, 1, id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)seq);
    sqlite3_int64 mid = -1;
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
        mid = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return mid;
}

static int msg_gc(sql_store_t *s, sqlite3_int64 mid)
{
    if (mid < 0)
        return 0;
    sqlite3_stmt *q = s->q[Q_MSG_GC];
    sqlite3_bind_int64(q, 1, mid);
    return step_done(q);
}

static int sq_out_put(store_t *st, mqtt_bytes_t id, const store_out_t *o, const store_msg_t *m)
{
    TX_BEGIN(st);
    if (rc == 0)
        rc = ensure_session(s, id);
    sqlite3_int64 old = -1;
    if (rc == 0 && m) {
        old = out_msg_id(s, id, o->seq);
        rc = msg_put(s, m);
    }
    if (rc == 0) {
        sqlite3_stmt *q = s->q[Q_OUT_PUT];
        bind_out(q, id, o);
        if (m)
            sqlite3_bind_int64(q, 9, (sqlite3_int64)m->id);
        else
            sqlite3_bind_null(q, 9);
        rc = step_done(q);
    }
    if (rc == 0 && m && old != (sqlite3_int64)m->id)
        rc = msg_gc(s, old);
    TX_END();
}

static int sq_out_delete(store_t *st, mqtt_bytes_t id, uint64_t seq)
{
    TX_BEGIN(st);
    sqlite3_int64 mid = rc == 0 ? out_msg_id(s, id, seq) : -1;
    if (rc == 0) {
        sqlite3_stmt *q = s->q[Q_OUT_DELETE];
        bind_bytes(q, 1, id);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)seq);
        rc = step_done(q);
    }
    if (rc == 0)
        rc = msg_gc(s, mid);
    TX_END();
}

static int sq_in(store_t *st, int which, mqtt_bytes_t id, uint16_t packet_id)
{
    TX_BEGIN(st);
    if (rc == 0 && which == Q_IN_PUT)
        rc = ensure_session(s, id);
    if (rc == 0) {
        sqlite3_stmt *q = s->q[which];
        bind_bytes(q, 1, id);
        sqlite3_bind_int(q, 2, packet_id);
        rc = step_done(q);
    }
    TX_END();
}

static int sq_in_put(store_t *st, mqtt_bytes_t id, uint16_t packet_id)
{
    return sq_in(st, Q_IN_PUT, id, packet_id);
}

static int sq_in_delete(store_t *st, mqtt_bytes_t id, uint16_t packet_id)
{
    return sq_in(st, Q_IN_DELETE, id, packet_id);
}

static int sq_retained_put(store_t *st, const store_msg_t *m)
{
    TX_BEGIN(st);
    if (rc == 0) {
        sqlite3_stmt *q = s->q[Q_RETAINED_PUT];
        bind_bytes(q, 1, m->topic);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)m->id);
        bind_bytes(q, 3, m->payload);
        bind_bytes(q, 4, m->props);
        sqlite3_bind_int(q, 5, m->qos);
        sqlite3_bind_int64(q, 6, (sqlite3_int64)m->expiry_at);
        sqlite3_bind_int(q, 7, m->from_client ? 1 : 0);
        bind_bytes(q, 8, m->source_id);
        if (m->source_user.data != NULL)
            bind_bytes(q, 9, m->source_user);
        else
            sqlite3_bind_null(q, 9);
        sqlite3_bind_int(q, 10, m->source_port);
        rc = step_done(q);
    }
    TX_END();
}

static int sq_retained_delete(store_t *st, mqtt_bytes_t topic)
{
    TX_BEGIN(st);
    if (rc == 0) {
        sqlite3_stmt *q = s->q[Q_RETAINED_DELETE];
        bind_bytes(q, 1, topic);
        rc = step_done(q);
    }
    TX_END();
}

/* ---- load ---- */

static int load_session_rows(sql_store_t *s, const store_loader_t *l, void *ctx, mqtt_bytes_t id)
{
    int rc = 0;
    sqlite3_stmt *q = NULL;
    if (l->sub) {
        sqlite3_prepare_v2(s->db,
                           "SELECT filter, options, sub_id FROM subs WHERE client_id = ?1 "
                           "ORDER BY rowid",
                           -1, &q, NULL);
        bind_bytes(q, 1, id);
        while (!rc && sqlite3_step(q) == SQLITE_ROW)
            rc = l->sub(ctx, id, col_bytes(q, 0), (uint8_t)sqlite3_column_int(q, 1),
                        (uint32_t)sqlite3_column_int64(q, 2));
        sqlite3_finalize(q);
    }
    if (!rc && l->out) {
        sqlite3_prepare_v2(s->db,
                           "SELECT o.seq, o.packet_id, o.qos, o.state, o.retain, o.dup, "
                           "o.sub_ids, m.id, m.topic, m.payload, m.props, m.qos, m.retain, "
                           "m.expiry_at FROM outs o LEFT JOIN msgs m ON m.id = o.msg_id "
                           "WHERE o.client_id = ?1 ORDER BY o.seq",
                           -1, &q, NULL);
        bind_bytes(q, 1, id);
        while (!rc && sqlite3_step(q) == SQLITE_ROW) {
            uint32_t sub_ids[MIDGE_MAX_SUB_IDS];
            mqtt_bytes_t raw = col_bytes(q, 6);
            size_t n = raw.len / sizeof(uint32_t);
            n = n < MIDGE_MAX_SUB_IDS ? n : MIDGE_MAX_SUB_IDS;
            if (n)
                memcpy(sub_ids, raw.data, n * sizeof(uint32_t));
            store_out_t o = {
                .seq = (uint64_t)sqlite3_column_int64(q, 0),
                .packet_id = (uint16_t)sqlite3_column_int(q, 1),
                .qos = (uint8_t)sqlite3_column_int(q, 2),
                .state = (uint8_t)sqlite3_column_int(q, 3),
                .retain = sqlite3_column_int(q, 4) != 0,
                .dup = sqlite3_column_int(q, 5) != 0,
                .sub_ids = sub_ids,
                .sub_id_count = n,
            };
            bool has_msg = sqlite3_column_type(q, 7) != SQLITE_NULL;
            store_msg_t m = {0};
            if (has_msg) {
                m.id = (uint64_t)sqlite3_column_int64(q, 7);
                m.topic = col_bytes(q, 8);
                m.payload = col_bytes(q, 9);
                m.props = col_bytes(q, 10);
                m.qos = (uint8_t)sqlite3_column_int(q, 11);
                m.retain = sqlite3_column_int(q, 12) != 0;
                m.expiry_at = (uint64_t)sqlite3_column_int64(q, 13);
            }
            rc = l->out(ctx, id, &o, has_msg ? &m : NULL);
        }
        sqlite3_finalize(q);
    }
    if (!rc && l->in) {
        sqlite3_prepare_v2(s->db, "SELECT packet_id FROM ins WHERE client_id = ?1 ORDER BY rowid",
                           -1, &q, NULL);
        bind_bytes(q, 1, id);
        while (!rc && sqlite3_step(q) == SQLITE_ROW)
            rc = l->in(ctx, id, (uint16_t)sqlite3_column_int(q, 0));
        sqlite3_finalize(q);
    }
    return rc;
}

static int sq_load(store_t *st, const store_loader_t *l, void *ctx)
{
    sql_store_t *s = (sql_store_t *)st; /* no lock: see store_load() */
    int rc = 0;
    sqlite3_stmt *q = NULL;
    /* A read transaction gives the whole load one consistent snapshot. */
    exec(s, "BEGIN");
    sqlite3_prepare_v2(
        s->db, "SELECT client_id, expiry_interval, version, saved FROM sessions ORDER BY rowid", -1,
        &q, NULL);
    while (!rc && sqlite3_step(q) == SQLITE_ROW) {
        /* The id must outlive the nested queries: copy it. */
        mqtt_bytes_t v = col_bytes(q, 0);
        uint8_t *idcopy = malloc(v.len ? v.len : 1);
        if (!idcopy) {
            rc = -1;
            break;
        }
        memcpy(idcopy, v.data, v.len);
        mqtt_bytes_t id = {idcopy, v.len};
        store_session_t rec = {id, (uint32_t)sqlite3_column_int64(q, 1),
                               (uint8_t)sqlite3_column_int(q, 2)};
        if (sqlite3_column_int(q, 3) && l->session)
            rc = l->session(ctx, &rec);
        if (!rc)
            rc = load_session_rows(s, l, ctx, id);
        free(idcopy);
    }
    sqlite3_finalize(q);
    if (!rc && l->retained) {
        sqlite3_prepare_v2(s->db,
                           "SELECT topic, id, payload, props, qos, expiry_at, from_client, "
                           "source_id, source_user, source_port FROM retained ORDER BY rowid",
                           -1, &q, NULL);
        while (!rc && sqlite3_step(q) == SQLITE_ROW) {
            store_msg_t m = {
                .id = (uint64_t)sqlite3_column_int64(q, 1),
                .topic = col_bytes(q, 0),
                .payload = col_bytes(q, 2),
                .props = col_bytes(q, 3),
                .qos = (uint8_t)sqlite3_column_int(q, 4),
                .retain = true,
                .expiry_at = (uint64_t)sqlite3_column_int64(q, 5),
                .from_client = sqlite3_column_int(q, 6) != 0,
                .source_id = col_bytes(q, 7),
                .source_port = (uint16_t)sqlite3_column_int(q, 9),
            };
            if (sqlite3_column_type(q, 8) != SQLITE_NULL)
                m.source_user = col_bytes(q, 8);
            rc = l->retained(ctx, &m);
        }
        sqlite3_finalize(q);
    }
    exec(s, "COMMIT");
    return rc;
}

static void sq_close(store_t *st)
{
    sql_store_t *s = (sql_store_t *)st;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const store_ops_t sqlite_ops = {
    sq_session_put,  sq_session_delete,  sq_sub_put, sq_sub_delete,
    sq_out_put,      sq_out_delete,      sq_in_put,  sq_in_delete,
    sq_retained_put, sq_retained_delete, sq_load,    sq_close,
};

static store_t *open_fail(sql_store_t *s, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, s->db ? sqlite3_errmsg(s->db) : "out of memory");
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s);
    return NULL;
}

store_t *store_sqlite_open(const char *path, bool fsync_each, char *err, size_t errlen)
{
    sql_store_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        return open_fail(s, err, errlen, "cannot open the persistence database");
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_stmt *q = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version > STORE_SQLITE_FORMAT) {
        snprintf(err, errlen, "persistence database has format %d, newer than this midge's %d",
                 version, STORE_SQLITE_FORMAT);
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    if (exec(s, "PRAGMA journal_mode=WAL") ||
        exec(s, fsync_each ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") ||
        (version == 1 && exec(s, upgrade_1_to_2_sql)) || exec(s, schema_sql) ||
        exec(s, "PRAGMA user_version=2"))
        return open_fail(s, err, errlen, "cannot set up the persistence database");
    for (int i = 0; i < Q_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, query_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i],
                               NULL) != SQLITE_OK)
            return open_fail(s, err, errlen, "cannot prepare a persistence query");
    }
    pthread_mutex_init(&s->lock, NULL);
    s->base.ops = &sqlite_ops;
    return &s->base;
}
