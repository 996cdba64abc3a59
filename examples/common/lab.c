#include "common/lab.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t lab_stop;

void lab_conn_defaults(lab_conn_opts_t *o, const char *client_id)
{
    *o = (lab_conn_opts_t){"127.0.0.1", 1883, client_id, NULL, NULL, 4, 1, 30};
}

long lab_number(const char *arg, const char *what, const char *prog, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: %s must be a number from %ld to %ld, not '%s'\n", prog, what, min, max,
                arg);
        exit(2);
    }
    return v;
}

bool lab_conn_option(lab_conn_opts_t *o, int ch, const char *arg, const char *prog)
{
    switch (ch) {
    case 'h':
        o->host = arg;
        return true;
    case 'p':
        o->port = (int)lab_number(arg, "the port", prog, 1, 65535);
        return true;
    case 'i':
        o->client_id = arg;
        return true;
    case 'u':
        o->username = arg;
        return true;
    case 'P':
        o->password = arg;
        return true;
    case 'q':
        o->qos = (int)lab_number(arg, "the QoS", prog, 0, 2);
        return true;
    case 'k':
        o->keepalive = (int)lab_number(arg, "the keep alive", prog, 5, 65535);
        return true;
    case 'V':
        if (!strcmp(arg, "31") || !strcmp(arg, "mqttv31"))
            o->version = 3;
        else if (!strcmp(arg, "311") || !strcmp(arg, "mqttv311"))
            o->version = 4;
        else if (!strcmp(arg, "5") || !strcmp(arg, "mqttv5"))
            o->version = 5;
        else {
            fprintf(stderr, "%s: unknown protocol version '%s' (31, 311 or 5)\n", prog, arg);
            exit(2);
        }
        return true;
    default:
        return false;
    }
}

void lab_log(const char *prog, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One write per line, so lines from the loop thread never interleave. */
    fprintf(stderr, "%s.%03ld %s: %s\n", when, ts.tv_nsec / 1000000, prog, line);
}

static void on_signal(int sig)
{
    (void)sig;
    lab_stop = 1;
}

void lab_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

midge_client_t *lab_client_start(const lab_conn_opts_t *o, const char *prog,
                                 const char *status_topic, const char *will_payload,
                                 const midge_callbacks_t *cbs, void *ud)
{
    midge_client_t *c = midge_client_new(o->client_id, ud);
    if (!c) {
        lab_log(prog, "out of memory");
        return NULL;
    }
    midge_set_callbacks(c, cbs);
    midge_err_t err = midge_set_version(c, o->version);
    if (!err)
        err = midge_set_keepalive(c, (unsigned)o->keepalive);
    if (!err && o->username)
        err = midge_set_credentials(c, o->username, o->password,
                                    o->password ? strlen(o->password) : 0);
    if (!err)
        err =
            midge_set_will(c, status_topic, will_payload, strlen(will_payload), o->qos, true, NULL);
    if (!err)
        err = midge_set_reconnect(c, true, 500, 10000);
    if (!err)
        err = midge_connect(c, o->host, o->port);
    if (!err)
        err = midge_loop_start(c);
    if (err) {
        char detail[256];
        midge_last_error(c, detail, sizeof detail);
        lab_log(prog, "cannot connect to %s:%d: %s%s%s", o->host, o->port, midge_strerror(err),
                detail[0] ? ": " : "", detail);
        midge_client_destroy(c);
        return NULL;
    }
    return c;
}

void lab_client_stop(midge_client_t *c, const char *status_topic, const char *offline_payload,
                     int qos)
{
    if (!c)
        return;
    if (midge_is_connected(c) &&
        midge_publish(c, NULL, status_topic, offline_payload, strlen(offline_payload), qos, true,
                      NULL) == MIDGE_OK) {
        /* Give the offline status up to 2 s to be acknowledged, so that a
         * clean stop leaves the retained state right (a crash leaves it to
         * the will). */
        for (int i = 0; i < 200 && midge_queued_count(c) > 0 && midge_is_connected(c); i++)
            usleep(10 * 1000);
    }
    midge_disconnect(c);
    midge_loop_stop(c);
    midge_client_destroy(c);
}
