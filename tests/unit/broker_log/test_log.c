/*
 * The broker log: the topic queue, the timestamp prefix, the type mask,
 * and the whole path into a log file (filtering, reopening, a reload that
 * cannot open its file, and lines of several threads while the
 * configuration changes under them).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/log.h"
#include "test.h"

static char dir[64];

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *more = realloc(buf, cap * 2 + 1);
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A configuration writing to `file` (NULL: none) and nothing else. */
static void cfg_file(config_t *cfg, const char *file)
{
    config_init(cfg);
    cfg->log_dest = 0;
    if (file) {
        cfg->log_dest = CONFIG_LOG_DEST_FILE;
        cfg->log_file = strdup(file);
    }
}

TEST(ring_keeps_order_and_counts_drops)
{
    mlog_ring_t r;
    CHECK(mlog_ring_init(&r, 3) == 0);
    mlog_entry_t out[4];
    CHECK(mlog_ring_push(&r, MLOG_NOTICE, "a", 1));
    CHECK(mlog_ring_push(&r, MLOG_ERROR, "bb", 2));
    CHECK_EQ_INT(mlog_ring_take(&r, out, 1), 1);
    CHECK_EQ_INT(out[0].type, MLOG_NOTICE);
    CHECK(mlog_ring_push(&r, MLOG_INFO, "ccc", 3));
    CHECK(mlog_ring_push(&r, MLOG_WARNING, "dddd", 4)); /* wraps around */
    CHECK(!mlog_ring_push(&r, MLOG_WARNING, "e", 1));
    CHECK(!mlog_ring_push(&r, MLOG_WARNING, "f", 1));
    CHECK_EQ_INT(r.dropped, 2);
    CHECK_EQ_INT(mlog_ring_take(&r, out, 4), 3);
    CHECK_EQ_INT(out[0].len, 2);
    CHECK_MEM(out[0].text, "bb", 2);
    CHECK_EQ_INT(out[1].type, MLOG_INFO);
    CHECK_MEM(out[2].text, "dddd", 4);
    CHECK_EQ_INT(mlog_ring_take(&r, out, 4), 0);
    /* A line longer than a slot is cut to it. */
    static char big[MLOG_LINE_MAX + 100];
    memset(big, 'x', sizeof(big));
    CHECK(mlog_ring_push(&r, MLOG_INFO, big, sizeof(big)));
    CHECK_EQ_INT(mlog_ring_take(&r, out, 1), 1);
    CHECK_EQ_INT(out[0].len, MLOG_LINE_MAX);
    mlog_ring_free(&r);
}

TEST(prefix_formats)
{
    char buf[64];
    CHECK_EQ_INT(mlog_format_prefix(buf, sizeof(buf), 1700000000, false, NULL), 0);
    CHECK(strcmp(buf, "") == 0);
    CHECK_EQ_INT(mlog_format_prefix(buf, sizeof(buf), 1700000000, true, NULL), 12);
    CHECK(strcmp(buf, "1700000000: ") == 0);
    mlog_format_prefix(buf, sizeof(buf), 1700000000, true, "%Y-%m-%dT%H:%M:%S");
    CHECK(strcmp(buf, "2023-11-14T22:13:20: ") == 0);
    /* A format that makes nothing: Mosquitto's "Time error". */
    mlog_format_prefix(buf, sizeof(buf), 1700000000, true, "");
    CHECK(strcmp(buf, "Time error: ") == 0);
    /* Too small for the ": ": the time alone, still terminated. */
    size_t n = mlog_format_prefix(buf, 12, 1700000000, true, NULL);
    CHECK_EQ_INT(n, 10);
    CHECK(strcmp(buf, "1700000000") == 0);
}

TEST(types_and_topics)
{
    unsigned t = mlog_types_from_config(CONFIG_LOG_ERROR | CONFIG_LOG_SUBSCRIBE);
    CHECK_EQ_INT(t, (1u << MLOG_ERROR) | (1u << MLOG_SUBSCRIBE));
    CHECK_EQ_INT(mlog_types_from_config(CONFIG_LOG_ALL), (1u << MLOG_TYPE_COUNT) - 1u);
    CHECK_EQ_INT(mlog_types_from_config(0), 0);
    CHECK(strcmp(mlog_topic_name(MLOG_ERROR), "$SYS/broker/log/E") == 0);
    CHECK(strcmp(mlog_topic_name(MLOG_WARNING), "$SYS/broker/log/W") == 0);
    CHECK(strcmp(mlog_topic_name(MLOG_NOTICE), "$SYS/broker/log/N") == 0);
    CHECK(strcmp(mlog_topic_name(MLOG_INFO), "$SYS/broker/log/I") == 0);
    CHECK(strcmp(mlog_topic_name(MLOG_SUBSCRIBE), "$SYS/broker/log/M/subscribe") == 0);
    CHECK(strcmp(mlog_topic_name(MLOG_UNSUBSCRIBE), "$SYS/broker/log/M/unsubscribe") == 0);
    CHECK(strcmp(mlog_topic_name(MLOG_WEBSOCKETS), "$SYS/broker/log/WS") == 0);
    CHECK(mlog_topic_name(MLOG_DEBUG) == NULL);
}

