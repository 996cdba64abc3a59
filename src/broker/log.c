#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_max = MLOG_INFO;

void mlog_set_level(mlog_level_t max)
{
    atomic_store_explicit(&log_max, (int)max, memory_order_relaxed);
}

bool mlog_enabled(mlog_level_t level)
{
    return (int)level <= atomic_load_explicit(&log_max, memory_order_relaxed);
}

void mlog(mlog_level_t level, const char *fmt, ...)
{
    if (!mlog_enabled(level))
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%lld: ", (long long)time(NULL));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n;
    if (m > 0)
        len += (size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m : sizeof line - (size_t)n - 2;
    line[len++] = '\n';
    /* One write per line: lines from different threads never interleave.
     * A failed log write has nowhere to be reported. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
