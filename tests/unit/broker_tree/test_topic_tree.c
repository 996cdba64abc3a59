/* The subscription tree: matching rules, merging, shared groups, pruning,
 * concurrency, and a randomized cross-check against the codec's matcher. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "broker/topic_tree.h"
#include "test.h"

static mqtt_bytes_t B(const char *s)
{
    mqtt_bytes_t b = {(const uint8_t *)s, strlen(s)};
    return b;
}

/* Sessions are opaque to the tree: any distinct addresses do. */
static char sess[64];
#define S(i) ((void *)&sess[i])

static tt_matches_t M;

static int match(topic_tree_t *t, const char *topic, const void *publisher)
{
    return tt_match(t, B(topic), publisher, &M, NULL, NULL);
}

static const tt_match_t *find(void *session)
{
    for (size_t i = 0; i < M.n; i++)
        if (M.v[i].session == session && !M.v[i].shared)
            return &M.v[i];
    return NULL;
}

static bool has_id(const tt_match_t *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->sub_id_count; i++)
        if (m->sub_ids[i] == id)
            return true;
    return false;
}

static int sub(topic_tree_t *t, int s, const char *filter, uint8_t opts, uint32_t id)
{
    return tt_subscribe(t, S(s), B(filter), opts, id, NULL);
}

/* Whether a single subscription `filter` matches `topic` in the tree. */
static bool tree_matches(const char *filter, const char *topic)
{
    topic_tree_t *t = tt_new();
    sub(t, 0, filter, 0, 0);
    int n = match(t, topic, NULL);
    tt_free(t);
    return n == 1;
}

TEST(exact_and_plus)
{
    CHECK(tree_matches("a/b", "a/b"));
    CHECK(!tree_matches("a/b", "a/c"));
    CHECK(!tree_matches("a/b", "a/b/c"));
    CHECK(!tree_matches("a/b", "a"));
    CHECK(tree_matches("a/+", "a/b"));
    CHECK(tree_matches("a/+", "a/"));
    CHECK(!tree_matches("a/+", "a/b/c"));
    CHECK(!tree_matches("a/+", "a"));
    CHECK(tree_matches("+", "a"));
    CHECK(!tree_matches("+", "a/b"));
    CHECK(tree_matches("+/+", "/a"));
    CHECK(tree_matches("a/+/c", "a/b/c"));
    CHECK(!tree_matches("a/+/c", "a/b/d"));
}

TEST(hash_wildcard)
{
    CHECK(tree_matches("a/#", "a"));
    CHECK(tree_matches("a/#", "a/b"));
    CHECK(tree_matches("a/#", "a/b/c"));
    CHECK(tree_matches("a/#", "a/"));
    CHECK(!tree_matches("a/#", "ab"));
    CHECK(!tree_matches("a/#", "b/a"));
    CHECK(tree_matches("#", "a"));
    CHECK(tree_matches("#", "/"));
    CHECK(tree_matches("#", "a/b/c"));
    CHECK(tree_matches("+/#", "a"));
    CHECK(tree_matches("a/+/#", "a/b"));
    CHECK(!tree_matches("a/+/#", "a"));
}

TEST(dollar_topics)
{
    CHECK(!tree_matches("#", "$SYS/x"));
    CHECK(!tree_matches("+/x", "$SYS/x"));
    CHECK(!tree_matches("+", "$SYS"));
    CHECK(!tree_matches("+/#", "$SYS/x"));
    CHECK(tree_matches("$SYS/#", "$SYS/x"));
    CHECK(tree_matches("$SYS/#", "$SYS"));
    CHECK(tree_matches("$SYS/+", "$SYS/x"));
    CHECK(tree_matches("$SYS/x", "$SYS/x"));
    CHECK(!tree_matches("$share/g/#", "$SYS/x"));
    /* Only the first level counts. */
    CHECK(tree_matches("a/+", "a/$x"));
    CHECK(tree_matches("#", "a/$x"));
}