TEST(file_filtering_and_timestamp)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/a.log", dir);
    config_t cfg;
    cfg_file(&cfg, path);
    cfg.log_type = CONFIG_LOG_ERROR | CONFIG_LOG_SUBSCRIBE;
    cfg.log_timestamp = false;
    CHECK(mlog_configure(&cfg, err, sizeof(err)) == 0);
    CHECK(mlog_enabled(MLOG_ERROR));
    CHECK(!mlog_enabled(MLOG_NOTICE));
    mlog(MLOG_NOTICE, "not this");
    mlog(MLOG_ERROR, "Error: %d", 42);
    mlog(MLOG_SUBSCRIBE, "client 1 a/#");
    mlog(MLOG_DEBUG, "nor this");
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    char *text = read_all(path);
    CHECK(text != NULL);
    int same = strcmp(text, "Error: 42\nclient 1 a/#\n") == 0;
    free(text);
    CHECK(same);
    /* connection_messages false: mlog_conn lines vanish, others stay. */
    cfg.connection_messages = false;
    CHECK(mlog_configure(&cfg, err, sizeof(err)) == 0);
    mlog_conn(MLOG_ERROR, "conn line");
    mlog(MLOG_ERROR, "plain line");
    text = read_all(path);
    CHECK(text != NULL);
    same = strcmp(text, "Error: 42\nclient 1 a/#\nplain line\n") == 0;
    free(text);
    CHECK(same);
    /* -v: every type, whatever log_type says. */
    mlog_set_verbose(true);
    CHECK(mlog_enabled(MLOG_DEBUG) && mlog_enabled(MLOG_UNSUBSCRIBE));
    mlog_set_verbose(false);
    CHECK(!mlog_enabled(MLOG_DEBUG));
    config_free(&cfg);
    mlog_shutdown();
    unlink(path);
}

TEST(reload_reopens_and_keeps_file_it_cannot_replace)
{
    char path[128], moved[128], bad[160], err[256];
    snprintf(path, sizeof(path), "%s/b.log", dir);
    snprintf(moved, sizeof(moved), "%s/b.log.1", dir);
    snprintf(bad, sizeof(bad), "%s/missing/dir/c.log", dir);
    config_t cfg;
    cfg_file(&cfg, path);
    cfg.log_timestamp = false;
    CHECK(mlog_configure(&cfg, err, sizeof(err)) == 0);
    mlog(MLOG_NOTICE, "one");
    CHECK(rename(path, moved) == 0);
    mlog(MLOG_NOTICE, "two"); /* still the renamed file */
    mlog_reload(&cfg);        /* logrotate's SIGHUP */
    mlog(MLOG_NOTICE, "three");
    char *a = read_all(moved), *b = read_all(path);
    int ok = a && b && strcmp(a, "one\ntwo\n") == 0 && strcmp(b, "three\n") == 0;
    free(a);
    free(b);
    CHECK(ok);

    /* At start: refused, nothing changed. */
    config_t badcfg;
    cfg_file(&badcfg, bad);
    CHECK(mlog_configure(&badcfg, err, sizeof(err)) == -1);
    CHECK(strstr(err, "Unable to open log file") != NULL);
    mlog(MLOG_NOTICE, "four");
    /* On reload: the error is logged into the file still in use. */
    badcfg.log_timestamp = false;
    mlog_reload(&badcfg);
    mlog(MLOG_NOTICE, "five");
    b = read_all(path);
    ok = b && strncmp(b, "three\nfour\nError: Unable to open log file ", 42) == 0 &&
         strstr(b, "\nfive\n") != NULL;
    free(b);
    CHECK(ok);
    config_free(&badcfg);
    config_free(&cfg);
    mlog_shutdown();
    unlink(path);
    unlink(moved);
}

static int wakes;
static int count_wake(void *arg)
{
    (void)arg;
    wakes++;
    return 0;
}

