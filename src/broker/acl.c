/* Mosquitto ACL files: loading and checks. Semantics in acl.h. */
#include "broker/acl.h"

#include "mqtt/mqtt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACL__MAX_LINE (64 * 1024)
#define ACL__DENY     0 /* access of a deny rule */

typedef struct {
    char *topic;
    size_t len;
    int access; /* ACL_READ|ACL_WRITE, or ACL__DENY */
    bool has_c; /* patterns: contains %c / %u */
    bool has_u;
} acl__rule_t;

typedef struct {
    acl__rule_t *items;
    size_t count, cap;
} acl__rules_t;

typedef struct {
    char *name;
    acl__rules_t rules;
} acl__user_t;

struct acl {
    atomic_int refs;
    acl__rules_t anonymous;
    acl__user_t *users; /* sorted by name after load */
    size_t user_count, user_cap;
    acl__rules_t patterns;
    bool patterns_use_c, patterns_use_u;
};

/* ---- filter relations (level by level, no allocation) -------------------- */

typedef struct {
    const char *s;
    size_t len, pos;
    bool done; /* every level consumed */
} acl__levels_t;

static void acl__levels_init(acl__levels_t *l, const char *s, size_t len)
{
    l->s = s;
    l->len = len;
    l->pos = 0;
    l->done = false;
}

/* The current level as (start, length). */
static size_t acl__level(const acl__levels_t *l, const char **start)
{
    const char *p = l->s + l->pos;
    const char *slash = memchr(p, '/', l->len - l->pos);
    *start = p;
    return slash != NULL ? (size_t)(slash - p) : l->len - l->pos;
}

static void acl__level_next(acl__levels_t *l)
{
    const char *start;
    size_t n = acl__level(l, &start);
    if (l->pos + n >= l->len) {
        l->done = true;
    } else {
        l->pos += n + 1;
    }
}

static bool acl__is(const char *lv, size_t n, char c)
{
    return n == 1 && lv[0] == c;
}

static bool acl__dollar(const char *s, size_t len)
{
    return len > 0 && s[0] == '$';
}

bool acl_filters_overlap(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen == 0 || blen == 0 || acl__dollar(a, alen) != acl__dollar(b, blen)) {
        return false;
    }
    acl__levels_t x, y;
    acl__levels_init(&x, a, alen);
    acl__levels_init(&y, b, blen);
    for (;;) {
        const char *xs = NULL, *ys = NULL;
        size_t xn = x.done ? 0 : acl__level(&x, &xs);
        size_t yn = y.done ? 0 : acl__level(&y, &ys);
        if (x.done && y.done) {
            return true;
        }
        /* '#' matches the rest, zero levels included. */
        if ((!x.done && acl__is(xs, xn, '#')) || (!y.done && acl__is(ys, yn, '#'))) {
            return true;
        }
        if (x.done || y.done) {
            return false;
        }
        if (!acl__is(xs, xn, '+') && !acl__is(ys, yn, '+') &&
            (xn != yn || memcmp(xs, ys, xn) != 0)) {
            return false;
        }
        acl__level_next(&x);
        acl__level_next(&y);
    }
}

bool acl_filter_covers(const char *outer, size_t olen, const char *inner, size_t ilen)
{
    if (olen == 0 || ilen == 0 || acl__dollar(outer, olen) != acl__dollar(inner, ilen)) {
        return false;
    }
    acl__levels_t o, i;
    acl__levels_init(&o, outer, olen);
    acl__levels_init(&i, inner, ilen);
    for (;;) {
        const char *os = NULL, *is = NULL;
        size_t on = o.done ? 0 : acl__level(&o, &os);
        size_t in = i.done ? 0 : acl__level(&i, &is);
        if (!o.done && acl__is(os, on, '#')) {
            return true;
        }
        if (o.done || i.done) {
            return o.done && i.done;
        }
        if (acl__is(is, in, '#')) {
            return false;
        }
        if (!acl__is(os, on, '+')) {
            if (acl__is(is, in, '+') || on != in || memcmp(os, is, on) != 0) {
                return false;
            }
        }
        acl__level_next(&o);
        acl__level_next(&i);
    }
}

