/*
 * What the lab examples share: broker connection options (named like
 * mosquitto_pub's), a client set up with a retained "offline" will and
 * automatic reconnection, timestamped logging and signal handling.
 */
#ifndef MIDGE_EXAMPLES_LAB_H
#define MIDGE_EXAMPLES_LAB_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>

#include "midge/client.h"

typedef struct {
    const char *host;
    int port;
    const char *client_id;
    const char *username;
    const char *password;
    int version; /* 3, 4 or 5 */
    int qos;
    int keepalive;
} lab_conn_opts_t;

/* Long options every example accepts; end an example's table with
 * LAB_COMMON_LONG_OPTIONS, then {0}. Short ones: "h:p:i:u:P:V:q:k:". */
#define LAB_COMMON_SHORT "h:p:i:u:P:V:q:k:"
#define LAB_COMMON_LONG_OPTIONS                                                                    \
    {"host", required_argument, NULL, 'h'}, {"port", required_argument, NULL, 'p'},                \
        {"id", required_argument, NULL, 'i'}, {"username", required_argument, NULL, 'u'},          \
        {"pw", required_argument, NULL, 'P'}, {"protocol-version", required_argument, NULL, 'V'},  \
        {"qos", required_argument, NULL, 'q'},                                                     \
    {                                                                                              \
        "keepalive", required_argument, NULL, 'k'                                                  \
    }

#define LAB_COMMON_HELP                                                                            \
    "  -h, --host HOST       broker host (default 127.0.0.1)\n"                                    \
    "  -p, --port PORT       broker port (default 1883)\n"                                         \
    "  -i, --id ID           client id (default: the program's name)\n"                            \
    "  -u, --username USER   user name;  -P, --pw PASSWORD  its password\n"                        \
    "  -V, --protocol-version 31|311|5   MQTT version (default 311)\n"                             \
    "  -q, --qos 0|1|2       QoS of what the program publishes and subscribes (default 1)\n"       \
    "  -k, --keepalive SECS  keep alive (default 30)\n"

extern volatile sig_atomic_t lab_stop;

void lab_conn_defaults(lab_conn_opts_t *o, const char *client_id);
/* Handles one of the common options; false if `ch` is not one of them.
 * Exits with a message on a bad value. */
bool lab_conn_option(lab_conn_opts_t *o, int ch, const char *arg, const char *prog);
/* Parses a whole non-negative number; exits with a message if it is not. */
long lab_number(const char *arg, const char *what, const char *prog, long min, long max);

void lab_log(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* SIGINT/SIGTERM set lab_stop. */
void lab_install_signals(void);

/*
 * A client connected in the background (its own loop thread): retained
 * `will_payload` on `status_topic` as will, reconnecting with backoff.
 * NULL (after logging why) if the connection cannot even be attempted.
 */
midge_client_t *lab_client_start(const lab_conn_opts_t *o, const char *prog,
                                 const char *status_topic, const char *will_payload,
                                 const midge_callbacks_t *cbs, void *ud);
/* Publishes the retained offline status, disconnects cleanly, frees. */
void lab_client_stop(midge_client_t *c, const char *status_topic, const char *offline_payload,
                     int qos);

#endif