TEST(empty_levels)
{
    CHECK(tree_matches("a//b", "a//b"));
    CHECK(tree_matches("a/+/b", "a//b"));
    CHECK(tree_matches("+/+/+", "a//b"));
    CHECK(!tree_matches("a/b", "a//b"));
    CHECK(!tree_matches("a//b", "a/b"));
    CHECK(tree_matches("/a", "/a"));
    CHECK(tree_matches("+/a", "/a"));
    CHECK(tree_matches("/+", "/a"));
    CHECK(tree_matches("/#", "/a"));
    CHECK(tree_matches("#", "/a"));
    CHECK(!tree_matches("a", "/a"));
    CHECK(!tree_matches("/a", "a"));
    CHECK(tree_matches("/", "/"));
    CHECK(tree_matches("+/+", "/"));
}

TEST(invalid_filters)
{
    topic_tree_t *t = tt_new();
    CHECK(t != NULL);
    const char *bad[] = {"a/#/b",     "a+",        "a/b#",        "+a/b",       "#/a", "$share/g",
                         "$share//a", "$share/g/", "$share/g+/a", "$share/#/a", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ_INT(sub(t, 0, bad[i], 0, 0), TT_ERR_FILTER);
    CHECK_EQ_INT(tt_subscription_count(t), 0);
    CHECK_EQ_INT(tt_node_count(t), 1);
    tt_free(t);
}

TEST(many_sessions_one_filter)
{
    topic_tree_t *t = tt_new();
    for (int i = 0; i < 64; i++)
        CHECK_EQ_INT(sub(t, i, "x/y", 1, 0), TT_OK);
    CHECK_EQ_INT(match(t, "x/y", NULL), 64);
    for (int i = 0; i < 64; i += 2)
        CHECK_EQ_INT(tt_unsubscribe(t, S(i), B("x/y")), TT_OK);
    CHECK_EQ_INT(match(t, "x/y", NULL), 32);
    for (int i = 1; i < 64; i += 2)
        CHECK(find(S(i)) != NULL);
    tt_free(t);
}

TEST(overlap_merges)
{
    topic_tree_t *t = tt_new();
    CHECK_EQ_INT(sub(t, 1, "a/#", 1, 11), TT_OK);
    CHECK_EQ_INT(sub(t, 1, "a/b", 2, 12), TT_OK);
    CHECK_EQ_INT(sub(t, 1, "+/b", 0 | MQTT_SUBOPT_RETAIN_AS_PUB, 0), TT_OK);
    CHECK_EQ_INT(sub(t, 1, "a/c", 0, 13), TT_OK);
    CHECK_EQ_INT(sub(t, 2, "a/b", 1, 21), TT_OK);
    CHECK_EQ_INT(match(t, "a/b", NULL), 2);
    const tt_match_t *m = find(S(1));
    CHECK(m != NULL);
    CHECK_EQ_INT(m->qos, 2);
    CHECK_EQ_INT(m->sub_id_count, 2);
    CHECK(has_id(m, 11) && has_id(m, 12));
    CHECK(m->retain_as_published);
    m = find(S(2));
    CHECK(m != NULL);
    CHECK_EQ_INT(m->qos, 1);
    CHECK_EQ_INT(m->sub_id_count, 1);
    CHECK_EQ_INT(m->sub_ids[0], 21);
    CHECK(!m->retain_as_published);

    /* Only one of session 1's subscriptions matches: still one result. */
    CHECK_EQ_INT(match(t, "a/c", NULL), 1);
    m = find(S(1));
    CHECK(m != NULL);
    CHECK_EQ_INT(m->qos, 1);
    CHECK_EQ_INT(m->sub_id_count, 2);
    CHECK(has_id(m, 11) && has_id(m, 13));

    /* Down to one subscription again: the single path. */
    CHECK_EQ_INT(tt_unsubscribe(t, S(1), B("a/b")), TT_OK);
    CHECK_EQ_INT(tt_unsubscribe(t, S(1), B("+/b")), TT_OK);
    CHECK_EQ_INT(tt_unsubscribe(t, S(1), B("a/c")), TT_OK);
    CHECK_EQ_INT(match(t, "a/b", NULL), 2);
    m = find(S(1));
    CHECK(m != NULL && m->qos == 1 && m->sub_id_count == 1 && m->sub_ids[0] == 11);
    tt_free(t);
}

TEST(no_local)
{
    topic_tree_t *t = tt_new();
    CHECK_EQ_INT(sub(t, 1, "a/#", 2 | MQTT_SUBOPT_NO_LOCAL, 1), TT_OK);
    CHECK_EQ_INT(sub(t, 1, "a/b", 0, 2), TT_OK);
    CHECK_EQ_INT(sub(t, 2, "a/b", 1 | MQTT_SUBOPT_NO_LOCAL, 3), TT_OK);
    /* Published by session 1: its No Local subscription does not count. */
    CHECK_EQ_INT(match(t, "a/b", S(1)), 2);
    const tt_match_t *m = find(S(1));
    CHECK(m != NULL && m->qos == 0 && m->sub_id_count == 1 && m->sub_ids[0] == 2);
    CHECK(find(S(2)) != NULL);
    /* Only the No Local subscription matches: nothing for session 1. */
    CHECK_EQ_INT(match(t, "a/x", S(1)), 0);
    /* Published by session 2. */
    CHECK_EQ_INT(match(t, "a/b", S(2)), 1);
    m = find(S(1));
    CHECK(m != NULL && m->qos == 2 && m->sub_id_count == 2);
    /* Published by someone else. */
    CHECK_EQ_INT(match(t, "a/b", NULL), 2);
    tt_free(t);
}

TEST(replaced_flag)
{
    topic_tree_t *t = tt_new();
    bool replaced = true;
    CHECK_EQ_INT(tt_subscribe(t, S(1), B("a/+"), 0, 5, &replaced), TT_OK);
    CHECK(!replaced);
    CHECK_EQ_INT(tt_subscribe(t, S(1), B("a/+"), 2, 6, &replaced), TT_OK);
    CHECK(replaced);
    CHECK_EQ_INT(tt_subscribe(t, S(2), B("a/+"), 1, 0, &replaced), TT_OK);
    CHECK(!replaced);
    CHECK_EQ_INT(tt_subscribe(t, S(1), B("$share/g/a/+"), 1, 0, &replaced), TT_OK);
    CHECK(!replaced);
    CHECK_EQ_INT(tt_subscribe(t, S(1), B("$share/g/a/+"), 2, 0, &replaced), TT_OK);
    CHECK(replaced);
    CHECK_EQ_INT(tt_subscribe(t, S(1), B("$share/h/a/+"), 2, 0, &replaced), TT_OK);
    CHECK(!replaced);
    CHECK_EQ_INT(tt_subscription_count(t), 4);
    CHECK_EQ_INT(match(t, "a/x", NULL), 4);
    const tt_match_t *m = find(S(1));
    CHECK(m != NULL && m->qos == 2 && m->sub_id_count == 1 && m->sub_ids[0] == 6);
    tt_free(t);
}

TEST(shared_round_robin)
{
    topic_tree_t *t = tt_new();
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(sub(t, i, "$share/g/a/#", 1, 0), TT_OK);
    CHECK_EQ_INT(sub(t, 3, "$share/h/a/b", 0, 7), TT_OK);
    CHECK_EQ_INT(sub(t, 0, "a/b", 2, 0), TT_OK);
    int counts[4] = {0};
    int plain = 0;
    for (int k = 0; k < 300; k++) {
        CHECK_EQ_INT(match(t, "a/b", NULL), 3);
        for (size_t i = 0; i < M.n; i++) {
            if (!M.v[i].shared) {
                CHECK(M.v[i].session == S(0) && M.v[i].qos == 2);
                plain++;
                continue;
            }
            counts[(char *)M.v[i].session - sess]++;
        }
    }
    CHECK_EQ_INT(plain, 300);
    CHECK_EQ_INT(counts[0], 100);
    CHECK_EQ_INT(counts[1], 100);
    CHECK_EQ_INT(counts[2], 100);
    CHECK_EQ_INT(counts[3], 300);
    /* Group h carries its member's subscription identifier. */
    CHECK_EQ_INT(match(t, "a/b", NULL), 3);
    for (size_t i = 0; i < M.n; i++)
        if (M.v[i].session == S(3))
            CHECK(M.v[i].sub_id_count == 1 && M.v[i].sub_ids[0] == 7);
    /* Leaving the group: the others share everything. */
    CHECK_EQ_INT(tt_unsubscribe(t, S(1), B("$share/g/a/#")), TT_OK);
    CHECK_EQ_INT(tt_unsubscribe(t, S(1), B("$share/g/a/#")), TT_ERR_NOT_FOUND);
    CHECK_EQ_INT(tt_unsubscribe(t, S(1), B("$share/zz/a/#")), TT_ERR_NOT_FOUND);
    memset(counts, 0, sizeof counts);
    for (int k = 0; k < 100; k++) {
        match(t, "a/x", NULL);
        CHECK_EQ_INT(M.n, 1);
        counts[(char *)M.v[0].session - sess]++;
    }
    CHECK_EQ_INT(counts[0], 50);
    CHECK_EQ_INT(counts[2], 50);
    tt_free(t);
}

static bool online[8];
static bool prefer_online(void *session)
{
    return online[(char *)session - sess];
}

TEST(shared_prefers_online)
{
    topic_tree_t *t = tt_new();
    tt_set_share_preference(t, prefer_online);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(sub(t, i, "$share/g/t", 1, 0), TT_OK);
    memset(online, 0, sizeof online);
    online[1] = online[3] = true;
    int counts[4] = {0};
    for (int k = 0; k < 200; k++) {
        CHECK_EQ_INT(match(t, "t", NULL), 1);
        counts[(char *)M.v[0].session - sess]++;
    }
    CHECK_EQ_INT(counts[0] + counts[2], 0);
    CHECK(counts[1] >= 80 && counts[3] >= 80);
    /* Nobody online: round robin over everyone. */
    memset(online, 0, sizeof online);
    memset(counts, 0, sizeof counts);
    for (int k = 0; k < 200; k++) {
        CHECK_EQ_INT(match(t, "t", NULL), 1);
        counts[(char *)M.v[0].session - sess]++;
    }
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(counts[i], 50);
    tt_free(t);
}

TEST(unsubscribe_prunes)
{
    topic_tree_t *t = tt_new();
    CHECK_EQ_INT(tt_node_count(t), 1);
    CHECK_EQ_INT(sub(t, 1, "a/b/c/d", 0, 0), TT_OK);
    CHECK_EQ_INT(tt_node_count(t), 5);
    CHECK_EQ_INT(sub(t, 2, "a/b/x", 0, 0), TT_OK);
    CHECK_EQ_INT(sub(t, 2, "a/+/#", 0, 0), TT_OK);
    CHECK_EQ_INT(sub(t, 3, "$share/g/a/b/c", 0, 0), TT_OK);
    CHECK_EQ_INT(tt_node_count(t), 8);
    CHECK_EQ_INT(tt_unsubscribe(t, S(1), B("a/b/c")), TT_ERR_NOT_FOUND);
    CHECK_EQ_INT(tt_unsubscribe(t, S(2), B("a/b/c/d")), TT_ERR_NOT_FOUND);
    CHECK_EQ_INT(tt_unsubscribe(t, S(1), B("a/b/c/d")), TT_OK);
    CHECK_EQ_INT(tt_node_count(t), 7); /* c stays for the shared group */
    CHECK_EQ_INT(tt_unsubscribe(t, S(3), B("$share/g/a/b/c")), TT_OK);
    CHECK_EQ_INT(tt_node_count(t), 6);
    CHECK_EQ_INT(tt_remove_session(t, S(2)), 2);
    CHECK_EQ_INT(tt_remove_session(t, S(2)), 0);
    CHECK_EQ_INT(tt_node_count(t), 1);
    CHECK_EQ_INT(tt_subscription_count(t), 0);
    CHECK_EQ_INT(match(t, "a/b/x", NULL), 0);
    tt_free(t);
}

TEST(remove_session_many)
{
    topic_tree_t *t = tt_new();
    char filter[32];
    for (int i = 0; i < 500; i++) {
        snprintf(filter, sizeof filter, "f/%d/+", i % 50);
        CHECK_EQ_INT(sub(t, i % 7, filter, (uint8_t)(i % 3), (uint32_t)i + 1), TT_OK);
        snprintf(filter, sizeof filter, "$share/g%d/f/%d/#", i % 3, i % 50);
        CHECK_EQ_INT(sub(t, i % 7, filter, 0, 0), TT_OK);
    }
    size_t total = tt_subscription_count(t);
    size_t removed = 0;
    for (int s = 0; s < 7; s++)
        removed += tt_remove_session(t, S(s));
    CHECK_EQ_INT(removed, total);
    CHECK_EQ_INT(tt_node_count(t), 1);
    tt_free(t);
}

TEST(many_siblings)
{
    /* Thousands of children of one node, removed in a scrambled order:
     * every survivor must stay findable (hash table deletion), and the
     * node count must track exactly. */
    enum { N = 3000 };
    static int order[N];
    char f[32];
    topic_tree_t *t = tt_new();
    for (int i = 0; i < N; i++) {
        snprintf(f, sizeof f, "s/%d", i);
        CHECK_EQ_INT(tt_subscribe(t, S(i % 64), B(f), 0, (uint32_t)i + 1, NULL), TT_OK);
        order[i] = i;
    }
    CHECK_EQ_INT(tt_node_count(t), 2 + N);
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(((uint64_t)i * 2654435761u + 17) % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (int k = 0; k < N; k++) {
        int i = order[k];
        snprintf(f, sizeof f, "s/%d", i);
        CHECK_EQ_INT(tt_unsubscribe(t, S(i % 64), B(f)), TT_OK);
        if (k % 97 == 0) {
            for (int m = k + 1; m < N; m++) {
                snprintf(f, sizeof f, "s/%d", order[m]);
                CHECK_EQ_INT(match(t, f, NULL), 1);
                CHECK_EQ_INT(M.v[0].sub_ids[0], (uint32_t)order[m] + 1);
            }
            snprintf(f, sizeof f, "s/%d", i);
            CHECK_EQ_INT(match(t, f, NULL), 0);
        }
    }
    CHECK_EQ_INT(tt_node_count(t), 1);
    tt_free(t);
}

TEST(big_session_and_big_filter)
{
    /* One session with many filters, one filter with many sessions: replace
     * and unsubscribe look in the shorter list, so this stays linear. */
    enum { N = 20000 };
    static char many[N];
    char f[32];
    topic_tree_t *t = tt_new();
    bool replaced;
    for (int i = 0; i < N; i++) {
        snprintf(f, sizeof f, "own/%d", i);
        CHECK_EQ_INT(tt_subscribe(t, S(1), B(f), 1, 0, &replaced), TT_OK);
        CHECK(!replaced);
        CHECK_EQ_INT(tt_subscribe(t, &many[i], B("all"), 0, 0, &replaced), TT_OK);
        CHECK(!replaced);
    }
    CHECK_EQ_INT(tt_subscribe(t, S(1), B("own/7"), 2, 9, &replaced), TT_OK);
    CHECK(replaced);
    CHECK_EQ_INT(tt_subscribe(t, &many[5], B("all"), 1, 0, &replaced), TT_OK);
    CHECK(replaced);
    CHECK_EQ_INT(tt_subscribe(t, S(1), B("all"), 1, 0, &replaced), TT_OK);
    CHECK(!replaced);
    CHECK_EQ_INT(match(t, "all", NULL), N + 1);
    CHECK_EQ_INT(match(t, "own/7", NULL), 1);
    CHECK(M.v[0].qos == 2 && M.v[0].sub_ids[0] == 9);
    for (int i = 0; i < N; i += 2) {
        snprintf(f, sizeof f, "own/%d", i);
        CHECK_EQ_INT(tt_unsubscribe(t, S(1), B(f)), TT_OK);
        CHECK_EQ_INT(tt_unsubscribe(t, &many[i], B("all")), TT_OK);
    }
    CHECK_EQ_INT(tt_subscription_count(t), N + 1);
    CHECK_EQ_INT(tt_remove_session(t, S(1)), N / 2 + 1);
    for (int i = 1; i < N; i += 2)
        CHECK_EQ_INT(tt_remove_session(t, &many[i]), 1);
    CHECK_EQ_INT(tt_node_count(t), 1);
    tt_free(t);
}

TEST(level_lengths)
{
    /* Levels of every length up to 40, and for each all variants with one
     * byte changed: each is found, and only by itself (the word-wise
     * hashing and comparison must see every byte). */
    topic_tree_t *t = tt_new();
    char f[64];
    uint32_t id = 1;
    for (int len = 0; len <= 40; len++) {
        for (int pos = -1; pos < len; pos++) {
            memset(f, 'a', (size_t)len);
            if (pos >= 0)
                f[pos] = 'b';
            memcpy(f + len, "/z", 3);
            CHECK_EQ_INT(tt_subscribe(t, S(0), B(f), 0, id++, NULL), TT_OK);
        }
    }
    id = 1;
    for (int len = 0; len <= 40; len++) {
        for (int pos = -1; pos < len; pos++) {
            memset(f, 'a', (size_t)len);
            if (pos >= 0)
                f[pos] = 'b';
            memcpy(f + len, "/z", 3);
            CHECK_EQ_INT(match(t, f, NULL), 1);
            CHECK_EQ_INT(M.v[0].sub_id_count, 1);
            CHECK_EQ_INT(M.v[0].sub_ids[0], id);
            id++;
        }
    }
    tt_free(t);
}

TEST(deep_topic)
{
    /* 32767 levels: matching and teardown must not recurse. */
    size_t len = 65535;
    char *deep = malloc(len + 1);
    CHECK(deep != NULL);
    for (size_t i = 0; i < len; i++)
        deep[i] = (i % 2) ? '/' : '+';
    deep[len] = 0;
    topic_tree_t *t = tt_new();
    CHECK_EQ_INT(tt_subscribe(t, S(1), (mqtt_bytes_t){(const uint8_t *)deep, len}, 1, 0, NULL),
                 TT_OK);
    for (size_t i = 0; i < len; i += 2)
        deep[i] = 'x';
    CHECK_EQ_INT(tt_match(t, (mqtt_bytes_t){(const uint8_t *)deep, len}, NULL, &M, NULL, NULL), 1);
    CHECK_EQ_INT(tt_node_count(t), 32769);
    tt_free(t);
    free(deep);
}

typedef struct {
    int n;
    void *first;
} visit_t;

static void count_visit(void *arg, const tt_match_t *m)
{
    visit_t *v = arg;
    if (v->n++ == 0)
        v->first = m->session;
}

TEST(visit_callback)
{
    topic_tree_t *t = tt_new();
    CHECK_EQ_INT(sub(t, 4, "v", 0, 0), TT_OK);
    visit_t v = {0, NULL};
    CHECK_EQ_INT(tt_match(t, B("v"), NULL, &M, count_visit, &v), 1);
    CHECK_EQ_INT(v.n, 1);
    CHECK(v.first == S(4));
    tt_free(t);
}

TEST(shared_filter_parse)
{
    mqtt_bytes_t g, in;
    CHECK(tt_filter_is_shared(B("$share/grp/a/b"), &g, &in));
    CHECK(g.len == 3 && memcmp(g.data, "grp", 3) == 0);
    CHECK(in.len == 3 && memcmp(in.data, "a/b", 3) == 0);
    CHECK(!tt_filter_is_shared(B("$share/grp"), &g, &in));
    CHECK(!tt_filter_is_shared(B("$shared/grp/a"), &g, &in));
    CHECK(!tt_filter_is_shared(B("a/b"), &g, &in));
}

/* ---- randomized cross-check against mqtt_topic_matches ---- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const level_words[] = {"a", "b", "c", "", "$x", "ab"};

static void random_name(char *out, bool filter)
{
    int n = 1 + (int)rnd(4);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, "/");
        uint32_t r = rnd(filter ? 9 : 6);
        if (filter && r == 6) {
            strcat(out, "+");
        } else if (filter && r >= 7) {
            strcat(out, "#");
            return;
        } else {
            strcat(out, level_words[r]);
        }
    }
    if (out[0] == 0)
        strcpy(out, "c"); /* empty names are invalid */
}

#define XS_SESSIONS 40
#define XS_FILTERS  300

TEST(random_cross_check)
{
    static char filters[XS_FILTERS][32];
    static int owner[XS_FILTERS];
    static uint8_t qos[XS_FILTERS];
    topic_tree_t *t = tt_new();
    for (int i = 0; i < XS_FILTERS; i++) {
        random_name(filters[i], true);
        owner[i] = (int)rnd(XS_SESSIONS);
        qos[i] = (uint8_t)rnd(3);
        bool replaced;
        CHECK(mqtt_topic_filter_valid(B(filters[i])));
        CHECK_EQ_INT(
            tt_subscribe(t, S(owner[i]), B(filters[i]), qos[i], (uint32_t)i + 1, &replaced), TT_OK);
        if (replaced) {
            /* Same session, same filter: the older one is gone. */
            for (int j = 0; j < i; j++)
                if (owner[j] == owner[i] && strcmp(filters[j], filters[i]) == 0)
                    owner[j] = -1;
        }
    }
    char topic[32];
    for (int k = 0; k < 2000; k++) {
        random_name(topic, false);
        CHECK(mqtt_topic_name_valid(B(topic)));
        int want_qos[XS_SESSIONS];
        int want_ids[XS_SESSIONS];
        int want_n = 0;
        for (int s = 0; s < XS_SESSIONS; s++)
            want_qos[s] = -1, want_ids[s] = 0;
        for (int i = 0; i < XS_FILTERS; i++) {
            if (owner[i] < 0 || !mqtt_topic_matches(B(filters[i]), B(topic)))
                continue;
            if (want_qos[owner[i]] < 0)
                want_n++;
            if (qos[i] > want_qos[owner[i]])
                want_qos[owner[i]] = qos[i];
            want_ids[owner[i]]++;
        }
        CHECK_EQ_INT(match(t, topic, NULL), want_n);
        for (size_t r = 0; r < M.n; r++) {
            int s = (int)((char *)M.v[r].session - sess);
            CHECK(s >= 0 && s < XS_SESSIONS);
            CHECK_EQ_INT(M.v[r].qos, want_qos[s]);
            CHECK_EQ_INT(M.v[r].sub_id_count, want_ids[s]);
            for (uint32_t j = 0; j < M.v[r].sub_id_count; j++) {
                int f = (int)M.v[r].sub_ids[j] - 1;
                CHECK(owner[f] == s && mqtt_topic_matches(B(filters[f]), B(topic)));
            }
        }
    }
    for (int s = 0; s < XS_SESSIONS; s++)
        tt_remove_session(t, S(s));
    CHECK_EQ_INT(tt_node_count(t), 1);
    tt_free(t);
}

/* ---- concurrency ---- */

typedef struct {
    topic_tree_t *t;
    int id;
    long matches;
} worker_t;

static const char *const mt_filters[] = {"m/+/x",          "m/#",   "m/a/x",
                                         "$share/g/m/+/x", "+/a/#", "m/b/+"};
static const char *const mt_topics[] = {"m/a/x", "m/b/x", "m/b/y", "q/a/z", "m"};

static void *reader(void *arg)
{
    worker_t *w = arg;
    tt_matches_t m;
    tt_matches_init(&m);
    for (int i = 0; i < 20000; i++) {
        const char *topic = mt_topics[(i + w->id) % 5];
        int n = tt_match(w->t, B(topic), NULL, &m, NULL, NULL);
        if (n >= 0)
            w->matches += n;
    }
    tt_matches_free(&m);
    return NULL;
}

static void *writer(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 4000; i++) {
        int s = 8 + w->id * 16 + i % 16;
        const char *f = mt_filters[(i / 16 + w->id) % 6];
        if ((i / 16) % 3 == 2)
            tt_unsubscribe(w->t, S(s), B(f));
        else
            tt_subscribe(w->t, S(s), B(f), (uint8_t)(i % 3), (uint32_t)i, NULL);
        if (i % 500 == 499)
            tt_remove_session(w->t, S(s));
    }
    return NULL;
}

TEST(threads)
{
    topic_tree_t *t = tt_new();
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){t, i % 2, 0};
        CHECK_EQ_INT(pthread_create(&th[i], NULL, i < 2 ? reader : writer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int s = 8; s < 8 + 32; s++)
        tt_remove_session(t, S(s));
    CHECK_EQ_INT(tt_subscription_count(t), 0);
    CHECK_EQ_INT(tt_node_count(t), 1);
    tt_free(t);
}

int main(void)
{
    tt_matches_init(&M);
    RUN(exact_and_plus);
    RUN(hash_wildcard);
    RUN(dollar_topics);
    RUN(empty_levels);
    RUN(invalid_filters);
    RUN(many_sessions_one_filter);
    RUN(overlap_merges);
    RUN(no_local);
    RUN(replaced_flag);
    RUN(shared_round_robin);
    RUN(shared_prefers_online);
    RUN(unsubscribe_prunes);
    RUN(remove_session_many);
    RUN(many_siblings);
    RUN(big_session_and_big_filter);
    RUN(level_lengths);
    RUN(deep_topic);
    RUN(visit_callback);
    RUN(shared_filter_parse);
    RUN(random_cross_check);
    RUN(threads);
    tt_matches_free(&M);
    return TEST_REPORT();
}
