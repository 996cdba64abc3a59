#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"

#define TYPES_ALL ((1u << MLOG_TYPE_COUNT) - 1u)
#define TYPES_DEFAULT                                                                              \
    ((1u << MLOG_ERROR) | (1u << MLOG_WARNING) | (1u << MLOG_NOTICE) | (1u << MLOG_INFO))
#define TOPIC_RING_CAP 512

/*
 * The settings, read by every mlog under the read lock and replaced under
 * the write lock, so a reload never changes them under a line being
 * written. `fast_mask` mirrors what would be written at all, for the
 * early return of a disabled type without touching the lock.
 */
/* Writer-preferring, so a reload is not starved by workers logging
 * without pause; no mlog path takes it twice, so that is safe. */
static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static struct {
    unsigned dests; /* CONFIG_LOG_DEST_* */
    unsigned types; /* bit per mlog_level_t, as configured */
    bool timestamp;
    char *ts_format;
    int fd;          /* log_dest file, -1 if none */
    char *file_path; /* what fd was opened from */
    bool syslog_open;
    int facility;
    mlog_wake_fn waker;
    void *waker_arg;
} st = {CONFIG_LOG_DEST_STDERR, TYPES_DEFAULT, true, NULL, -1, NULL, false, LOG_DAEMON, NULL, NULL};

static atomic_uint fast_mask = TYPES_DEFAULT;
static atomic_bool verbose;
static atomic_bool conn_messages = true;

/* The topic queue: its own mutex, taken under the read lock. */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static mlog_ring_t ring;
static atomic_bool wake_pending;
static _Thread_local bool topic_muted;

/* Under the write lock. */
static void update_mask(void)
{
    unsigned types = atomic_load(&verbose) ? TYPES_ALL : st.types;
    atomic_store(&fast_mask, st.dests ? types : 0u);
}

void mlog_set_level(mlog_level_t max)
{
    unsigned types = 0;
    for (int t = MLOG_ERROR; t <= (int)max && t <= MLOG_DEBUG; t++)
        types |= 1u << t;
    pthread_rwlock_wrlock(&log_lock);
    st.types = types;
    update_mask();
    pthread_rwlock_unlock(&log_lock);
}

void mlog_set_verbose(bool on)
{
    pthread_rwlock_wrlock(&log_lock);
    atomic_store(&verbose, on);
    update_mask();
    pthread_rwlock_unlock(&log_lock);
}

static bool type_valid(mlog_level_t level)
{
    return (int)level >= 0 && (int)level < MLOG_TYPE_COUNT;
}

bool mlog_enabled(mlog_level_t level)
{
    return type_valid(level) &&
           (atomic_load_explicit(&fast_mask, memory_order_relaxed) >> level) & 1u;
}

bool mlog_connection_messages(void)
{
    return atomic_load_explicit(&conn_messages, memory_order_relaxed);
}

/* ---- pure parts ---- */

unsigned mlog_types_from_config(unsigned log_type)
{
    static const struct {
        unsigned cfg;
        mlog_level_t type;
    } map[] = {
        {CONFIG_LOG_ERROR, MLOG_ERROR},
        {CONFIG_LOG_WARNING, MLOG_WARNING},
        {CONFIG_LOG_NOTICE, MLOG_NOTICE},
        {CONFIG_LOG_INFORMATION, MLOG_INFO},
        {CONFIG_LOG_DEBUG, MLOG_DEBUG},
        {CONFIG_LOG_SUBSCRIBE, MLOG_SUBSCRIBE},
        {CONFIG_LOG_UNSUBSCRIBE, MLOG_UNSUBSCRIBE},
        {CONFIG_LOG_WEBSOCKETS, MLOG_WEBSOCKETS},
    };
    unsigned types = 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (log_type & map[i].cfg)
            types |= 1u << map[i].type;
    }
    return types;
}

