/*
 * led_dimmer: the lab's LED, dimmed over MQTT.
 *
 * Subscribes to a brightness topic and drives an LED. A payload is a PWM
 * duty from 0 to 1023 (what the lab's ESP32 writes to GPIO2) or a
 * percentage "NN%". Anything else is ignored with a log line and the LED
 * keeps its brightness. The state is published retained on a status topic
 * as JSON; the will on the same topic marks the dimmer offline.
 *
 * Backends:
 *   led  Linux LED class: <root>/class/leds/NAME/brightness, scaled to
 *        the LED's max_brightness.
 *   pwm  Linux PWM: <root>/class/pwm/pwmchipN/pwmM, exported if needed;
 *        duty_cycle = value * period / 1023.
 *   sim  a simulated LED drawn on the terminal.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/lab.h"
#include "common/sysfs.h"

#define PROG     "led_dimmer"
#define DUTY_MAX 1023

typedef enum { BACKEND_SIM, BACKEND_LED, BACKEND_PWM } backend_kind_t;

typedef struct {
    backend_kind_t kind;
    const char *root;
    const char *led_name;
    int pwm_chip, pwm_channel;
    long pwm_period_ns;
    long max_brightness; /* LED class */
    char path[512];      /* brightness or duty_cycle file */
} backend_t;

typedef struct {
    backend_t be;
    lab_conn_opts_t conn;
    const char *topic;
    const char *status_topic;
    midge_client_t *client;
    long duty; /* last applied, 0..1023 */
} dimmer_t;

/* Parses "0".."1023" or "0%".."100%". -1 if the payload is neither. */
static long parse_brightness(const void *payload, size_t len)
{
    char text[16];
    if (len == 0 || len >= sizeof text)
        return -1;
    memcpy(text, payload, len);
    text[len] = '\0';
    size_t n = len;
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        text[--n] = '\0';
    bool percent = n > 0 && text[n - 1] == '%';
    if (percent)
        text[--n] = '\0';
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)text[i]))
            return -1;
    }
    long v = strtol(text, NULL, 10);
    if (percent)
        return v <= 100 ? (v * DUTY_MAX + 50) / 100 : -1;
    return v <= DUTY_MAX ? v : -1;
}

static int backend_open(backend_t *be)
{
    char p[512];
    switch (be->kind) {
    case BACKEND_SIM:
        return 0;
    case BACKEND_LED:
        if (!sysfs_path(p, sizeof p, be->root, "class/leds/%s/max_brightness", be->led_name))
            return ENAMETOOLONG;
        int err = sysfs_read_long(p, &be->max_brightness);
        if (err || be->max_brightness <= 0) {
            lab_log(PROG, "cannot read %s: %s", p, err ? strerror(err) : "not positive");
            return err ? err : EINVAL;
        }
        if (!sysfs_path(be->path, sizeof be->path, be->root, "class/leds/%s/brightness",
                        be->led_name))
            return ENAMETOOLONG;
        return 0;
    case BACKEND_PWM: {
        char dir[256];
        if (!sysfs_path(dir, sizeof dir, be->root, "class/pwm/pwmchip%d/pwm%d", be->pwm_chip,
                        be->pwm_channel))
            return ENAMETOOLONG;
        if (access(dir, F_OK) != 0) {
            /* Not exported yet: ask the PWM chip for the channel. */
            if (!sysfs_path(p, sizeof p, be->root, "class/pwm/pwmchip%d/export", be->pwm_chip))
                return ENAMETOOLONG;
            int e = sysfs_write_long(p, be->pwm_channel);
            if (e) {
                lab_log(PROG, "cannot export PWM channel %d via %s: %s", be->pwm_channel, p,
                        strerror(e));
                return e;
            }
        }
        /* The duty cycle must never exceed the period, so it goes to 0
         * before the period is set. */
        snprintf(p, sizeof p, "%s/duty_cycle", dir);
        int e = sysfs_write_long(p, 0);
        if (!e) {
            snprintf(p, sizeof p, "%s/period", dir);
            e = sysfs_write_long(p, be->pwm_period_ns);
        }
        if (!e) {
            snprintf(p, sizeof p, "%s/enable", dir);
            e = sysfs_write_long(p, 1);
        }
        if (e) {
            lab_log(PROG, "cannot set up %s: %s", p, strerror(e));
            return e;
        }
        snprintf(be->path, sizeof be->path, "%s/duty_cycle", dir);
        return 0;
    }
    }
    return EINVAL;
}

static int backend_apply(backend_t *be, long duty)
{
    switch (be->kind) {
    case BACKEND_SIM: {
        char bar[21];
        int lit = (int)((duty * 20 + DUTY_MAX / 2) / DUTY_MAX);
        for (int i = 0; i < 20; i++)
            bar[i] = i < lit ? '#' : '.';
        bar[20] = '\0';
        printf("LED [%s] %4ld/1023 (%ld%%)\n", bar, duty, (duty * 100 + DUTY_MAX / 2) / DUTY_MAX);
        fflush(stdout);
        return 0;
    }
    case BACKEND_LED:
        return sysfs_write_long(be->path, (duty * be->max_brightness + DUTY_MAX / 2) / DUTY_MAX);
    case BACKEND_PWM:
        return sysfs_write_long(be->path, duty * be->pwm_period_ns / DUTY_MAX);
    }
    return EINVAL;
}

static void publish_state(dimmer_t *d)
{
    char json[128];
    int n = snprintf(json, sizeof json, "{\"online\":true,\"brightness\":%ld,\"percent\":%ld}",
                     d->duty, (d->duty * 100 + DUTY_MAX / 2) / DUTY_MAX);
    midge_publish(d->client, NULL, d->status_topic, json, (size_t)n, d->conn.qos, true, NULL);
}

