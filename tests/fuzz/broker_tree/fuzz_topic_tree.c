/*
 * Differential fuzzing of the topic tree: the input is a program of
 * subscribe / shared subscribe / unsubscribe / remove-session / match
 * operations over a small alphabet of levels. A naive model (a flat list of
 * subscriptions and mqtt_topic_matches) predicts every answer; any
 * difference, leak or sanitizer report is a bug.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/topic_tree.h"

#define SESSIONS 8
#define MAX_SUBS 256

typedef struct {
    int session;
    char filter[64]; /* inner filter */
    char group[8];   /* "" if not shared */
    uint8_t opts;
    uint32_t id;
} msub_t;

static msub_t model[MAX_SUBS];
static int nmodel;
static char sess[SESSIONS];

typedef struct {
    const uint8_t *p;
    size_t n;
} in_t;

static uint8_t next(in_t *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static const char *const words[] = {"a", "b", "", "$s", "ab", "+", "#", "c"};

/* A topic (no wildcards) or a filter (maybe invalid) of 1-4 levels. */
static void build(in_t *in, char *out, bool filter)
{
    int levels = 1 + next(in) % 4;
    out[0] = 0;
    for (int i = 0; i < levels; i++) {
        if (i > 0)
            strcat(out, "/");
        strcat(out, words[next(in) % (filter ? 8 : 5)]);
    }
    if (out[0] == 0)
        strcpy(out, "c");
}

static mqtt_bytes_t B(const char *s)
{
    return (mqtt_bytes_t){(const uint8_t *)s, strlen(s)};
}

static int model_find(int s, const char *filter, const char *group)
{
    for (int i = 0; i < nmodel; i++)
        if (model[i].session == s && strcmp(model[i].filter, filter) == 0 &&
            strcmp(model[i].group, group) == 0)
            return i;
    return -1;
}

static void model_del(int i)
{
    model[i] = model[--nmodel];
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void check_match(topic_tree_t *t, tt_matches_t *m, const char *topic, int publisher)
{
    const void *pub = publisher < SESSIONS ? &sess[publisher] : NULL;
    int n = tt_match(t, B(topic), pub, m, NULL, NULL);
    if (n < 0)
        abort();
    /* Non-shared: per session, merged. */
    for (int s = 0; s < SESSIONS; s++) {
        int want_qos = -1;
        bool want_rap = false;
        uint32_t ids[MAX_SUBS];
        size_t nids = 0;
        for (int i = 0; i < nmodel; i++) {
            const msub_t *x = &model[i];
            if (x->session != s || x->group[0] || !mqtt_topic_matches(B(x->filter), B(topic)))
                continue;
            if ((x->opts & MQTT_SUBOPT_NO_LOCAL) && s == publisher)
                continue;
            if ((int)MQTT_SUBOPT_QOS(x->opts) > want_qos)
                want_qos = (int)MQTT_SUBOPT_QOS(x->opts);
            if (x->opts & MQTT_SUBOPT_RETAIN_AS_PUB)
                want_rap = true;
            if (x->id)
                ids[nids++] = x->id;
        }
        const tt_match_t *got = NULL;
        for (size_t r = 0; r < m->n; r++) {
            if (!m->v[r].shared && m->v[r].session == &sess[s]) {
                if (got != NULL)
                    abort(); /* two results for one session */
                got = &m->v[r];
            }
        }
        if ((got == NULL) != (want_qos < 0))
            abort();
        if (got == NULL)
            continue;
        if (got->qos != want_qos || got->retain_as_published != want_rap ||
            got->sub_id_count != nids)
            abort();
        if (nids == 0)
            continue;
        uint32_t gids[MAX_SUBS];
        memcpy(gids, got->sub_ids, nids * sizeof *gids);
        qsort(ids, nids, sizeof *ids, cmp_u32);
        qsort(gids, nids, sizeof *gids, cmp_u32);
        if (memcmp(ids, gids, nids * sizeof *ids) != 0)
            abort();
    }
    /* Shared: one result per matching (filter, group), from a member. */
    size_t want_shared = 0, got_shared = 0;
    for (int i = 0; i < nmodel; i++) {
        const msub_t *x = &model[i];
        if (!x->group[0] || !mqtt_topic_matches(B(x->filter), B(topic)))
            continue;
        bool first = true;
        for (int j = 0; j < i; j++)
            if (strcmp(model[j].group, x->group) == 0 && strcmp(model[j].filter, x->filter) == 0)
                first = false;
        want_shared += first;
    }
    for (size_t r = 0; r < m->n; r++) {
        if (!m->v[r].shared)
            continue;
        got_shared++;
        const tt_match_t *g = &m->v[r];
        bool member = false;
        for (int i = 0; i < nmodel && !member; i++) {
            const msub_t *x = &model[i];
            member = x->group[0] && &sess[x->session] == g->session &&
                     mqtt_topic_matches(B(x->filter), B(topic)) &&
                     g->qos == MQTT_SUBOPT_QOS(x->opts) && g->sub_id_count == (x->id ? 1u : 0u) &&
                     (!x->id || g->sub_ids[0] == x->id);
        }
        if (!member)
            abort();
    }
    if (want_shared != got_shared)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_t in = {data, size};
    topic_tree_t *t = tt_new();
    tt_matches_t m;
    tt_matches_init(&m);
    nmodel = 0;
    char name[64], full[80], group[8];
    while (in.n > 0) {
        uint8_t op = next(&in) % 5;
        int s = next(&in) % SESSIONS;
        switch (op) {
        case 0:
        case 1: { /* subscribe, plain or shared */
            build(&in, name, true);
            group[0] = 0;
            if (op == 1)
                snprintf(group, sizeof group, "g%d", next(&in) % 3);
            snprintf(full, sizeof full, "%s%s%s%s", op ? "$share/" : "", group, op ? "/" : "",
                     name);
            uint8_t opts = next(&in) & 0x0F;
            if ((opts & 3) == 3)
                opts &= ~3u;
            uint32_t id = next(&in) % 5;
            bool valid = mqtt_topic_filter_valid(B(full));
            bool replaced = false;
            int rc = tt_subscribe(t, &sess[s], B(full), opts, id, &replaced);
            if (rc != (valid ? TT_OK : TT_ERR_FILTER))
                abort();
            if (!valid)
                break;
            int i = model_find(s, name, group);
            if (replaced != (i >= 0))
                abort();
            if (i < 0) {
                if (nmodel == MAX_SUBS) {
                    tt_unsubscribe(t, &sess[s], B(full));
                    break;
                }
                i = nmodel++;
            }
            model[i].session = s;
            strcpy(model[i].filter, name);
            strcpy(model[i].group, group);
            model[i].opts = opts;
            model[i].id = id;
            break;
        }
        case 2: { /* unsubscribe */
            bool shared = next(&in) & 1;
            build(&in, name, true);
            group[0] = 0;
            if (shared)
                snprintf(group, sizeof group, "g%d", next(&in) % 3);
            snprintf(full, sizeof full, "%s%s%s%s", shared ? "$share/" : "", group,
                     shared ? "/" : "", name);
            if (!mqtt_topic_filter_valid(B(full)))
                break;
            int i = model_find(s, name, group);
            int rc = tt_unsubscribe(t, &sess[s], B(full));
            if (rc != (i >= 0 ? TT_OK : TT_ERR_NOT_FOUND))
                abort();
            if (i >= 0)
                model_del(i);
            break;
        }
        case 3: { /* session end */
            size_t want = 0;
            for (int i = nmodel - 1; i >= 0; i--) {
                if (model[i].session == s) {
                    model_del(i);
                    want++;
                }
            }
            if (tt_remove_session(t, &sess[s]) != want)
                abort();
            break;
        }
        default: /* publish */
            build(&in, name, false);
            check_match(t, &m, name, s == 0 ? SESSIONS : s);
            break;
        }
        if (tt_subscription_count(t) != (size_t)nmodel)
            abort();
    }
    for (int s = 0; s < SESSIONS; s++)
        tt_remove_session(t, &sess[s]);
    if (tt_node_count(t) != 1 || tt_subscription_count(t) != 0)
        abort();
    tt_matches_free(&m);
    tt_free(t);
    return 0;
}
