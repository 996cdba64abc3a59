/*
 * Broker log, as Mosquitto 2.0 writes it: one line per message, by default
 * "1700000000: message" on stderr, so scripts written against Mosquitto's
 * log keep working.
 *
 * Configured by log_dest (stdout, stderr, a file, syslog, the
 * $SYS/broker/log/... topics, several at once), log_type (a set of
 * types), log_timestamp and log_timestamp_format, log_facility and
 * connection_messages (mlog_configure, again on SIGHUP).
 *
 * Thread-safe: a line is formatted first and written with one write(2) per
 * destination, so lines of different workers never interleave; a
 * configuration change waits for the lines being written and takes effect
 * for the next ones.
 *
 * The topic destination never publishes from inside mlog (which may run
 * inside routing, holding its locks): lines go into a bounded queue (full:
 * dropped and counted) that the broker drains on worker 0 (sys_topics.c)
 * through the normal routing path.
 */
#ifndef MIDGE_BROKER_LOG_H
#define MIDGE_BROKER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct config;

/* The types of Mosquitto's log_type. ERROR..DEBUG are ordered by
 * verbosity, which is what mlog_set_level() uses. */
typedef enum {
    MLOG_NONE = -1, /* as a maximum: print nothing (tests) */
    MLOG_ERROR = 0,
    MLOG_WARNING = 1,
    MLOG_NOTICE = 2,
    MLOG_INFO = 3,
    MLOG_DEBUG = 4,
    MLOG_SUBSCRIBE = 5,
    MLOG_UNSUBSCRIBE = 6,
    MLOG_WEBSOCKETS = 7,
} mlog_level_t;

#define MLOG_TYPE_COUNT 8

/* The longest line written, timestamp included; longer ones are cut. */
#define MLOG_LINE_MAX 1024

/*
 * Logs exactly the types ERROR..max (max MLOG_NONE: nothing), leaving the
 * destinations as they are. The default (before any configuration) is
 * error, warning, notice and information on stderr.
 */
void mlog_set_level(mlog_level_t max);
/* `-v`: every type, whatever log_type says, now and after reloads. */
void mlog_set_verbose(bool on);
/* True if a line of this type would be written anywhere. */
bool mlog_enabled(mlog_level_t level);

/* Lines longer than MLOG_LINE_MAX bytes are truncated rather than allocated. */
void mlog(mlog_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* connection_messages (default true): whether mlog_conn lines are written. */
bool mlog_connection_messages(void);
/* A connect/disconnect line: as mlog, unless connection_messages is false. */
void mlog_conn(mlog_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Applies cfg's logging settings (at start). A log file that cannot be
 * opened fails with the reason in err and changes nothing. An open log
 * file is reopened every time, so a SIGHUP after logrotate moved it starts
 * a new file.
 */
int mlog_configure(const struct config *cfg, char *err, size_t errlen);
/* On SIGHUP: as mlog_configure, but a log file that cannot be opened is
 * logged and the previous one kept, with the rest of cfg applied. */
void mlog_reload(const struct config *cfg);
/* Closes the log file and syslog; back to stderr. */
void mlog_shutdown(void);

/* ---- The topic destination (used by sys_topics.c) ---- */

typedef struct {
    mlog_level_t type;
    uint16_t len;
    char text[MLOG_LINE_MAX];
} mlog_entry_t;

/* Called (on any thread) when lines are waiting and no drain is pending;
 * returns 0, or -1 if it could not arrange one (the next line retries). */
typedef int (*mlog_wake_fn)(void *arg);

/* Sets (fn non-NULL) or removes the waker. After it returns, the previous
 * waker is not running and will not be called again. Setting one when
 * lines are already waiting wakes it at once. */
void mlog_topic_attach(mlog_wake_fn fn, void *arg);
/* The drainer calls this first: a line queued after it wakes again. */
void mlog_topic_drain_begin(void);
/* Takes up to max waiting lines, oldest first; returns how many. */
size_t mlog_topic_take(mlog_entry_t *out, size_t max);
/* Lines dropped because the queue was full, since the last call. */
uint64_t mlog_topic_dropped(void);
/* While true on a thread, its lines skip the topic destination: the
 * drainer's own publishing never feeds back into the queue. */
void mlog_topic_mute(bool on);
/* "$SYS/broker/log/E" etc., Mosquitto's topic per type; NULL for debug
 * (never published, as in Mosquitto). */
const char *mlog_topic_name(mlog_level_t type);

/* ---- Pure parts, exposed for the unit tests ---- */

/* A bounded FIFO of lines. */
typedef struct {
    mlog_entry_t *slots;
    size_t cap, head, len;
    uint64_t dropped;
} mlog_ring_t;

int mlog_ring_init(mlog_ring_t *r, size_t cap);
void mlog_ring_free(mlog_ring_t *r);
/* Returns false (and counts a drop) when full. */
bool mlog_ring_push(mlog_ring_t *r, mlog_level_t type, const char *text, size_t len);
size_t mlog_ring_take(mlog_ring_t *r, mlog_entry_t *out, size_t max);

/* The "time: " prefix: nothing without timestamp; seconds since the epoch
 * without a format; else strftime(format) in local time ("Time error" if
 * it makes nothing). Returns its length (< cap). */
size_t mlog_format_prefix(char *buf, size_t cap, time_t now, bool timestamp, const char *format);

/* The type mask (bit per mlog_level_t) of config log_type bits. */
unsigned mlog_types_from_config(unsigned log_type);

#endif
