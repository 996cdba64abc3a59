#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void options_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "midge - an MQTT 5.0/3.1.1/3.1 broker\n"
            "\n"
            "Usage: %s [-c config_file] [-d] [-h] [-p port] [-v] [--threads N]\n"
            "\n"
            " -c : specify the broker config file.\n"
            " -d : put the broker into the background after starting.\n"
            " -h : display this help.\n"
            " -p : start the broker listening on the specified port (repeatable).\n"
            "      Not recommended in conjunction with the -c option.\n"
            " -v : verbose mode - enable all logging types.\n"
            " --threads N : worker threads (default: one per CPU core).\n",
            prog);
}

/* Strict decimal in [min, max]: "12x", "", "-1" and overflow are errors. */
static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

options_result_t options_parse(broker_options_t *opt, int argc, char **argv, FILE *err)
{
    memset(opt, 0, sizeof *opt);
    const char *prog = argc > 0 && argv[0] ? argv[0] : "midge";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        /* Options that take a value accept it as the next argument, and
         * --threads also as --threads=N. */
        bool takes_value = !strcmp(a, "-c") || !strcmp(a, "--config-file") || !strcmp(a, "-p") ||
                           !strcmp(a, "--port") || !strcmp(a, "--threads");
        if (!strncmp(a, "--threads=", 10)) {
            val = a + 10;
            a = "--threads";
        } else if (takes_value) {
            if (i + 1 >= argc) {
                fprintf(err, "Error: %s argument given but no value specified.\n", a);
                return OPTIONS_ERROR;
            }
            val = argv[++i];
        }
        unsigned long v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            options_usage(stdout, prog);
            return OPTIONS_EXIT;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            opt->verbose = true;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--daemon")) {
            opt->daemon = true;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config-file")) {
            opt->config_file = val;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--port")) {
            if (!parse_uint(val, 1, 65535, &v)) {
                fprintf(err, "Error: Invalid port specified (%s).\n", val);
                return OPTIONS_ERROR;
            }
            if (opt->port_count == OPTIONS_MAX_PORTS) {
                fprintf(err, "Error: Too many -p options (at most %d).\n", OPTIONS_MAX_PORTS);
                return OPTIONS_ERROR;
            }
            opt->ports[opt->port_count++] = (uint16_t)v;
        } else if (!strcmp(a, "--threads")) {
            if (!parse_uint(val, 1, OPTIONS_MAX_THREADS, &v)) {
                fprintf(err, "Error: --threads needs a number from 1 to %d (%s).\n",
                        OPTIONS_MAX_THREADS, val ? val : "");
                return OPTIONS_ERROR;
            }
            opt->threads = (unsigned)v;
        } else {
            fprintf(err, "Error: Unknown option '%s'.\n", a);
            options_usage(err, prog);
            return OPTIONS_ERROR;
        }
    }
    return OPTIONS_RUN;
}

unsigned options_thread_count(const broker_options_t *opt)
{
    if (opt->threads)
        return opt->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > OPTIONS_MAX_THREADS ? OPTIONS_MAX_THREADS : (unsigned)n;
}
