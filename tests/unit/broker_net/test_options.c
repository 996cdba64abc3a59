/* Command line parsing: Mosquitto's options plus --threads. */
#include <stdio.h>

#include "broker/options.h"
#include "test.h"

static options_result_t parse(broker_options_t *o, int argc, char **argv)
{
    static char sink[4096];
    FILE *err = fmemopen(sink, sizeof sink, "w");
    options_result_t r = options_parse(o, argc, argv, err);
    fclose(err);
    return r;
}

TEST(no_arguments_runs_with_defaults)
{
    broker_options_t o;
    char *argv[] = {"midge", NULL};
    CHECK_EQ_INT(parse(&o, 1, argv), OPTIONS_RUN);
    CHECK_EQ_INT(o.port_count, 0);
    CHECK(o.config_file == NULL);
    CHECK_EQ_INT(o.threads, 0);
    CHECK(!o.verbose && !o.daemon);
    CHECK(options_thread_count(&o) >= 1);
}

TEST(ports_repeat_and_other_options)
{
    broker_options_t o;
    char *argv[] = {"midge", "-p", "1884",      "-c", "x.conf", "-p",
                    "1885",  "-v", "--threads", "3",  "-d"};
    CHECK_EQ_INT(parse(&o, 11, argv), OPTIONS_RUN);
    CHECK_EQ_INT(o.port_count, 2);
    CHECK_EQ_INT(o.ports[0], 1884);
    CHECK_EQ_INT(o.ports[1], 1885);
    CHECK(o.config_file && !strcmp(o.config_file, "x.conf"));
    CHECK(o.verbose && o.daemon);
    CHECK_EQ_INT(o.threads, 3);
    CHECK_EQ_INT(options_thread_count(&o), 3);
}

TEST(threads_equals_form)
{
    broker_options_t o;
    char *argv[] = {"midge", "--threads=2"};
    CHECK_EQ_INT(parse(&o, 2, argv), OPTIONS_RUN);
    CHECK_EQ_INT(o.threads, 2);
}

TEST(bad_values_are_errors)
{
    broker_options_t o;
    char *a1[] = {"midge", "-p", "0"};
    char *a2[] = {"midge", "-p", "65536"};
    char *a3[] = {"midge", "-p", "12x"};
    char *a4[] = {"midge", "-p"};
    char *a5[] = {"midge", "--threads", "0"};
    char *a6[] = {"midge", "--bogus"};
    char *a7[] = {"midge", "-p", "-1"};
    char *a8[] = {"midge", "-c"};
    CHECK_EQ_INT(parse(&o, 3, a1), OPTIONS_ERROR);
    CHECK_EQ_INT(parse(&o, 3, a2), OPTIONS_ERROR);
    CHECK_EQ_INT(parse(&o, 3, a3), OPTIONS_ERROR);
    CHECK_EQ_INT(parse(&o, 2, a4), OPTIONS_ERROR);
    CHECK_EQ_INT(parse(&o, 3, a5), OPTIONS_ERROR);
    CHECK_EQ_INT(parse(&o, 2, a6), OPTIONS_ERROR);
    CHECK_EQ_INT(parse(&o, 3, a7), OPTIONS_ERROR);
    CHECK_EQ_INT(parse(&o, 2, a8), OPTIONS_ERROR);
}

TEST(too_many_ports_is_an_error)
{
    broker_options_t o;
    char *argv[1 + 2 * (OPTIONS_MAX_PORTS + 1)];
    argv[0] = "midge";
    for (int i = 0; i <= OPTIONS_MAX_PORTS; i++) {
        argv[1 + 2 * i] = "-p";
        argv[2 + 2 * i] = "2000";
    }
    CHECK_EQ_INT(parse(&o, 1 + 2 * (OPTIONS_MAX_PORTS + 1), argv), OPTIONS_ERROR);
}

TEST(help_exits)
{
    broker_options_t o;
    char *a1[] = {"midge", "-h"};
    char *a2[] = {"midge", "--help"};
    CHECK_EQ_INT(parse(&o, 2, a1), OPTIONS_EXIT);
    CHECK_EQ_INT(parse(&o, 2, a2), OPTIONS_EXIT);
}

int main(void)
{
    RUN(no_arguments_runs_with_defaults);
    RUN(ports_repeat_and_other_options);
    RUN(threads_equals_form);
    RUN(bad_values_are_errors);
    RUN(too_many_ports_is_an_error);
    RUN(help_exits);
    return TEST_REPORT();
}