/* A rule matching a topic name, with the rule that '$' topics need '$' rules. */
static bool acl__matches(const char *rule, size_t rlen, const char *topic, size_t tlen)
{
    if (tlen == 0 || rlen == 0 || (topic[0] == '$' && rule[0] != '$')) {
        return false;
    }
    mqtt_bytes_t f = {(const uint8_t *)rule, rlen};
    mqtt_bytes_t t = {(const uint8_t *)topic, tlen};
    return mqtt_topic_matches(f, t);
}

/* ---- loading --------------------------------------------------------------- */

static int acl__fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int acl__fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
    int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", path, line)
                     : snprintf(err, errlen, "%s: ", path);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void acl__rules_free(acl__rules_t *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->items[i].topic);
    }
    free(r->items);
    memset(r, 0, sizeof(*r));
}

static void acl__free(acl_t *acl)
{
    if (acl == NULL) {
        return;
    }
    acl__rules_free(&acl->anonymous);
    acl__rules_free(&acl->patterns);
    for (size_t i = 0; i < acl->user_count; i++) {
        free(acl->users[i].name);
        acl__rules_free(&acl->users[i].rules);
    }
    free(acl->users);
    free(acl);
}

static int acl__rules_add(acl__rules_t *r, const char *topic, int access)
{
    if (r->count == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 8;
        acl__rule_t *grown = realloc(r->items, ncap * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        r->items = grown;
        r->cap = ncap;
    }
    acl__rule_t *rule = &r->items[r->count];
    rule->topic = strdup(topic);
    if (rule->topic == NULL) {
        return -1;
    }
    rule->len = strlen(topic);
    rule->access = access;
    rule->has_c = strstr(topic, "%c") != NULL;
    rule->has_u = strstr(topic, "%u") != NULL;
    r->count++;
    return 0;
}

/* The rules of `name`, creating the section; repeated sections merge. */
static acl__rules_t *acl__user_rules(acl_t *acl, const char *name)
{
    for (size_t i = 0; i < acl->user_count; i++) {
        if (strcmp(acl->users[i].name, name) == 0) {
            return &acl->users[i].rules;
        }
    }
    if (acl->user_count == acl->user_cap) {
        size_t ncap = acl->user_cap ? acl->user_cap * 2 : 8;
        acl__user_t *grown = realloc(acl->users, ncap * sizeof(*grown));
        if (grown == NULL) {
            return NULL;
        }
        acl->users = grown;
        acl->user_cap = ncap;
    }
    acl__user_t *u = &acl->users[acl->user_count];
    memset(u, 0, sizeof(*u));
    u->name = strdup(name);
    if (u->name == NULL) {
        return NULL;
    }
    acl->user_count++;
    return &u->rules;
}

static char *acl__trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    return s;
}

static char *acl__token(char **rest)
{
    char *s = *rest;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0') {
        *rest = s;
        return NULL;
    }
    char *start = s;
    while (*s != '\0' && *s != ' ' && *s != '\t') {
        s++;
    }
    if (*s != '\0') {
        *s++ = '\0';
    }
    *rest = s;
    return start;
}

static int acl__user_cmp(const void *x, const void *y)
{
    return strcmp(((const acl__user_t *)x)->name, ((const acl__user_t *)y)->name);
}

