/*
 * Routing benchmark: subscribe, match and session-removal rates of the
 * topic tree, and retained lookups.
 *
 *   bench_routing [subscriptions] [matches] [threads]
 *
 * Defaults: 100000 subscriptions from 10000 sessions (10 each), 1000000
 * matches, 1 and then `threads` (default 2) matching threads. The topic
 * space is building/<b>/floor/<f>/room/<r>/<sensor> (100 x 20 x 50 x 8 =
 * 800k topics); filters are 70% exact, 15% with one '+', 10% ending in '#',
 * 5% shared. Then: one subscription per device topic plus one monitor on
 * dev/+/cmd; a fan-out of every session on one topic; session removal;
 * retained set and wildcard lookups. Times are CPU time except for the
 * multi-thread match run.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/message.h"
#include "broker/retain.h"
#include "broker/topic_tree.h"

static const char *const sensors[] = {"temp",   "hum",  "co2",   "light",
                                      "motion", "door", "power", "noise"};

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* CPU time of the process: on a shared machine it does not count the
 * time other processes take from us, so single-thread figures are stable.
 * Multi-thread runs are timed on the wall clock (wall_s). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int random_topic(char *buf, size_t cap)
{
    return snprintf(buf, cap, "building/%u/floor/%u/room/%u/%s", rnd(100), rnd(20), rnd(50),
                    sensors[rnd(8)]);
}

static int random_filter(char *buf, size_t cap)
{
    uint32_t kind = rnd(100);
    if (kind < 70)
        return random_topic(buf, cap);
    if (kind < 85)
        return snprintf(buf, cap, "building/%u/floor/+/room/%u/%s", rnd(100), rnd(50),
                        sensors[rnd(8)]);
    if (kind < 95)
        return snprintf(buf, cap, "building/%u/floor/%u/#", rnd(100), rnd(20));
    return snprintf(buf, cap, "$share/g%u/building/%u/+/+/room/+/%s", rnd(4), rnd(100),
                    sensors[rnd(8)]);
}

#define NTOPICS 4096
static char topics[NTOPICS][64];
static size_t topic_len[NTOPICS];

typedef struct {
    topic_tree_t *t;
    long iters;
    long results;
    uint32_t seed;
} job_t;

static void *match_job(void *arg)
{
    job_t *j = arg;
    tt_matches_t m;
    tt_matches_init(&m);
    uint32_t k = j->seed;
    for (long i = 0; i < j->iters; i++) {
        k = k * 1103515245u + 12345u;
        size_t ti = (k >> 8) % NTOPICS;
        mqtt_bytes_t topic = {(const uint8_t *)topics[ti], topic_len[ti]};
        int n = tt_match(j->t, topic, NULL, &m, NULL, NULL);
        if (n > 0)
            j->results += n;
    }
    tt_matches_free(&m);
    return NULL;
}

static void run_matches(topic_tree_t *t, long iters, int threads)
{
    pthread_t th[64];
    job_t jobs[64];
    if (threads > 64)
        threads = 64;
    double (*clock_fn)(void) = threads == 1 ? now_s : wall_s;
    double t0 = clock_fn();
    double cpu0 = now_s();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job_t){t, iters / threads, 0, (uint32_t)i * 7919u + 1};
        pthread_create(&th[i], NULL, match_job, &jobs[i]);
    }
    long results = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        results += jobs[i].results;
    }
    double dt = clock_fn() - t0;
    double cpu = now_s() - cpu0;
    long done = (iters / threads) * threads;
    printf("match   %d thread%s: %10.0f matches/s  %6.0f ns/match  %.2f results/match  (%s)",
           threads, threads == 1 ? " " : "s", (double)done / dt, dt * 1e9 / (double)done,
           (double)results / (double)done, threads == 1 ? "CPU time" : "wall clock");
    /* CPU per match across threads: lock contention shows up here. */
    if (threads > 1)
        printf(", %.0f CPU ns/match", cpu * 1e9 / (double)done);
    printf("\n");
}