static void on_connect(midge_client_t *c, void *ud, uint8_t code, bool session_present,
                       const midge_props_t *props)
{
    dimmer_t *d = ud;
    if (code != 0) {
        lab_log(PROG, "connection refused: %s", midge_connack_string(d->conn.version, code));
        return;
    }
    lab_log(PROG, "connected to %s:%d, listening on %s", d->conn.host, d->conn.port, d->topic);
    publish_state(d);
}

static void on_disconnect(midge_client_t *c, void *ud, midge_err_t err, const char *detail,
                          bool reconnecting)
{
    if (err != MIDGE_OK)
        lab_log(PROG, "connection lost: %s%s", detail && *detail ? detail : midge_strerror(err),
                reconnecting ? " (reconnecting)" : "");
}

static void on_message(midge_client_t *c, void *ud, const midge_message_t *m)
{
    dimmer_t *d = ud;
    long duty = parse_brightness(m->payload, m->payload_len);
    if (duty < 0) {
        lab_log(PROG, "ignoring brightness '%.*s' on %s: not 0-1023 or 0%%-100%%",
                (int)(m->payload_len > 32 ? 32 : m->payload_len),
                m->payload ? (const char *)m->payload : "", m->topic);
        return;
    }
    int err = backend_apply(&d->be, duty);
    if (err) {
        lab_log(PROG, "cannot set brightness %ld: %s", duty, strerror(err));
        return;
    }
    d->duty = duty;
    lab_log(PROG, "brightness %ld/1023", duty);
    publish_state(d);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: " PROG " [options]\n"
               "Dims an LED from MQTT: payload 0-1023 (PWM duty, as on the ESP32) or NN%%.\n\n"
               "  -t, --topic TOPIC     brightness topic (default lab/led/brightness)\n"
               "  -s, --status TOPIC    retained state and will topic (default lab/led/status)\n"
               "  -b, --backend sim|led|pwm   what to drive (default sim)\n"
               "      --led NAME        LED class device, e.g. led0 (backend led)\n"
               "      --pwm CHIP:CHAN   PWM chip and channel, e.g. 0:0 (backend pwm)\n"
               "      --period NS       PWM period in ns (default 1000000, 1 kHz)\n"
               "      --sysfs-root DIR  where sysfs is (default /sys; tests use a fake "
               "tree)\n" LAB_COMMON_HELP "      --help            this text\n");
}

int main(int argc, char **argv)
{
    dimmer_t d = {.topic = "lab/led/brightness", .status_topic = "lab/led/status"};
    d.be = (backend_t){.kind = BACKEND_SIM, .root = "/sys", .pwm_period_ns = 1000000};
    lab_conn_defaults(&d.conn, PROG);
    enum { OPT_LED = 256, OPT_PWM, OPT_PERIOD, OPT_ROOT, OPT_HELP };
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"status", required_argument, NULL, 's'},
        {"backend", required_argument, NULL, 'b'},
        {"led", required_argument, NULL, OPT_LED},
        {"pwm", required_argument, NULL, OPT_PWM},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"sysfs-root", required_argument, NULL, OPT_ROOT},
        {"help", no_argument, NULL, OPT_HELP},
        LAB_COMMON_LONG_OPTIONS,
        {0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "t:s:b:" LAB_COMMON_SHORT, longopts, NULL)) != -1) {
        if (lab_conn_option(&d.conn, ch, optarg, PROG))
            continue;
        switch (ch) {
        case 't':
            d.topic = optarg;
            break;
        case 's':
            d.status_topic = optarg;
            break;
        case 'b':
            if (!strcmp(optarg, "sim"))
                d.be.kind = BACKEND_SIM;
            else if (!strcmp(optarg, "led"))
                d.be.kind = BACKEND_LED;
            else if (!strcmp(optarg, "pwm"))
                d.be.kind = BACKEND_PWM;
            else {
                fprintf(stderr, PROG ": unknown backend '%s' (sim, led or pwm)\n", optarg);
                return 2;
            }
            break;
        case OPT_LED:
            d.be.led_name = optarg;
            break;
        case OPT_PWM:
            if (sscanf(optarg, "%d:%d", &d.be.pwm_chip, &d.be.pwm_channel) != 2 ||
                d.be.pwm_chip < 0 || d.be.pwm_channel < 0) {
                fprintf(stderr, PROG ": --pwm wants CHIP:CHANNEL, e.g. 0:0\n");
                return 2;
            }
            break;
        case OPT_PERIOD:
            d.be.pwm_period_ns = lab_number(optarg, "the PWM period", PROG, 1000, 1000000000);
            break;
        case OPT_ROOT:
            d.be.root = optarg;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (d.be.kind == BACKEND_LED && !d.be.led_name) {
        fprintf(stderr, PROG ": the led backend needs --led NAME (see /sys/class/leds)\n");
        return 2;
    }
    if (backend_open(&d.be) != 0)
        return 1;

    lab_install_signals();
    static const char offline[] = "{\"online\":false}";
    midge_callbacks_t cbs = {
        .on_connect = on_connect, .on_disconnect = on_disconnect, .on_message = on_message};
    d.client = lab_client_start(&d.conn, PROG, d.status_topic, offline, &cbs, &d);
    if (!d.client)
        return 1;
    /* Subscribed once; the library resubscribes after every reconnect. */
    midge_subscribe(d.client, NULL, d.topic, d.conn.qos, NULL);
    while (!lab_stop)
        usleep(100 * 1000);
    lab_log(PROG, "stopping");
    lab_client_stop(d.client, d.status_topic, offline, d.conn.qos);
    return 0;
}
