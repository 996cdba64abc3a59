/*
 * dht_telemetry: the lab's DHT11, published over MQTT.
 *
 * Publishes {"temperature":..,"humidity":..,"ts":..} every --interval ms
 * (default 100, as the lab's ESP32 does). A DHT11 gives a new reading at
 * most every 1-2 s, so the sensor is sampled at --sample ms (default 2000,
 * the Linux dht11 driver's own caching period) and each message carries
 * the latest good reading.
 *
 * Backends:
 *   iio  the kernel's IIO dht11 driver: the device under
 *        <root>/bus/iio/devices/ whose `name` is "dht11" (or --device),
 *        in_temp_input and in_humidityrelative_input in milli-units. A
 *        failed read (EIO, ETIMEDOUT: a missed sensor handshake) is
 *        retried; a sensor that keeps failing is reported on the status
 *        topic, and sampling goes on.
 *   sim  a simulated sensor drifting around 23 C / 45 %.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/lab.h"
#include "common/sysfs.h"

#define PROG          "dht_telemetry"
#define READ_ATTEMPTS 3

typedef struct {
    bool iio;
    const char *root;
    const char *device; /* iio:deviceN, or NULL to find the "dht11" one */
    char dir[600];
    unsigned seed;
    double sim_t, sim_h;
} sensor_t;

typedef struct {
    double temperature, humidity;
    bool valid;
} reading_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sensor_open(sensor_t *s)
{
    if (!s->iio) {
        s->sim_t = 23.0;
        s->sim_h = 45.0;
        return 0;
    }
    char base[256];
    if (!sysfs_path(base, sizeof base, s->root, "bus/iio/devices"))
        return ENAMETOOLONG;
    if (s->device) {
        snprintf(s->dir, sizeof s->dir, "%s/%s", base, s->device);
        return 0;
    }
    DIR *dir = opendir(base);
    if (!dir) {
        lab_log(PROG, "cannot list %s: %s", base, strerror(errno));
        return errno;
    }
    struct dirent *e;
    int found = ENOENT;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, "iio:device", 10) != 0)
            continue;
        char p[600], name[64];
        snprintf(p, sizeof p, "%s/%s/name", base, e->d_name);
        if (sysfs_read_text(p, name, sizeof name) == 0 && strcmp(name, "dht11") == 0) {
            snprintf(s->dir, sizeof s->dir, "%s/%s", base, e->d_name);
            found = 0;
            break;
        }
    }
    closedir(dir);
    if (found)
        lab_log(PROG, "no IIO device named dht11 under %s (is the dht11 overlay loaded?)", base);
    return found;
}

/* One reading, retried: a DHT11 read fails now and then by design. */
static int sensor_read(sensor_t *s, reading_t *r)
{
    if (!s->iio) {
        s->sim_t += ((double)rand_r(&s->seed) / RAND_MAX - 0.5) * 0.4;
        s->sim_h += ((double)rand_r(&s->seed) / RAND_MAX - 0.5) * 1.0;
        s->sim_t = fmin(fmax(s->sim_t, 15.0), 32.0);
        s->sim_h = fmin(fmax(s->sim_h, 20.0), 80.0);
        r->temperature = round(s->sim_t * 10) / 10;
        r->humidity = round(s->sim_h);
        r->valid = true;
        return 0;
    }
    int err = 0;
    for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        char pt[700], ph[700];
        long t, h;
        snprintf(pt, sizeof pt, "%s/in_temp_input", s->dir);
        snprintf(ph, sizeof ph, "%s/in_humidityrelative_input", s->dir);
        err = sysfs_read_long(pt, &t);
        if (!err)
            err = sysfs_read_long(ph, &h);
        if (!err) {
            r->temperature = (double)t / 1000.0;
            r->humidity = (double)h / 1000.0;
            r->valid = true;
            return 0;
        }
        usleep(100 * 1000);
    }
    return err;
}

/* Shared with the client's loop thread. */
typedef struct {
    int version;
    atomic_int connects; /* accepted CONNACKs so far */
} telemetry_t;

static void on_connect(midge_client_t *c, void *ud, uint8_t code, bool session_present,
                       const midge_props_t *props)
{
    telemetry_t *t = ud;
    if (code != 0) {
        lab_log(PROG, "connection refused: %s", midge_connack_string(t->version, code));
        return;
    }
    lab_log(PROG, "connected");
    atomic_fetch_add(&t->connects, 1);
}

static void on_disconnect(midge_client_t *c, void *ud, midge_err_t err, const char *detail,
                          bool reconnecting)
{
    if (err != MIDGE_OK)
        lab_log(PROG, "connection lost: %s%s", detail && *detail ? detail : midge_strerror(err),
                reconnecting ? " (reconnecting)" : "");
}

