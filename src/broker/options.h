/*
 * Command line of `midge`, Mosquitto-compatible where Mosquitto has the
 * option:
 *   -c FILE        configuration file (parsed by config.c, not here)
 *   -p PORT        listen on PORT; repeatable (default 1883)
 *   -v             verbose logging
 *   -d             run in the background
 *   --threads N    worker threads (default: one per online core)
 *   -h, --help     usage
 */
#ifndef MIDGE_BROKER_OPTIONS_H
#define MIDGE_BROKER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define OPTIONS_MAX_PORTS   16
#define OPTIONS_MAX_THREADS 256

typedef struct {
    uint16_t ports[OPTIONS_MAX_PORTS]; /* from -p, in order */
    size_t port_count;
    const char *config_file; /* -c; points into argv; NULL if absent */
    unsigned threads;        /* --threads; 0 = one per online core */
    bool verbose;            /* -v */
    bool daemon;             /* -d */
} broker_options_t;

typedef enum {
    OPTIONS_RUN = 0,   /* start the broker */
    OPTIONS_EXIT = 1,  /* help was printed: exit 0 */
    OPTIONS_ERROR = 2, /* bad usage, message printed to `err`: exit 1 */
} options_result_t;

/* Parses argv into *opt (zeroed first). Messages go to `err` (stderr in
 * the broker; a memory stream in tests); usage goes to stdout. */
options_result_t options_parse(broker_options_t *opt, int argc, char **argv, FILE *err);
void options_usage(FILE *out, const char *prog);

/* Worker threads to start: opt->threads, or the number of online cores. */
unsigned options_thread_count(const broker_options_t *opt);

#endif