size_t mlog_format_prefix(char *buf, size_t cap, time_t now, bool timestamp, const char *format)
{
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    if (!timestamp)
        return 0;
    size_t n;
    if (format) {
        struct tm tm;
        n = localtime_r(&now, &tm) ? strftime(buf, cap, format, &tm) : 0;
        if (n == 0)
            n = (size_t)snprintf(buf, cap, "Time error");
    } else {
        n = (size_t)snprintf(buf, cap, "%lld", (long long)now);
    }
    if (n >= cap)
        n = cap - 1;
    if (n + 3 <= cap) {
        buf[n++] = ':';
        buf[n++] = ' ';
        buf[n] = '\0';
    }
    return n;
}

const char *mlog_topic_name(mlog_level_t type)
{
    switch (type) {
    case MLOG_ERROR:
        return "$SYS/broker/log/E";
    case MLOG_WARNING:
        return "$SYS/broker/log/W";
    case MLOG_NOTICE:
        return "$SYS/broker/log/N";
    case MLOG_INFO:
        return "$SYS/broker/log/I";
    case MLOG_SUBSCRIBE:
        return "$SYS/broker/log/M/subscribe";
    case MLOG_UNSUBSCRIBE:
        return "$SYS/broker/log/M/unsubscribe";
    case MLOG_WEBSOCKETS:
        return "$SYS/broker/log/WS";
    default:
        return NULL;
    }
}

int mlog_ring_init(mlog_ring_t *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    r->slots = calloc(cap ? cap : 1, sizeof(*r->slots));
    if (!r->slots)
        return -1;
    r->cap = cap ? cap : 1;
    return 0;
}

void mlog_ring_free(mlog_ring_t *r)
{
    free(r->slots);
    memset(r, 0, sizeof(*r));
}

bool mlog_ring_push(mlog_ring_t *r, mlog_level_t type, const char *text, size_t len)
{
    if (r->len == r->cap) {
        r->dropped++;
        return false;
    }
    mlog_entry_t *e = &r->slots[(r->head + r->len) % r->cap];
    if (len > sizeof(e->text))
        len = sizeof(e->text);
    e->type = type;
    e->len = (uint16_t)len;
    memcpy(e->text, text, len);
    r->len++;
    return true;
}

size_t mlog_ring_take(mlog_ring_t *r, mlog_entry_t *out, size_t max)
{
    size_t n = 0;
    while (n < max && r->len > 0) {
        out[n++] = r->slots[r->head];
        r->head = (r->head + 1) % r->cap;
        r->len--;
    }
    return n;
}

/* ---- writing ---- */

static int syslog_priority(mlog_level_t level)
{
    switch (level) {
    case MLOG_ERROR:
        return LOG_ERR;
    case MLOG_WARNING:
        return LOG_WARNING;
    case MLOG_NOTICE:
    case MLOG_SUBSCRIBE:
    case MLOG_UNSUBSCRIBE:
        return LOG_NOTICE;
    case MLOG_INFO:
        return LOG_INFO;
    default:
        return LOG_DEBUG;
    }
}

/* A failed log write has nowhere to be reported. */
static void write_line(int fd, const char *line, size_t len)
{
    ssize_t w = write(fd, line, len);
    (void)w;
}

/* Under the read lock. */
static void queue_for_topic(mlog_level_t level, const char *text, size_t len)
{
    pthread_mutex_lock(&ring_lock);
    bool queued = ring.slots && mlog_ring_push(&ring, level, text, len);
    pthread_mutex_unlock(&ring_lock);
    if (queued && !atomic_exchange(&wake_pending, true)) {
        if (!st.waker || st.waker(st.waker_arg) != 0)
            atomic_store(&wake_pending, false);
    }
}