static void publish_status(midge_client_t *c, const char *topic, int qos, const char *error)
{
    char json[256];
    int n = error ? snprintf(json, sizeof json, "{\"online\":true,\"error\":\"%s\"}", error)
                  : snprintf(json, sizeof json, "{\"online\":true}");
    midge_publish(c, NULL, topic, json, (size_t)n, qos, true, NULL);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " [options]\n"
            "Publishes DHT11 temperature and humidity as JSON\n"
            "{\"temperature\":C,\"humidity\":%%,\"ts\":unix-seconds}.\n\n"
            "A DHT11 measures at most every 1-2 s: the sensor is sampled every --sample ms\n"
            "and every message carries the latest good reading, at --interval ms.\n\n"
            "  -t, --topic TOPIC     readings topic (default lab/dht11)\n"
            "  -s, --status TOPIC    retained status, errors and will (default lab/dht11/status)\n"
            "  -b, --backend sim|iio sensor (default sim)\n"
            "      --device NAME     IIO device, e.g. iio:device0 (default: the one named dht11)\n"
            "      --interval MS     publish period (default 100)\n"
            "      --sample MS       sensor sampling period (default 2000)\n"
            "  -C, --count N         stop after N messages (default: run until SIGINT/SIGTERM)\n"
            "      --sysfs-root DIR  where sysfs is (default /sys; tests use a fake "
            "tree)\n" LAB_COMMON_HELP "      --help            this text\n");
}

int main(int argc, char **argv)
{
    sensor_t sensor = {.root = "/sys", .seed = (unsigned)time(NULL)};
    lab_conn_opts_t conn;
    lab_conn_defaults(&conn, PROG);
    conn.qos = 0; /* telemetry: the next reading replaces a lost one */
    const char *topic = "lab/dht11", *status = "lab/dht11/status";
    long interval_ms = 100, sample_ms = 2000, count = -1;
    enum { OPT_DEVICE = 256, OPT_INTERVAL, OPT_SAMPLE, OPT_ROOT, OPT_HELP };
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"status", required_argument, NULL, 's'},
        {"backend", required_argument, NULL, 'b'},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"sample", required_argument, NULL, OPT_SAMPLE},
        {"count", required_argument, NULL, 'C'},
        {"sysfs-root", required_argument, NULL, OPT_ROOT},
        {"help", no_argument, NULL, OPT_HELP},
        LAB_COMMON_LONG_OPTIONS,
        {0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "t:s:b:C:" LAB_COMMON_SHORT, longopts, NULL)) != -1) {
        if (lab_conn_option(&conn, ch, optarg, PROG))
            continue;
        switch (ch) {
        case 't':
            topic = optarg;
            break;
        case 's':
            status = optarg;
            break;
        case 'b':
            if (!strcmp(optarg, "sim") || !strcmp(optarg, "iio"))
                sensor.iio = !strcmp(optarg, "iio");
            else {
                fprintf(stderr, PROG ": unknown backend '%s' (sim or iio)\n", optarg);
                return 2;
            }
            break;
        case OPT_DEVICE:
            sensor.device = optarg;
            break;
        case OPT_INTERVAL:
            interval_ms = lab_number(optarg, "the interval", PROG, 10, 3600000);
            break;
        case OPT_SAMPLE:
            sample_ms = lab_number(optarg, "the sample period", PROG, 100, 3600000);
            break;
        case 'C':
            count = lab_number(optarg, "the count", PROG, 1, 1000000000);
            break;
        case OPT_ROOT:
            sensor.root = optarg;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (sensor_open(&sensor) != 0)
        return 1;

    lab_install_signals();
    static const char offline[] = "{\"online\":false}";
    midge_callbacks_t cbs = {.on_connect = on_connect, .on_disconnect = on_disconnect};
    telemetry_t tel = {.version = conn.version};
    atomic_init(&tel.connects, 0);
    midge_client_t *c = lab_client_start(&conn, PROG, status, offline, &cbs, &tel);
    if (!c)
        return 1;

    reading_t last = {0};
    bool failing = false;
    char why[128] = "";
    double next_sample = now_s(), next_publish = now_s();
    long sent = 0;
    int connects_seen = 0;
    while (!lab_stop && (count < 0 || sent < count)) {
        double t = now_s();
        /* After every (re)connection: the will may have marked us offline
         * while the connection was down. */
        int connects = atomic_load(&tel.connects);
        if (connects != connects_seen && midge_is_connected(c)) {
            connects_seen = connects;
            publish_status(c, status, conn.qos, failing ? why : NULL);
        }
        if (t >= next_sample) {
            next_sample = t + (double)sample_ms / 1000.0;
            int err = sensor_read(&sensor, &last);
            if (err && !failing) {
                snprintf(why, sizeof why, "sensor read failed: %s", strerror(err));
                lab_log(PROG, "%s (retrying every %ld ms)", why, sample_ms);
                publish_status(c, status, conn.qos, why);
                failing = true;
            } else if (!err && failing) {
                lab_log(PROG, "sensor back");
                publish_status(c, status, conn.qos, NULL);
                failing = false;
            }
        }
        if (t >= next_publish) {
            next_publish += (double)interval_ms / 1000.0;
            if (next_publish < t)
                next_publish = t; /* fell behind (suspended?): no burst */
            if (last.valid && midge_is_connected(c)) {
                char json[128];
                int n = snprintf(json, sizeof json,
                                 "{\"temperature\":%.1f,\"humidity\":%.1f,\"ts\":%.3f}",
                                 last.temperature, last.humidity, wall_s());
                if (midge_publish(c, NULL, topic, json, (size_t)n, conn.qos, false, NULL) ==
                    MIDGE_OK)
                    sent++;
            }
        }
        double wake = next_publish < next_sample ? next_publish : next_sample;
        double wait = wake - now_s();
        if (wait > 0)
            usleep((useconds_t)(wait * 1e6 > 100000 ? 100000 : wait * 1e6));
    }
    lab_client_stop(c, status, offline, conn.qos);
    return 0;
}
