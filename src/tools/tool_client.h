/*
 * What midge_pub, midge_sub and midge_rr share on top of libmidge: making
 * a configured client from a tool_cfg_t, a single-threaded driver loop
 * (poll on the client's socket, optionally stdin, and a deadline), error
 * reporting in Mosquitto's words and exit codes, and turning a received
 * message into the printers' tool_msg_t.
 */
#ifndef MIDGE_TOOL_CLIENT_H
#define MIDGE_TOOL_CLIENT_H

#include <stdio.h>

#include "midge/client.h"
#include "tool_cfg.h"
#include "tool_out.h"

/* mosquitto_sub and mosquitto_rr exit with 27 when -W expires. */
#define TOOL_EXIT_TIMEOUT 27
/* ... and with 7 (MOSQ_ERR_CONN_LOST) when an established connection is
 * lost for good. */
#define TOOL_EXIT_CONN_LOST 7

typedef struct tool_ctx tool_ctx_t;

/* Called by the driver when stdin (registered with tool_run's watch_stdin)
 * is readable. */
typedef void (*tool_stdin_fn)(tool_ctx_t *t);
/* Called when the tool's own timer (tool_set_timer) is due. */
typedef void (*tool_timer_fn)(tool_ctx_t *t);

struct tool_ctx {
    tool_cfg_t *cfg;
    midge_client_t *client;
    void *tool;                 /* the tool's own state */
    midge_callbacks_t user_cbs; /* the tool's callbacks, called by the wrappers */

    bool connected_once;
    bool done;      /* stop the driver loop */
    bool finishing; /* tool_finish called: DISCONNECT on its way */
    bool disconnect_sent;
    uint8_t disconnect_reason; /* v5 DISCONNECT reason, 0x04 to keep the will */
    long long finish_deadline_ms;
    int exit_code;              /* returned by main */
    uint32_t server_max_packet; /* from CONNACK, 0 = none announced */

    bool watch_stdin;
    tool_stdin_fn on_stdin;
    long long timer_at_ms; /* monotonic; 0 = none */
    tool_timer_fn on_timer;

    /* Scratch for converting received properties. */
    mqtt_props_t props;
    mqtt_user_prop_t *users;
    size_t users_cap;
    uint32_t *sub_ids;
    size_t sub_ids_cap;
    uint8_t prop_order[64];

    tool_buf_t out;
    tool_buf_t err;
};

/* Prints a usage-level error (cfg->err and the --help hint) and returns
 * the exit code; prints help or version for those parse results. */
int tool_report_parse(const tool_cfg_t *cfg, int rc, const char *usage);

/* Messages on stderr unless --quiet (Mosquitto's err_printf). */
void tool_errf(const tool_ctx_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Creates and configures the client (version, session, will, TLS,
 * properties, credentials) and installs cbs, with on_connect and
 * on_disconnect wrapped so that refusals and losses are reported the way
 * Mosquitto's tools report them. Returns 0, or an exit code after
 * printing the reason.
 */
int tool_setup(tool_ctx_t *t, tool_cfg_t *cfg, const midge_callbacks_t *cbs, bool reconnect);
/* Starts the connection; 0 or an exit code after printing the reason. */
int tool_connect(tool_ctx_t *t);
/* Runs until t->done or the client goes idle, or until deadline_ms
 * (monotonic, 0 = none) passes: then prints "Timed out" and sets exit code
 * 27. Returns t->exit_code. */
int tool_run(tool_ctx_t *t, long long deadline_ms);
/* Frees the client and scratch buffers. */
void tool_cleanup(tool_ctx_t *t);

long long tool_now_ms(void);
void tool_set_timer(tool_ctx_t *t, long long at_ms, tool_timer_fn fn);

/* -D properties of one packet as a midge list (NULL if there are none, or
 * on error after printing it: *failed set). Free with midge_props_free. */
midge_props_t *tool_props_for(tool_ctx_t *t, tool_cmd_t cmd, bool *failed);

/* Fills m from a received message; valid until the next call. */
void tool_msg_from(tool_ctx_t *t, const midge_message_t *in, tool_msg_t *m);
/* Renders m per the output flags and writes it (and any per-message
 * error) out. */
void tool_print_message(tool_ctx_t *t, const tool_msg_t *m);

/* SIGINT and SIGTERM end tool_run with a DISCONNECT (v5: reason 0x04, so
 * the will is still published) instead of killing the process. */
void tool_catch_signals(void);
/* Ends the run: DISCONNECT (with -D DISCONNECT properties) and exit
 * code; the driver stops once the connection has closed. */
void tool_finish(tool_ctx_t *t, int code);
/* The payload of -m, -f, -s or -n (malloc'd, never NULL on success).
 * Prints the reason and returns 1 on failure (missing file, too large). */
int tool_load_payload(tool_ctx_t *t, uint8_t **out, size_t *len);
/* Prints why midge_publish failed, naming the size limit if that was it. */
void tool_publish_error(tool_ctx_t *t, midge_err_t e, size_t len);

/* Usage texts (tool_help.c). */
extern const char tool_usage_pub[];
extern const char tool_usage_sub[];
extern const char tool_usage_rr[];

#endif