static void mlog_v(mlog_level_t level, const char *fmt, va_list ap)
{
    if (!mlog_enabled(level))
        return;
    char line[MLOG_LINE_MAX + 1]; /* + the newline */
    pthread_rwlock_rdlock(&log_lock);
    unsigned types = atomic_load(&verbose) ? TYPES_ALL : st.types;
    if (!st.dests || !((types >> level) & 1u)) {
        pthread_rwlock_unlock(&log_lock);
        return;
    }
    size_t len = mlog_format_prefix(line, MLOG_LINE_MAX, time(NULL), st.timestamp, st.ts_format);
    int m = vsnprintf(line + len, MLOG_LINE_MAX - len, fmt, ap);
    if (m > 0)
        len += (size_t)m < MLOG_LINE_MAX - len ? (size_t)m : MLOG_LINE_MAX - len - 1;
    /* line[len] is the NUL; it becomes the newline for the descriptors. */
    if (st.dests & CONFIG_LOG_DEST_SYSLOG)
        syslog(syslog_priority(level), "%s", line);
    if ((st.dests & CONFIG_LOG_DEST_TOPIC) && !topic_muted && mlog_topic_name(level))
        queue_for_topic(level, line, len);
    line[len] = '\n';
    if (st.dests & CONFIG_LOG_DEST_STDOUT)
        write_line(STDOUT_FILENO, line, len + 1);
    if (st.dests & CONFIG_LOG_DEST_STDERR)
        write_line(STDERR_FILENO, line, len + 1);
    if ((st.dests & CONFIG_LOG_DEST_FILE) && st.fd >= 0)
        write_line(st.fd, line, len + 1);
    pthread_rwlock_unlock(&log_lock);
}

void mlog(mlog_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mlog_v(level, fmt, ap);
    va_end(ap);
}

void mlog_conn(mlog_level_t level, const char *fmt, ...)
{
    if (!mlog_connection_messages())
        return;
    va_list ap;
    va_start(ap, fmt);
    mlog_v(level, fmt, ap);
    va_end(ap);
}

/* ---- configuration ---- */

static int facility_of(int n)
{
    static const int local[8] = {LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3,
                                 LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7};
    return n >= 0 && n < 8 ? local[n] : LOG_DAEMON;
}

/*
 * keep_file: a log file that cannot be opened keeps the one open now (a
 * reload) instead of failing (the start). Returns 0, 1 if the file was
 * kept (err says why), -1 on failure (nothing changed).
 */