int main(int argc, char **argv)
{
    long nsubs = argc > 1 ? atol(argv[1]) : 100000;
    long iters = argc > 2 ? atol(argv[2]) : 1000000;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    if (nsubs < 1 || iters < 1 || threads < 1) {
        fprintf(stderr, "usage: %s [subscriptions] [matches] [threads]\n", argv[0]);
        return 2;
    }
    long nsessions = nsubs / 10 > 0 ? nsubs / 10 : 1;
    char *sessions = malloc((size_t)nsessions);
    topic_tree_t *t = tt_new();
    if (sessions == NULL || t == NULL)
        return 1;

    char buf[128];
    double t0 = now_s();
    for (long i = 0; i < nsubs; i++) {
        int n = random_filter(buf, sizeof buf);
        mqtt_bytes_t f = {(const uint8_t *)buf, (size_t)n};
        if (tt_subscribe(t, &sessions[i % nsessions], f, (uint8_t)rnd(3), (uint32_t)i + 1, NULL) !=
            TT_OK) {
            fprintf(stderr, "subscribe failed\n");
            return 1;
        }
    }
    double dt = now_s() - t0;
    printf("routing bench: %ld subscriptions (%zu stored), %ld sessions, %zu nodes\n", nsubs,
           tt_subscription_count(t), nsessions, tt_node_count(t));
    printf("subscribe         : %10.0f subs/s\n", (double)nsubs / dt);

    for (int i = 0; i < NTOPICS; i++)
        topic_len[i] = (size_t)random_topic(topics[i], sizeof topics[i]);
    run_matches(t, iters, 1);
    if (threads > 1)
        run_matches(t, iters, threads);

    /* Per device: every session subscribes to its own command topic, a
     * few monitors to all of them; a publish reaches 1-2 sessions. */
    topic_tree_t *dev = tt_new();
    for (long i = 0; i < nsubs; i++) {
        int n = snprintf(buf, sizeof buf, "dev/%ld/cmd", i);
        tt_subscribe(dev, &sessions[i % nsessions], (mqtt_bytes_t){(const uint8_t *)buf, (size_t)n},
                     1, 0, NULL);
    }
    tt_subscribe(dev, &sessions[0], (mqtt_bytes_t){(const uint8_t *)"dev/+/cmd", 9}, 0, 0, NULL);
    for (int i = 0; i < NTOPICS; i++)
        topic_len[i] =
            (size_t)snprintf(topics[i], sizeof topics[i], "dev/%u/cmd", rnd((uint32_t)nsubs));
    printf("per-device topics (%ld subscriptions):\n", nsubs + 1);
    run_matches(dev, iters, 1);
    if (threads > 1)
        run_matches(dev, iters, threads);
    tt_free(dev);

    /* Fan-out: one topic many sessions subscribe to. */
    topic_tree_t *fan = tt_new();
    for (long i = 0; i < nsessions; i++)
        tt_subscribe(fan, &sessions[i], (mqtt_bytes_t){(const uint8_t *)"news/all", 8}, 1, 0, NULL);
    tt_matches_t m;
    tt_matches_init(&m);
    long fan_iters = 200;
    t0 = now_s();
    for (long i = 0; i < fan_iters; i++)
        tt_match(fan, (mqtt_bytes_t){(const uint8_t *)"news/all", 8}, NULL, &m, NULL, NULL);
    dt = now_s() - t0;
    printf("fan-out %ld       : %10.0f results/s (%.1f us per match)\n", nsessions,
           (double)(fan_iters * nsessions) / dt, dt * 1e6 / (double)fan_iters);
    tt_matches_free(&m);
    tt_free(fan);

    t0 = now_s();
    size_t removed = 0;
    for (long i = 0; i < nsessions; i++)
        removed += tt_remove_session(t, &sessions[i]);
    dt = now_s() - t0;
    printf("remove session    : %10.0f sessions/s (%zu subscriptions, %zu nodes left)\n",
           (double)nsessions / dt, removed, tt_node_count(t));
    tt_free(t);

    /* Retained: 100k topics, lookups by wildcard filters. */
    retain_store_t *rs = retain_new();
    long nret = nsubs;
    t0 = now_s();
    for (long i = 0; i < nret; i++) {
        int n = random_topic(buf, sizeof buf);
        msg_init_t in = {.topic = {(const uint8_t *)buf, (size_t)n},
                         .payload = {(const uint8_t *)"23.5", 4}};
        msg_t *msg = msg_new(&in);
        if (msg == NULL || retain_set(rs, msg) != 0)
            return 1;
        msg_unref(msg);
    }
    dt = now_s() - t0;
    printf("retain set        : %10.0f msgs/s (%zu stored)\n", (double)nret / dt, retain_count(rs));
    msg_vec_t out = {0};
    long lookups = 2000, found = 0;
    t0 = now_s();
    for (long i = 0; i < lookups; i++) {
        int n = snprintf(buf, sizeof buf, "building/%u/floor/+/room/+/temp", rnd(100));
        int got = retain_match(rs, (mqtt_bytes_t){(const uint8_t *)buf, (size_t)n}, 0, &out);
        found += got > 0 ? got : 0;
        msg_vec_clear(&out);
    }
    dt = now_s() - t0;
    printf("retain match      : %10.0f lookups/s (%.1f messages each)\n", (double)lookups / dt,
           (double)found / (double)lookups);
    msg_vec_free(&out);
    retain_free(rs);
    free(sessions);
    return 0;
}