/* One line; `current` is the rules list `topic` lines go to. */
static int acl__parse_line(acl_t *acl, acl__rules_t **current, char *line, const char **reason,
                           const char **detail)
{
    char *rest = acl__trim(line);
    char *kw = acl__token(&rest);
    if (kw == NULL || kw[0] == '#') {
        return 0;
    }
    if (strcmp(kw, "user") == 0) {
        char *name = acl__trim(rest);
        if (*name == '\0') {
            *reason = "user needs a username";
            return -1;
        }
        *current = acl__user_rules(acl, name);
        if (*current == NULL) {
            *reason = "out of memory";
            return -1;
        }
        return 0;
    }
    bool pattern = strcmp(kw, "pattern") == 0;
    if (!pattern && strcmp(kw, "topic") != 0) {
        *reason = "expected topic, pattern or user, not";
        *detail = kw;
        return -1;
    }
    char *first = acl__token(&rest);
    if (first == NULL) {
        *reason = pattern ? "pattern needs a topic" : "topic needs a topic";
        return -1;
    }
    char *topic = acl__trim(rest);
    int access = ACL_READ | ACL_WRITE;
    if (*topic == '\0') {
        topic = first; /* no access word: the whole rest is the topic */
    } else if (strcmp(first, "read") == 0) {
        access = ACL_READ;
    } else if (strcmp(first, "write") == 0) {
        access = ACL_WRITE;
    } else if (strcmp(first, "readwrite") == 0) {
        access = ACL_READ | ACL_WRITE;
    } else if (strcmp(first, "deny") == 0) {
        access = ACL__DENY;
    } else {
        *reason = "invalid access type (expected read, write, readwrite or deny):";
        *detail = first;
        return -1;
    }
    mqtt_bytes_t f = {(const uint8_t *)topic, strlen(topic)};
    if (!mqtt_topic_filter_valid(f)) {
        *reason = "invalid topic filter:";
        *detail = topic;
        return -1;
    }
    acl__rules_t *target = pattern ? &acl->patterns : *current;
    if (acl__rules_add(target, topic, access) != 0) {
        *reason = "out of memory";
        return -1;
    }
    if (pattern) {
        acl->patterns_use_c |= target->items[target->count - 1].has_c;
        acl->patterns_use_u |= target->items[target->count - 1].has_u;
    }
    return 0;
}

int acl_load(const char *path, acl_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return acl__fail(err, errlen, path, 0, "cannot open: %s", strerror(errno));
    }
    int rc = acl_load_stream(f, path, out, err, errlen);
    fclose(f);
    return rc;
}

int acl_load_stream(FILE *f, const char *path, acl_t **out, char *err, size_t errlen)
{
    *out = NULL;
    acl_t *acl = calloc(1, sizeof(*acl));
    if (acl == NULL) {
        return acl__fail(err, errlen, path, 0, "out of memory");
    }
    atomic_init(&acl->refs, 1);
    acl__rules_t *current = &acl->anonymous;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int line = 0, rc = 0;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        line++;
        if ((size_t)n > ACL__MAX_LINE || (size_t)n != strlen(buf)) {
            rc = acl__fail(err, errlen, path, line, "line too long or contains a NUL byte");
            break;
        }
        const char *reason = NULL, *detail = NULL;
        if (acl__parse_line(acl, &current, buf, &reason, &detail) != 0) {
            rc = detail != NULL ? acl__fail(err, errlen, path, line, "%s '%s'", reason, detail)
                                : acl__fail(err, errlen, path, line, "%s", reason);
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        rc = acl__fail(err, errlen, path, line, "read error");
    }
    free(buf);
    if (rc != 0) {
        acl__free(acl);
        return -1;
    }
    /* Sections were merged while loading, so names are unique; the rules
     * lists moved with their users, and `current` is no longer used. */
    if (acl->user_count > 1) {
        qsort(acl->users, acl->user_count, sizeof(*acl->users), acl__user_cmp);
    }
    *out = acl;
    return 0;
}

/* No rules: every check is denied. Static, never freed. */
static acl_t acl__deny_all_instance;

const acl_t *acl_deny_all(void)
{
    return &acl__deny_all_instance;
}

acl_t *acl_ref(acl_t *acl)
{
    if (acl != NULL && acl != &acl__deny_all_instance) {
        atomic_fetch_add(&acl->refs, 1);
    }
    return acl;
}

void acl_unref(acl_t *acl)
{
    if (acl != NULL && acl != &acl__deny_all_instance && atomic_fetch_sub(&acl->refs, 1) == 1) {
        acl__free(acl);
    }
}

/* ---- checks ----------------------------------------------------------------- */