static int apply(const config_t *cfg, char *err, size_t errlen, bool keep_file)
{
    int rc = 0;
    int fd = -1;
    char *path = NULL;
    char *format = NULL;
    mlog_ring_t fresh = {0};
    bool want_file = (cfg->log_dest & CONFIG_LOG_DEST_FILE) && cfg->log_file;
    if (want_file) {
        /* 0600 like Mosquitto's: a log names clients and users. */
        fd = open(cfg->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "Unable to open log file %s for writing: %s.", cfg->log_file,
                     strerror(errno));
            if (!keep_file)
                return -1;
            rc = 1;
        } else if (!(path = strdup(cfg->log_file))) {
            close(fd);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (cfg->log_timestamp_format && !(format = strdup(cfg->log_timestamp_format))) {
        if (fd >= 0)
            close(fd);
        free(path);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bool want_topic = cfg->log_dest & CONFIG_LOG_DEST_TOPIC;
    pthread_mutex_lock(&ring_lock);
    bool have_ring = ring.slots != NULL;
    pthread_mutex_unlock(&ring_lock);
    if (want_topic && !have_ring && mlog_ring_init(&fresh, TOPIC_RING_CAP) != 0) {
        if (fd >= 0)
            close(fd);
        free(path);
        free(format);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    pthread_rwlock_wrlock(&log_lock);
    int old_fd = -1;
    char *old_path = NULL;
    unsigned dests = cfg->log_dest;
    if (rc == 1) {
        /* Keep writing where we did; without a previous file, no file. */
        if (st.fd < 0)
            dests &= ~(unsigned)CONFIG_LOG_DEST_FILE;
    } else {
        old_fd = st.fd;
        old_path = st.file_path;
        st.fd = fd;
        st.file_path = path;
        if (!want_file)
            dests &= ~(unsigned)CONFIG_LOG_DEST_FILE;
    }
    int facility = facility_of(cfg->log_facility);
    if (dests & CONFIG_LOG_DEST_SYSLOG) {
        if (st.syslog_open && st.facility != facility)
            closelog();
        if (!st.syslog_open || st.facility != facility)
            openlog("midge", LOG_PID | LOG_NDELAY, facility);
        st.syslog_open = true;
        st.facility = facility;
    } else if (st.syslog_open) {
        closelog();
        st.syslog_open = false;
    }
    if (fresh.slots) {
        pthread_mutex_lock(&ring_lock);
        if (!ring.slots) {
            ring = fresh;
            fresh.slots = NULL;
        }
        pthread_mutex_unlock(&ring_lock);
    }
    char *old_format = st.ts_format;
    st.ts_format = format;
    st.dests = dests;
    st.types = mlog_types_from_config(cfg->log_type);
    st.timestamp = cfg->log_timestamp;
    atomic_store(&conn_messages, cfg->connection_messages);
    update_mask();
    pthread_rwlock_unlock(&log_lock);

    if (old_fd >= 0)
        close(old_fd);
    free(old_path);
    free(old_format);
    mlog_ring_free(&fresh);
    return rc;
}

int mlog_configure(const config_t *cfg, char *err, size_t errlen)
{
    return apply(cfg, err, errlen, false) < 0 ? -1 : 0;
}

void mlog_reload(const config_t *cfg)
{
    char err[512];
    int rc = apply(cfg, err, sizeof(err), true);
    if (rc < 0)
        mlog(MLOG_ERROR, "Error: %s; keeping the previous log settings.", err);
    else if (rc > 0)
        mlog(MLOG_ERROR, "Error: %s Still logging to the previous log file, if any.", err);
}

void mlog_shutdown(void)
{
    pthread_rwlock_wrlock(&log_lock);
    int fd = st.fd;
    char *path = st.file_path;
    char *format = st.ts_format;
    if (st.syslog_open)
        closelog();
    st.syslog_open = false;
    st.fd = -1;
    st.file_path = NULL;
    st.ts_format = NULL;
    st.dests = CONFIG_LOG_DEST_STDERR;
    st.waker = NULL;
    st.waker_arg = NULL;
    update_mask();
    pthread_mutex_lock(&ring_lock);
    mlog_ring_free(&ring);
    pthread_mutex_unlock(&ring_lock);
    pthread_rwlock_unlock(&log_lock);
    if (fd >= 0)
        close(fd);
    free(path);
    free(format);
}

/* ---- the topic destination ---- */

void mlog_topic_attach(mlog_wake_fn fn, void *arg)
{
    pthread_rwlock_wrlock(&log_lock);
    st.waker = fn;
    st.waker_arg = arg;
    pthread_mutex_lock(&ring_lock);
    bool waiting = ring.len > 0;
    pthread_mutex_unlock(&ring_lock);
    atomic_store(&wake_pending, false);
    if (fn && waiting) {
        atomic_store(&wake_pending, true);
        if (fn(arg) != 0)
            atomic_store(&wake_pending, false);
    }
    pthread_rwlock_unlock(&log_lock);
}

void mlog_topic_drain_begin(void)
{
    atomic_store(&wake_pending, false);
}

size_t mlog_topic_take(mlog_entry_t *out, size_t max)
{
    pthread_mutex_lock(&ring_lock);
    size_t n = ring.slots ? mlog_ring_take(&ring, out, max) : 0;
    pthread_mutex_unlock(&ring_lock);
    return n;
}

uint64_t mlog_topic_dropped(void)
{
    pthread_mutex_lock(&ring_lock);
    uint64_t n = ring.dropped;
    ring.dropped = 0;
    pthread_mutex_unlock(&ring_lock);
    return n;
}

void mlog_topic_mute(bool on)
{
    topic_muted = on;
}
