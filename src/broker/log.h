/*
 * Broker log: one line per message on stderr, Mosquitto's format
 * ("1700000000: message"), so scripts written against Mosquitto's log keep
 * working. Thread-safe: each line is formatted first and written with one
 * write(2), so lines of different workers never interleave.
 */
#ifndef MIDGE_BROKER_LOG_H
#define MIDGE_BROKER_LOG_H

#include <stdbool.h>

/* Ordered by verbosity: a message is printed when its level is <= the
 * configured maximum. */
typedef enum {
    MLOG_NONE = -1, /* as a maximum: print nothing (tests) */
    MLOG_ERROR = 0,
    MLOG_WARNING = 1,
    MLOG_NOTICE = 2,
    MLOG_INFO = 3,
    MLOG_DEBUG = 4,
} mlog_level_t;

/* Default MLOG_INFO (Mosquitto prints error..information by default);
 * `-v` sets MLOG_DEBUG. */
void mlog_set_level(mlog_level_t max);
bool mlog_enabled(mlog_level_t level);

/* Lines longer than ~1000 bytes are truncated rather than allocated. */
void mlog(mlog_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