static const acl__rules_t *acl__rules_for(const acl_t *acl, const char *username)
{
    if (username == NULL) {
        return &acl->anonymous;
    }
    size_t lo = 0, hi = acl->user_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(username, acl->users[mid].name);
        if (c == 0) {
            return &acl->users[mid].rules;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/* How a pattern's substitutions stand for this client. */
typedef enum { ACL__PAT_OK, ACL__PAT_SKIP, ACL__PAT_DENY_ALL } acl__pat_state_t;

static acl__pat_state_t acl__patterns_usable(const acl_t *acl, const char *client_id,
                                             const char *username)
{
    if (client_id == NULL) {
        return ACL__PAT_DENY_ALL;
    }
    if (strpbrk(client_id, "+#") != NULL || (username != NULL && strpbrk(username, "+#"))) {
        return ACL__PAT_DENY_ALL;
    }
    if ((acl->patterns_use_c && strchr(client_id, '/') != NULL) ||
        (acl->patterns_use_u && username != NULL && strchr(username, '/') != NULL)) {
        return ACL__PAT_DENY_ALL;
    }
    return ACL__PAT_OK;
}

/*
 * Substitutes %c and %u of a pattern into buf (or a heap buffer when it is
 * too small; *heap is then set and the caller frees it). NULL when the
 * pattern does not apply (%u without a username) or memory runs out.
 */
static const char *acl__expand(const acl__rule_t *rule, const char *client_id, const char *username,
                               char *buf, size_t bufsize, size_t *len, char **heap)
{
    *heap = NULL;
    if (!rule->has_c && !rule->has_u) {
        *len = rule->len;
        return rule->topic;
    }
    if (rule->has_u && username == NULL) {
        return NULL;
    }
    size_t clen = strlen(client_id), ulen = username != NULL ? strlen(username) : 0;
    size_t extra = clen > ulen ? clen : ulen;
    size_t need = rule->len + (rule->len / 2 + 1) * extra + 1;
    char *out = buf;
    if (need > bufsize) {
        out = *heap = malloc(need);
        if (out == NULL) {
            return NULL;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < rule->len; i++) {
        if (rule->topic[i] == '%' && i + 1 < rule->len && rule->topic[i + 1] == 'c') {
            memcpy(out + o, client_id, clen);
            o += clen;
            i++;
        } else if (rule->topic[i] == '%' && i + 1 < rule->len && rule->topic[i + 1] == 'u') {
            memcpy(out + o, username, ulen);
            o += ulen;
            i++;
        } else {
            out[o++] = rule->topic[i];
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* 1 allow, 0 deny, -1 no rule decided. */
static int acl__decide_list(const acl__rules_t *rules, const char *topic, size_t tlen, int access)
{
    if (rules == NULL) {
        return -1;
    }
    for (size_t i = 0; i < rules->count; i++) {
        const acl__rule_t *r = &rules->items[i];
        if (r->access == ACL__DENY && acl__matches(r->topic, r->len, topic, tlen)) {
            return 0;
        }
    }
    for (size_t i = 0; i < rules->count; i++) {
        const acl__rule_t *r = &rules->items[i];
        if ((r->access & access) && acl__matches(r->topic, r->len, topic, tlen)) {
            return 1;
        }
    }
    return -1;
}

static int acl__decide_patterns(const acl_t *acl, const char *client_id, const char *username,
                                const char *topic, size_t tlen, int access)
{
    if (acl->patterns.count == 0) {
        return -1;
    }
    if (acl__patterns_usable(acl, client_id, username) != ACL__PAT_OK) {
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < acl->patterns.count; i++) {
            const acl__rule_t *r = &acl->patterns.items[i];
            bool deny = r->access == ACL__DENY;
            if ((pass == 0) != deny || (!deny && !(r->access & access))) {
                continue;
            }
            char buf[512];
            char *heap;
            size_t len;
            const char *t = acl__expand(r, client_id, username, buf, sizeof(buf), &len, &heap);
            if (t == NULL) {
                if (heap == NULL && r->has_u && username == NULL) {
                    continue;
                }
                return 0; /* out of memory: fail closed */
            }
            bool m = acl__matches(t, len, topic, tlen);
            free(heap);
            if (m) {
                return deny ? 0 : 1;
            }
        }
    }
    return -1;
}

static bool acl__check_one(const acl_t *acl, const char *client_id, const char *username,
                           const char *topic, size_t tlen, int access)
{
    if (access == ACL_WRITE && tlen >= 4 && memcmp(topic, "$SYS", 4) == 0 &&
        (tlen == 4 || topic[4] == '/')) {
        return false;
    }
    if (acl == NULL) {
        return true;
    }
    int d = acl__decide_list(acl__rules_for(acl, username), topic, tlen, access);
    if (d >= 0) {
        return d == 1;
    }
    return acl__decide_patterns(acl, client_id, username, topic, tlen, access) == 1;
}

bool acl_check(const acl_t *acl, const char *client_id, const char *username, const char *topic,
               size_t topic_len, int access)
{
    if (topic == NULL || topic_len == 0 || access == 0 ||
        (access & ~(ACL_READ | ACL_WRITE | ACL_SUBSCRIBE)) != 0) {
        return false;
    }
    if ((access & ACL_SUBSCRIBE) &&
        !acl_check_subscribe(acl, client_id, username, topic, topic_len)) {
        return false;
    }
    for (int bit = ACL_READ; bit <= ACL_WRITE; bit <<= 1) {
        if ((access & bit) && !acl__check_one(acl, client_id, username, topic, topic_len, bit)) {
            return false;
        }
    }
    return true;
}

/* The filter relations of one rules list: any deny covering, any read
 * grant overlapping. */
static void acl__filter_list(const acl__rules_t *rules, const char *f, size_t flen,
                             bool *deny_covers, bool *grant_overlaps)
{
    *deny_covers = false;
    *grant_overlaps = false;
    if (rules == NULL) {
        return;
    }
    for (size_t i = 0; i < rules->count; i++) {
        const acl__rule_t *r = &rules->items[i];
        if (r->access == ACL__DENY) {
            *deny_covers |= acl_filter_covers(r->topic, r->len, f, flen);
        } else if (r->access & ACL_READ) {
            *grant_overlaps |= acl_filters_overlap(r->topic, r->len, f, flen);
        }
    }
}

bool acl_check_subscribe(const acl_t *acl, const char *client_id, const char *username,
                         const char *filter, size_t filter_len)
{
    if (filter == NULL || filter_len == 0) {
        return false;
    }
    if (filter_len > 7 && memcmp(filter, "$share/", 7) == 0) {
        const char *slash = memchr(filter + 7, '/', filter_len - 7);
        if (slash == NULL) {
            return false;
        }
        filter_len -= (size_t)(slash + 1 - filter);
        filter = slash + 1;
        if (filter_len == 0) {
            return false;
        }
    }
    if (acl == NULL) {
        return true;
    }
    bool user_deny, user_grant;
    acl__filter_list(acl__rules_for(acl, username), filter, filter_len, &user_deny, &user_grant);
    if (user_deny) {
        return false;
    }
    if (user_grant) {
        return true;
    }
    if (acl->patterns.count == 0 || acl__patterns_usable(acl, client_id, username) != ACL__PAT_OK) {
        return false;
    }
    bool pat_deny = false, pat_grant = false;
    for (size_t i = 0; i < acl->patterns.count; i++) {
        const acl__rule_t *r = &acl->patterns.items[i];
        if (r->access != ACL__DENY && !(r->access & ACL_READ)) {
            continue;
        }
        char buf[512];
        char *heap;
        size_t len;
        const char *t = acl__expand(r, client_id, username, buf, sizeof(buf), &len, &heap);
        if (t == NULL) {
            if (heap == NULL && r->has_u && username == NULL) {
                continue;
            }
            return false;
        }
        if (r->access == ACL__DENY) {
            pat_deny |= acl_filter_covers(t, len, filter, filter_len);
        } else {
            pat_grant |= acl_filters_overlap(t, len, filter, filter_len);
        }
        free(heap);
    }
    return !pat_deny && pat_grant;
}