TEST(topic_queue_wakes_once_per_drain)
{
    char err[256];
    config_t cfg;
    cfg_file(&cfg, NULL);
    cfg.log_dest = CONFIG_LOG_DEST_TOPIC;
    cfg.log_type = CONFIG_LOG_ALL;
    cfg.log_timestamp = false;
    CHECK(mlog_configure(&cfg, err, sizeof(err)) == 0);
    mlog(MLOG_NOTICE, "before the waker");
    wakes = 0;
    mlog_topic_attach(count_wake, NULL); /* lines waiting: woken at once */
    CHECK_EQ_INT(wakes, 1);
    mlog(MLOG_INFO, "info");
    mlog(MLOG_DEBUG, "debug is never published");
    mlog(MLOG_UNSUBSCRIBE, "c a/#");
    CHECK_EQ_INT(wakes, 1);
    mlog_topic_drain_begin();
    mlog_entry_t out[8];
    size_t n = mlog_topic_take(out, 8);
    CHECK_EQ_INT(n, 3);
    CHECK(out[0].type == MLOG_NOTICE && out[0].len == 16);
    CHECK_MEM(out[0].text, "before the waker", 16);
    CHECK(out[1].type == MLOG_INFO && out[2].type == MLOG_UNSUBSCRIBE);
    CHECK_MEM(out[2].text, "c a/#", 5);
    /* The drainer's own lines stay off the queue. */
    mlog_topic_mute(true);
    mlog(MLOG_WARNING, "muted");
    mlog_topic_mute(false);
    CHECK_EQ_INT(mlog_topic_take(out, 8), 0);
    CHECK_EQ_INT(wakes, 1);
    mlog(MLOG_WARNING, "after the drain");
    CHECK_EQ_INT(wakes, 2);
    /* Full: dropped and counted. */
    for (int i = 0; i < 2000; i++)
        mlog(MLOG_NOTICE, "flood %d", i);
    CHECK(mlog_topic_dropped() > 0);
    CHECK_EQ_INT(mlog_topic_dropped(), 0);
    mlog_topic_attach(NULL, NULL);
    mlog(MLOG_NOTICE, "no waker");
    CHECK_EQ_INT(wakes, 2);
    config_free(&cfg);
    mlog_shutdown();
}

static int load_text(config_t *cfg, const char *text, char *err, size_t errlen)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/t.conf", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -2;
    fputs(text, f);
    fclose(f);
    int rc = config_load(cfg, path, err, errlen, NULL, NULL);
    unlink(path);
    return rc;
}

TEST(parses_the_logging_directives)
{
    config_t cfg;
    char err[256];
    CHECK(load_text(&cfg,
                    "log_facility 3\nlog_timestamp_format %Y-%m-%d %H:%M:%S\n"
                    "connection_messages false\n",
                    err, sizeof(err)) == 0);
    CHECK_EQ_INT(cfg.log_facility, 3);
    CHECK(cfg.log_timestamp_format && strcmp(cfg.log_timestamp_format, "%Y-%m-%d %H:%M:%S") == 0);
    CHECK(!cfg.connection_messages);
    config_free(&cfg);
    CHECK(load_text(&cfg, "\n", err, sizeof(err)) == 0);
    CHECK_EQ_INT(cfg.log_facility, -1);
    CHECK(cfg.log_timestamp_format == NULL && cfg.connection_messages);
    config_free(&cfg);
    CHECK(load_text(&cfg, "log_facility 8\n", err, sizeof(err)) == -1);
    CHECK(load_text(&cfg, "log_facility local3\n", err, sizeof(err)) == -1);
}

#define THREADS 4
#define LINES   3000

static void *writer(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < LINES; i++)
        mlog(MLOG_NOTICE, "thread %ld line %d %s", id, i,
             "padding-padding-padding-padding-padding-padding-padding-padding");
    return NULL;
}

TEST(threads_never_interleave_while_reconfigured)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/d.log", dir);
    config_t cfg;
    cfg_file(&cfg, path);
    CHECK(mlog_configure(&cfg, err, sizeof(err)) == 0);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, writer, (void *)i) == 0);
    /* Meanwhile: timestamps on and off, formats swapped, file reopened. */
    for (int i = 0; i < 200; i++) {
        cfg.log_timestamp = i % 2 == 0;
        free(cfg.log_timestamp_format);
        cfg.log_timestamp_format = i % 3 == 0 ? strdup("%H:%M:%S") : NULL;
        mlog_reload(&cfg);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *text = read_all(path);
    CHECK(text != NULL);
    size_t lines = count_lines(text);
    int bad = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        const char *p = strstr(line, "thread ");
        size_t len = strlen(line);
        if (!p || len < 8 || strcmp(line + len - 8, "-padding") != 0 || strstr(p + 7, "thread "))
            bad++;
    }
    free(text);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(lines, THREADS * LINES);
    config_free(&cfg);
    mlog_shutdown();
    unlink(path);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    /* In the working directory (the build tree), removed at the end. */
    snprintf(dir, sizeof(dir), "midge-log-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(ring_keeps_order_and_counts_drops);
    RUN(prefix_formats);
    RUN(types_and_topics);
    RUN(parses_the_logging_directives);
    RUN(file_filtering_and_timestamp);
    RUN(reload_reopens_and_keeps_file_it_cannot_replace);
    RUN(topic_queue_wakes_once_per_drain);
    RUN(threads_never_interleave_while_reconfigured);
    rmdir(dir);
    return TEST_REPORT();
}
